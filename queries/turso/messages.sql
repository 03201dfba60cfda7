-- Turso overrides of queries/sqlite/messages.sql: same names, parameters and
-- results (the generator checks it); only the SQL differs where the Turso engine
-- needs it.

-- name: message_enqueue_batch :many
-- One statement for the whole batch: all rows or none. Ids come back in input order.
-- Turso (0.7) json_each returns a string element still JSON-escaped, so each
-- element's JSON text is taken with -> instead (exact, numbers as written).
-- param: queue_id i64, payloads json[], delay_ms i64, producer_worker_id i64?, now timestamp?
-- returns: id i64
INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at, producer_worker_id)
SELECT @queue_id, @payloads -> ('$[' || e.key || ']'),
       t.now + @delay_ms * 1000, t.now, @producer_worker_id
FROM (SELECT coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) AS now) t,
     json_each(@payloads) e
ORDER BY e.key
RETURNING id;
