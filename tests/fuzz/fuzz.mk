# tests/fuzz/fuzz.mk: libFuzzer targets (issue 10), included by the Makefile.
#
# The sources are compiled again with clang, libFuzzer, ASan and UBSan into
# $(BUILD)/fuzz (the gcc build is untouched) and archived, so each target
# links only the modules it reaches. `make fuzz` runs every target for
# FUZZ_SECONDS (60) on a corpus under $(BUILD)/fuzz/corpus seeded from
# tests/fuzz/corpus, printing runs per target, and fails on any crash,
# sanitizer report or broken property; `make fuzz-smoke` runs each briefly
# (CI). FUZZ_SKIP=name,... turns off named properties (see tests/fuzz/fuzz.h).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   = $(CFLAGS) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link
# name:max_len for each target, tests/fuzz/fuzz_<name>.c
FUZZ_RUNS    := json:4096 router:512 valid:128 email:300 cursor:512 csv:1024 webhook:2048
FUZZ_NAMES   := $(foreach r,$(FUZZ_RUNS),$(firstword $(subst :, ,$(r))))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)

FUZZ_SRC := $(filter-out api/main.c workers/main.c,$(LIB_SRC) $(API_SRC) $(WRK_SRC))
FUZZ_OBJ := $(FUZZ_SRC:%.c=$(FUZZ_DIR)/obj/%.o) \
            $(FUZZ_DIR)/obj/gen/migrations.o $(FUZZ_DIR)/obj/gen/openapi.o \
            $(FUZZ_DIR)/obj/gen/console.o

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-deps

fuzz-deps:
	@tools/deps.sh fuzz

fuzz-build: fuzz-deps $(FUZZ_BINS) $(FUZZ_DIR)/router.dict $(FUZZ_DIR)/json.dict

fuzz fuzz-smoke: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_RUNS)

fuzz-smoke: FUZZ_SECONDS = 8

$(FUZZ_DIR)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(FUZZ_DIR)/obj/%.o: %.c $(wildcard lib/*.h api/*.h workers/*.h tests/fuzz/*.h) | $(BUILD)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

# fuzz_webhook.c compiles workers/notify.c into itself
$(FUZZ_DIR)/obj/tests/fuzz/fuzz_webhook.o: workers/notify.c

$(FUZZ_DIR)/libfairbeta.a: $(FUZZ_OBJ)
	rm -f $@
	ar rcs $@ $^

# kept, though made by a chain of pattern rules
.SECONDARY: $(FUZZ_NAMES:%=$(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o)

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_DIR)/libfairbeta.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# The router's dictionary: every literal segment of the route table.
$(FUZZ_DIR)/router.dict: api/routes.c
	@mkdir -p $(dir $@)
	{ grep -o '"/[^"]*"' $< | tr -d '"' | tr '/' '\n' | grep -v '^$$' | sort -u | \
	    sed 's/.*/"&"/'; printf '%s\n' '"/"' '"%2F"' '"%2f"' '"%00"' '"%"' '"?"' '"#"' '"%2e"'; \
	} > $@.tmp && mv $@.tmp $@

# The body's dictionary: JSON tokens, every field name of the body tables,
# and the first lines that pick a route's schema.
$(FUZZ_DIR)/json.dict: tests/fuzz/json.dict api/routes.c $(API_SRC)
	@mkdir -p $(dir $@)
	{ cat tests/fuzz/json.dict; \
	  grep -ho '{ "[A-Za-z0-9_]*", *JV_' $(API_SRC) | sed 's/{ "\([^"]*\)".*/"\\"\1\\""/' | sort -u; \
	  grep -o '"/[^"]*"' api/routes.c | sed 's/"\(.*\)"/"POST \1\\x0a"/' | sort -u; \
	} > $@.tmp && mv $@.tmp $@
