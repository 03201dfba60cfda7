-- Enqueue with options (issue 17): priority, unique key, per-message delay.
-- pgqrs_enqueue_with and pgqrs_enqueue_batch_with (src/queue/enqueue_with.c).

-- name: message_enqueue_with :one
-- One message with a priority and an optional unique key. No row when the key
-- is live in the queue (ON CONFLICT on pgqrs_messages_unique_key_idx); the
-- caller then reads the live row with message_id_by_key. (`WHERE true`: SQLite's
-- parser needs it before ON CONFLICT in an INSERT ... SELECT.)
-- param: queue_id i64, payload json, priority i32, unique_key text?, delay_ms i64, producer_worker_id i64?, now timestamp?
-- returns: id i64
INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at, producer_worker_id, priority, unique_key)
SELECT @queue_id, @payload, t.now + @delay_ms * 1000, t.now, @producer_worker_id, @priority, @unique_key
FROM (SELECT coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) AS now) t
WHERE true
ON CONFLICT (queue_id, unique_key) WHERE unique_key IS NOT NULL DO NOTHING
RETURNING id;

-- name: message_id_by_key :one
-- The live message of the queue holding this unique key (pgqrs_messages_unique_key_idx).
-- param: queue_id i64, unique_key text
-- returns: id i64
SELECT id FROM pgqrs_messages WHERE queue_id = @queue_id AND unique_key = @unique_key;

-- name: message_enqueue_batch_with :many
-- A batch without unique keys, each message with its own priority and delay
-- (priorities[i] and delays_ms[i] belong to payloads[i]): one statement, all
-- rows or none, ids in input order. json_each yields strings unquoted and
-- booleans as 0/1, so each element is turned back into its JSON text by type.
-- param: queue_id i64, payloads json[], priorities i64[], delays_ms i64[], producer_worker_id i64?, now timestamp?
-- returns: id i64
INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at, producer_worker_id, priority)
SELECT @queue_id,
       CASE e.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null'
                   WHEN 'text' THEN json_quote(e.value) ELSE e.value END,
       t.now + d.value * 1000, t.now, @producer_worker_id, pr.value
FROM (SELECT coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) AS now) t,
     json_each(@payloads) e
     JOIN json_each(@priorities) pr ON pr.key = e.key
     JOIN json_each(@delays_ms) d ON d.key = e.key
ORDER BY e.key
RETURNING id;
