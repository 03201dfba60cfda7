#!/usr/bin/env bash
# bench/claim_columns.sh: what the job features' columns cost a PostgreSQL claim
# (issue 17), with pgbench on a throwaway durable cluster. Each variant is a fresh
# schema migrated to the current migrations, changed by the variant's DDL,
# prefilled with 60,000 visible messages in one queue and VACUUM ANALYZEd; then
# 4 pgbench clients run 1,000 claims of 10 each, planned once per session
# (-M prepared, force_generic_plan). Variants, run interleaved, ROUNDS times:
#   cur        the schema and claim of today (queries/postgres/messages.sql)
#   nocheck    without the CHECK constraints on priority and unique_key
#   nopartial  without the partial indexes on unique_key and cancel_requested_at
#   oldindex   the pre-issue-17 index (queue_id, vt, id) and claim, new columns kept
#   oldschema  oldindex, and the four new columns dropped (their constraints and
#              partial indexes go with them): the claim before issue 17
# Prints each run's tps and, per variant, the median and its ratio to cur.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# the claim of message_dequeue for queue 1, worker 1, batch 10, vt 30 s
cat > "$W/cur.sql" <<'SQL'
UPDATE pgqrs_messages m
SET vt = now() + 30000::bigint * interval '1 millisecond', read_ct = m.read_ct + 1,
    dequeued_at = now(), consumer_worker_id = 1
WHERE m.id = ANY(ARRAY(
        WITH RECURSIVE lv(p) AS (
            SELECT CASE WHEN EXISTS (SELECT FROM pgqrs_messages l WHERE l.queue_id = 1 AND l.priority > 0)
                        THEN (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = 1 ORDER BY l.priority DESC LIMIT 1)
                        ELSE 0 END
            UNION ALL
            SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = 1 AND l.priority < lv.p
                    ORDER BY l.priority DESC LIMIT 1)
            FROM lv WHERE lv.p IS NOT NULL)
        SELECT win.id FROM lv CROSS JOIN LATERAL (
            SELECT w.id FROM pgqrs_messages w
            WHERE w.queue_id = 1 AND w.priority = lv.p AND w.vt <= now() AND w.cancel_requested_at IS NULL
              AND EXISTS (SELECT 1 FROM pgqrs_workers k WHERE k.id = 1 AND k.status = 'ready')
            ORDER BY w.vt, w.id LIMIT 10 FOR UPDATE OF w SKIP LOCKED) win
        LIMIT 10))
  AND m.read_ct < 5
RETURNING m.id, m.queue_id, m.payload, m.vt, m.enqueued_at, m.read_ct, m.dequeued_at,
          m.producer_worker_id, m.consumer_worker_id, m.priority, m.unique_key, m.progress, m.cancel_requested_at;
SQL
cat > "$W/old.sql" <<'SQL'
UPDATE pgqrs_messages m
SET vt = now() + 30000::bigint * interval '1 millisecond', read_ct = m.read_ct + 1,
    dequeued_at = now(), consumer_worker_id = 1
WHERE m.id = ANY(ARRAY(
        SELECT w.id FROM pgqrs_messages w
        WHERE w.queue_id = 1 AND w.vt <= now()
          AND EXISTS (SELECT 1 FROM pgqrs_workers k WHERE k.id = 1 AND k.status = 'ready')
        ORDER BY w.vt, w.id LIMIT 10 FOR UPDATE OF w SKIP LOCKED))
  AND m.read_ct < 5
RETURNING m.id, m.queue_id, m.payload, m.vt, m.enqueued_at, m.read_ct, m.dequeued_at,
          m.producer_worker_id, m.consumer_worker_id;
SQL
cat > "$W/run.sh" <<'RUN'
#!/usr/bin/env bash
set -euo pipefail
W=$1 ROUNDS=$2
P() { PGOPTIONS="-c search_path=cc" psql -X -q -v ON_ERROR_STOP=1 "$PGQRS_TEST_PG_DSN" "$@"; }
old_index="DROP INDEX pgqrs_messages_claim_idx; CREATE INDEX pgqrs_messages_dequeue_idx ON pgqrs_messages (queue_id, vt, id);"
variants=(cur nocheck nopartial oldindex oldschema)
for round in $(seq "$ROUNDS"); do
    # rotate the order each round, so drift does not favour one variant
    for i in "${!variants[@]}"; do
        v=${variants[$(( (i + round) % ${#variants[@]} ))]}
        psql -X -q "$PGQRS_TEST_PG_DSN" -c "DROP SCHEMA IF EXISTS cc CASCADE" -c "CREATE SCHEMA cc" 2>/dev/null
        for m in migrations/postgres/*.sql; do P -f "$m" >/dev/null; done
        sql=cur
        case $v in
        nocheck) P -c "ALTER TABLE pgqrs_messages DROP CONSTRAINT pgqrs_messages_priority_check, DROP CONSTRAINT pgqrs_messages_unique_key_check" ;;
        nopartial) P -c "DROP INDEX pgqrs_messages_unique_key_idx; DROP INDEX pgqrs_messages_cancel_idx" ;;
        oldindex) P -c "$old_index"; sql=old ;;
        oldschema) P -c "$old_index ALTER TABLE pgqrs_messages DROP COLUMN priority, DROP COLUMN unique_key, DROP COLUMN progress, DROP COLUMN cancel_requested_at"; sql=old ;;
        esac
        P -c "INSERT INTO pgqrs_queues (name) VALUES ('q'); INSERT INTO pgqrs_workers (queue_id, hostname, pid, kind) VALUES (1, 'h', 1, 'consumer');
              INSERT INTO pgqrs_messages (queue_id, payload, vt)
              SELECT 1, '{\"n\":1}', now() - interval '1 hour' + g * interval '1 us' FROM generate_series(1, 60000) g;"
        P -c "VACUUM ANALYZE pgqrs_messages"
        tps=$(PGOPTIONS="-c search_path=cc -c plan_cache_mode=force_generic_plan" \
              pgbench -n -M prepared -c 4 -j 2 -t 1000 -f "$W/$sql.sql" "$PGQRS_TEST_PG_DSN" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
        echo "$v $tps"
    done
done
RUN
chmod +x "$W/run.sh"
scripts/with-postgres.sh --durable "$W/run.sh" "$W" "$ROUNDS" | tee "$W/log"
python3 - "$W/log" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    v, tps = line.split()
    runs.setdefault(v, []).append(float(tps))
base = statistics.median(runs["cur"])
print(f"{'variant':10} {'median tps':>10} {'/cur':>6}")
for v, t in runs.items():
    print(f"{v:10} {statistics.median(t):10.0f} {statistics.median(t) / base:6.3f}")
PY
