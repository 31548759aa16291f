#!/bin/sh
# run.sh: what `make run` does after building. Starts a private PostgreSQL
# under the state directory unless FAIRBETA_DATABASE_URL is set, migrates,
# makes a first admin on the first run, and runs the API and the worker
# until Ctrl-C.
#
# It writes the database URL it uses to $FAIRBETA_STATE_DIR/database-url
# (default .fairbeta/database-url), wherever the cluster lives, so that
#   psql "$(cat .fairbeta/database-url)"
# reaches the database `make run` serves. BUILD names the build directory
# (default build), as for make.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case "$build" in /*) ;; *) build="$top/$build" ;; esac
state=${FAIRBETA_STATE_DIR:-.fairbeta}
mkdir -p "$state"
state=$(cd "$state" && pwd)
export FAIRBETA_STATE_DIR="$state"
listen=${FAIRBETA_LISTEN:-127.0.0.1:8080}
urlfile="$state/database-url"
pgdir=""

stop_pg() {
	[ -n "$pgdir" ] && "$top/tools/pg.sh" stop "$pgdir" || true
}

if [ -z "${FAIRBETA_DATABASE_URL:-}" ]; then
	pgdir="$state/pg"
	# As root the cluster runs as `postgres`, which may not reach a home
	# directory; then it lives under /var/tmp instead (and we say so).
	if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$state" 2>/dev/null; then
		pgdir="/var/tmp/fairbeta-pg-$(printf '%s' "$state" | sha256sum | cut -c1-12)"
		echo "note: the postgres user cannot reach $state; its cluster lives in $pgdir"
	fi
	FAIRBETA_DATABASE_URL=$("$top/tools/pg.sh" start "$pgdir")
	export FAIRBETA_DATABASE_URL
	trap stop_pg EXIT INT TERM
	echo "database: private PostgreSQL in $pgdir"
fi

# The URL may hold a password (one set by the caller): only its owner reads it.
(umask 077 && printf '%s\n' "$FAIRBETA_DATABASE_URL" >"$urlfile")
echo "database URL in $urlfile:  psql \"\$(cat $urlfile)\""

"$build/fairbeta" migrate

pwfile="$state/admin-password"
if [ ! -f "$pwfile" ]; then
	pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
	if printf '%s\n' "$pw" | "$build/fairbeta" admin create-user \
		--email admin@localhost --role admin --display-name "Admin"; then
		umask 077
		printf '%s\n' "$pw" >"$pwfile"
	fi
fi

cat <<EOF2

fairbeta is listening on http://$listen   (metrics: http://${FAIRBETA_METRICS_LISTEN:-127.0.0.1:9090}/metrics)

The console: open http://$listen/ in a browser and sign in as the first admin,
admin@localhost, with the password in $pwfile.
From a shell or an API client, sign in the same way:

  curl -s -X POST http://$listen/v1/sessions -H 'Content-Type: application/json' \\
       -d "{\"email\":\"admin@localhost\",\"password\":\"\$(cat $pwfile)\"}"

then send the token as  Authorization: Bearer <token>  (e.g. GET /v1/me).
The worker (fairbeta-worker) runs beside the API: it enforces review
deadlines and delivers notifications (emails go to its log unless
FAIRBETA_SMTP_URL is set). The database:

  psql "\$(cat $urlfile)"
  FAIRBETA_DATABASE_URL="\$(cat $urlfile)" $build/fairbeta admin check-ledger

Ctrl-C stops both.

EOF2
"$build/fairbeta-worker" &
worker=$!
"$build/fairbeta-api" &
api=$!
trap 'kill -TERM $api $worker 2>/dev/null; wait $api $worker; stop_pg' INT TERM
wait $api || true
kill -TERM $worker 2>/dev/null || true
wait $worker || true
