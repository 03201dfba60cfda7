#!/usr/bin/env bash
# The suites beyond the C ones; `make test` (scripts/test.sh) runs this after them.
# Starts its own throwaway PostgreSQL cluster (scripts/with-postgres.sh; a preset
# PGQRS_TEST_PG_DSN is used instead) that every suite shares.
#
# One section per suite. A suite is a function suite_NAME that runs its tests and
# prints, as its last such line, "NAME: N passed, N failed, N skipped"; its exit
# status is non-zero on failure. To add one (Python bindings, doc examples, ...):
# write the function and add NAME to SUITES. The last line of the whole run is
# "extra: N passed, N failed, N skipped", the sum over the suites (a suite that
# prints no count line, or fails without counting a failure, counts as one
# failure). Exit status: 0 only if every suite passed.
#   scripts/test-extra.sh            every suite
#   scripts/test-extra.sh cli        only the named ones
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PGQRS_TEST_EXTRA_INNER:-}" ]; then
    export PGQRS_TEST_EXTRA_INNER=1
    exec scripts/with-postgres.sh "$0" "$@"
fi

SUITES=(cli python serve)

# ---- suite: cli -------------------------------------------------------------------
# The pgqrs command-line tool end to end (tests/cli/test_cli.sh) on SQLite and PostgreSQL.
suite_cli() {
    local be line p=0 f=0 s=0 rc=0 brc log
    make -s cli >/dev/null || { echo "cli: build failed"; echo "cli: 0 passed, 1 failed, 0 skipped"; return 1; }
    log=$(mktemp /tmp/pgqrs-extra-cli.XXXXXX)
    for be in sqlite postgres; do
        echo "-- cli on $be"
        tests/cli/test_cli.sh "$be" 2>&1 | tee "$log"
        brc=${PIPESTATUS[0]}
        [ "$brc" = 0 ] || rc=1
        line=$(grep -E '^cli: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
        if [ -z "$line" ]; then echo "cli on $be: no summary line (exit $brc)"; f=$((f + 1)); rc=1; continue; fi
        read -r lp lf ls < <(sed -E 's/^cli: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/' <<<"$line")
        [ "$brc" = 0 ] || [ "$lf" != 0 ] || lf=1   # failed without saying so
        p=$((p + lp)); f=$((f + lf)); s=$((s + ls))
    done
    rm -f "$log"
    echo "cli: $p passed, $f failed, $s skipped"
    return $rc
}

# ---- suite: python ------------------------------------------------------------------
# The Python package (python/pgqrs, ctypes over libpgqrs.so) with Debian's pytest:
# tests/python on SQLite (file and :memory:) and PostgreSQL (PGQRS_TEST_PG_DSN, one
# fresh schema per test). Uses the library `make python` put next to the package.
# pytest's exit status 5 (no tests collected) is a failure like any other non-zero.
suite_python() {
    local log rc summary p f e sk
    make -s python >/dev/null || { echo "python: build failed"; echo "python: 0 passed, 1 failed, 0 skipped"; return 1; }
    log=$(mktemp /tmp/pgqrs-extra-python.XXXXXX)
    env -u PGQRS_LIBRARY /usr/bin/python3 -m pytest -q -rfEs tests/python 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    # the last summary line, e.g. "2 failed, 109 passed, 1 error in 5.1s"
    summary=$(grep -E '^=*[ ]*[0-9]+ (passed|failed|error|errors|skipped|deselected)|no tests ran' "$log" | tail -n 1)
    rm -f "$log"
    p=$(grep -Eo '[0-9]+ passed' <<<"$summary" | grep -Eo '[0-9]+' || echo 0)
    f=$(grep -Eo '[0-9]+ failed' <<<"$summary" | grep -Eo '[0-9]+' || echo 0)
    e=$(grep -Eo '[0-9]+ errors?' <<<"$summary" | grep -Eo '[0-9]+' || echo 0)
    sk=$(grep -Eo '[0-9]+ skipped' <<<"$summary" | grep -Eo '[0-9]+' || echo 0)
    f=$((f + e))
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi   # exit 5 (no tests), crash, usage error, ...
    if [ "$p" = 0 ] && [ "$rc" = 0 ]; then f=1; rc=1; fi
    echo "python: $p passed, $f failed, $sk skipped"
    return $rc
}

# ---- suite: serve -------------------------------------------------------------------
# `pgqrs serve` end to end (tests/serve/test_serve.py): the JSON API, /metrics through
# python3-prometheus-client's parser, auth and limits, every page in headless
# Chromium, and replay / cancel through the pages' forms, on SQLite, PostgreSQL and
# Turso (tursodb). Each run is bounded by timeout(1); the test stops what it starts.
suite_serve() {
    local be line p=0 f=0 s=0 rc=0 brc log
    make -s cli python >/dev/null || { echo "serve: build failed"; echo "serve: 0 passed, 1 failed, 0 skipped"; return 1; }
    log=$(mktemp /tmp/pgqrs-extra-serve.XXXXXX)
    for be in sqlite postgres turso; do
        echo "-- serve on $be"
        if [ "$be" = turso ]; then
            timeout -k 10 600 scripts/with-turso.sh /usr/bin/python3 tests/serve/test_serve.py "$be" 2>&1 | tee "$log"
        else
            timeout -k 10 600 /usr/bin/python3 tests/serve/test_serve.py "$be" 2>&1 | tee "$log"
        fi
        brc=${PIPESTATUS[0]}
        [ "$brc" = 0 ] || rc=1
        line=$(grep -E '^serve: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
        if [ -z "$line" ]; then echo "serve on $be: no summary line (exit $brc)"; f=$((f + 1)); rc=1; continue; fi
        read -r lp lf ls < <(sed -E 's/^serve: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/' <<<"$line")
        [ "$brc" = 0 ] || [ "$lf" != 0 ] || lf=1
        p=$((p + lp)); f=$((f + lf)); s=$((s + ls))
    done
    rm -f "$log"
    echo "serve: $p passed, $f failed, $s skipped"
    return $rc
}

# ---- driver -------------------------------------------------------------------------
[ $# -gt 0 ] && SUITES=("$@")
total_pass=0
total_fail=0
total_skip=0
status=0
log=$(mktemp /tmp/pgqrs-extra.XXXXXX)
trap 'rm -f "$log"' EXIT
for suite in "${SUITES[@]}"; do
    printf '\n== extra suite: %s\n' "$suite"
    if ! declare -F "suite_$suite" >/dev/null; then
        echo "$suite: no such suite"
        total_fail=$((total_fail + 1)); status=1; continue
    fi
    "suite_$suite" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E "^$suite: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$" "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "$suite: printed no count (exit $rc)"
        echo "$suite: 0 passed, 1 failed, 0 skipped"
        total_fail=$((total_fail + 1)); status=1; continue
    fi
    read -r p f s < <(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/' <<<"$line")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then   # failed without saying so: the last line says it
        f=1
        echo "$suite: exit $rc without a counted failure"
        echo "$suite: $p passed, $f failed, $s skipped"
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + s))
    [ "$rc" = 0 ] && [ "$f" = 0 ] || status=1
done
echo
echo "extra: $total_pass passed, $total_fail failed, $total_skip skipped"
exit $status
