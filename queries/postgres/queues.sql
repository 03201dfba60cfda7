-- Queues: create, look up, list, delete.

-- name: queue_create :one
-- Inserts the queue, or returns no row (PGQRS_ENOTFOUND) when the name is taken:
-- one statement, so two concurrent creates cannot both succeed.
-- param: name text, max_attempts i32
-- returns: pgqrs_queues.*
INSERT INTO pgqrs_queues (name, max_attempts)
VALUES (@name, @max_attempts)
ON CONFLICT (name) DO NOTHING
RETURNING id, name, max_attempts, created_at;

-- name: queue_get_by_name :one
-- param: name text
-- returns: pgqrs_queues.*
SELECT id, name, max_attempts, created_at
FROM pgqrs_queues
WHERE name = @name;

-- name: queue_get :one
-- param: id i64
-- returns: pgqrs_queues.*
SELECT id, name, max_attempts, created_at
FROM pgqrs_queues
WHERE id = @id;

-- name: queue_list :many
-- returns: pgqrs_queues.*
SELECT id, name, max_attempts, created_at
FROM pgqrs_queues
ORDER BY name;

-- name: queue_delete :many
-- Deletes the queue with its messages and archive unless it still holds live
-- messages and force is false: then nothing is deleted. Returns the queue's id
-- when it was deleted. pgqrs_queue_delete_rows (migration 0003) first waits for
-- every transaction writing messages, so none can add one to the queue after.
-- param: id i64, force bool
-- returns: id i64
SELECT d.id FROM pgqrs_queue_delete_rows(@id, @force) AS d(id);
