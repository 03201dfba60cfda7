-- Queues: create, look up, list, delete.

-- name: queue_create :one
-- Inserts the queue, or returns no row (PGQRS_ENOTFOUND) when the name is taken:
-- one statement, so two concurrent creates cannot both succeed.
-- param: name text, max_attempts i32, retry_initial_delay_ms i64, retry_multiplier f64, retry_max_delay_ms i64, retry_jitter f64, concurrency_limit i32?, rate_limit i32?, rate_period_ms i64?
-- returns: pgqrs_queues.*
INSERT INTO pgqrs_queues (name, max_attempts, created_at, retry_initial_delay_ms, retry_multiplier,
                          retry_max_delay_ms, retry_jitter, concurrency_limit, rate_limit, rate_period_ms)
VALUES (@name, @max_attempts, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER),
        @retry_initial_delay_ms, @retry_multiplier, @retry_max_delay_ms, @retry_jitter,
        @concurrency_limit, @rate_limit, @rate_period_ms)
ON CONFLICT (name) DO NOTHING
RETURNING id, name, max_attempts, created_at, retry_initial_delay_ms, retry_multiplier, retry_max_delay_ms, retry_jitter,
       concurrency_limit, rate_limit, rate_period_ms;

-- name: queue_update :one
-- Sets the delivery and retry policy and the limits of a queue in one
-- statement; a NULL parameter keeps that column as it is. The limits are set
-- (to a value or NULL: no limit) only when their set_ flag is true; the rate
-- limit and its period change together. No row: no such queue.
-- param: id i64, max_attempts i32?, retry_initial_delay_ms i64?, retry_multiplier f64?, retry_max_delay_ms i64?, retry_jitter f64?, set_concurrency_limit bool, concurrency_limit i32?, set_rate_limit bool, rate_limit i32?, rate_period_ms i64?
-- returns: pgqrs_queues.*
UPDATE pgqrs_queues
SET max_attempts = coalesce(@max_attempts, max_attempts),
    retry_initial_delay_ms = coalesce(@retry_initial_delay_ms, retry_initial_delay_ms),
    retry_multiplier = coalesce(@retry_multiplier, retry_multiplier),
    retry_max_delay_ms = coalesce(@retry_max_delay_ms, retry_max_delay_ms),
    retry_jitter = coalesce(@retry_jitter, retry_jitter),
    concurrency_limit = CASE WHEN @set_concurrency_limit THEN @concurrency_limit ELSE concurrency_limit END,
    rate_limit = CASE WHEN @set_rate_limit THEN @rate_limit ELSE rate_limit END,
    rate_period_ms = CASE WHEN @set_rate_limit THEN @rate_period_ms ELSE rate_period_ms END
WHERE id = @id
RETURNING id, name, max_attempts, created_at, retry_initial_delay_ms, retry_multiplier, retry_max_delay_ms, retry_jitter,
       concurrency_limit, rate_limit, rate_period_ms;

-- name: queue_get_by_name :one
-- param: name text
-- returns: pgqrs_queues.*
SELECT id, name, max_attempts, created_at, retry_initial_delay_ms, retry_multiplier, retry_max_delay_ms, retry_jitter,
       concurrency_limit, rate_limit, rate_period_ms
FROM pgqrs_queues
WHERE name = @name;

-- name: queue_get :one
-- param: id i64
-- returns: pgqrs_queues.*
SELECT id, name, max_attempts, created_at, retry_initial_delay_ms, retry_multiplier, retry_max_delay_ms, retry_jitter,
       concurrency_limit, rate_limit, rate_period_ms
FROM pgqrs_queues
WHERE id = @id;

-- name: queue_list :many
-- returns: pgqrs_queues.*
SELECT id, name, max_attempts, created_at, retry_initial_delay_ms, retry_multiplier, retry_max_delay_ms, retry_jitter,
       concurrency_limit, rate_limit, rate_period_ms
FROM pgqrs_queues
ORDER BY name;

-- name: queue_delete :many
-- Deletes the queue (its messages and archive go with it, by cascade) unless it
-- still holds live messages and force is false: then nothing is deleted. Returns
-- the queue's id when it was deleted.
-- param: id i64, force bool
-- returns: id i64
DELETE FROM pgqrs_queues
WHERE id = @id
  AND (@force OR NOT EXISTS (SELECT 1 FROM pgqrs_messages m WHERE m.queue_id = @id))
RETURNING id;
