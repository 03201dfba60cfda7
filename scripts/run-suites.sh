#!/usr/bin/env bash
# Runs every C test binary in BUILD against each backend and prints one total.
#   scripts/run-suites.sh BUILD [backends...]     (default: postgres sqlite sqlite-memory)
# PostgreSQL needs PGQRS_TEST_PG_DSN (scripts/with-postgres.sh sets it); turso
# needs PGQRS_TURSODB (scripts/with-turso.sh sets it).
# RUNNER (e.g. "valgrind ...") prefixes each run. Exit status: 0 only if all passed.
set -uo pipefail
build=$1; shift
backends=("$@")
((${#backends[@]})) || backends=(postgres sqlite sqlite-memory)
passed=0; failed=0; broken=0
for bin in "$build"/test_*; do
    [ -x "$bin" ] || continue
    for be in "${backends[@]}"; do
        out=$(PGQRS_TEST_BACKEND=$be ${RUNNER:-} "$bin" 2>&1)
        rc=$?
        line=$(printf '%s\n' "$out" | grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
        if [ -z "$line" ]; then
            printf '%s\n' "$out" >&2
            echo "$(basename "$bin")[$be]: crashed or printed no summary (exit $rc)" >&2
            broken=$((broken + 1)); continue
        fi
        p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")
        passed=$((passed + p)); failed=$((failed + f))
        if [ "$rc" != 0 ] || [ "$f" != 0 ]; then printf '%s\n' "$out" >&2; fi
        echo "  $line"
        if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
            echo "  $(basename "$bin")[$be]: exit $rc" >&2; broken=$((broken + 1))
        fi
    done
done
echo "C suites ($build): $passed passed, $((failed + broken)) failed"
[ "$failed" = 0 ] && [ "$broken" = 0 ]
