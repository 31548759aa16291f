# fairbeta: see README.md. `make run` serves, `make test` tests, `make bench` measures.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
# Debian's interpreter, where the python3-* packages the tests use live
PYTHON  ?= /usr/bin/python3

PKGS    := libevent libevent_pthreads jansson libsodium uuid libcurl icu-uc icu-i18n
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral \
           -D_GNU_SOURCE -Ilib -Iapi -Iworkers -I$(BUILD)/gen -I$(shell pg_config --includedir 2>/dev/null) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -L$(shell pg_config --libdir 2>/dev/null) -lpq -lpthread -lm

LIB_SRC := $(wildcard lib/*.c)
API_SRC := $(wildcard api/*.c)
ADM_SRC := $(wildcard admin/*.c)
WRK_SRC := $(wildcard workers/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)
DB_TEST_SRC := $(wildcard tests/db/*.c)
MIGRATIONS := $(sort $(wildcard db/migrations/*.sql))
# the web console: plain files, embedded in fairbeta-api (api/console.c)
CONSOLE := $(sort $(wildcard console/*))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/migrations.o
API_OBJ := $(API_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/openapi.o $(BUILD)/obj/gen/console.o
ADM_OBJ := $(ADM_SRC:%.c=$(BUILD)/obj/%.o)
WRK_OBJ := $(WRK_SRC:%.c=$(BUILD)/obj/%.o)
# the unit tests link every api and worker module except the mains
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/obj/%.o) $(filter-out $(BUILD)/obj/api/main.o,$(API_OBJ)) \
            $(filter-out $(BUILD)/obj/workers/main.o,$(WRK_OBJ))
# lib/db against a real PostgreSQL: needs lib/ only
DB_TEST_OBJ := $(DB_TEST_SRC:%.c=$(BUILD)/obj/%.o)

BINS := $(BUILD)/fairbeta-api $(BUILD)/fairbeta-worker $(BUILD)/fairbeta

.PHONY: all deps run test unit integration lint-openapi check-deps bench install clean
.DEFAULT_GOAL := all

all: deps $(BINS)

deps:
	@tools/deps.sh build

# httperr.c replaces libevent's evhttp_send_error: the symbol must be exported
# so that libevent's own calls bind to it (see api/httperr.h)
$(BUILD)/fairbeta-api: $(API_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -Wl,--export-dynamic-symbol=evhttp_send_error -o $@ $^ $(LDLIBS)

$(BUILD)/fairbeta-worker: $(WRK_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fairbeta: $(ADM_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# run by tests/integration/test_db_pipeline.py, so built for `make integration`
$(BUILD)/db-tests: $(DB_TEST_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c $(wildcard lib/*.h api/*.h admin/*.h workers/*.h tests/unit/*.h tests/db/*.h) | $(BUILD)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# Build-time tool: files become C arrays, so binaries need no data files.
$(BUILD)/embed: tools/embed.c
	@mkdir -p $(BUILD)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

$(BUILD)/gen/migrations.c: $(BUILD)/embed $(MIGRATIONS)
	@mkdir -p $(dir $@)
	$(BUILD)/embed migrations $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/openapi.json: api/openapi.yaml tools/yaml2json.py
	@mkdir -p $(dir $@)
	$(PYTHON) tools/yaml2json.py $< $@

$(BUILD)/gen/openapi.c: $(BUILD)/embed $(BUILD)/gen/openapi.json
	$(BUILD)/embed blob fb_openapi_json $(BUILD)/gen/openapi.json > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/console.c: $(BUILD)/embed $(CONSOLE)
	@mkdir -p $(dir $@)
	$(BUILD)/embed files $(CONSOLE) > $@.tmp && mv $@.tmp $@

run: all
	@tools/deps.sh run
	@tools/run.sh

unit: deps $(BUILD)/unit-tests
	$(BUILD)/unit-tests

lint-openapi:
	@tools/deps.sh test
	@[ -d tools/openapi/node_modules/@redocly/cli ] || npm ci --prefix tools/openapi --no-audit --no-fund --loglevel=error
	REDOCLY_SUPPRESS_UPDATE_NOTICE=true npx --prefix tools/openapi redocly lint \
	    --config tools/openapi/redocly.yaml --extends recommended-strict --lint-config error api/openapi.yaml

# The include graph of api/, lib/, workers/, admin/: no cycle, and no handler
# (api/h_*.c) includes another's h_*.h (issue 12). Part of `make test`.
check-deps:
	@$(PYTHON) tools/check_deps.py

# tests/integration/test_console.py drives Debian's Chromium (tools/deps.sh test)
# with playwright-core and axe-core, installed from tests/e2e's lockfile
integration: all $(BUILD)/db-tests
	@tools/deps.sh test
	@[ -d tests/e2e/node_modules/playwright-core ] && [ -d tests/e2e/node_modules/axe-core ] || \
	    npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	FAIRBETA_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# Everything, ending with pytest's summary line.
test: all unit lint-openapi check-deps integration

bench: all
	@tools/deps.sh bench
	FAIRBETA_BUILD=$(abspath $(BUILD)) $(PYTHON) bench/run.py

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/fairbeta
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 api/openapi.yaml $(DESTDIR)$(PREFIX)/share/fairbeta/

clean:
	rm -rf $(BUILD)

# make sanitize: ASan + UBSan build and the whole suite against it (issue 10)
include tests/sanitize/sanitize.mk

# make fuzz, make fuzz-smoke: libFuzzer targets, built with clang (issue 10)
include tests/fuzz/fuzz.mk
