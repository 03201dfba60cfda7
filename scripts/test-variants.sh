#!/usr/bin/env bash
# Builds each single-backend variant of the library (make WITH_*=0|1), checks
# with ldd that it links only its own client library, and runs that backend's
# C suites on it, so a build option cannot rot. Each variant is one count: it
# passes when its suites passed (their skips are shown in their own lines).
# Prints "variants: N passed, N failed, 0 skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
pass=0; fail=0
check() {   # check NAME FLAGS MUST_LINK MUST_NOT_LINK RUNNER...
    local name=$1 flags=$2 want=$3 unwanted=$4; shift 4
    local build=build-only-$name libs
    if ! make -s -j"$jobs" lib tests BUILD="$build" $flags >/dev/null; then
        echo "variant $name: build failed"; fail=$((fail + 1)); return
    fi
    libs=$(ldd "$build/libpgqrs.so")
    if ! grep -q "$want" <<<"$libs" || grep -qE "$unwanted" <<<"$libs"; then
        echo "variant $name: links $(grep -oE 'lib(pq|sqlite3|curl)[^ ]*' <<<"$libs" | sort -u | tr '\n' ' ')(want $want, not $unwanted)"
        fail=$((fail + 1)); return
    fi
    echo "variant $name: links $want only (no $unwanted)"
    if "$@" "$build" "$name" | tail -n 1 | tee /dev/stderr | grep -qE ': [0-9]+ passed, 0 failed, [0-9]+ skipped$'; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
    fi
}
suites() { scripts/run-suites.sh "$1" "$2"; }
check sqlite "WITH_POSTGRES=0 WITH_TURSO=0" libsqlite3 'libpq|libcurl' suites
check postgres "WITH_SQLITE=0 WITH_TURSO=0" libpq 'libsqlite3|libcurl' scripts/with-postgres.sh scripts/run-suites.sh
check turso "WITH_POSTGRES=0 WITH_SQLITE=0" libcurl 'libpq|libsqlite3' scripts/with-turso.sh scripts/run-suites.sh
echo "variants: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
