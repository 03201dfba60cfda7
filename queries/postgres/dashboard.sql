-- The dashboard (`pgqrs serve`, issue 20): listings by state, counts for
-- /metrics, and the operator's actions on single messages.

-- name: dash_message_list :many
-- Live messages of a queue in one state, in id order after after_id: 'pending'
-- (visible now), 'in_flight' (held, lease live) or 'delayed' (not yet visible,
-- not held); the split queue_metrics counts.
-- param: queue_id i64, state text, after_id i64, limit i32, now timestamp?
-- returns: pgqrs_messages.*
SELECT m.id, m.queue_id, m.payload, m.vt, m.enqueued_at, m.read_ct, m.dequeued_at, m.producer_worker_id,
       m.consumer_worker_id, m.priority, m.unique_key, m.progress, m.cancel_requested_at
FROM pgqrs_messages m, (SELECT coalesce(@now::timestamptz, now()) AS now) t
WHERE m.queue_id = @queue_id AND m.id > @after_id
  AND ((@state::text = 'pending' AND m.vt <= t.now)
       OR (@state::text = 'in_flight' AND m.vt > t.now AND m.consumer_worker_id IS NOT NULL)
       OR (@state::text = 'delayed' AND m.vt > t.now AND m.consumer_worker_id IS NULL))
ORDER BY m.id
LIMIT @limit;

-- name: dash_message_remove :execrows
-- Deletes a live message of the queue that no consumer holds under a live lease
-- (pending or delayed); an in-flight message is left alone.
-- param: queue_id i64, id i64, now timestamp?
DELETE FROM pgqrs_messages
WHERE id = @id AND queue_id = @queue_id
  AND (consumer_worker_id IS NULL OR vt <= coalesce(@now::timestamptz, now()));

-- name: dash_archive_remove :execrows
-- Deletes an archived, dead-lettered or cancelled row of the queue.
-- param: queue_id i64, id i64
DELETE FROM pgqrs_archive WHERE id = @id AND queue_id = @queue_id;

-- name: dash_run_counts :many
-- Workflow runs by status (only the statuses some run has).
-- returns: status enum:run_status, n i64
SELECT status, count(*) AS n FROM pgqrs_workflow_runs GROUP BY status ORDER BY status;

-- name: dash_worker_counts :many
-- Workers by status (only the statuses some worker has).
-- returns: status enum:worker_status, n i64
SELECT status, count(*) AS n FROM pgqrs_workers GROUP BY status ORDER BY status;

-- name: dash_message_requeue :many
-- Puts a cancelled message of the queue back as a new pending message (read
-- count 0, visible now; priority and unique key kept), like a dead-letter
-- replay. Returns the archive id moved; none when there is no such cancelled
-- message.
-- param: queue_id i64, id i64, now timestamp?
-- returns: id i64
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
moved AS (
    DELETE FROM pgqrs_archive a
    WHERE a.id = @id AND a.queue_id = @queue_id AND a.reason = 'cancelled'
    RETURNING a.queue_id, a.payload, a.priority, a.unique_key
),
ins AS (
    INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at, priority, unique_key)
    SELECT moved.queue_id, moved.payload, t.now, t.now, moved.priority, moved.unique_key
    FROM moved, t
    RETURNING id
)
SELECT @id::bigint AS id FROM ins;
