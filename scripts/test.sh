#!/usr/bin/env bash
# `make test`: everything, from a fresh clone on a fresh Debian machine.
# Installs missing packages, checks generated/ is fresh, runs the generator's own
# tests, builds with gcc and clang (-Werror), runs every C suite against a
# throwaway PostgreSQL cluster, SQLite (file and :memory:) and Turso's own server
# (tursodb, installed into .tools/ by npm), then again under
# ASan+UBSan, verifies every PostgreSQL query against the live schema, and
# prints the totals by kind and one "all: N passed, N failed, N skipped" line.
# Exits non-zero on any failure.
#
# Counting: every step prints (or is given here) a line
# "NAME: N passed, N failed, N skipped"; its last such line is added to the totals
# of its kind. A step that prints none counts as one failure, and so does a step
# that exits non-zero without reporting a failure. Skipped tests are counted
# apart: a test that does not apply to a backend is neither a pass nor a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
scripts/deps.sh

step() { printf '\n== %s\n' "$*"; }
log=$(mktemp -d /tmp/pgqrs-testlog.XXXXXX); trap 'rm -rf "$log"' EXIT
suite_rc=0
kinds=()
declare -A kind_p=() kind_f=() kind_s=()

# add KIND P F S: adds to the totals of KIND (kinds are listed in first-seen order)
add() {
    if [ -z "${kind_p[$1]+set}" ]; then kinds+=("$1"); kind_p[$1]=0; kind_f[$1]=0; kind_s[$1]=0; fi
    kind_p[$1]=$((kind_p[$1] + $2)); kind_f[$1]=$((kind_f[$1] + $3)); kind_s[$1]=$((kind_s[$1] + $4))
}

# tally KIND LOG RC [NAME_REGEX]: the last "NAME: N passed, N failed[, N skipped]"
# line of LOG (NAME matched by NAME_REGEX, default KIND) counts for KIND. No such
# line (or no LOG): one failure. RC non-zero with no failure counted: one failure.
tally() {
    local kind=$1 file=$2 rc=$3 name=${4:-$1} line p f s
    line=$( { grep -E "^$name: [0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$" "$file" 2>/dev/null || true; } |
        tail -n 1)
    if [ -z "$line" ]; then
        echo "$kind: no summary line (exit $rc): counted as one failure"
        add "$kind" 0 1 0; suite_rc=1; return 0
    fi
    p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    s=$(grep -Eo '[0-9]+ skipped$' <<<"$line" | grep -Eo '[0-9]+' || echo 0)
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "$kind: exit $rc without a counted failure: counted as one failure"; f=1
    fi
    add "$kind" "$p" "$f" "$s"
    [ "$f" = 0 ] || suite_rc=1
}

# run_step NAME CMD...: runs CMD with its output shown and kept in $log/NAME and
# its exit status in $log/NAME.rc (a failing step does not stop make test).
run_step() {
    local name=$1; shift
    set +e; "$@" 2>&1 | tee "$log/$name"; echo "${PIPESTATUS[0]}" >"$log/$name.rc"; set -e
}
rc_of() { cat "$log/$1.rc" 2>/dev/null || echo 1; }

step "generated/ is up to date"
make -s check-generated
echo "generated: 1 passed, 0 failed, 0 skipped" | tee "$log/generated"
tally generated "$log/generated" 0

step "generator tests"
# inside a throwaway cluster, so the tests of verify_pg.py run too
run_step codegen scripts/with-postgres.sh bash -c 'cd codegen && python3 -m unittest discover -s tests -t .'
{   # unittest: "Ran N tests", then "OK (skipped=S, expected failures=X)" or
    # "FAILED (failures=F, errors=E, skipped=S, unexpected successes=U)"
    ran=$(grep -Eo '^Ran [0-9]+ test' "$log/codegen" | grep -Eo '[0-9]+' | tail -n 1 || true)
    verdict=$(grep -E '^(OK|FAILED)( \(.*\))?$' "$log/codegen" | tail -n 1 || true)
    n_of() { grep -Eo "$1=[0-9]+" <<<"$verdict" | grep -Eo '[0-9]+' || echo 0; }
    if [ -n "$ran" ] && [ -n "$verdict" ]; then
        gf=$(($(n_of failures) + $(n_of errors) + $(n_of 'unexpected successes')))
        gs=$(n_of skipped)
        echo "generator: $((ran - gf - gs)) passed, $gf failed, $gs skipped"
    fi
} | tee -a "$log/codegen"
tally generator "$log/codegen" "$(rc_of codegen)"

step "build: gcc and clang, -Wall -Wextra -Werror"
make -s -j"$jobs" all tests BUILD=build CC=gcc
make -s -j"$jobs" all tests BUILD=build-clang CC=clang

step "suites against PostgreSQL and SQLite"
make -s -j"$jobs" tests BUILD=build-asan CC=clang CFLAGS="-O1 -g" \
    SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
# one cluster for all of them; each run's output and status go to its own log
PGQRS_TESTLOG=$log scripts/with-postgres.sh bash -c '
    set -uo pipefail
    run() {   # run NAME CMD...
        local name=$1; shift
        "$@" 2>&1 | tee "$PGQRS_TESTLOG/$name"; echo "${PIPESTATUS[0]}" >"$PGQRS_TESTLOG/$name.rc"
    }
    run verify-queries python3 codegen/verify_pg.py
    run suites scripts/run-suites.sh build postgres sqlite sqlite-memory
    echo; echo "== the same suites through PgBouncer (transaction pooling)"
    run suites-pgbouncer scripts/with-pgbouncer.sh scripts/run-suites.sh build pgbouncer
    echo; echo "== the same suites on Turso (tursodb --sync-server: Hrana over HTTP)"
    run suites-turso scripts/with-turso.sh scripts/run-suites.sh build turso
    echo; echo "== the same suites under ASan+UBSan"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        run suites-asan scripts/run-suites.sh build-asan postgres sqlite
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        run suites-asan-turso scripts/with-turso.sh scripts/run-suites.sh build-asan turso
    true' || suite_rc=1
{   # verify_pg.py: "verify-queries: N postgres queries prepared and checked" or
    # "verify-queries: N problem(s) ..."
    vq=$(grep -E '^verify-queries: [0-9]+ ' "$log/verify-queries" 2>/dev/null | tail -n 1 || true)
    vn=$(grep -Eo '[0-9]+' <<<"$vq" | head -n 1 || true)
    if [ -n "$vn" ] && grep -q 'prepared and checked' <<<"$vq"; then
        echo "verify-queries: $vn passed, 0 failed, 0 skipped"
    elif [ -n "$vn" ]; then
        echo "verify-queries: 0 passed, $vn failed, 0 skipped"
    fi
} >>"$log/verify-queries"
tally verify-queries "$log/verify-queries" "$(rc_of verify-queries)"
for r in suites suites-pgbouncer suites-turso; do
    tally "C suites (build)" "$log/$r" "$(rc_of "$r")" 'C suites \(build\)'
done
for r in suites-asan suites-asan-turso; do
    tally "C suites (build-asan)" "$log/$r" "$(rc_of "$r")" 'C suites \(build-asan\)'
done

if [ -x scripts/test-extra.sh ]; then
    step "CLI, Python and docs"
    run_step extra scripts/test-extra.sh
    # each suite's last line is its own count (test-extra.sh turns a silent
    # failure into one); the run's exit status is checked as a whole
    extra_suites=$(sed -nE 's/^== extra suite: ([A-Za-z0-9_-]+)$/\1/p' "$log/extra")
    for k in $extra_suites; do tally "$k" "$log/extra" 0 "$k"; done
    [ -n "$extra_suites" ] || tally extra "$log/extra" "$(rc_of extra)"
    [ "$(rc_of extra)" = 0 ] || suite_rc=1
fi

step "single-backend builds: WITH_POSTGRES / WITH_SQLITE / WITH_TURSO"
run_step variants scripts/test-variants.sh
tally variants "$log/variants" "$(rc_of variants)"

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
    echo "install: 1 passed, 0 failed, 0 skipped" | tee "$log/install"
else
    echo "install: 0 passed, 1 failed, 0 skipped" | tee "$log/install"
fi
rm -rf "$prefix"
tally install "$log/install" 0

step "every code block in README.md, docs/ and python/README.md"
make -s python >/dev/null
run_step docs python3 scripts/test_docs.py build
tally docs "$log/docs" "$(rc_of docs)"

# ---- reliability (issue 7, docs/reliability.md)

step "public header alone: C99, C11, C++11 (-Wall -Wextra -Werror)"
hdr_p=0; hdr_f=0
for c in "gcc -std=c99 -x c" "gcc -std=c11 -x c" "clang -std=c11 -x c" "g++ -std=c++11 -x c++"; do
    if printf '#include "pgqrs.h"\nint main(void) { return pgqrs_version_number() > 0 ? 0 : 1; }\n' |
        $c -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only - ; then hdr_p=$((hdr_p + 1)); else
        echo "header does not compile alone with: $c"; hdr_f=$((hdr_f + 1)); fi
done
echo "header: $hdr_p passed, $hdr_f failed, 0 skipped" | tee "$log/header"
tally header "$log/header" 0

step "C suites under valgrind memcheck (SQLite and PostgreSQL)"
run_step valgrind scripts/with-postgres.sh env JOBS="$jobs" RUNNER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --track-origins=no -q --suppressions=tests/valgrind.supp" \
    scripts/run-suites.sh build sqlite postgres
tally valgrind "$log/valgrind" "$(rc_of valgrind)" 'C suites \(build\)'

step "fuzz smoke: DSN, JSON payload, CLI arguments, dashboard router (12 s each)"
run_step fuzz scripts/fuzz.sh 12
tally fuzz "$log/fuzz" "$(rc_of fuzz)"

step "lint: cppcheck and clang-tidy (.clang-tidy)"
run_step lint scripts/lint.sh
tally lint "$log/lint" "$(rc_of lint)"

step "chaos, short: consumer kills, PostgreSQL restart, SQLITE_BUSY storm, workflow kills"
run_step chaos scripts/chaos.sh --short
tally chaos "$log/chaos" "$(rc_of chaos)"

step "totals by kind"
all_p=0; all_f=0; all_s=0
for k in "${kinds[@]}"; do
    printf '  %-24s %d passed, %d failed, %d skipped\n' "$k:" "${kind_p[$k]}" "${kind_f[$k]}" "${kind_s[$k]}"
    all_p=$((all_p + kind_p[$k])); all_f=$((all_f + kind_f[$k])); all_s=$((all_s + kind_s[$k]))
done
echo
echo "all: $all_p passed, $all_f failed, $all_s skipped"
[ "$suite_rc" = 0 ] && [ "$all_f" = 0 ]
