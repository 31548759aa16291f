#!/bin/sh
# run.sh BUILD PYTHON [pytest arguments]: runs the unit tests, then the
# integration suite (tests/integration unless arguments say otherwise) against
# the sanitized binaries in BUILD (see sanitize.mk). Every sanitizer report
# is a file BUILD/reports/<phase>/report.<pid> (ASan, UBSan, and LeakSanitizer
# at exit all write there: one log_path in both option strings). The harness
# fails the test that produced one; this script fails if any exists at the
# end, printing each. Exits 0 only when both suites pass with no report.
set -u
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { echo "usage: run.sh BUILD PYTHON [pytest arguments]" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
python=$2
shift 2
[ $# -gt 0 ] || set -- tests/integration

reports=$build/reports
rm -rf "$reports"
mkdir -p "$reports"

# sanitize_env DIR: every sanitized process started from here on writes its
# reports into DIR. Read by the harness (tests/integration/harness.py) and
# inherited by every process it starts. abort_on_error=0: a report exits with
# a status (1, or 23 for leaks) instead of dumping core.
# detect_stack_use_after_return catches pointers into a returned frame, which
# event-loop callbacks make easy.
sanitize_env() {
	mkdir -p "$1"
	export FAIRBETA_SANITIZE_DIR="$1"
	export ASAN_OPTIONS="log_path=$1/report:halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:print_stacktrace=1"
	export UBSAN_OPTIONS="log_path=$1/report:halt_on_error=1:abort_on_error=0:print_stacktrace=1"
	export LSAN_OPTIONS="suppressions=$PWD/tests/sanitize/lsan.supp:print_suppressions=0"
}
export FAIRBETA_BUILD="$build"

status=0
echo "sanitize: the plumbing (tests/sanitize/test_plumbing.py)"
sanitize_env "$reports/plumbing"
"$python" -m pytest -q -p no:cacheprovider tests/sanitize/test_plumbing.py ||
	{ echo "sanitize: the plumbing FAILED: reports would go unnoticed" >&2; status=1; }
echo "sanitize: unit tests ($build/unit-tests)"
sanitize_env "$reports/unit"
"$build/unit-tests" || { echo "sanitize: unit tests FAILED" >&2; status=1; }
echo "sanitize: integration tests ($*)"
sanitize_env "$reports/integration"
"$python" -m pytest -q -p no:cacheprovider "$@" || { echo "sanitize: integration tests FAILED" >&2; status=1; }

n=0
for f in "$reports"/*/*; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	echo "==== sanitizer report $f ====" >&2
	cat "$f" >&2
done
if [ "$n" -gt 0 ]; then
	echo "sanitize: FAILED, $n sanitizer report(s) in $reports" >&2
	status=1
elif [ "$status" -eq 0 ]; then
	echo "sanitize: ok, no sanitizer report"
fi
exit $status
