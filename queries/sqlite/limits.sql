-- Per-queue limits (issue 17; docs/design.md, "Per-queue limits"). A consumer
-- whose queue has a limit claims with these in one BEGIN IMMEDIATE transaction:
-- it holds the database's write lock from its start, so limited claims run one
-- at a time and every read in it sees every earlier claim. Queues without
-- limits never run these (message_dequeue is unchanged). Turso reads this file
-- too; it refuses limits (no transactions across calls).

-- name: queue_limits_lock :one
-- The queue's limits as they are now (the transaction already holds the lock).
-- No row: no such queue.
-- param: id i64
-- returns: concurrency_limit i32?, rate_limit i32?, rate_period_ms i64?
SELECT concurrency_limit, rate_limit, rate_period_ms
FROM pgqrs_queues
WHERE id = @id;

-- name: queue_limits_usage :one
-- What the limits count: the queue's messages in flight (held by a worker,
-- lease not expired), when count_in_flight; the messages claimed in the last
-- rate_period_ms (NULL: none counted) and the oldest claim in that window.
-- param: queue_id i64, count_in_flight bool, rate_period_ms i64?, now timestamp?
-- returns: in_flight i64, window_claims i64, window_oldest timestamp?
SELECT (SELECT count(*) FROM pgqrs_messages m
        WHERE @count_in_flight AND m.queue_id = @queue_id AND m.vt > t.now
          AND m.consumer_worker_id IS NOT NULL) AS in_flight,
       (SELECT coalesce(sum(c.n), 0) FROM pgqrs_queue_claims c
        WHERE c.queue_id = @queue_id AND c.claimed_at > t.now - @rate_period_ms * 1000) AS window_claims,
       (SELECT min(c.claimed_at) FROM pgqrs_queue_claims c
        WHERE c.queue_id = @queue_id AND c.claimed_at > t.now - @rate_period_ms * 1000) AS window_oldest
FROM (SELECT coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) AS now) t;

-- name: message_dequeue_limited :many
-- message_dequeue for a limited queue: @max is what the limits leave. Claims in
-- (priority DESC, vt, id) order and never a message whose cancel was requested;
-- the window and the poison rule are message_dequeue's.
-- param: queue_id i64, worker_id i64, max i32, vt_ms i64, max_attempts i32, now timestamp?
-- returns: pgqrs_messages.*
UPDATE pgqrs_messages
SET vt = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) + @vt_ms * 1000,
    read_ct = read_ct + 1,
    dequeued_at = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
    consumer_worker_id = @worker_id
WHERE id IN (SELECT win.id FROM (SELECT w.id, w.read_ct FROM pgqrs_messages w
             WHERE w.queue_id = @queue_id AND w.vt <= coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
               AND w.cancel_requested_at IS NULL
             ORDER BY w.priority DESC, w.vt, w.id LIMIT @max) win
             WHERE win.read_ct < @max_attempts)
  AND EXISTS (SELECT 1 FROM pgqrs_workers k WHERE k.id = @worker_id AND k.status = 'ready')
RETURNING id, queue_id, payload, vt, enqueued_at, read_ct, dequeued_at, producer_worker_id, consumer_worker_id,
          priority, unique_key, progress, cancel_requested_at;

-- name: queue_claims_record :exec
-- Logs a claim of n messages for the rate limit's window.
-- param: queue_id i64, n i32, now timestamp?
INSERT INTO pgqrs_queue_claims (queue_id, claimed_at, n)
VALUES (@queue_id, coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)), @n);

-- name: queue_claims_prune :exec
-- Deletes the queue's log entries older than its period: the table holds at
-- most one period of claim statements per queue.
-- param: queue_id i64, now timestamp?
DELETE FROM pgqrs_queue_claims
WHERE queue_id = @queue_id
  AND claimed_at <= coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) - (SELECT q.rate_period_ms FROM pgqrs_queues q WHERE q.id = @queue_id) * 1000;
