#!/usr/bin/env bash
# Runs every C test binary in BUILD against each backend and prints one total.
#   scripts/run-suites.sh BUILD [backends...]     (default: postgres sqlite sqlite-memory)
# PostgreSQL needs PGQRS_TEST_PG_DSN (scripts/with-postgres.sh sets it); turso
# needs PGQRS_TURSODB (scripts/with-turso.sh sets it).
# RUNNER (e.g. "valgrind ...") prefixes each run; JOBS=N runs N at once. Each suite prints
# "SUITE[BACKEND]: N passed, N failed, N skipped" last and one "SKIP ..." line per
# skipped test (echoed here with its reason). A run that prints no such line
# (crash, hang killed by a signal, usage error) counts as one failure, and so does
# a non-zero exit without a counted failure. The last line is
# "C suites (BUILD): N passed, N failed, N skipped". Exit status: 0 only if all passed.
set -uo pipefail
build=$1; shift
backends=("$@")
((${#backends[@]})) || backends=(postgres sqlite sqlite-memory)
passed=0; failed=0; skipped=0; broken=0; runs=0
summary='^[^ ]+: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$'
# JOBS=N runs up to N suite runs at once (the valgrind step: each run is one
# process valgrind serializes); the report below is in the same order either way.
jobs=${JOBS:-1}
out_dir=$(mktemp -d /tmp/pgqrs-suites.XXXXXX)
trap 'rm -rf "$out_dir"' EXIT
pairs=()
for bin in "$build"/test_*; do
    [ -x "$bin" ] || continue
    for be in "${backends[@]}"; do pairs+=("$bin|$be"); done
done
report() {   # report I BIN BACKEND: counts run I and echoes its summary and skips
    local i=$1 bin=$2 be=$3 out rc line p f s
    runs=$((runs + 1))
    out=$(cat "$out_dir/$i.out")
    rc=$(cat "$out_dir/$i.rc" 2>/dev/null || echo 127)
    line=$(printf '%s\n' "$out" | grep -E "$summary" | tail -n 1)
    if [ -z "$line" ]; then
        printf '%s\n' "$out" >&2
        echo "$(basename "$bin")[$be]: crashed or printed no summary (exit $rc)" >&2
        broken=$((broken + 1)); return
    fi
    read -r p f s < <(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/' <<<"$line")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$rc" != 0 ] || [ "$f" != 0 ]; then printf '%s\n' "$out" >&2; fi
    echo "  $line ($(cat "$out_dir/$i.s" 2>/dev/null || echo '?') s)"
    printf '%s\n' "$out" | grep -E '^  SKIP ' | sed 's/^/  /' || true
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "  $(basename "$bin")[$be]: exit $rc" >&2; broken=$((broken + 1))
    fi
}
i=0
for pair in "${pairs[@]}"; do
    bin=${pair%|*}; be=${pair#*|}
    if [ "$jobs" -gt 1 ]; then
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        ( t0=$SECONDS; PGQRS_TEST_BACKEND=$be ${RUNNER:-} "$bin" >"$out_dir/$i.out" 2>&1; echo $? >"$out_dir/$i.rc"
          echo $((SECONDS - t0)) >"$out_dir/$i.s" ) &
    else
        t0=$SECONDS
        PGQRS_TEST_BACKEND=$be ${RUNNER:-} "$bin" >"$out_dir/$i.out" 2>&1; echo $? >"$out_dir/$i.rc"
        echo $((SECONDS - t0)) >"$out_dir/$i.s"
        report "$i" "$bin" "$be"
    fi
    i=$((i + 1))
done
if [ "$jobs" -gt 1 ]; then
    wait
    i=0
    for pair in "${pairs[@]}"; do
        report "$i" "${pair%|*}" "${pair#*|}"
        i=$((i + 1))
    done
fi
if [ "$runs" = 0 ]; then
    echo "run-suites: no test binaries in $build (make tests BUILD=$build)" >&2
    broken=1
fi
echo "C suites ($build): $passed passed, $((failed + broken)) failed, $skipped skipped"
[ "$failed" = 0 ] && [ "$broken" = 0 ]
