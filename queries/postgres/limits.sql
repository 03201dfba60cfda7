-- Per-queue limits (issue 17; docs/design.md, "Per-queue limits"). A consumer
-- whose queue has a limit claims with these, in one transaction:
--   queue_limits_lock     locks the queue row: limited claims of one queue run
--                         one at a time, on every process and machine
--   queue_limits_usage    a later statement, so under READ COMMITTED its snapshot
--                         is taken after the lock was granted and holds every
--                         claim the previous lock holders committed
--   message_dequeue_limited  claims at most what the limits leave
--   queue_claims_record   logs the claim for the rate limit's window, and
--   queue_claims_prune    deletes what has left it
-- Queues without limits never run these (message_dequeue is unchanged).

-- name: queue_limits_lock :one
-- The queue's limits as they are now, its row locked until the transaction
-- ends. FOR NO KEY UPDATE: enqueues (which only read the row) are not blocked.
-- No row: no such queue.
-- param: id i64
-- returns: concurrency_limit i32?, rate_limit i32?, rate_period_ms i64?
SELECT concurrency_limit, rate_limit, rate_period_ms
FROM pgqrs_queues
WHERE id = @id
FOR NO KEY UPDATE;

-- name: queue_limits_usage :one
-- What the limits count: the queue's messages in flight (held by a worker,
-- lease not expired: pgqrs_queue_metrics.in_flight), when count_in_flight; the
-- messages claimed in the last rate_period_ms (NULL: none counted) and the
-- oldest claim in that window (when the window next has room).
-- param: queue_id i64, count_in_flight bool, rate_period_ms i64?, now timestamp?
-- returns: in_flight i64, window_claims i64, window_oldest timestamp?
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
w AS (
    SELECT c.n, c.claimed_at
    FROM pgqrs_queue_claims c, t
    WHERE c.queue_id = @queue_id
      AND c.claimed_at > t.now - @rate_period_ms::bigint * interval '1 millisecond'
)
SELECT (WITH RECURSIVE lv(p) AS (   -- per priority level: a range of the claim index
            SELECT CASE WHEN EXISTS (SELECT FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority > 0)
                        THEN (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id
                              ORDER BY l.priority DESC LIMIT 1)
                        ELSE 0 END   -- the top level; no descent past dead entries when it is 0
            UNION ALL
            SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority < lv.p
                    ORDER BY l.priority DESC LIMIT 1)
            FROM lv WHERE lv.p IS NOT NULL)
        SELECT coalesce(sum((SELECT count(*) FROM pgqrs_messages m
                             WHERE m.queue_id = @queue_id AND m.priority = lv.p AND m.vt > t.now
                               AND m.consumer_worker_id IS NOT NULL)), 0)::bigint
        FROM lv WHERE @count_in_flight::boolean AND lv.p IS NOT NULL) AS in_flight,
       (SELECT coalesce(sum(w.n), 0)::bigint FROM w) AS window_claims,
       (SELECT min(w.claimed_at) FROM w) AS window_oldest
FROM t;

-- name: message_dequeue_limited :many
-- message_dequeue for a limited queue, after queue_limits_lock: @max is what
-- the limits leave. Claims in (priority DESC, vt, id) order and never a message
-- whose cancel was requested; the window and the poison rule are
-- message_dequeue's.
-- param: queue_id i64, worker_id i64, max i32, vt_ms i64, max_attempts i32, now timestamp?
-- returns: pgqrs_messages.*
UPDATE pgqrs_messages m
SET vt = coalesce(@now::timestamptz, now()) + @vt_ms::bigint * interval '1 millisecond',
    read_ct = m.read_ct + 1,
    dequeued_at = coalesce(@now::timestamptz, now()),
    consumer_worker_id = @worker_id
WHERE m.id = ANY(ARRAY(
        SELECT w.id
        FROM pgqrs_messages w
        WHERE w.queue_id = @queue_id AND w.vt <= coalesce(@now::timestamptz, now())
          AND w.cancel_requested_at IS NULL
          AND EXISTS (SELECT 1 FROM pgqrs_workers k WHERE k.id = @worker_id AND k.status = 'ready')
        ORDER BY w.priority DESC, w.vt, w.id
        LIMIT @max
        FOR UPDATE OF w SKIP LOCKED))
  AND m.read_ct < @max_attempts
RETURNING m.id, m.queue_id, m.payload, m.vt, m.enqueued_at, m.read_ct, m.dequeued_at,
          m.producer_worker_id, m.consumer_worker_id, m.priority, m.unique_key, m.progress, m.cancel_requested_at;

-- name: queue_claims_record :exec
-- Logs a claim of n messages for the rate limit's window.
-- param: queue_id i64, n i32, now timestamp?
INSERT INTO pgqrs_queue_claims (queue_id, claimed_at, n)
VALUES (@queue_id, coalesce(@now::timestamptz, now()), @n);

-- name: queue_claims_prune :exec
-- Deletes the queue's log entries older than its period: the table holds at
-- most one period of claim statements per queue.
-- param: queue_id i64, now timestamp?
DELETE FROM pgqrs_queue_claims c
USING pgqrs_queues q
WHERE q.id = @queue_id AND c.queue_id = @queue_id
  AND c.claimed_at <= coalesce(@now::timestamptz, now()) - q.rate_period_ms * interval '1 millisecond';
