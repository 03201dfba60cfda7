#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster: initdb in a temp dir, a
# unix socket only (no TCP port), stopped and removed afterwards whatever happens.
# The command sees PGQRS_TEST_PG_DSN. If PGQRS_TEST_PG_DSN is already set, the
# command runs against that server instead.
#   scripts/with-postgres.sh [--durable] CMD ARGS...
# --durable keeps the server defaults (fsync, synchronous_commit on) for benchmarks;
# without it fsync is off, which only speeds up tests.
# PGQRS_TEST_PG_OPTS adds server options to the new cluster's command line, e.g.
# "-c shared_preload_libraries=pg_stat_statements" (bench/profile.sh); unset by default.
set -euo pipefail
durable=0
if [ "${1:-}" = "--durable" ]; then durable=1; shift; fi
if [ -n "${PGQRS_TEST_PG_DSN:-}" ]; then exec "$@"; fi

bindir=$(pg_config --bindir 2>/dev/null || true)
[ -x "$bindir/initdb" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/initdb" ] || { echo "with-postgres: initdb not found (install postgresql)" >&2; exit 1; }

dir=$(mktemp -d /tmp/pgqrs-pg.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: the cluster belongs to the postgres user
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    as_pg=(runuser -u postgres --)
fi
cleanup() {
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"${as_pg[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
opts="-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=200"
[ "$durable" = 1 ] || opts="$opts -c fsync=off -c full_page_writes=off"
[ -z "${PGQRS_TEST_PG_OPTS:-}" ] || opts="$opts $PGQRS_TEST_PG_OPTS"
"${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" -w -t 60 start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }

export PGQRS_TEST_PG_DSN="postgresql://postgres@/postgres?host=$dir"
export PGQRS_TEST_PG_DIR="$dir" PGQRS_TEST_PG_BIN="$bindir"
set +e
"$@"
rc=$?
set -e
exit $rc
