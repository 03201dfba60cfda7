#!/usr/bin/env bash
# Fault injection with real processes on real databases (tests/chaos/chaos.c,
# docs/reliability.md). Runs, on a throwaway PostgreSQL cluster and SQLite files:
#   consumer-crash  postgres, sqlite   SIGKILL a random consumer every ~200 ms
#   pg-restart      postgres           pg_ctl stop -m fast / start under load
#   busy-storm      sqlite             8 writers, one process holding the write lock
#   workflow-crash  postgres, sqlite   SIGKILL workflow workers at random points
#   scripts/chaos.sh            the full sizes (make chaos): 20,000 messages, 100 runs
#   scripts/chaos.sh --short    the short version make test runs
# Prints each mode's figures and "chaos: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
short=()
[ "${1:-}" = "--short" ] && short=(--short)
make -s chaos-bin >/dev/null || { echo "chaos: build failed"; echo "chaos: 0 passed, 1 failed"; exit 1; }
runs=(
    "consumer-crash postgres" "consumer-crash sqlite"
    "busy-storm sqlite"
    "workflow-crash postgres" "workflow-crash sqlite"
    "pg-restart postgres"
)
scripts/with-postgres.sh bash -c '
    pass=0; fail=0
    for r in "${@:2}"; do
        out=$(build/pgqrs-chaos $1 $r 2>&1); rc=$?
        printf "%s\n" "$out"
        line=$(grep -E "^chaos-[a-z-]+\[[a-z]+\]: [0-9]+ passed, [0-9]+ failed$" <<<"$out" | tail -n 1)
        if [ -z "$line" ]; then fail=$((fail + 1)); echo "chaos $r: no summary (exit $rc)"; continue; fi
        pass=$((pass + $(sed -E "s/.*: ([0-9]+) passed.*/\1/" <<<"$line")))
        fail=$((fail + $(sed -E "s/.* ([0-9]+) failed$/\1/" <<<"$line")))
        [ "$rc" = 0 ] || [ "$(sed -E "s/.* ([0-9]+) failed$/\1/" <<<"$line")" != 0 ] || fail=$((fail + 1))
    done
    echo "chaos: $pass passed, $fail failed"
    [ "$fail" = 0 ]' chaos "${short[@]:-}" "${runs[@]}"
