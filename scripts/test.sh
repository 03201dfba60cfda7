#!/usr/bin/env bash
# `make test`: everything, from a fresh clone on a fresh Debian machine.
# Installs missing packages, checks generated/ is fresh, runs the generator's own
# tests, builds with gcc and clang (-Werror), runs every C suite against a
# throwaway PostgreSQL cluster, SQLite (file and :memory:) and Turso's own server
# (tursodb, installed into .tools/ by npm), then again under
# ASan+UBSan, verifies every PostgreSQL query against the live schema, and
# prints one total line. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
scripts/deps.sh

step() { printf '\n== %s\n' "$*"; }
total_pass=0; total_fail=0
count() {   # count "N passed, N failed" from a log into the totals
    local line
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 || true)
    [ -n "$line" ] || return 0
    total_pass=$((total_pass + $(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")))
    total_fail=$((total_fail + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
}
log=$(mktemp -d /tmp/pgqrs-testlog.XXXXXX); trap 'rm -rf "$log"' EXIT

step "generated/ is up to date"
make -s check-generated

step "generator tests"
set +e
# inside a throwaway cluster, so the tests of verify_pg.py run too
scripts/with-postgres.sh bash -c 'cd codegen && python3 -m unittest discover -s tests -t .' 2>&1 | tee "$log/codegen"
rc=${PIPESTATUS[0]}
set -e
n=$(grep -Eo 'Ran [0-9]+ test' "$log/codegen" | grep -Eo '[0-9]+' || echo 0)
if [ "$rc" = 0 ]; then total_pass=$((total_pass + n)); else total_fail=$((total_fail + 1)); fi

step "build: gcc and clang, -Wall -Wextra -Werror"
make -s -j"$jobs" all tests BUILD=build CC=gcc
make -s -j"$jobs" all tests BUILD=build-clang CC=clang

step "suites against PostgreSQL and SQLite"
make -s -j"$jobs" tests BUILD=build-asan CC=clang CFLAGS="-O1 -g" \
    SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
suite_rc=0
scripts/with-postgres.sh bash -c '
    set -uo pipefail
    rc=0
    python3 codegen/verify_pg.py || rc=1
    scripts/run-suites.sh build postgres sqlite sqlite-memory || rc=1
    echo; echo "== the same suites through PgBouncer (transaction pooling)"
    scripts/with-pgbouncer.sh scripts/run-suites.sh build pgbouncer || rc=1
    echo; echo "== the same suites on Turso (tursodb --sync-server: Hrana over HTTP)"
    scripts/with-turso.sh scripts/run-suites.sh build turso || rc=1
    echo; echo "== the same suites under ASan+UBSan"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        scripts/run-suites.sh build-asan postgres sqlite || rc=1
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        scripts/with-turso.sh scripts/run-suites.sh build-asan turso || rc=1
    exit $rc' 2>&1 | tee "$log/suites" || suite_rc=1
while read -r line; do
    total_pass=$((total_pass + $(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")))
    total_fail=$((total_fail + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
done < <(grep -E '^C suites .*: [0-9]+ passed, [0-9]+ failed$' "$log/suites")
if [ -x scripts/test-extra.sh ]; then
    step "CLI, Python and docs"
    set +e; scripts/test-extra.sh 2>&1 | tee "$log/extra"; extra_rc=${PIPESTATUS[0]}; set -e
    count "$log/extra"
    [ "$extra_rc" = 0 ] || suite_rc=1
fi

step "single-backend builds: WITH_POSTGRES / WITH_SQLITE / WITH_TURSO"
set +e; scripts/test-variants.sh 2>&1 | tee "$log/variants"; variants_rc=${PIPESTATUS[0]}; set -e
count "$log/variants"
[ "$variants_rc" = 0 ] || suite_rc=1

step "make install, then a program built with pkg-config only"
prefix=$(mktemp -d /tmp/pgqrs-prefix.XXXXXX)
make -s install PREFIX="$prefix" >/dev/null
cat > "$prefix/app.c" <<'APP'
#include <stdio.h>
#include <pgqrs.h>
int main(void)
{
    pgqrs_store *s;
    if (pgqrs_connect(&s, "sqlite::memory:", NULL) != PGQRS_OK || pgqrs_schema_install(s) != PGQRS_OK)
        return 1;
    printf("pgqrs %s on %s\n", pgqrs_version(), pgqrs_store_backend(s));
    pgqrs_store_free(s);
    return 0;
}
APP
if PKG_CONFIG_PATH="$prefix/lib/pkgconfig" cc "$prefix/app.c" -o "$prefix/app" \
       $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs --static pgqrs) &&
   LD_LIBRARY_PATH="$prefix/lib" "$prefix/app" && "$prefix/bin/pgqrs" --version >/dev/null; then
    echo "install: 1 passed, 0 failed"; total_pass=$((total_pass + 1))
else
    echo "install: 0 passed, 1 failed"; total_fail=$((total_fail + 1)); suite_rc=1
fi
rm -rf "$prefix"

step "every code block in README.md, docs/ and python/README.md"
make -s python >/dev/null
set +e; python3 scripts/test_docs.py build 2>&1 | tee "$log/docs"; docs_rc=${PIPESTATUS[0]}; set -e
count "$log/docs"
[ "$docs_rc" = 0 ] || suite_rc=1

# ---- reliability (issue 7, docs/reliability.md): each step's last "N passed, N
# failed" line is added to the totals; a step that fails without one counts as one
step_count() {   # step_count NAME LOG RC
    if grep -qE '[0-9]+ passed, [0-9]+ failed' "$2"; then count "$2"; else total_fail=$((total_fail + 1)); fi
    [ "$3" = 0 ] || suite_rc=1
}

step "public header alone: C99, C11, C++11 (-Wall -Wextra -Werror)"
hdr_p=0; hdr_f=0
for c in "gcc -std=c99 -x c" "gcc -std=c11 -x c" "clang -std=c11 -x c" "g++ -std=c++11 -x c++"; do
    if printf '#include "pgqrs.h"\nint main(void) { return pgqrs_version_number() > 0 ? 0 : 1; }\n' |
        $c -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only - ; then hdr_p=$((hdr_p + 1)); else
        echo "header does not compile alone with: $c"; hdr_f=$((hdr_f + 1)); fi
done
echo "header: $hdr_p passed, $hdr_f failed" | tee "$log/header"
step_count header "$log/header" "$hdr_f"

step "C suites under valgrind memcheck (SQLite and PostgreSQL)"
set +e
scripts/with-postgres.sh env RUNNER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --track-origins=no -q --suppressions=tests/valgrind.supp" \
    scripts/run-suites.sh build sqlite postgres 2>&1 | tee "$log/valgrind"
rc=${PIPESTATUS[0]}; set -e
step_count valgrind "$log/valgrind" "$rc"

step "fuzz smoke: DSN, JSON payload, CLI arguments (12 s each)"
set +e; scripts/fuzz.sh 12 2>&1 | tee "$log/fuzz"; rc=${PIPESTATUS[0]}; set -e
step_count fuzz "$log/fuzz" "$rc"

step "lint: cppcheck and clang-tidy (.clang-tidy)"
set +e; scripts/lint.sh 2>&1 | tee "$log/lint"; rc=${PIPESTATUS[0]}; set -e
step_count lint "$log/lint" "$rc"

step "chaos, short: consumer kills, PostgreSQL restart, SQLITE_BUSY storm, workflow kills"
set +e; scripts/chaos.sh --short 2>&1 | tee "$log/chaos"; rc=${PIPESTATUS[0]}; set -e
step_count chaos "$log/chaos" "$rc"

echo
echo "all: $total_pass passed, $total_fail failed"
[ "$suite_rc" = 0 ] && [ "$total_fail" = 0 ]
