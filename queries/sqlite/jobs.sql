-- Job control (issue 17): cancellation by id, progress, the cancel-aware lease
-- extension. Each writing query is one BEGIN IMMEDIATE transaction (all of its
-- statements). A message is in flight while a worker holds it and its lease
-- runs (consumer_worker_id set, vt in the future); else pending or delayed.

-- name: message_cancel_remove :one
-- Cancels a message that is not in flight (pending or delayed, or held with an
-- expired lease): it moves to the archive as 'cancelled' (both statements in
-- one transaction). No row when it is in flight, unknown, or of another queue
-- (queue_id NULL: any).
-- param: id i64, queue_id i64?, now timestamp?
-- returns: id i64
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                           producer_worker_id, consumer_worker_id, reason, archived_at,
                           priority, unique_key, progress)
SELECT m.id, m.queue_id, m.payload, m.enqueued_at, m.read_ct, m.dequeued_at,
       m.producer_worker_id, m.consumer_worker_id, 'cancelled', coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
       m.priority, m.unique_key, m.progress
FROM pgqrs_messages m
WHERE m.id = @id AND (@queue_id IS NULL OR m.queue_id = @queue_id)
  AND NOT (m.consumer_worker_id IS NOT NULL AND m.vt > coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)));
DELETE FROM pgqrs_messages
WHERE id = @id AND id IN (SELECT a.id FROM pgqrs_archive a WHERE a.id = @id AND a.reason = 'cancelled')
RETURNING id;

-- name: message_cancel_request :one
-- Records a cancel request on a live message (idempotent: the first
-- request's time is kept). Its worker sees it at its next lease extension; claims
-- skip it; message_cancel_sweep archives it once its lease has run out.
-- param: id i64, queue_id i64?, now timestamp?
-- returns: id i64
UPDATE pgqrs_messages
SET cancel_requested_at = coalesce(cancel_requested_at, coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)))
WHERE id = @id AND (@queue_id IS NULL OR queue_id = @queue_id)
RETURNING id;

-- name: message_cancel_sweep :execrows
-- Cancel-requested messages of the queue whose lease has run out (their worker
-- died or gave up; claims skip them) move to the archive as 'cancelled', at most
-- @max, oldest vt first (both statements in one transaction). Reads only
-- pgqrs_messages_cancel_idx, which holds just the cancel-requested rows
-- (migration 0007).
-- param: queue_id i64, max i32, now timestamp?
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                           producer_worker_id, consumer_worker_id, reason, archived_at,
                           priority, unique_key, progress)
SELECT m.id, m.queue_id, m.payload, m.enqueued_at, m.read_ct, m.dequeued_at,
       m.producer_worker_id, m.consumer_worker_id, 'cancelled', coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
       m.priority, m.unique_key, m.progress
FROM pgqrs_messages m
WHERE m.id IN (SELECT c.id FROM pgqrs_messages c
               WHERE c.queue_id = @queue_id AND c.cancel_requested_at IS NOT NULL
                 AND c.vt <= coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
               ORDER BY c.vt, c.id LIMIT @max);
DELETE FROM pgqrs_messages
WHERE queue_id = @queue_id AND cancel_requested_at IS NOT NULL
  AND EXISTS (SELECT 1 FROM pgqrs_archive a WHERE a.id = pgqrs_messages.id AND a.reason = 'cancelled');

-- name: message_heartbeat :one
-- The holder's lease extension that reports a cancel request: a message this
-- worker holds becomes invisible for vt_ms from now unless a cancel was
-- requested (then its lease is left to run out). No row when not held.
-- param: id i64, worker_id i64, vt_ms i64, now timestamp?
-- returns: vt timestamp, cancel_requested_at timestamp?
UPDATE pgqrs_messages
SET vt = CASE WHEN cancel_requested_at IS NULL THEN coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) + @vt_ms * 1000 ELSE vt END
WHERE id = @id AND coalesce(consumer_worker_id, 0) = @worker_id
RETURNING vt, cancel_requested_at;

-- name: message_extend_held_cancel :many
-- The runtime's lease extension (message_extend_held) that leaves the leases of
-- cancel-requested messages to run out and returns their ids (both statements
-- in one transaction).
-- param: ids i64[], worker_ids i64[], vt_ms i64, now timestamp?
-- returns: id i64
UPDATE pgqrs_messages
SET vt = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) + @vt_ms * 1000
WHERE id IN (SELECT value FROM json_each(@ids))
  AND coalesce(consumer_worker_id, 0) IN (SELECT value FROM json_each(@worker_ids))
  AND cancel_requested_at IS NULL;
SELECT id FROM pgqrs_messages
WHERE id IN (SELECT value FROM json_each(@ids))
  AND coalesce(consumer_worker_id, 0) IN (SELECT value FROM json_each(@worker_ids))
  AND cancel_requested_at IS NOT NULL
ORDER BY id;

-- name: message_set_progress :one
-- Stores a progress value on a message this worker holds, while its lease
-- runs. No row otherwise.
-- param: id i64, worker_id i64, progress json, now timestamp?
-- returns: id i64
UPDATE pgqrs_messages
SET progress = @progress
WHERE id = @id AND coalesce(consumer_worker_id, 0) = @worker_id
  AND vt > coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
RETURNING id;
