-- Turso overrides of queries/sqlite/enqueue_with.sql: same names, parameters
-- and results; only the SQL differs where the Turso engine needs it.

-- name: message_enqueue_batch_with :many
-- As the SQLite query; Turso (0.7) json_each returns a string element still
-- JSON-escaped, so each element's JSON text is taken with -> (as in
-- queries/turso/messages.sql, message_enqueue_batch).
-- param: queue_id i64, payloads json[], priorities i64[], delays_ms i64[], producer_worker_id i64?, now timestamp?
-- returns: id i64
INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at, producer_worker_id, priority)
SELECT @queue_id, @payloads -> ('$[' || e.key || ']'),
       t.now + d.value * 1000, t.now, @producer_worker_id, pr.value
FROM (SELECT coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) AS now) t,
     json_each(@payloads) e
     JOIN json_each(@priorities) pr ON pr.key = e.key
     JOIN json_each(@delays_ms) d ON d.key = e.key
ORDER BY e.key
RETURNING id;
