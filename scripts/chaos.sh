#!/usr/bin/env bash
# Fault injection with real processes on real databases (tests/chaos/chaos.c,
# docs/reliability.md). Runs, on a throwaway PostgreSQL cluster and SQLite files:
#   consumer-crash  postgres, sqlite   SIGKILL a random consumer every ~200 ms
#   pg-restart      postgres           pg_ctl stop -m fast / start under load
#   busy-storm      sqlite             8 writers, one process holding the write lock
#   workflow-crash  postgres, sqlite   SIGKILL workflow workers at random points
#   scripts/chaos.sh            the full sizes (make chaos): 20,000 messages, 100 runs
#   scripts/chaos.sh --short    the short version make test runs
# Prints each mode's figures and "chaos: N passed, N failed, N skipped" (one count
# per check; a run that prints no summary line, or exits non-zero without a
# counted failure, is one failure).
set -uo pipefail
cd "$(dirname "$0")/.."
short=()
[ "${1:-}" = "--short" ] && short=(--short)
make -s chaos-bin >/dev/null || { echo "chaos: build failed"; echo "chaos: 0 passed, 1 failed, 0 skipped"; exit 1; }
runs=(
    "consumer-crash postgres" "consumer-crash sqlite"
    "busy-storm sqlite"
    "workflow-crash postgres" "workflow-crash sqlite"
    "pg-restart postgres"
)
scripts/with-postgres.sh bash -c '
    pass=0; fail=0; skip=0
    for r in "${@:2}"; do
        out=$(build/pgqrs-chaos $1 $r 2>&1); rc=$?
        printf "%s\n" "$out"
        line=$(grep -E "^chaos-[a-z-]+\[[a-z]+\]: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$" <<<"$out" | tail -n 1)
        if [ -z "$line" ]; then fail=$((fail + 1)); echo "chaos $r: no summary (exit $rc)"; continue; fi
        read -r p f s < <(sed -E "s/.*: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/" <<<"$line")
        [ "$rc" = 0 ] || [ "$f" != 0 ] || { f=1; echo "chaos $r: exit $rc without a counted failure"; }
        pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    done
    echo "chaos: $pass passed, $fail failed, $skip skipped"
    [ "$fail" = 0 ]' chaos "${short[@]:-}" "${runs[@]}"
