# tests/sanitize/sanitize.mk, included by the Makefile (issue 10).
#
# `make sanitize` builds fairbeta-api, fairbeta-worker, fairbeta, the unit
# tests and db-tests (tests/db) with AddressSanitizer (with LeakSanitizer) and
# UndefinedBehaviorSanitizer into $(SAN_BUILD), then tests/sanitize/run.sh
# runs the unit tests and the whole integration suite (which runs db-tests)
# against those binaries. Any sanitizer report fails the run. SAN_TESTS
# narrows the suite (pytest arguments), e.g.
#   make sanitize SAN_TESTS=tests/integration/test_smoke.py

SAN_BUILD ?= build/san
SAN_TESTS ?= tests/integration
# clang, not gcc: gcc 12 keeps UBSan in a runtime of its own that ignores
# log_path when ASan is linked too (GCC PR 94328), so its UBSan reports would
# only reach stderr; clang's one runtime writes them to the files run.sh
# checks. tests/sanitize/test_plumbing.py fails for a compiler where they don't.
SAN_CC    ?= clang
# every report is fatal (-fno-sanitize-recover), stacks have every frame
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: sanitize

# CFLAGS and LDFLAGS go through the environment, not the command line: the
# Makefile's `CFLAGS +=` then appends its warnings and include paths to them.
sanitize:
	@tools/deps.sh sanitize
	CFLAGS='$(SAN_FLAGS) -O1 -g' LDFLAGS='$(SAN_FLAGS)' \
	    $(MAKE) --no-print-directory CC=$(SAN_CC) BUILD=$(SAN_BUILD) all $(SAN_BUILD)/unit-tests $(SAN_BUILD)/db-tests
	SAN_CC=$(SAN_CC) SAN_FLAGS='$(SAN_FLAGS)' tests/sanitize/run.sh $(SAN_BUILD) $(PYTHON) $(SAN_TESTS)
