#!/usr/bin/env bash
# Retention at 10 million archived rows on PostgreSQL: batched DELETE on the
# pgqrs_archive table (what pgqrs_retention_run does) against a
# time-partitioned archive (declarative partitioning by archived_at, one
# partition per day, retention by DETACH + DROP). Measures the purge time and
# the claim latency of consumers running during the purge (pgbench: each
# transaction claims 10 messages and archives them, the library's claim and
# archive statements), with a baseline without any purge. docs/design.md has
# the numbers and the decision.
#   bench/partition_archive.sh [ROWS] [CLIENTS] [BATCH]   (default 10000000 2 1000; needs make)
# BATCH is the rows one DELETE takes (pgqrs_retention_options.batch_size; 1000 is
# the library's default).
# On a throwaway durable cluster (scripts/with-postgres.sh --durable). Heavy:
# minutes of loading; run it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-10000000}
CLIENTS=${2:-2}
BATCH=${3:-1000}
DAYS=10          # the archive spans DAYS days; retention drops the oldest half
if [ -z "${PGQRS_BENCH_INNER:-}" ]; then
    make -s cli >/dev/null
    PGQRS_BENCH_INNER=1 exec scripts/with-postgres.sh --durable "$0" "$@"
fi
DSN=$PGQRS_TEST_PG_DSN
out=$(mktemp -d /tmp/pgqrs-part.XXXXXX)
trap 'rm -rf "$out"' EXIT
q() { psql "$DSN" -X -q -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }

echo "== setup: $ROWS archived rows over $DAYS days, 2,000,000 live messages (schemas a: plain, b: partitioned)"
for s in a b; do
    q -c "CREATE SCHEMA $s"
    PGQRS_DSN="$DSN&schema=$s" build/pgqrs install >/dev/null 2>&1 || PGQRS_DSN="$DSN?schema=$s" build/pgqrs install >/dev/null
done
# b: the same archive, partitioned by day (the primary key must include the key)
q <<SQL
SET search_path = b;
ALTER TABLE pgqrs_archive RENAME TO pgqrs_archive_old;
DROP INDEX IF EXISTS b.pgqrs_archive_queue_reason_idx;
CREATE TABLE pgqrs_archive (LIKE pgqrs_archive_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (archived_at);
ALTER TABLE pgqrs_archive ADD PRIMARY KEY (id, archived_at);
CREATE INDEX pgqrs_archive_queue_reason_idx ON pgqrs_archive (queue_id, reason, archived_at);
DROP TABLE pgqrs_archive_old;
DO \$\$ BEGIN
  FOR d IN 0..$((DAYS + 1)) LOOP
    EXECUTE format('CREATE TABLE b.pgqrs_archive_d%s PARTITION OF b.pgqrs_archive FOR VALUES FROM (%L) TO (%L)',
                   d, date '2030-01-01' + d, date '2030-01-01' + d + 1);
  END LOOP;
END \$\$;
SQL
for s in a b; do
    q <<SQL
SET search_path = $s;
INSERT INTO pgqrs_queues (name) VALUES ('bench');
INSERT INTO pgqrs_workers (queue_id, hostname, pid, kind) SELECT q.id, 'bench', g, 'consumer'
    FROM pgqrs_queues q, generate_series(1, $CLIENTS) g;
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, reason, archived_at)
SELECT g, 1, '{"n":1}', timestamptz '2030-01-01' + (g::float8 / $ROWS) * interval '$DAYS days', 1, 'archived',
       timestamptz '2030-01-01' + (g::float8 / $ROWS) * interval '$DAYS days'
FROM generate_series(1, $ROWS) g;
SELECT setval(pg_get_serial_sequence('pgqrs_messages', 'id'), $ROWS + 1);
INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at)
SELECT 1, '{"n":2}', now(), now() FROM generate_series(1, 2000000);
VACUUM ANALYZE;
SQL
done
q -Atc "SELECT 'a: ' || pg_size_pretty(pg_total_relation_size('a.pgqrs_archive')) || ', b: ' ||
        pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'b.pgqrs_archive'::regclass"

# The claim workload: claim 10 visible messages and archive them (queries/postgres/messages.sql).
cat >"$out/claim.sql" <<'SQL'
\set w random(1, :clients)
WITH win AS (SELECT id FROM pgqrs_messages WHERE queue_id = 1 AND vt <= now() ORDER BY queue_id, vt, id
             LIMIT 10 FOR UPDATE SKIP LOCKED),
c AS (UPDATE pgqrs_messages m SET vt = now() + interval '30 s', read_ct = m.read_ct + 1, dequeued_at = now(),
             consumer_worker_id = :w
      FROM win WHERE m.id = win.id RETURNING m.*),
moved AS (DELETE FROM pgqrs_messages m USING c WHERE m.id = c.id RETURNING m.*)
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at, producer_worker_id,
                           consumer_worker_id, reason, archived_at)
SELECT id, queue_id, payload, enqueued_at, read_ct, dequeued_at, producer_worker_id, consumer_worker_id,
       'archived', timestamptz '2030-01-01' + interval '$DAYS days' FROM moved;
SQL
sed -i "s/\$DAYS/$DAYS/" "$out/claim.sql"

# bench NAME SCHEMA SECONDS: claim latency over SECONDS; prints "NAME: tps, avg, p50, p99, max (ms)"
bench() {
    local name=$1 s=$2 secs=$3
    rm -f "$out"/pgbench_log.*
    (cd "$out" && PGOPTIONS="-c search_path=$s" pgbench "$DSN" -n -f claim.sql -D clients="$CLIENTS" -c "$CLIENTS" \
        -j "$CLIENTS" -T "$secs" -l --log-prefix="$out/pgbench_log" >"$out/$name.pgbench" 2>&1)
    python3 - "$name" "$out" <<'PY'
import glob, sys
name, out = sys.argv[1], sys.argv[2]
lat = sorted(int(l.split()[2]) / 1000.0 for f in glob.glob(out + "/pgbench_log*") for l in open(f))
n = len(lat)
pick = lambda q: lat[min(n - 1, int(q * n))]
tps = [l for l in open(out + "/" + name + ".pgbench") if l.startswith("tps")][0].split()[2]
print("%-34s %6d claims of 10, tps %s, latency ms: avg %.2f p50 %.2f p99 %.2f max %.1f" %
      (name + ":", n, tps, sum(lat) / n, pick(0.5), pick(0.99), lat[-1]))
PY
}

# the load's writes checkpointed and both archives' pages warm before measuring
q -c "CHECKPOINT" >/dev/null
bench "a warm-up" a 10 >/dev/null
bench "b warm-up" b 10 >/dev/null
echo "== claim latency without a purge"
q -c "CHECKPOINT" >/dev/null
bench "a (plain) idle" a 20
q -c "CHECKPOINT" >/dev/null
bench "b (partitioned) idle" b 20

HALF=$((DAYS / 2))
CUT="timestamptz '2030-01-01' + interval '$HALF days'"
echo "== purge of the oldest half ($((ROWS / 2)) rows) while the claims run"
# a: what pgqrs_retention_run does: archive_purge_older in batches of BATCH rows, each its own transaction
purge_a() {
    local t0 t1 total
    t0=$(now)
    # one session, a COMMIT after every batch (no spawn per batch, no long transaction)
    q -c "CREATE TEMP TABLE IF NOT EXISTS purged (n bigint)" -c "SET search_path = a" -c "
        DO \$\$ DECLARE n bigint := 1; total bigint := 0; BEGIN
          WHILE n > 0 LOOP
            DELETE FROM pgqrs_archive WHERE id IN (SELECT x.id FROM pgqrs_archive x
              WHERE x.queue_id = 1 AND x.reason = 'archived' AND x.archived_at < $CUT ORDER BY x.archived_at LIMIT $BATCH);
            GET DIAGNOSTICS n = ROW_COUNT;
            total := total + n;
            COMMIT;
          END LOOP;
          RAISE NOTICE 'purged %', total;
        END \$\$;" 2>"$out/purge_a.notice"
    total=$(grep -o 'purged [0-9]*' "$out/purge_a.notice" | grep -o '[0-9]*')
    t1=$(now)
    echo "a (plain): batched DELETE ($BATCH rows a statement, a commit after each) of $total rows in $(python3 -c "print('%.1f' % ($t1 - $t0))") s" >"$out/purge_a"
}
purge_b() {
    local t0 t1
    t0=$(now)
    for d in $(seq 0 $((HALF - 1))); do
        q -c "ALTER TABLE b.pgqrs_archive DETACH PARTITION b.pgqrs_archive_d$d" -c "DROP TABLE b.pgqrs_archive_d$d"
    done
    t1=$(now)
    echo "b (partitioned): DETACH + DROP of $HALF partitions in $(python3 -c "print('%.2f' % ($t1 - $t0))") s" >"$out/purge_b"
}
q -c "CHECKPOINT" >/dev/null
purge_a &
pa=$!
bench "a (plain) during batched DELETE" a 30
wait $pa
cat "$out/purge_a"
q -c "VACUUM a.pgqrs_archive" >/dev/null
q -c "CHECKPOINT" >/dev/null
purge_b &
pb=$!
bench "b (partitioned) during DROP" b 30
wait $pb
cat "$out/purge_b"
q -Atc "SELECT 'left: a ' || (SELECT count(*) FROM a.pgqrs_archive WHERE archived_at < $CUT) || ', b ' ||
        (SELECT count(*) FROM b.pgqrs_archive WHERE archived_at < $CUT) || ' rows older than the cut'"
echo "== what the partitioned archive costs elsewhere: pgqrs_archive_list's id lookup (archive_get by id)"
for s in a b; do
    q -Atc "SET search_path = $s; EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY ON)
            SELECT * FROM pgqrs_archive WHERE id = $((ROWS - 5))" | grep -E "Execution Time|Subplans|Append|Index Scan" |
        sed "s/^/  $s: /"
done
