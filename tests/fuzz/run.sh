#!/bin/sh
# run.sh DIR SECONDS NAME:MAX_LEN...: runs each libFuzzer target DIR/fuzz_NAME
# for SECONDS on a writable corpus DIR/corpus/NAME (new inputs go there) plus
# the seeds in tests/fuzz/corpus/NAME, with tests/fuzz/NAME.dict or
# DIR/NAME.dict when present. Prints one line per target; exits non-zero when
# any target crashed, leaked, tripped a sanitizer or broke a property (its
# input is saved as DIR/artifacts/NAME-crash-*, its log is DIR/logs/NAME.log).
set -u

dir=$1 seconds=$2
shift 2
seeds=tests/fuzz/corpus
failed=""
summary=""
mkdir -p "$dir/logs" "$dir/artifacts"
# halt at the first report, with a stack; leaks count (libFuzzer checks them)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

for spec in "$@"; do
	name=${spec%%:*}
	max_len=${spec#*:}
	bin="$dir/fuzz_$name"
	log="$dir/logs/$name.log"
	mkdir -p "$dir/corpus/$name"
	dict=""
	for d in "tests/fuzz/$name.dict" "$dir/$name.dict"; do
		[ -f "$d" ] && dict="-dict=$d"
	done
	echo "fuzz: $name for ${seconds}s (max_len $max_len) ..."
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/$name-" \
	    $dict "$dir/corpus/$name" "$seeds/$name" >"$log" 2>&1
	status=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -n 1)
	corpus=$(ls "$dir/corpus/$name" | wc -l)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	if [ "$status" -eq 0 ] && [ -n "$runs" ]; then
		line="fuzz_$name: ok, $runs, $cov, corpus $corpus"
	else
		artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		line="fuzz_$name: FAILED (exit $status)${artifact:+, input $artifact}, log $log"
		failed="$failed $name"
		echo "---- last lines of $log:"
		grep -v '^#[0-9]' "$log" | tail -n 40
		echo "----"
	fi
	echo "$line"
	summary="$summary$line
"
done

echo "fuzz summary (${seconds}s per target):"
printf '%s' "$summary"
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed" >&2
	exit 1
fi
