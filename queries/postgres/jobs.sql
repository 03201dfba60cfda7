-- Job control (issue 17): cancellation by id, progress, the cancel-aware lease
-- extension. `now` is NULL in production (the database clock); tests pass one.
-- A message is in flight while a worker holds it and its lease runs
-- (consumer_worker_id set, vt in the future); else it is pending or delayed.

-- name: message_cancel_remove :one
-- Cancels a message that is not in flight (pending or delayed, or held with an
-- expired lease): it moves to the archive as 'cancelled' in one statement. No
-- row when it is in flight, unknown, or of another queue (queue_id NULL: any).
-- param: id i64, queue_id i64?, now timestamp?
-- returns: id i64
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
gone AS (
    DELETE FROM pgqrs_messages m
    USING t
    WHERE m.id = @id AND (@queue_id::bigint IS NULL OR m.queue_id = @queue_id::bigint)
      AND NOT (m.consumer_worker_id IS NOT NULL AND m.vt > t.now)
    RETURNING m.id, m.queue_id, m.payload, m.enqueued_at, m.read_ct, m.dequeued_at,
              m.producer_worker_id, m.consumer_worker_id, m.priority, m.unique_key, m.progress
)
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                           producer_worker_id, consumer_worker_id, reason, archived_at,
                           priority, unique_key, progress)
SELECT g.id, g.queue_id, g.payload, g.enqueued_at, g.read_ct, g.dequeued_at,
       g.producer_worker_id, g.consumer_worker_id, 'cancelled', t.now, g.priority, g.unique_key, g.progress
FROM gone g, t
RETURNING id;

-- name: message_cancel_request :one
-- Records a cancel request on a live message (idempotent: the first
-- request's time is kept). Its worker sees it at its next lease extension; claims
-- skip it; message_cancel_sweep archives it once its lease has run out.
-- param: id i64, queue_id i64?, now timestamp?
-- returns: id i64
UPDATE pgqrs_messages
SET cancel_requested_at = coalesce(cancel_requested_at, coalesce(@now::timestamptz, now()))
WHERE id = @id AND (@queue_id::bigint IS NULL OR queue_id = @queue_id::bigint)
RETURNING id;

-- name: message_cancel_sweep :execrows
-- Cancel-requested messages of the queue whose lease has run out (their worker
-- died or gave up; claims skip them) move to the archive as 'cancelled', at most
-- @max, oldest vt first, skipping rows another session holds. Run where a short
-- claim runs message_dead_letter; reads only pgqrs_messages_cancel_idx, which
-- holds just the cancel-requested rows (migration 0010).
-- param: queue_id i64, max i32, now timestamp?
WITH gone AS (
    DELETE FROM pgqrs_messages m
    WHERE m.id = ANY(ARRAY(
            SELECT c.id
            FROM pgqrs_messages c
            WHERE c.queue_id = @queue_id AND c.cancel_requested_at IS NOT NULL
              AND c.vt <= coalesce(@now::timestamptz, now())
            ORDER BY c.vt, c.id
            LIMIT @max
            FOR UPDATE OF c SKIP LOCKED))
    RETURNING m.*
)
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                           producer_worker_id, consumer_worker_id, reason, archived_at,
                           priority, unique_key, progress)
SELECT g.id, g.queue_id, g.payload, g.enqueued_at, g.read_ct, g.dequeued_at,
       g.producer_worker_id, g.consumer_worker_id, 'cancelled', coalesce(@now::timestamptz, now()),
       g.priority, g.unique_key, g.progress
FROM gone g;

-- name: message_heartbeat :one
-- The holder's lease extension that reports a cancel request: a message this
-- worker holds becomes invisible for vt_ms from now unless a cancel was
-- requested (then its lease is left to run out). No row when not held.
-- param: id i64, worker_id i64, vt_ms i64, now timestamp?
-- returns: vt timestamp, cancel_requested_at timestamp?
UPDATE pgqrs_messages
SET vt = CASE WHEN cancel_requested_at IS NULL
              THEN coalesce(@now::timestamptz, now()) + @vt_ms::bigint * interval '1 millisecond'
              ELSE vt END
WHERE id = @id AND coalesce(consumer_worker_id, 0) = @worker_id
RETURNING vt, cancel_requested_at;

-- name: message_extend_held_cancel :many
-- The runtime's lease extension (message_extend_held) that leaves the leases of
-- cancel-requested messages to run out and returns their ids.
-- param: ids i64[], worker_ids i64[], vt_ms i64, now timestamp?
-- returns: id i64
WITH held AS (
    SELECT id, cancel_requested_at FROM pgqrs_messages
    WHERE id = ANY(@ids::bigint[]) AND coalesce(consumer_worker_id, 0) = ANY(@worker_ids::bigint[])
    FOR UPDATE SKIP LOCKED
),
ext AS (
    UPDATE pgqrs_messages m
    SET vt = coalesce(@now::timestamptz, now()) + @vt_ms::bigint * interval '1 millisecond'
    FROM held
    WHERE m.id = held.id AND held.cancel_requested_at IS NULL
    RETURNING m.id
)
SELECT id FROM held WHERE cancel_requested_at IS NOT NULL ORDER BY id;

-- name: message_set_progress :one
-- Stores a progress value on a message this worker holds, while its lease
-- runs. No row otherwise.
-- param: id i64, worker_id i64, progress json, now timestamp?
-- returns: id i64
UPDATE pgqrs_messages
SET progress = @progress::jsonb
WHERE id = @id AND coalesce(consumer_worker_id, 0) = @worker_id
  AND vt > coalesce(@now::timestamptz, now())
RETURNING id;
