#!/usr/bin/env bash
# One Turso drain cell: a fresh `tursodb --sync-server` (Turso's own test server,
# Hrana over HTTP) on a free loopback port, pgqrs_bench drain against it, the
# server stopped afterwards. PGQRS_TURSODB comes from scripts/with-turso.sh.
#   bench/turso_drain.sh PGQRS_BENCH CONSUMERS BATCH MESSAGES TMPDIR
set -euo pipefail
bin=$1 c=$2 b=$3 n=$4 tmp=$5
[ -x "${PGQRS_TURSODB:-}" ] || { echo "turso_drain: PGQRS_TURSODB is not set (scripts/with-turso.sh)" >&2; exit 2; }
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PGQRS_TURSODB" "$tmp/turso.db" --sync-server "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
"$bin" drain "http://127.0.0.1:$port" "$c" "$b" "$n" "$tmp"
