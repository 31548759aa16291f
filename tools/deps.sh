#!/bin/sh
# deps.sh [build|run|test|sanitize|fuzz|bench]: makes sure the Debian packages fairbeta needs are
# installed. As root (or with sudo) it installs what is missing; otherwise it
# prints the exact apt-get line and fails.
set -eu

build="gcc make pkg-config libevent-dev libpq-dev libjansson-dev uuid-dev libsodium-dev libcurl4-openssl-dev libicu-dev python3 python3-yaml"
server="postgresql-15"
test="python3-pytest python3-aiosmtpd nodejs npm chromium pgbouncer"
bench="wrk nginx-light"
# make sanitize: clang, its ASan/LSan/UBSan runtime and llvm-symbolizer for the stacks
sanitize="clang libclang-rt-dev llvm"
# make fuzz: clang with libFuzzer and its sanitizer runtimes, llvm-symbolizer for stacks
fuzz="clang libclang-rt-14-dev llvm"

case "${1:-build}" in
build) want="$build" ;;
run)   want="$build $server" ;;
test)  want="$build $server $test" ;;
sanitize) want="$build $server $test $sanitize" ;;
fuzz)  want="$build $fuzz" ;;
bench) want="$build $server $test $bench" ;;
*)     echo "usage: deps.sh build|run|test|sanitize|fuzz|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	# nodejs from another repository may ship npm itself
	if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in *" installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	sudo="sudo"
else
	echo "fairbeta needs these Debian packages; install them with:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends$missing >/dev/null
