-- Jobs: one query per result shape and parameter kind the generator knows.

-- name: job_create :one
-- Inserts a job and returns it: a table row, and a params struct with a
-- nullable scalar.
-- param: queue text, state enum:job_state, payload json, urgent bool, run_at timestamp, owner_id i64?
-- returns: g_jobs.*
INSERT INTO g_jobs (queue, state, payload, urgent, run_at, owner_id)
VALUES (@queue, @state, @payload, @urgent, @run_at, @owner_id)
RETURNING id, queue, state, payload, tags, attempts, urgent, run_at, finished_at, owner_id;

-- name: job_get :one
-- param: id i64
-- returns: g_jobs.*
SELECT id, queue, state, payload, tags, attempts, urgent, run_at, finished_at, owner_id
FROM g_jobs
WHERE id = @id;

-- name: job_count :one
-- A scalar result.
-- param: queue text?
-- returns: n i64
SELECT count(*) AS n
FROM g_jobs
WHERE queue = @queue OR @queue IS NULL;

-- name: job_exists :one
-- param: id i64
-- returns: found bool
SELECT EXISTS (SELECT 1 FROM g_jobs WHERE id = @id) AS found;

-- name: job_max_owner :one
-- A nullable single column is a struct of its own, not a scalar.
-- returns: owner i64?
SELECT max(owner_id) AS owner
FROM g_jobs;

-- name: job_ids_in_state :many
-- param: state enum:job_state
-- returns: g_jobs.id
SELECT id
FROM g_jobs
WHERE state = @state
ORDER BY id;

-- name: job_summary :many
-- Some table columns and a computed one; `now` is the connection's clock, bound
-- by the accessor (the caller passes only ids).
-- param: ids i64[], now timestamp?
-- returns: g_jobs.id, g_jobs.queue text, g_jobs.finished_at timestamp?, late bool
SELECT id, queue, finished_at,
       (run_at < coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))) AS late
FROM g_jobs
WHERE id IN (SELECT value FROM json_each(@ids))
ORDER BY id;

-- name: job_finish :execrows
-- param: ids i64[], finished_at timestamp?
UPDATE g_jobs
SET state = 'done', finished_at = @finished_at
WHERE id IN (SELECT value FROM json_each(@ids));

-- name: job_tag :exec
-- A nullable JSON parameter.
-- param: id i64, tags json?
UPDATE g_jobs
SET tags = @tags
WHERE id = @id;

-- name: job_bulk_create :execrows
-- param: queue text, payloads json[]
INSERT INTO g_jobs (queue, state, payload, urgent, run_at)
SELECT @queue, 'new', value, 0, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)
FROM json_each(@payloads);

-- name: job_clear_owner :execrows
-- One nullable scalar parameter: passed in a params struct.
-- param: owner_id i64?
UPDATE g_jobs
SET owner_id = NULL
WHERE owner_id IS @owner_id;

-- name: job_purge_owner :execrows
-- One statement on PostgreSQL, two here.
-- param: owner_id i64
UPDATE g_jobs SET owner_id = NULL
WHERE owner_id = @owner_id AND state = 'new';
DELETE FROM g_jobs
WHERE owner_id = @owner_id;
