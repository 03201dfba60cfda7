-- Workflows: definitions, runs and their transitions. Every transition is a
-- guarded UPDATE: a run moves only from the states named in its WHERE, so an
-- illegal transition matches no row instead of overwriting a state.

-- name: workflow_upsert :one
-- Creates the workflow and its queue, or updates the stored retry policy of an
-- existing one: defining the same workflow again is idempotent. The queue's
-- max_attempts is high because the workflow engine, not the DLQ, decides when a
-- run has crashed too often.
-- param: name text, queue_name text, retry_policy json
-- returns: pgqrs_workflows.*
WITH q AS (
    INSERT INTO pgqrs_queues (name, max_attempts)
    VALUES (@queue_name, 1000000)
    ON CONFLICT (name) DO UPDATE SET max_attempts = pgqrs_queues.max_attempts
    RETURNING id
)
INSERT INTO pgqrs_workflows (name, queue_id, retry_policy)
SELECT @name, q.id, @retry_policy::jsonb FROM q
ON CONFLICT (name) DO UPDATE SET retry_policy = EXCLUDED.retry_policy
RETURNING id, name, queue_id, retry_policy, created_at;

-- name: workflow_get_by_name :one
-- param: name text
-- returns: pgqrs_workflows.*
SELECT id, name, queue_id, retry_policy, created_at FROM pgqrs_workflows WHERE name = @name;

-- name: workflow_get :one
-- param: id i64
-- returns: pgqrs_workflows.*
SELECT id, name, queue_id, retry_policy, created_at FROM pgqrs_workflows WHERE id = @id;

-- name: workflow_list :many
-- returns: pgqrs_workflows.*
SELECT id, name, queue_id, retry_policy, created_at FROM pgqrs_workflows ORDER BY name;

-- name: run_trigger :one
-- Creates a PENDING run and enqueues its message in one statement. With an
-- idempotency key already used for this workflow, nothing is created and the
-- existing run comes back with created = false.
-- param: workflow_id i64, queue_id i64, input json?, idempotency_key text?, now timestamp?
-- returns: run_id i64, created bool
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
ins AS (
    INSERT INTO pgqrs_workflow_runs (workflow_id, status, input, idempotency_key, attempts, created_at, updated_at)
    SELECT @workflow_id, 'PENDING', @input::jsonb, @idempotency_key::text, 0, t.now, t.now FROM t
    ON CONFLICT (workflow_id, idempotency_key) DO NOTHING
    RETURNING id
),
msg AS (
    INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at)
    SELECT @queue_id, jsonb_build_object('run_id', ins.id), t.now, t.now FROM ins, t
)
SELECT id AS run_id, true AS created FROM ins
WHERE (SELECT count(pg_notify('pgqrs_messages', @queue_id::text)) FROM t   -- wake-up: migration 0004
       WHERE EXISTS (SELECT FROM ins)
         AND NOT EXISTS (WITH RECURSIVE lv(p) AS (   -- a visible message at some priority level
                 SELECT CASE WHEN EXISTS (SELECT FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority > 0)
                             THEN (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id
                                   ORDER BY l.priority DESC LIMIT 1)
                             ELSE 0 END   -- the top level; no descent past dead entries when it is 0
                 UNION ALL
                 SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority < lv.p
                         ORDER BY l.priority DESC LIMIT 1)
                 FROM lv WHERE lv.p IS NOT NULL)
             SELECT FROM lv CROSS JOIN LATERAL (SELECT FROM pgqrs_messages m   -- LATERAL, ORDER BY vt: an index probe per level (verify_pg.py checks)
                                          WHERE m.queue_id = @queue_id AND m.priority = lv.p AND m.vt <= t.now ORDER BY m.vt LIMIT 1) v)) >= 0
UNION ALL
SELECT r.id, false FROM pgqrs_workflow_runs r
WHERE r.workflow_id = @workflow_id AND r.idempotency_key = @idempotency_key::text
  AND NOT EXISTS (SELECT 1 FROM ins);

-- name: run_get :one
-- param: id i64
-- returns: pgqrs_workflow_runs.*
SELECT id, workflow_id, status, input, output, error, idempotency_key, attempts, worker_id, retry_at,
       cancel_reason, created_at, started_at, completed_at, cancelled_at, updated_at
FROM pgqrs_workflow_runs WHERE id = @id;

-- name: run_get_by_key :one
-- param: workflow_id i64, idempotency_key text
-- returns: pgqrs_workflow_runs.*
SELECT id, workflow_id, status, input, output, error, idempotency_key, attempts, worker_id, retry_at,
       cancel_reason, created_at, started_at, completed_at, cancelled_at, updated_at
FROM pgqrs_workflow_runs WHERE workflow_id = @workflow_id AND idempotency_key = @idempotency_key;

-- name: run_list :many
-- Runs newest first, filtered by workflow, status and creation time when given.
-- param: workflow_id i64?, status enum:run_status?, since timestamp?, limit i32
-- returns: pgqrs_workflow_runs.*
SELECT id, workflow_id, status, input, output, error, idempotency_key, attempts, worker_id, retry_at,
       cancel_reason, created_at, started_at, completed_at, cancelled_at, updated_at
FROM pgqrs_workflow_runs
WHERE (@workflow_id::bigint IS NULL OR workflow_id = @workflow_id::bigint)
  AND (@status::text IS NULL OR status = @status::text)
  AND (@since::timestamptz IS NULL OR created_at >= @since::timestamptz)
ORDER BY id DESC
LIMIT @limit;

-- name: run_start :one
-- PENDING -> RUNNING (or RUNNING again after a crash) for this worker; counts an
-- attempt. No row for a terminal, cancelling or unknown run.
-- param: id i64, worker_id i64, now timestamp?
-- returns: pgqrs_workflow_runs.*
UPDATE pgqrs_workflow_runs r
SET status = 'RUNNING', attempts = r.attempts + 1, worker_id = @worker_id, retry_at = NULL,
    started_at = coalesce(r.started_at, t.now), updated_at = t.now
FROM (SELECT coalesce(@now::timestamptz, now()) AS now) t
WHERE r.id = @id AND r.status IN ('PENDING', 'RUNNING')
RETURNING r.id, r.workflow_id, r.status, r.input, r.output, r.error, r.idempotency_key, r.attempts, r.worker_id,
          r.retry_at, r.cancel_reason, r.created_at, r.started_at, r.completed_at, r.cancelled_at, r.updated_at;

-- name: run_finish :one
-- Ends a run (SUCCESS or ERROR from RUNNING; CANCELLED from RUNNING or
-- CANCELLING) and archives its message, held by this worker, in one statement.
-- param: id i64, message_id i64, worker_id i64, status enum:run_status, output json?, error json?, now timestamp?
-- returns: id i64
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
r AS (
    UPDATE pgqrs_workflow_runs r
    SET status = @status, output = @output::jsonb, error = @error::jsonb, completed_at = t.now, updated_at = t.now,
        cancelled_at = CASE WHEN @status = 'CANCELLED' THEN coalesce(r.cancelled_at, t.now) END
    FROM t
    WHERE r.id = @id
      AND (r.status = 'RUNNING' OR (r.status = 'CANCELLING' AND @status = 'CANCELLED'))
      AND @status IN ('SUCCESS', 'ERROR', 'CANCELLED')
    RETURNING r.id
),
moved AS (
    DELETE FROM pgqrs_messages m
    WHERE m.id = @message_id AND m.consumer_worker_id = @worker_id AND EXISTS (SELECT 1 FROM r)
    RETURNING m.*
),
archived AS (
    INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                               producer_worker_id, consumer_worker_id, reason, archived_at)
    SELECT m.id, m.queue_id, m.payload, m.enqueued_at, m.read_ct, m.dequeued_at,
           m.producer_worker_id, m.consumer_worker_id, 'archived', t.now
    FROM moved m, t
)
-- wakes pgqrs_run_wait (payload 'r' || run id; migration 0004's channel)
SELECT r.id FROM r, LATERAL (SELECT pg_notify('pgqrs_messages', 'r' || r.id::text)) AS n;

-- name: run_reschedule :one
-- RUNNING -> PENDING until retry_at (a retry after a failure, or a durable
-- sleep): the run's message becomes visible again at retry_at, and its delivery
-- count starts over, so waiting never counts toward the crash limit.
-- param: id i64, message_id i64, worker_id i64, retry_at timestamp, error json?, now timestamp?
-- returns: id i64
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
r AS (
    UPDATE pgqrs_workflow_runs r
    SET status = 'PENDING', retry_at = @retry_at, error = coalesce(@error::jsonb, r.error), updated_at = t.now
    FROM t
    WHERE r.id = @id AND r.status = 'RUNNING'
    RETURNING r.id
),
m AS (
    UPDATE pgqrs_messages m
    SET vt = @retry_at, consumer_worker_id = NULL, read_ct = 0
    WHERE m.id = @message_id AND m.consumer_worker_id = @worker_id AND EXISTS (SELECT 1 FROM r)
)
SELECT id FROM r;

-- name: run_cancel :one
-- A PENDING run becomes CANCELLED at once; a RUNNING one CANCELLING, finalised
-- by its worker at the next step boundary. No row for terminal or unknown runs.
-- param: id i64, reason text?, now timestamp?
-- returns: pgqrs_workflow_runs.*
WITH c AS (
    UPDATE pgqrs_workflow_runs r
    SET status = CASE r.status WHEN 'PENDING' THEN 'CANCELLED' ELSE 'CANCELLING' END,
        cancel_reason = @reason::text,
        cancelled_at = t.now,
        completed_at = CASE r.status WHEN 'PENDING' THEN t.now END,
        updated_at = t.now
    FROM (SELECT coalesce(@now::timestamptz, now()) AS now) t
    WHERE r.id = @id AND r.status IN ('PENDING', 'RUNNING')
    RETURNING r.id, r.workflow_id, r.status, r.input, r.output, r.error, r.idempotency_key, r.attempts, r.worker_id,
              r.retry_at, r.cancel_reason, r.created_at, r.started_at, r.completed_at, r.cancelled_at, r.updated_at
)
-- wakes pgqrs_run_wait when the run ended here (PENDING -> CANCELLED)
SELECT c.id, c.workflow_id, c.status, c.input, c.output, c.error, c.idempotency_key, c.attempts, c.worker_id,
       c.retry_at, c.cancel_reason, c.created_at, c.started_at, c.completed_at, c.cancelled_at, c.updated_at
FROM c LEFT JOIN LATERAL (SELECT pg_notify('pgqrs_messages', 'r' || c.id::text) WHERE c.status = 'CANCELLED') AS n
     ON true;

-- name: step_acquire :one
-- Claims a step of a RUNNING run for this worker: a new step, a failed one being
-- retried, one this worker already held, or one whose holder's lease ran out or
-- whose worker is stopped (a crashed run resumed). No row when the step already
-- succeeded, another live worker holds it, or the run is not RUNNING: exactly one
-- worker executes a step at a time.
-- param: run_id i64, step_id text, worker_id i64, lease_ms i64, now timestamp?
-- returns: pgqrs_workflow_steps.*
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now)
INSERT INTO pgqrs_workflow_steps AS s (run_id, step_id, status, attempts, worker_id, lease_until, started_at)
SELECT @run_id, @step_id, 'RUNNING', 1, @worker_id, t.now + @lease_ms::bigint * interval '1 millisecond', t.now
FROM t
WHERE EXISTS (SELECT 1 FROM pgqrs_workflow_runs r WHERE r.id = @run_id AND r.status = 'RUNNING')
ON CONFLICT (run_id, step_id) DO UPDATE
SET status = 'RUNNING', attempts = s.attempts + 1, worker_id = EXCLUDED.worker_id,
    lease_until = EXCLUDED.lease_until, started_at = EXCLUDED.started_at, error = NULL, retry_at = NULL,
    completed_at = NULL
WHERE s.status <> 'SUCCESS'
  AND (s.status = 'ERROR' OR s.worker_id = EXCLUDED.worker_id OR s.lease_until < EXCLUDED.started_at
       OR NOT EXISTS (SELECT 1 FROM pgqrs_workers w WHERE w.id = s.worker_id AND w.status <> 'stopped'))
RETURNING s.run_id, s.step_id, s.status, s.output, s.error, s.attempts, s.retry_at, s.worker_id, s.lease_until,
          s.started_at, s.completed_at;

-- name: step_get :one
-- param: run_id i64, step_id text
-- returns: pgqrs_workflow_steps.*
SELECT run_id, step_id, status, output, error, attempts, retry_at, worker_id, lease_until, started_at, completed_at
FROM pgqrs_workflow_steps WHERE run_id = @run_id AND step_id = @step_id;

-- name: step_complete :execrows
-- RUNNING -> SUCCESS with the output, in the statement that marks it done; only
-- for the worker holding it.
-- param: run_id i64, step_id text, worker_id i64, output json, now timestamp?
UPDATE pgqrs_workflow_steps
SET status = 'SUCCESS', output = @output::jsonb, completed_at = coalesce(@now::timestamptz, now()),
    lease_until = NULL
WHERE run_id = @run_id AND step_id = @step_id AND status = 'RUNNING' AND worker_id = @worker_id;

-- name: step_fail :execrows
-- RUNNING -> ERROR with the error and, when it will be retried, when.
-- param: run_id i64, step_id text, worker_id i64, error json, retry_at timestamp?, now timestamp?
UPDATE pgqrs_workflow_steps
SET status = 'ERROR', error = @error::jsonb, retry_at = @retry_at::timestamptz,
    completed_at = coalesce(@now::timestamptz, now()), lease_until = NULL
WHERE run_id = @run_id AND step_id = @step_id AND status = 'RUNNING' AND worker_id = @worker_id;

-- name: step_list :many
-- param: run_id i64
-- returns: pgqrs_workflow_steps.*
SELECT run_id, step_id, status, output, error, attempts, retry_at, worker_id, lease_until, started_at, completed_at
FROM pgqrs_workflow_steps WHERE run_id = @run_id ORDER BY started_at, step_id;
