#!/usr/bin/env bash
# bench/suite.sh: every scenario against the cluster of scripts/with-postgres.sh
# --durable (PGQRS_TEST_PG_DSN/DIR/BIN) and SQLite files under bench/scratch/.
# Called by bench/run.sh; appends one JSON line per cell to $BENCH_SCRATCH/run/results.jsonl.
set -uo pipefail
S=$BENCH_SCRATCH
OUT=$S/run
rm -rf "$OUT"; mkdir -p "$OUT"
RES=$OUT/results.jsonl
: > "$RES"
DSN=$PGQRS_TEST_PG_DSN
D=$PGQRS_TEST_PG_DIR
BIN=$S/bin
NODE=${BENCH_NODE:-}
P=$S/peers
psqlc() { psql -X -qAt "$DSN" "$@"; }

if [ "$BENCH_QUICK" = 1 ]; then
    N=5000; CONS="1 4"; BATCHES="1 50"; ENQ_CELLS="1:1 1:100"; LAT_S=5; CELL_TIMEOUT=60; RT_CONC="1 4"
else
    N=50000; CONS="1 2 4"; BATCHES="1 10 50"; ENQ_CELLS="1:1 1:100 4:1 4:100"; LAT_S=20; CELL_TIMEOUT=400; RT_CONC="1 4 16"
fi
N=${BENCH_N:-$N}   # BENCH_N: another backlog size (a smaller check; make bench uses the default)
# BENCH_ONLY=runtime (or drain, enqueue, latency, workflow, wakeup, sendrecv): only that scenario
only() { [ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = "$1" ]; }
has() { grep -q "^$1	" "$BENCH_STATUS" && ! grep -q "^$1	NOT" "$BENCH_STATUS"; }

# rec SCENARIO BACKEND SYSTEM C B CMD...: runs one cell, appends its JSON line
rec() {
    local sc=$1 be=$2 sys=$3 c=$4 b=$5; shift 5
    local tmp; tmp=$(mktemp -d "$OUT/cell.XXXX")
    local t0=$SECONDS
    # every PostgreSQL cell starts just after a checkpoint, so no cell pays for the
    # previous cell's dirty buffers and their full-page writes
    [ "$be" = postgres ] && psqlc -c CHECKPOINT >/dev/null 2>&1
    echo "bench: $sc $be $sys C=$c B=$b" >&2
    timeout "$CELL_TIMEOUT" bash -c '"$@"' _ "$@" "$tmp" > "$tmp/out" 2> "$tmp/err"
    local rc=$? line
    line=$(grep '^{' "$tmp/out" | tail -n 1)
    local fail=null
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        [ $rc = 124 ] && fail="\"timed out after ${CELL_TIMEOUT} s\"" ||
            fail=$(printf '"exit %s: %s"' "$rc" "$(tail -n 3 "$tmp/err" | tr -d '"\\' | tr '\n\t' '  ' | cut -c1-300)")
        line=null
    fi
    printf '{"scenario":"%s","backend":"%s","system":"%s","consumers":%s,"batch":%s,"wall_s":%s,"failure":%s,"result":%s}\n' \
        "$sc" "$be" "$sys" "$c" "$b" $((SECONDS - t0)) "$fail" "$line" >> "$RES"
    echo "  -> $line $([ "$fail" != null ] && echo "FAILED: $fail")" >&2
    rm -rf "$tmp"
}
# a tmp dir is always the last argument of the drivers; node peers ignore it
node_peer() { local script=$1; shift; local n=$#; local args=("${@:1:$((n-1))}"); "$NODE" "$P/$script" "${args[@]}"; }
newschema() { psqlc -c "CREATE SCHEMA $1" >/dev/null; echo "$DSN&schema=$1"; }
sqlite_file() { rm -f "$S/$1.db" "$S/$1.db-wal" "$S/$1.db-shm"; echo "$S/$1.db"; }

# ---- environment -------------------------------------------------------------------
pgset() { psqlc -c "SELECT json_object_agg(name, setting) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','full_page_writes','wal_sync_method','shared_buffers','max_connections','wal_level','max_wal_size','checkpoint_timeout','commit_delay')"; }
{
    printf '{"host":"%s","date":"%s","quick":%s,' "$(hostname)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$BENCH_QUICK"
    printf '"cpu":"%s","cores":%s,"mem_gb":%s,"kernel":"%s",' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //;s/"//g')" \
        "$(nproc)" "$(awk '/MemTotal/{printf "%.1f", $2/1048576}' /proc/meminfo)" "$(uname -r)"
    printf '"disk":"%s",' "$(df -T "$S" | awk 'NR==2{print $2" on "$1}')"
    printf '"postgres_version":"%s","postgres_settings":%s,' "$(psqlc -c 'SHOW server_version')" "$(pgset)"
    printf '"sqlite_version":"%s","sqlite_settings":"journal_mode=WAL; synchronous=%s (pgqrs and the bare loop: the SQLite default); plainjob sets synchronous=NORMAL (1) itself: measured both as shipped (plainjob-as-shipped) and at FULL (plainjob, the same setting as pgqrs-c)",' \
        "$(sqlite3 --version | cut -d' ' -f1)" "$(sqlite3 "$(sqlite_file probe)" 'PRAGMA synchronous')"
    printf '"n_messages":%s,"peers":{' "$N"
    awk -F'\t' '{gsub(/"/,"",$2); printf "%s\"%s\":\"%s\"", (NR>1?",":""), $1, $2}' "$BENCH_STATUS"
    printf '}}\n'
} > "$OUT/env.json"
echo "bench: PostgreSQL settings: $(pgset)" >&2

# ---- machine commit rate (pgbench, one write transaction = one WAL flush) ------------------
psqlc -c "CREATE TABLE IF NOT EXISTS bench_commit (id int)" >/dev/null
printf 'INSERT INTO bench_commit VALUES (1);\n' > "$OUT/commit.sql"
for c in 1 4; do
    tps=$(pgbench -n -M prepared -f "$OUT/commit.sql" -c $c -j $c -T $([ "$BENCH_QUICK" = 1 ] && echo 3 || echo 10) "$DSN" 2>/dev/null |
          sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    printf '{"scenario":"commit_rate","backend":"postgres","system":"pgbench","consumers":%s,"batch":1,"failure":null,"result":{"commits_per_s":%s}}\n' \
        $c "${tps:-null}" >> "$RES"
    echo "bench: commit rate with $c clients: $tps/s" >&2
done

# ---- Scenario 1: drain ------------------------------------------------------------------
PGQ_OK=0
if has pgq; then
    psqlc -c "CREATE DATABASE pgqbench" >/dev/null && psql -X -qAt "host=$D dbname=pgqbench user=postgres" -c "CREATE EXTENSION pgq" >/dev/null && PGQ_OK=1
    printf "[pgqd]\nbase_connstr = host=%s user=postgres\ninitial_database = pgqbench\ndatabase_list = pgqbench\nlogfile = %s/pgqd.log\npidfile = %s/pgqd.pid\n" \
        "$D" "$OUT" "$OUT" > "$OUT/pgqd.ini"
fi
PGQ_CI="host=$D dbname=pgqbench user=postgres"
pgq_enq() { "$BIN/pgq_bench" enqueue "$PGQ_CI" "$1" "$2" "$N" "e_$1_$2" "$3"; }
export N DSN NODE P BIN PGQ_CI BENCH_PGQD_CONF= PLAINJOB_SYNC= PGQRS_BENCH_PIPELINE=
export -f psqlc node_peer pgq_enq
only drain || BATCHES=""
for b in $BATCHES; do
    for c in $CONS; do
        rec drain postgres pgqrs "$c" "$b" "$BIN/pgqrs_bench" drain "$(newschema "q_${c}_${b}")" "$c" "$b" "$N"
        PGQRS_BENCH_PIPELINE=1 rec drain postgres pgqrs-pipelined "$c" "$b" "$BIN/pgqrs_bench" drain "$(newschema "qp_${c}_${b}")" "$c" "$b" "$N"
        # the priority claim: the same backlog with priorities 0..4 mixed (issue 17)
        PGQRS_BENCH_PRIORITIES=5 rec drain postgres pgqrs-priority "$c" "$b" "$BIN/pgqrs_bench" drain "$(newschema "qpr_${c}_${b}")" "$c" "$b" "$N"
        # the floor: the minimal prepared claim and archive statements on libpq (bench/floor_pg.c)
        rec drain postgres floor "$c" "$b" "$BIN/floor_pg" drain "$DSN" "floor_${c}_${b}" "$c" "$b" "$N"
        if [ -n "$NODE" ] && has pg-boss; then
            rec drain postgres pg-boss "$c" "$b" node_peer pgboss.mjs drain "$DSN" "pgboss_${c}_${b}" "$c" "$b" "$N"
        fi
        if [ -n "$NODE" ] && has graphile-worker; then
            rec drain postgres graphile-worker "$c" "$b" node_peer graphile.mjs drain "$DSN" "gw_${c}_${b}" "$c" "$b" "$N"
        fi
        if [ "$PGQ_OK" = 1 ]; then
            BENCH_PGQD_CONF=$OUT/pgqd.ini rec drain postgres pgq "$c" "$b" "$BIN/pgq_bench" drain "$PGQ_CI" "$c" "$b" "$N" "d_${c}_${b}"
        fi
        rec drain sqlite pgqrs "$c" "$b" "$BIN/pgqrs_bench" drain "sqlite://$(sqlite_file "q_${c}_${b}")" "$c" "$b" "$N"
        PGQRS_BENCH_PIPELINE=1 rec drain sqlite pgqrs-pipelined "$c" "$b" "$BIN/pgqrs_bench" drain "sqlite://$(sqlite_file "qp_${c}_${b}")" "$c" "$b" "$N"
        PGQRS_BENCH_PRIORITIES=5 rec drain sqlite pgqrs-priority "$c" "$b" "$BIN/pgqrs_bench" drain "sqlite://$(sqlite_file "qpr_${c}_${b}")" "$c" "$b" "$N"
        rec drain sqlite sqlite-bare "$c" "$b" "$BIN/sqlite_bare" drain "$(sqlite_file "bare_${c}_${b}")" "$c" "$b" "$N"
        if [ -n "$NODE" ] && has plainjob && has better-sqlite3; then
            PLAINJOB_SYNC=FULL rec drain sqlite plainjob "$c" "$b" node_peer plainjob.mjs drain "$(sqlite_file "pj_${c}_${b}")" "$c" "$b" "$N"
            PLAINJOB_SYNC= rec drain sqlite plainjob-as-shipped "$c" "$b" node_peer plainjob.mjs drain "$(sqlite_file "pjn_${c}_${b}")" "$c" "$b" "$N"
        fi
    done
    # drop the finished schemas so the catalog and WAL stay small
    for c in $CONS; do psqlc -c "DROP SCHEMA IF EXISTS q_${c}_${b}, qp_${c}_${b}, floor_${c}_${b}, pgboss_${c}_${b}, gw_${c}_${b} CASCADE" >/dev/null 2>&1; done
    rm -f "$S"/*.db "$S"/*.db-wal "$S"/*.db-shm
done

# ---- Scenario 1 on Turso: the same drain over Hrana/HTTP against tursodb ----------------
# tursodb is Turso's local test server (about 10 ms per request here), not Turso
# Cloud: these cells show the protocol's cost relative to SQLite on one machine.
TURSO_N=$([ "$BENCH_QUICK" = 1 ] && echo 500 || echo 5000)
TURSO_CELLS="1:1 1:10 1:50 2:10"
only drain || TURSO_CELLS=""
for cell in $TURSO_CELLS; do
    c=${cell%:*}; b=${cell#*:}
    rec drain turso pgqrs "$c" "$b" bench/turso_drain.sh "$BIN/pgqrs_bench" "$c" "$b" "$TURSO_N"
    rec drain turso pgqrs-sqlite "$c" "$b" "$BIN/pgqrs_bench" drain "sqlite://$(sqlite_file "tq_${c}_${b}")" "$c" "$b" "$TURSO_N"
done
rm -f "$S"/*.db "$S"/*.db-wal "$S"/*.db-shm

# ---- Scenario 2: enqueue ----------------------------------------------------------------
only enqueue || ENQ_CELLS=""
for cell in $ENQ_CELLS; do
    p=${cell%:*}; b=${cell#*:}
    rec enqueue postgres pgqrs "$p" "$b" "$BIN/pgqrs_bench" enqueue "$(newschema "e_${p}_${b}")" "$p" "$b" "$N"
    rec enqueue sqlite pgqrs "$p" "$b" "$BIN/pgqrs_bench" enqueue "sqlite://$(sqlite_file "e_${p}_${b}")" "$p" "$b" "$N"
    # the unique-key enqueue: every message with its own key (issue 17)
    PGQRS_BENCH_UNIQUE=1 rec enqueue postgres pgqrs-unique "$p" "$b" "$BIN/pgqrs_bench" enqueue "$(newschema "eu_${p}_${b}")" "$p" "$b" "$N"
    PGQRS_BENCH_UNIQUE=1 rec enqueue sqlite pgqrs-unique "$p" "$b" "$BIN/pgqrs_bench" enqueue "sqlite://$(sqlite_file "eu_${p}_${b}")" "$p" "$b" "$N"
    if [ -n "$NODE" ] && has pg-boss; then
        rec enqueue postgres pg-boss "$p" "$b" node_peer pgboss.mjs enqueue "$DSN" "pgboss_e_${p}_${b}" "$p" "$b" "$N"
    fi
    [ "$PGQ_OK" = 1 ] && rec enqueue postgres pgq "$p" "$b" pgq_enq "$p" "$b"
done
rm -f "$S"/*.db "$S"/*.db-wal "$S"/*.db-shm

# ---- Scenario 3: end-to-end latency under steady load --------------------------------------
RATE=500
if only latency; then
rec latency postgres pgqrs 2 10 "$BIN/pgqrs_bench" latency "$(newschema lat)" "$RATE" "$LAT_S" 2 10 10
rec latency sqlite pgqrs 2 10 "$BIN/pgqrs_bench" latency "sqlite://$(sqlite_file lat)" "$RATE" "$LAT_S" 2 10 10
rec latency postgres pgqrs-wait 2 10 "$BIN/pgqrs_bench" latency "$(newschema latw)" "$RATE" "$LAT_S" 2 10 -1
rec latency sqlite pgqrs-wait 2 10 "$BIN/pgqrs_bench" latency "sqlite://$(sqlite_file latw)" "$RATE" "$LAT_S" 2 10 -1
# a trickle (20 msg/s): the consumers mostly wait on an empty queue, so this
# measures pickup latency: fixed 100 ms polling vs pgqrs_dequeue_wait
rec latency postgres pgqrs-poll100-trickle 2 10 "$BIN/pgqrs_bench" latency "$(newschema latp20)" 20 "$LAT_S" 2 10 100
rec latency postgres pgqrs-wait-trickle 2 10 "$BIN/pgqrs_bench" latency "$(newschema latw20)" 20 "$LAT_S" 2 10 -1
rec latency sqlite pgqrs-poll100-trickle 2 10 "$BIN/pgqrs_bench" latency "sqlite://$(sqlite_file latp20)" 20 "$LAT_S" 2 10 100
rec latency sqlite pgqrs-wait-trickle 2 10 "$BIN/pgqrs_bench" latency "sqlite://$(sqlite_file latw20)" 20 "$LAT_S" 2 10 -1
rm -f "$S"/*.db "$S"/*.db-wal "$S"/*.db-shm
fi

# ---- Scenario 4: workflows ---------------------------------------------------------------
# a 3-step workflow; "consumers" = worker processes, "batch" = 0 (runs are taken one at a
# time). pgqrs-replay: every run's first attempt fails after its 3 steps, so the second
# attempt replays them: step_replay_ms against step_exec_ms is the replay overhead.
WF_RUNS=$([ "$BENCH_QUICK" = 1 ] && echo 200 || echo 2000)
WF_CELLS="1 4"
only workflow || WF_CELLS=""
for w in $WF_CELLS; do
    rec workflow postgres pgqrs "$w" 0 "$BIN/pgqrs_bench" workflow "$(newschema "wf_$w")" "$w" "$WF_RUNS" 0
    rec workflow sqlite pgqrs "$w" 0 "$BIN/pgqrs_bench" workflow "sqlite://$(sqlite_file "wf_$w")" "$w" "$WF_RUNS" 0
done
# DBOS Transact (TypeScript, @dbos-inc/dbos-sdk) on the same cluster: C workflows in
# flight in one process (DBOS executes a workflow where it is started); 16 as well,
# its better case on this machine.
if [ -n "$NODE" ] && has @dbos-inc/dbos-sdk; then
    for w in $WF_CELLS 16; do
        rec workflow postgres dbos "$w" 0 node_peer dbos.mjs workflow "$DSN" "dbos_wf_$w" "$w" "$WF_RUNS"
    done
fi
if only workflow; then
rec workflow postgres pgqrs-replay 1 0 "$BIN/pgqrs_bench" workflow "$(newschema wfr)" 1 "$WF_RUNS" 1
rec workflow sqlite pgqrs-replay 1 0 "$BIN/pgqrs_bench" workflow "sqlite://$(sqlite_file wfr)" 1 "$WF_RUNS" 1
fi
rm -f "$S"/*.db "$S"/*.db-wal "$S"/*.db-shm

# ---- Scenario 4b: wake-up latency of an idle system -------------------------------------
# One workflow worker process idles in pgqrs_workflow_worker_poll; runs are triggered one at
# a time (WAKE_GAP ms apart, 0.5x..1.5x) and waited for with pgqrs_run_wait: pickup is the
# worker's wake-up (trigger -> handler), wait_wake pgqrs_run_wait's (handler returns ->
# pgqrs_run_wait returns). "batch" = the mean gap in ms.
WAKE_RUNS=$([ "$BENCH_QUICK" = 1 ] && echo 30 || echo 150)
WAKE_GAP=200
if only wakeup || only workflow; then
rec wakeup postgres pgqrs 1 "$WAKE_GAP" "$BIN/pgqrs_bench" wakeup "$(newschema wake)" "$WAKE_RUNS" "$WAKE_GAP"
rec wakeup sqlite pgqrs 1 "$WAKE_GAP" "$BIN/pgqrs_bench" wakeup "sqlite://$(sqlite_file wake)" "$WAKE_RUNS" "$WAKE_GAP"
rm -f "$S"/*.db "$S"/*.db-wal "$S"/*.db-shm
fi

# ---- Scenario 4c: the send-to-recv round trip ----------------------------------------------
# A run waits in recv; one message is sent to it; until recv returns in the handler
# (pgqrs-c: the run is suspended and its worker idle, woken by the send; DBOS: the
# workflow waits in memory in DBOS.recv). One at a time, SR_N times.
SR_N=$([ "$BENCH_QUICK" = 1 ] && echo 20 || echo 100)
if only sendrecv || only workflow; then
rec sendrecv postgres pgqrs 1 0 "$BIN/pgqrs_bench" sendrecv "$(newschema sr)" "$SR_N"
rec sendrecv sqlite pgqrs 1 0 "$BIN/pgqrs_bench" sendrecv "sqlite://$(sqlite_file sr)" "$SR_N"
if [ -n "$NODE" ] && has @dbos-inc/dbos-sdk; then
    rec sendrecv postgres dbos 1 0 node_peer dbos.mjs sendrecv "$DSN" dbos_sr "$SR_N"
fi
rm -f "$S"/*.db "$S"/*.db-wal "$S"/*.db-shm
fi

# ---- Scenario 5: the worker runtime --------------------------------------------------------
# A no-op handler over a prefilled backlog of N jobs, in one process, at concurrency 1, 4
# and 16 ("consumers" = concurrency), every system claiming batches of 10 ("batch"):
# pgqrs_runtime (pgqrs_bench runtime), graphile-worker's runner (run(): concurrency C,
# localQueue 10, batched completions), pg-boss work() (localConcurrency C, batchSize 10,
# burstWhenBatchFull), and on SQLite plainjob's defineWorker x C (one job per claim: it
# has no batch claim). Durability as everywhere in this suite: PostgreSQL
# synchronous_commit=on; SQLite synchronous=FULL for pgqrs and plainjob
# (PLAINJOB_SYNC=FULL; plainjob-as-shipped runs at its own NORMAL).
RT_B=10
only runtime || RT_CONC=""
for c in $RT_CONC; do
    rec runtime postgres pgqrs "$c" "$RT_B" "$BIN/pgqrs_bench" runtime "$(newschema "rt_$c")" "$c" "$RT_B" "$N"
    if [ -n "$NODE" ] && has pg-boss; then
        rec runtime postgres pg-boss "$c" "$RT_B" node_peer pgboss.mjs runtime "$DSN" "pgboss_rt_$c" "$c" "$RT_B" "$N"
    fi
    if [ -n "$NODE" ] && has graphile-worker; then
        rec runtime postgres graphile-worker "$c" "$RT_B" node_peer graphile.mjs drain "$DSN" "gw_rt_$c" "$c" "$RT_B" "$N"
    fi
    rec runtime sqlite pgqrs "$c" "$RT_B" "$BIN/pgqrs_bench" runtime "sqlite://$(sqlite_file "rt_$c")" "$c" "$RT_B" "$N"
    if [ -n "$NODE" ] && has plainjob && has better-sqlite3; then
        PLAINJOB_SYNC=FULL rec runtime sqlite plainjob "$c" "$RT_B" node_peer plainjob.mjs runtime "$(sqlite_file "pj_rt_$c")" "$c" "$RT_B" "$N"
        PLAINJOB_SYNC= rec runtime sqlite plainjob-as-shipped "$c" "$RT_B" node_peer plainjob.mjs runtime "$(sqlite_file "pjn_rt_$c")" "$c" "$RT_B" "$N"
    fi
    psqlc -c "DROP SCHEMA IF EXISTS rt_$c, pgboss_rt_$c, gw_rt_$c CASCADE" >/dev/null 2>&1
    rm -f "$S"/*.db "$S"/*.db-wal "$S"/*.db-shm
done
echo "bench: results in $RES" >&2
