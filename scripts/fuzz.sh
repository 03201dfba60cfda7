#!/usr/bin/env bash
# libFuzzer targets (fuzz/): the DSN parser and redactor, the JSON payload path,
# the CLI argument parser, the dashboard's request router. Builds the library with clang and
# -fsanitize=fuzzer-no-link,address,undefined into build-fuzz/, links each target
# with -fsanitize=fuzzer,address,undefined, and runs it for SECONDS on a copy of
# its committed seed corpus (fuzz/corpus/NAME; new inputs are not written back).
#   scripts/fuzz.sh [SECONDS]     default 60 per target (make fuzz); make test: 15
# Prints one line per target (execs, seconds, crashes) and
# "fuzz: N passed, N failed, 0 skipped". A crash leaves its input in build-fuzz/crash-NAME-*.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-${FUZZ_SECONDS:-60}}
B=build-fuzz
SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
CPP="-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc -Isrc/cli -Igenerated -I$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)"
LIBS=$(make -s --no-print-directory print-libs)   # the libraries the Makefile links with
[ -n "$LIBS" ] || LIBS="-lpq -lsqlite3 -ljansson -lpthread"
pass=0; fail=0
if ! make -s lib BUILD=$B CC=clang CFLAGS="-O1 -g" SANITIZE="$SAN" >/dev/null; then
    echo "fuzz: library build failed"; echo "fuzz: 0 passed, 1 failed, 0 skipped"; exit 1
fi
cli_objs=()
for f in src/cli/*.c; do
    [ "$(basename "$f")" = main.c ] && continue
    o=$B/fuzzobj/cli_$(basename "$f" .c).o
    mkdir -p $B/fuzzobj
    clang -std=c11 -O1 -g $SAN $CPP -c "$f" -o "$o" || { echo "fuzz: cannot compile $f"; fail=$((fail + 1)); }
    cli_objs+=("$o")
done
for t in dsn json cli router; do
    extra=()
    [ "$t" = cli ] && extra=("${cli_objs[@]}")
    if ! clang -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer $CPP \
        fuzz/fuzz_$t.c "${extra[@]}" $B/libpgqrs.a $LIBS -o $B/fuzz_$t; then
        echo "fuzz_$t: build failed"; fail=$((fail + 1)); continue
    fi
    work=$(mktemp -d /tmp/pgqrs-fuzz-$t.XXXXXX)
    cp fuzz/corpus/$t/* "$work"/
    log=$B/fuzz_$t.log
    start=$(date +%s)
    (cd $B && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ./fuzz_$t -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -close_fd_mask=2 \
        -print_final_stats=1 -artifact_prefix="crash-$t-" "$work" >"fuzz_$t.log" 2>&1)
    rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
    crashes=$(ls $B/crash-$t-* 2>/dev/null | wc -l)
    rm -rf "$work"
    echo "fuzz_$t: ${execs} execs in ${took}s, crashes=$crashes (exit $rc)"
    if [ "$rc" = 0 ] && [ "$crashes" = 0 ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); tail -n 40 "$log"
    fi
done
echo "fuzz: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
