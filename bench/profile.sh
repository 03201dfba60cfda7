#!/usr/bin/env bash
# bench/profile.sh [pg] [sqlite] [compare]: the profile of the claim path (issue 15),
# reproducible. Default: pg sqlite. Needs build/libpgqrs.a (`make -s -j2 lib`); builds
# the drivers into bench/scratch/bin. Writes bench/results/profile-<date>-<host>.jsonl
# (one record per run) and .md (the tables of docs/benchmarks.md, "Profile of the
# claim path"), or PROFILE_OUT.{jsonl,md}.
#
# pg: a throwaway durable cluster (scripts/with-postgres.sh --durable) with
#   pg_stat_statements preloaded (track = all: the foreign keys' RI queries show as
#   their own rows, and are also included in the statement that fired them) and
#   autovacuum off (nothing cleans up behind a drain, so buffers and index entries
#   are the statements' own). Each variant x cell is a drain of PROFILE_N messages
#   (pgqrs_bench drain, or floor_pg drain for the floor) in a fresh schema; after the
#   prefill and before the consumers connect (BENCH_AFTER_PREFILL): the variant's DDL
#   (scratch schema only), CHECKPOINT, and a reset of pg_stat_statements, pg_stat_wal
#   and the table counters. Afterwards: per statement calls, mean time, buffers, WAL;
#   the WAL totals; n_tup_upd / n_tup_hot_upd; every index's size and entries
#   (pgstattuple). Then EXPLAIN (ANALYZE, BUFFERS, WAL) of one claim and one archive
#   (batch 10, after 20 warm-up batches) of pgqrs-c and of the floor.
# sqlite: pgqrs_bench drain and sqlite_bare drain under bench/sqlite_trace.so (an
#   LD_PRELOAD shim: time per statement, VM steps, write-lock waits and holds, busy
#   handler calls, fsyncs, pages written), PROFILE_REPS repetitions per cell, plus
#   experiments on pgqrs-c: SQLite's own busy handler instead of pgqrs-c's, foreign
#   keys not enforced, the consumer index dropped.
# compare: floor_pg and pgqrs_bench side by side, each cell twice in alternating
#   order, in a plain durable cluster (no pg_stat_statements), PROFILE_COMPARE_N
#   messages per cell; PROFILE_COMPARE_SYSTEMS: floor, pgqrs, pgqrs-VARIANT (the
#   variant's DDL applied after the prefill), default "floor pgqrs pgqrs-lean".
# Variants (PostgreSQL, each in its own scratch schema): base (the schema as
# migrated), nofk (the three foreign keys of pgqrs_messages and pgqrs_archive
# dropped), noconsidx (pgqrs_messages_consumer_idx dropped), noarchidx
# (pgqrs_archive_queue_reason_idx dropped), notrigger (the release-notify trigger
# dropped), lean (all four), analyzed (the tables ANALYZEd after the prefill, as
# autovacuum would), generic / lean_generic (base / lean with every statement
# planned once per session: plan_cache_mode = force_generic_plan set on the role),
# floor (bench/floor_pg.c). Not in the default list: generic, lean_generic.
# Knobs: PROFILE_N (50000), PROFILE_CELLS ("1:1 1:10 4:10"), PROFILE_VARIANTS,
# PROFILE_SQLITE_CELLS ("1:50 2:50 4:50 1:10 4:10"), PROFILE_REPS (3),
# PROFILE_COMPARE_N (5000), PROFILE_COMPARE_CELLS ("1:1 1:10 4:10 1:50").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
S=$ROOT/bench/scratch
BIN=$S/bin
N=${PROFILE_N:-50000}
CELLS=${PROFILE_CELLS:-1:1 1:10 4:10}
VARIANTS=${PROFILE_VARIANTS:-base nofk noconsidx noarchidx notrigger lean analyzed floor}
SQ_CELLS=${PROFILE_SQLITE_CELLS:-1:50 2:50 4:50 1:10 4:10}
REPS=${PROFILE_REPS:-3}
CMP_N=${PROFILE_COMPARE_N:-5000}
CMP_CELLS=${PROFILE_COMPARE_CELLS:-1:1 1:10 4:10 1:50}
CMP_SYSTEMS=${PROFILE_COMPARE_SYSTEMS:-floor pgqrs pgqrs-lean}
OUTP=${PROFILE_OUT:-$ROOT/bench/results/profile-$(date -u +%Y-%m-%d)-$(hostname)}
export N CELLS VARIANTS SQ_CELLS REPS CMP_N CMP_CELLS CMP_SYSTEMS OUTP ROOT S BIN

inside=${1:-}
if [ "$inside" != __pg_inside ] && [ "$inside" != __compare_inside ]; then
    parts=("$@")
    [ ${#parts[@]} -gt 0 ] || parts=(pg sqlite)
    [ -f build/libpgqrs.a ] || { echo "profile: build/libpgqrs.a is missing: make -s -j2 lib" >&2; exit 2; }
    mkdir -p "$BIN" "$(dirname "$OUTP")"
    CC=${CC:-cc}
    CF="-O2 -g -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Wall -Wextra"
    PGINC=$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
    LIBS=$(make -s --no-print-directory print-libs)
    $CC $CF -Iinclude -o "$BIN/pgqrs_bench" bench/pgqrs_bench.c build/libpgqrs.a ${LIBS:--lpq -lsqlite3 -ljansson -lpthread}
    $CC $CF -I"$PGINC" -o "$BIN/floor_pg" bench/floor_pg.c -lpq
    $CC $CF -o "$BIN/sqlite_bare" bench/sqlite_bare.c -lsqlite3
    $CC -O2 -Wall -Wextra -shared -fPIC -o "$BIN/sqlite_trace.so" bench/sqlite_trace.c -ldl -lpthread
    # pgstattuple and pg_stat_statements ship in postgresql-contrib (as pgbench does)
    if ! ls /usr/share/postgresql/*/extension/pgstattuple.control >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then apt-get install -y -q postgresql-contrib >/dev/null 2>&1 || true
        else sudo -n apt-get install -y -q postgresql-contrib >/dev/null 2>&1 || true; fi
    fi
    : > "$OUTP.jsonl"
    {
        printf '{"kind":"env","host":"%s","date":"%s","cores":%s,"cpu":"%s","kernel":"%s","n":%s,"load_before":"%s",' \
            "$(hostname)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" \
            "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //;s/"//g')" "$(uname -r)" "$N" \
            "$(cut -d' ' -f1-3 /proc/loadavg)"
        printf '"sqlite_version":"%s","disk":"%s"}\n' "$(sqlite3 --version | cut -d' ' -f1)" "$(df -T "$S" | awk 'NR==2{print $2" on "$1}')"
    } >> "$OUTP.jsonl"
    for p in "${parts[@]}"; do
        case $p in
        pg)
            env -u PGQRS_TEST_PG_DSN PGQRS_TEST_PG_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on -c pg_stat_statements.max=5000 -c autovacuum=off" \
                scripts/with-postgres.sh --durable "$0" __pg_inside ;;
        compare)
            env -u PGQRS_TEST_PG_DSN -u PGQRS_TEST_PG_OPTS scripts/with-postgres.sh --durable "$0" __compare_inside ;;
        sqlite)
            W=$(mktemp -d "$S/profile-sq.XXXX")
            for rep in $(seq "$REPS"); do
                for cell in $SQ_CELLS; do
                    c=${cell%:*}; b=${cell#*:}
                    for v in pgqrs bare pgqrs-builtin-busy pgqrs-nofk pgqrs-noconsidx; do
                        rm -f "$W"/*
                        db=$W/q.db
                        envs=(SQLITE_TRACE_OUT="$W/tr" LD_PRELOAD="$BIN/sqlite_trace.so")
                        case $v in
                        bare) cmd=("$BIN/sqlite_bare" drain "$db" "$c" "$b" "$N" "$W") ;;
                        *) cmd=("$BIN/pgqrs_bench" drain "sqlite://$db" "$c" "$b" "$N" "$W") ;;
                        esac
                        [ "$v" = pgqrs-builtin-busy ] && envs+=(SQLITE_TRACE_BUSY=builtin)
                        [ "$v" = pgqrs-nofk ] && envs+=(SQLITE_TRACE_NO_FK=1)
                        [ "$v" = pgqrs-noconsidx ] && envs+=(BENCH_AFTER_PREFILL="sqlite3 '$db' 'DROP INDEX pgqrs_messages_consumer_idx'")
                        echo "profile: sqlite $v C=$c B=$b rep $rep" >&2
                        res=$(env "${envs[@]}" "${cmd[@]}" 2>"$W/err" | grep '^{' | tail -n 1) || true
                        [ -n "$res" ] || { echo "profile: $v failed: $(tail -n 3 "$W/err")" >&2; continue; }
                        python3 bench/profile_report.py sqlite-summary "$W/tr" "$v" "$c" "$b" "$rep" "$res" >> "$OUTP.jsonl"
                    done
                done
            done
            rm -rf "$W" ;;
        *) echo "profile: unknown part $p (pg, sqlite, compare)" >&2; exit 2 ;;
        esac
    done
    python3 bench/profile_report.py report "$OUTP.jsonl" "$OUTP.md"
    echo "profile: wrote $OUTP.jsonl and $OUTP.md" >&2
    exit 0
fi

# ---- inside a throwaway cluster ------------------------------------------------------
DSN=$PGQRS_TEST_PG_DSN
W=$(mktemp -d "$S/profile-pg.XXXX")
trap 'rm -rf "$W"' EXIT
# shared with the BENCH_AFTER_PREFILL hook (a separate shell started by system())
cat > "$W/lib.sh" <<EOF
psqlc() { psql -X -qAt -v ON_ERROR_STOP=1 "$DSN" "\$@"; }
# waits until no other client backend is connected (the last ones flush their
# statistics as they exit), then a little longer for the flush itself
quiesce() {
    for _ in \$(seq 200); do
        [ "\$(psqlc -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")" = 0 ] && break
        sleep 0.05
    done
    sleep 0.3
}
EOF
. "$W/lib.sh"

# the variant's DDL, run after the prefill in the run's scratch schema
variant_ddl() {
    local fk="ALTER TABLE pgqrs_messages DROP CONSTRAINT pgqrs_messages_consumer_worker_id_fkey, DROP CONSTRAINT pgqrs_messages_queue_id_fkey;
ALTER TABLE pgqrs_archive DROP CONSTRAINT pgqrs_archive_queue_id_fkey;"
    local ci="DROP INDEX pgqrs_messages_consumer_idx;"
    local ai="DROP INDEX pgqrs_archive_queue_reason_idx;"
    local tr="DROP TRIGGER pgqrs_messages_notify_release ON pgqrs_messages;"
    case $1 in
    base|floor|generic) ;;
    nofk) echo "$fk" ;;
    noconsidx) echo "$ci" ;;
    nodeqidx) echo "DROP INDEX pgqrs_messages_dequeue_idx;" ;;
    # the claim index packed full (fillfactor 100, rebuilt) / keyed without id
    ff100) echo "ALTER INDEX pgqrs_messages_claim_idx SET (fillfactor = 100); REINDEX INDEX pgqrs_messages_claim_idx;" ;;
    noid) echo "DROP INDEX pgqrs_messages_claim_idx; CREATE INDEX pgqrs_messages_claim_idx ON pgqrs_messages (queue_id, priority DESC, vt);" ;;
    rebuilt) echo "REINDEX INDEX pgqrs_messages_claim_idx;" ;;
    noarchidx) echo "$ai" ;;
    notrigger) echo "$tr" ;;
    lean|lean_generic) echo "$fk $ci $ai $tr" ;;
    # the tables analyzed, as autovacuum does in production once enough rows changed
    analyzed) echo "ANALYZE pgqrs_messages; ANALYZE pgqrs_workers; ANALYZE pgqrs_queues; ANALYZE pgqrs_archive;" ;;
    esac
}

if [ "$inside" = __compare_inside ]; then
    echo "profile: compare, PostgreSQL $(psqlc -c 'SHOW server_version'), $CMP_N messages per cell" >&2
    for cell in $CMP_CELLS; do
        c=${cell%:*}; b=${cell#*:}
        for order in 1 2; do
            systems=$CMP_SYSTEMS
            [ $order = 1 ] || systems=$(echo "$CMP_SYSTEMS" | tr ' ' '\n' | tac | tr '\n' ' ')
            for sys in $systems; do
                sch=cmp_${sys//-/_}_${c}_${b}_${order}
                rm -f "$W"/dequeue.* "$W"/archive.*
                if [ "$sys" = floor ]; then
                    res=$("$BIN/floor_pg" drain "$DSN" "$sch" "$c" "$b" "$CMP_N" "$W")
                else
                    psqlc -c "CREATE SCHEMA $sch"
                    hook=
                    if [ "$sys" != pgqrs ]; then   # pgqrs-VARIANT: the variant's DDL after the prefill
                        { echo "SET search_path = $sch;"; variant_ddl "${sys#pgqrs-}"; } > "$W/ddl_$sch.sql"
                        hook="psql -X -q -v ON_ERROR_STOP=1 '$DSN' -f '$W/ddl_$sch.sql'"
                    fi
                    res=$(BENCH_AFTER_PREFILL=$hook "$BIN/pgqrs_bench" drain "$DSN&schema=$sch" "$c" "$b" "$CMP_N" "$W")
                fi
                psqlc -c "DROP SCHEMA $sch CASCADE" >/dev/null 2>&1
                echo "profile: compare $sys C=$c B=$b: $res" >&2
                printf '{"kind":"compare","system":"%s","c":%s,"b":%s,"order":%s,"load":"%s","result":%s}\n' \
                    "$sys" "$c" "$b" "$order" "$(cut -d' ' -f1 /proc/loadavg)" "$res" >> "$OUTP.jsonl"
            done
        done
    done
    exit 0
fi

psqlc -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "CREATE EXTENSION IF NOT EXISTS pgstattuple" >/dev/null
PGSET=$(psqlc -c "SELECT json_object_agg(name, setting) FROM pg_settings WHERE name IN ('server_version','fsync','synchronous_commit','full_page_writes','wal_level','shared_buffers','max_wal_size','checkpoint_timeout','autovacuum','shared_preload_libraries')")
printf '{"kind":"pg_env","settings":%s}\n' "$PGSET" >> "$OUTP.jsonl"

collect() {   # SCHEMA -> one JSON object
    psqlc -v s="$1" <<'SQL'
SELECT json_build_object(
  'pgss', (SELECT json_agg(json_build_object('toplevel', toplevel, 'calls', calls, 'mean_ms', mean_exec_time,
              'total_ms', total_exec_time, 'plans', plans, 'plan_ms', total_plan_time, 'rows', rows, 'hit', shared_blks_hit, 'read', shared_blks_read,
              'dirtied', shared_blks_dirtied, 'written', shared_blks_written, 'wal_records', wal_records,
              'wal_fpi', wal_fpi, 'wal_bytes', wal_bytes, 'query', left(regexp_replace(query, '\s+', ' ', 'g'), 400))
              ORDER BY total_exec_time DESC)
           FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())),
  'wal', (SELECT json_build_object('records', wal_records, 'fpi', wal_fpi, 'bytes', wal_bytes) FROM pg_stat_wal),
  'tables', (SELECT json_agg(json_build_object('table', relname, 'ins', n_tup_ins, 'upd', n_tup_upd,
              'hot', n_tup_hot_upd, 'del', n_tup_del, 'heap_bytes', pg_relation_size(relid)))
             FROM pg_stat_user_tables WHERE schemaname = :'s'),
  'indexes', (SELECT json_agg(json_build_object('table', c.relname, 'index', i.relname, 'bytes', pg_relation_size(i.oid),
              'def', pg_get_indexdef(i.oid), 'entries', (pgstattuple(i.oid)).tuple_count,
              'dead', (pgstattuple(i.oid)).dead_tuple_count) ORDER BY c.relname, i.relname)
              FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = :'s' AND c.relname IN ('pgqrs_messages', 'pgqrs_archive', 'q', 'a')));
SQL
}

for cell in $CELLS; do
    c=${cell%:*}; b=${cell#*:}
    for v in $VARIANTS; do
        sch=pf_${v}_${c}_${b}
        {
            echo "SET search_path = $sch;"
            variant_ddl "$v"
        } > "$W/ddl.sql"
        cat > "$W/hook.sh" <<EOF
set -e
. "$W/lib.sh"
quiesce
psqlc -f "$W/ddl.sql" >/dev/null
psqlc -c "CHECKPOINT" -c "SELECT pg_stat_statements_reset()" -c "SELECT pg_stat_reset_shared('wal')" -c "SELECT pg_stat_reset()" >/dev/null
psqlc -c "SELECT pg_current_wal_lsn()" > "$W/lsn0"
EOF
        rm -f "$W"/dequeue.* "$W"/archive.*
        echo "profile: pg $v C=$c B=$b" >&2
        if [ "$v" = floor ]; then
            res=$(BENCH_AFTER_PREFILL="bash $W/hook.sh" "$BIN/floor_pg" drain "$DSN" "$sch" "$c" "$b" "$N" "$W")
        else
            psqlc -c "CREATE SCHEMA $sch"
            # generic, lean_generic: every statement planned once per session (the planning
            # cost), set on the role: pgqrs's own startup options (search_path) override PGOPTIONS
            case $v in *generic) echo "ALTER ROLE CURRENT_USER SET plan_cache_mode = force_generic_plan;" >> "$W/ddl.sql" ;; esac
            res=$(BENCH_AFTER_PREFILL="bash $W/hook.sh" "$BIN/pgqrs_bench" drain "$DSN&schema=$sch" "$c" "$b" "$N" "$W")
        fi
        quiesce
        psqlc -c "ALTER ROLE CURRENT_USER RESET plan_cache_mode"
        lsn=$(psqlc -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$(cat "$W/lsn0")')")
        printf '{"kind":"pg","variant":"%s","c":%s,"b":%s,"n":%s,"lsn_bytes":%s,"result":%s,"stats":%s}\n' \
            "$v" "$c" "$b" "$N" "$lsn" "$res" "$(collect "$sch")" >> "$OUTP.jsonl"
        psqlc -c "DROP SCHEMA $sch CASCADE" >/dev/null 2>&1 || true
    done
done

# ---- EXPLAIN (ANALYZE, BUFFERS, WAL) of one claim and one archive, batch 10 ------------
explain() {   # SCHEMA CLAIM_SQL ARCHIVE_SQL CLAIM_ARGS ARCHIVE_ARGS(with :'ids') IDS_QUERY
    local sch=$1
    {
        echo "SET search_path = $sch;"
        [ "$sch" = ex_floor ] && echo "SET plan_cache_mode = force_generic_plan;"   # as floor_pg does
        [ "$sch" = ex_pgqrs ] && echo "INSERT INTO pgqrs_workers (queue_id, hostname, pid, kind) SELECT id, 'explain', 0, 'consumer' FROM pgqrs_queues RETURNING id AS w, queue_id AS q \\gset"
        printf 'PREPARE claim AS\n%s;\n' "$(cat "$2")"
        printf 'PREPARE arch AS\n%s;\n' "$(cat "$3")"
        for _ in $(seq 20); do
            echo "EXECUTE claim($4) \\g /dev/null"
            echo "$6 \\gset"
            echo "EXECUTE arch($5) \\g /dev/null"
        done
        echo "\\o $W/plan_$sch.txt"
        echo "EXPLAIN (ANALYZE, BUFFERS, WAL, COSTS OFF) EXECUTE claim($4);"
        echo "$6 \\gset"
        echo "EXPLAIN (ANALYZE, BUFFERS, WAL, COSTS OFF) EXECUTE arch($5);"
    } > "$W/explain.sql"
    psqlc -f "$W/explain.sql" >/dev/null
}
# the statements as the library sends them (pg_stat_statements keeps them with their
# constants replaced): from the generated PostgreSQL queries
gen_sql() {
    python3 - "$1" <<'PY'
import ast, re, sys
src = open("generated/queries_postgres.c").read()
m = re.search(r"static const char SQL_%s\[\] =\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+);" % sys.argv[1], src)
print("".join(ast.literal_eval(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', m.group(1))))
PY
}
gen_sql MESSAGE_DEQUEUE > "$W/claim.sql"
gen_sql MESSAGE_ARCHIVE > "$W/archive.sql"
"$BIN/floor_pg" sql claim ex_floor > "$W/fclaim.sql"
"$BIN/floor_pg" sql archive ex_floor > "$W/farchive.sql"
if [ -s "$W/claim.sql" ]; then
    psqlc -c "CREATE SCHEMA ex_pgqrs"
    "$BIN/pgqrs_bench" enqueue "$DSN&schema=ex_pgqrs" 1 1000 "$N" "$W" >/dev/null
    explain ex_pgqrs "$W/claim.sql" "$W/archive.sql" ":q, :w, 10, 30000, 5, NULL" ":'ids', :w, NULL" \
        "SELECT '{' || string_agg(id::text, ',') || '}' AS ids FROM pgqrs_messages WHERE consumer_worker_id = :w"
    python3 -c 'import json,sys; print(json.dumps({"kind":"explain","system":"pgqrs","plan":open(sys.argv[1]).read()}))' "$W/plan_ex_pgqrs.txt" >> "$OUTP.jsonl"
fi
if [ -s "$W/fclaim.sql" ]; then
    "$BIN/floor_pg" fill "$DSN" ex_floor "$N"
    # the floor keeps no owner: the ids claimed are the ones whose lease is in the future
    explain ex_floor "$W/fclaim.sql" "$W/farchive.sql" "10, 30000" ":'ids'" \
        "SELECT '{' || string_agg(id::text, ',') || '}' AS ids FROM q WHERE vt > now()"
    python3 -c 'import json,sys; print(json.dumps({"kind":"explain","system":"floor","plan":open(sys.argv[1]).read()}))' "$W/plan_ex_floor.txt" >> "$OUTP.jsonl"
fi
