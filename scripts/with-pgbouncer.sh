#!/usr/bin/env bash
# Runs a command with PgBouncer (transaction pooling, Debian's 1.18) in front of
# the throwaway cluster of scripts/with-postgres.sh; run it inside that script.
# The command sees PGQRS_TEST_PGBOUNCER_DIR and PGQRS_TEST_PGBOUNCER_PORT (a unix
# socket in that dir). PgBouncer refuses to run as root: as root it runs as postgres.
set -euo pipefail
[ -n "${PGQRS_TEST_PG_DIR:-}" ] || { echo "with-pgbouncer: run inside scripts/with-postgres.sh" >&2; exit 1; }
command -v pgbouncer >/dev/null || { echo "with-pgbouncer: pgbouncer not installed (scripts/deps.sh)" >&2; exit 1; }
dir=$(mktemp -d /tmp/pgqrs-bouncer.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); fi
cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=$PGQRS_TEST_PG_DIR
[pgbouncer]
listen_addr =
unix_socket_dir = $dir
listen_port = 6432
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
; every test has a database of its own, so a pool per test: close idle server
; connections soon, or the pools of finished tests fill max_connections
server_idle_timeout = 2
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
echo '"postgres" ""' > "$dir/users.txt"
[ "$(id -u)" != 0 ] || chown -R postgres "$dir"
cleanup() {
    [ -f "$dir/pgbouncer.pid" ] && kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM
"${as_pg[@]}" pgbouncer -d "$dir/pgbouncer.ini"
for _ in $(seq 50); do [ -S "$dir/.s.PGSQL.6432" ] && break; sleep 0.1; done
export PGQRS_TEST_PGBOUNCER_DIR="$dir" PGQRS_TEST_PGBOUNCER_PORT=6432
set +e
"$@"
rc=$?
set -e
exit $rc
