#!/bin/sh
# pg.sh: a private PostgreSQL 15 cluster in one directory, reached only
# through a Unix socket in that directory. Used by `make run` and the tests.
#
#   pg.sh start DIR   create (first time) and start; prints the database URL
#   pg.sh stop DIR    fast shutdown
#   pg.sh url DIR     the database URL
#   pg.sh standby PRIMARY DIR
#                     a hot standby of the cluster in PRIMARY, streaming from
#                     it (pg_basebackup -R), started; prints its URL
#   pg.sh promote DIR the standby in DIR becomes a primary
#   pg.sh kill DIR    SIGKILL to the postmaster: a crash, for failover tests
#
# FAIRBETA_PG_FSYNC=off trades durability for speed (the tests use it).
# FAIRBETA_PG_TCP_PORT=N also listens on 127.0.0.1:N (failover tests reach
# their clusters by TCP, as a deployment does).
#
# PostgreSQL refuses to run as root: as root the cluster belongs to the
# `postgres` user, which must own DIR and be able to reach it.
set -eu

cmd=${1:?usage: pg.sh start|stop|url DIR}
dir=${2:?usage: pg.sh start|stop|url DIR}
bindir=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || dirname "$(command -v pg_ctl)")
port=${FAIRBETA_PG_TCP_PORT:-5432}
db=fairbeta
listen=
[ -n "${FAIRBETA_PG_TCP_PORT:-}" ] && listen=127.0.0.1

# As root, from / : the caller's working directory may be closed to postgres,
# and its tools complain when they cannot enter it. Paths here are absolute.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

url() {
	echo "postgresql:///$db?host=$dir&port=$port&user=fairbeta"
}

case "$cmd" in
start)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres "$dir"
		if ! runuser -u postgres -- test -w "$dir"; then
			echo "pg.sh: the postgres user cannot reach $dir (a parent directory is closed to it)" >&2
			exit 1
		fi
	fi
	chmod 700 "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bindir/initdb" -D "$dir/data" -U fairbeta --auth=trust \
			--encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
		-o "-c listen_addresses='$listen' -c unix_socket_directories='$dir' -p $port -c fsync=${FAIRBETA_PG_FSYNC:-on} -c max_connections=200" \
		start >/dev/null || { tail -n 20 "$dir/postgres.log" >&2; exit 1; }
	if ! as_owner "$bindir/psql" -h "$dir" -p $port -U fairbeta -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
		as_owner "$bindir/psql" -h "$dir" -p $port -U fairbeta -d postgres -qc "CREATE DATABASE $db" >/dev/null
	fi
	url
	;;
standby)
	primary=$(cd "$dir" && pwd)
	dir=${3:?usage: pg.sh standby PRIMARY DIR}
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
	chmod 700 "$dir"
	pport=$(sed -n 4p "$primary/data/postmaster.pid")
	as_owner "$bindir/pg_basebackup" -h "$primary" -p "$pport" -U fairbeta -D "$dir/data" \
		-R -X stream -c fast >"$dir/basebackup.log" 2>&1 ||
		{ cat "$dir/basebackup.log" >&2; exit 1; }
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
		-o "-c listen_addresses='$listen' -c unix_socket_directories='$dir' -p $port -c fsync=${FAIRBETA_PG_FSYNC:-on} -c max_connections=200 -c hot_standby=on" \
		start >/dev/null || { tail -n 20 "$dir/postgres.log" >&2; exit 1; }
	url
	;;
promote)
	dir=$(cd "$dir" && pwd)
	as_owner "$bindir/pg_ctl" -D "$dir/data" -w promote >/dev/null
	;;
kill)
	dir=$(cd "$dir" && pwd)
	[ -f "$dir/data/postmaster.pid" ] && kill -9 "$(head -n 1 "$dir/data/postmaster.pid")" || true
	;;
stop)
	[ -f "$dir/data/postmaster.pid" ] || exit 0
	dir=$(cd "$dir" && pwd)
	as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	;;
url)
	dir=$(cd "$dir" && pwd)
	url
	;;
*)
	echo "usage: pg.sh start|stop|url|promote|kill DIR | pg.sh standby PRIMARY DIR" >&2
	exit 2
	;;
esac
