#!/usr/bin/env bash
# Static analysis of the library: cppcheck (warning, portability) and clang-tidy
# with the checked-in .clang-tidy (bugprone-*, clang-analyzer-*, cert-*, minus the
# documented exceptions) over src/, src/cli/ and generated/. Every finding fails.
# Prints the findings, one "lint <tool>: N findings" line per tool and
# "lint: N passed, N failed, 0 skipped" (one count per tool; a tool that is not
# installed is a failure: scripts/deps.sh installs both).
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
PGI=$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
DEFS=(-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc -Igenerated "-I$PGI")
tidy=$(command -v clang-tidy || command -v clang-tidy-14 || true)
pass=0; fail=0
log=$(mktemp -d /tmp/pgqrs-lint.XXXXXX); trap 'rm -rf "$log"' EXIT

if command -v cppcheck >/dev/null; then
    cppcheck --quiet --std=c11 --enable=warning,portability --inline-suppr --suppress=missingIncludeSystem \
        -j"$jobs" "${DEFS[@]}" --template='{file}:{line}: {severity}: {message} [{id}]' \
        src generated >"$log/cppcheck" 2>&1
    n=$(grep -c ': \(error\|warning\|portability\|style\): ' "$log/cppcheck" || true)
    cat "$log/cppcheck"
    echo "lint cppcheck: $n findings"
    if [ "$n" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
else
    echo "lint cppcheck: not installed"; fail=$((fail + 1))
fi

if [ -n "$tidy" ]; then
    ls src/*/*.c generated/*.c | xargs -P"$jobs" -I{} sh -c \
        "'$tidy' -quiet '{}' -- -std=c11 ${DEFS[*]} >'$log/tidy.'\$(echo '{}' | tr / _) 2>/dev/null"
    cat "$log"/tidy.* | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' | sort -u >"$log/tidy"
    n=$(wc -l <"$log/tidy")
    cat "$log/tidy"
    echo "lint clang-tidy: $n findings"
    if [ "$n" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
else
    echo "lint clang-tidy: not installed"; fail=$((fail + 1))
fi
echo "lint: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
