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
# message_dequeue as queries/postgres/messages.sql has it today (cur) and as it
# was before issue 17 (old, from git), for queue 1, worker 1, batch 10, vt 30 s
extract() {   # SQL text of message_dequeue on stdin -> the claim with its parameters bound
    python3 -c '
import re, sys
text = sys.stdin.read()
body = text.split("-- name: message_dequeue :many", 1)[1].split("-- name:", 1)[0]
sql = "\n".join(l for l in body.splitlines() if not l.startswith("--")).strip()
for name, value in (("queue_id", "1"), ("worker_id", "1"), ("max_attempts", "5"), ("max", "10"),
                    ("vt_ms", "30000"), ("now", "NULL")):
    sql = re.sub(r"@" + name + r"\b", value, sql)
print(sql)'
}
extract < queries/postgres/messages.sql > "$W/cur.sql"
git show 126ddec^:queries/postgres/messages.sql | extract > "$W/old.sql"
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
