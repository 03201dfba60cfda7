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

-- name: message_dequeue :many
-- As the SQLite query, without its recursive CTE (Turso 0.7 has none): the
-- window walks pgqrs_messages_claim_idx in (priority DESC, vt, id) order from the
-- queue's first entry and filters vt <= now, so it also reads the invisible
-- (delayed, in-flight) entries ahead of the visible ones of lower priority;
-- those already delivered max_attempts times are left for
-- message_dead_letter (the caller runs it when a claim comes back short), the
-- others are claimed, in one statement; nothing when the worker is not 'ready'.
-- The claim is one write (one guarded batch). The clock is inline (SQLite keeps
-- 'now' fixed within one statement) so the subquery is not correlated.
-- param: queue_id i64, worker_id i64, max i32, vt_ms i64, max_attempts i32, now timestamp?
-- returns: pgqrs_messages.*
UPDATE pgqrs_messages
SET vt = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) + @vt_ms * 1000,
    read_ct = read_ct + 1,
    dequeued_at = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
    consumer_worker_id = @worker_id
WHERE id IN (SELECT win.id FROM (SELECT w.id, w.read_ct FROM pgqrs_messages w
             WHERE w.queue_id = @queue_id
               AND w.vt <= coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
               AND w.cancel_requested_at IS NULL
             ORDER BY w.priority DESC, w.vt, w.id LIMIT @max) win
             WHERE win.read_ct < @max_attempts)
  AND EXISTS (SELECT 1 FROM pgqrs_workers k WHERE k.id = @worker_id AND k.status = 'ready')
RETURNING id, queue_id, payload, vt, enqueued_at, read_ct, dequeued_at, producer_worker_id, consumer_worker_id,
          priority, unique_key, progress, cancel_requested_at;

-- name: message_dead_letter :execrows
-- Poison messages: in the next @max visible rows (the claim's window, in its
-- priority order), those already delivered
-- max_attempts times move to the archive as dead letters (both statements in one
-- transaction), at the moment they would have been delivered again.
-- param: queue_id i64, max i32, max_attempts i32, now timestamp?
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                           producer_worker_id, consumer_worker_id, reason, archived_at,
                           priority, unique_key, progress)
SELECT m.id, m.queue_id, m.payload, m.enqueued_at, m.read_ct, m.dequeued_at,
       m.producer_worker_id, m.consumer_worker_id, 'dead_letter', coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
       m.priority, m.unique_key, m.progress
FROM pgqrs_messages m
WHERE m.id IN (SELECT win.id FROM (SELECT w.id, w.read_ct FROM pgqrs_messages w
             WHERE w.queue_id = @queue_id
               AND w.vt <= coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
               AND w.cancel_requested_at IS NULL
             ORDER BY w.priority DESC, w.vt, w.id LIMIT @max) win
               WHERE win.read_ct >= @max_attempts);
DELETE FROM pgqrs_messages
WHERE id IN (SELECT win.id FROM (SELECT w.id, w.read_ct FROM pgqrs_messages w
             WHERE w.queue_id = @queue_id
               AND w.vt <= coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
               AND w.cancel_requested_at IS NULL
             ORDER BY w.priority DESC, w.vt, w.id LIMIT @max) win
             WHERE win.read_ct >= @max_attempts)
  AND id IN (SELECT id FROM pgqrs_archive WHERE reason = 'dead_letter');

-- name: message_next_vt :one
-- As the SQLite query, without its recursive CTE (Turso 0.7 has none): a min()
-- over the queue's entries of pgqrs_messages_claim_idx.
-- param: queue_id i64
-- returns: next_vt timestamp?
SELECT min(vt) AS next_vt FROM pgqrs_messages WHERE queue_id = @queue_id;
