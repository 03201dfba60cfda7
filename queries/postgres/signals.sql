-- Workflows that talk (issue 19): messages sent to runs, events, child runs,
-- the waits of suspended runs, and deleting a workflow.

-- name: workflow_delete :many
-- Deletes the workflow with its runs (steps, messages, events, children and
-- waits by cascade) and its queue (messages and archive), unless runs are in
-- flight and force is false: then nothing. Returns the queue's id when deleted.
-- pgqrs_workflow_delete_rows (migration 0007) waits for transactions writing
-- messages first, like pgqrs_queue_delete_rows.
-- param: id i64, queue_id i64, force bool
-- returns: id i64
SELECT d.id FROM pgqrs_workflow_delete_rows(@id, @force) AS d(id) WHERE d.id = @queue_id;

-- name: workflow_runs_in_flight :one
-- param: workflow_id i64
-- returns: n i64
SELECT count(*) AS n FROM pgqrs_workflow_runs
WHERE workflow_id = @workflow_id AND status IN ('PENDING', 'RUNNING', 'CANCELLING');

-- name: run_send :one
-- Stores a message for a PENDING or RUNNING run; no row for a finished,
-- cancelling or unknown run (nothing written).
-- param: run_id i64, topic text, payload json, now timestamp?
-- returns: id i64
INSERT INTO pgqrs_workflow_messages (run_id, topic, payload, created_at)
SELECT r.id, @topic, @payload::jsonb, coalesce(@now::timestamptz, now())
FROM pgqrs_workflow_runs r
WHERE r.id = @run_id AND r.status IN ('PENDING', 'RUNNING')
RETURNING id;

-- name: run_recv :one
-- Consumes the oldest message sent to this run on topic and stores it as the
-- SUCCESS output of the recv step, in one statement: consumed exactly once, and
-- replayed from the step afterwards. Only for the worker running the run, and
-- only while the step has not succeeded. No row: no message.
-- param: run_id i64, step_id text, topic text, worker_id i64, now timestamp?
-- returns: output json
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
m AS (
    DELETE FROM pgqrs_workflow_messages x
    WHERE x.id = (SELECT y.id FROM pgqrs_workflow_messages y
                  WHERE y.run_id = @run_id AND y.topic = @topic ORDER BY y.id LIMIT 1 FOR UPDATE)
      AND EXISTS (SELECT 1 FROM pgqrs_workflow_runs r
                  WHERE r.id = @run_id AND r.status = 'RUNNING' AND r.worker_id = @worker_id)
      AND NOT EXISTS (SELECT 1 FROM pgqrs_workflow_steps s
                      WHERE s.run_id = @run_id AND s.step_id = @step_id AND s.status = 'SUCCESS')
    RETURNING x.id, x.payload
),
w AS (
    DELETE FROM pgqrs_workflow_waits WHERE run_id = @run_id AND EXISTS (SELECT 1 FROM m)
)
INSERT INTO pgqrs_workflow_steps AS s (run_id, step_id, status, output, attempts, worker_id, started_at, completed_at)
SELECT @run_id, @step_id, 'SUCCESS', jsonb_build_object('message', m.payload, 'message_id', m.id), 1, @worker_id,
       t.now, t.now
FROM m, t
ON CONFLICT (run_id, step_id) DO UPDATE
SET status = 'SUCCESS', output = EXCLUDED.output, attempts = s.attempts + 1, worker_id = EXCLUDED.worker_id,
    lease_until = NULL, error = NULL, retry_at = NULL, completed_at = EXCLUDED.completed_at
RETURNING s.output;

-- name: step_record :execrows
-- Stores a step's SUCCESS output without executing anything (a recv that timed
-- out, a child started or awaited), and ends the run's wait for that step. Only
-- for the worker running the run; a step that already succeeded is kept.
-- param: run_id i64, step_id text, worker_id i64, output json, now timestamp?
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
r AS (
    SELECT 1 FROM pgqrs_workflow_runs r WHERE r.id = @run_id AND r.status = 'RUNNING' AND r.worker_id = @worker_id
),
w AS (
    DELETE FROM pgqrs_workflow_waits WHERE run_id = @run_id AND step_id = @step_id AND EXISTS (SELECT 1 FROM r)
)
INSERT INTO pgqrs_workflow_steps AS s (run_id, step_id, status, output, attempts, worker_id, started_at, completed_at)
SELECT @run_id, @step_id, 'SUCCESS', @output::jsonb, 1, @worker_id, t.now, t.now
FROM t WHERE EXISTS (SELECT 1 FROM r)
ON CONFLICT (run_id, step_id) DO UPDATE
SET status = 'SUCCESS', output = EXCLUDED.output, attempts = s.attempts + 1, worker_id = EXCLUDED.worker_id,
    lease_until = NULL, error = NULL, retry_at = NULL, completed_at = EXCLUDED.completed_at
WHERE s.status <> 'SUCCESS';

-- name: wait_set :one
-- Records what the run waits for under step_id (a message on topic, or the
-- end of child_run_id) with its run message. A wait already recorded for the
-- same step keeps its deadline: a timeout counts from the first call, across
-- suspensions and crashes. Returns the deadline. Only for the worker running it.
-- param: run_id i64, step_id text, topic text?, child_run_id i64?, message_id i64, until timestamp, worker_id i64
-- returns: pgqrs_workflow_waits.until
INSERT INTO pgqrs_workflow_waits AS w (run_id, step_id, topic, child_run_id, message_id, until)
SELECT @run_id, @step_id, @topic::text, @child_run_id::bigint, @message_id, @until
FROM pgqrs_workflow_runs r
WHERE r.id = @run_id AND r.status = 'RUNNING' AND r.worker_id = @worker_id
ON CONFLICT (run_id) DO UPDATE
SET until = CASE WHEN w.step_id = EXCLUDED.step_id THEN w.until ELSE EXCLUDED.until END,
    step_id = EXCLUDED.step_id, topic = EXCLUDED.topic, child_run_id = EXCLUDED.child_run_id,
    message_id = EXCLUDED.message_id
RETURNING w.until;

-- name: run_wake :one
-- Makes a suspended run's message visible now when what it waits for is ready
-- (a message on its topic, or its child ended), and wakes its queue's workers.
-- A message still held by a worker is left alone: that worker checks again
-- after it released it. Returns how many runs were woken (0 or 1).
-- param: run_id i64, now timestamp?
-- returns: n i64
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
woke AS (
    UPDATE pgqrs_messages m SET vt = t.now
    FROM t
    WHERE m.id = ANY(ARRAY(   -- an InitPlan, then the primary key: a join plans a Seq Scan on an empty table
            SELECT w.message_id FROM pgqrs_workflow_waits w
            WHERE w.run_id = @run_id
              AND ((w.topic IS NOT NULL
                    AND EXISTS (SELECT 1 FROM pgqrs_workflow_messages x WHERE x.run_id = w.run_id AND x.topic = w.topic))
                OR (w.child_run_id IS NOT NULL
                    AND EXISTS (SELECT 1 FROM pgqrs_workflow_runs c
                                WHERE c.id = w.child_run_id AND c.status IN ('SUCCESS', 'ERROR', 'CANCELLED'))))))
      AND m.consumer_worker_id IS NULL AND m.vt > t.now
    RETURNING m.queue_id
)
SELECT count(pg_notify('pgqrs_messages', queue_id::text)) AS n FROM woke;

-- name: run_wake_parent :one
-- run_wake for the run waiting for child_run_id to end (called after the child
-- ended). Returns how many runs were woken.
-- param: child_run_id i64, now timestamp?
-- returns: n i64
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
woke AS (
    UPDATE pgqrs_messages m SET vt = t.now
    FROM t
    WHERE m.id = ANY(ARRAY(SELECT w.message_id FROM pgqrs_workflow_waits w WHERE w.child_run_id = @child_run_id))   -- as run_wake
      AND m.consumer_worker_id IS NULL AND m.vt > t.now
    RETURNING m.queue_id
)
SELECT count(pg_notify('pgqrs_messages', queue_id::text)) AS n FROM woke;

-- name: child_link :exec
-- Records that the parent's step started child_run_id (again on replay: kept).
-- param: parent_run_id i64, step_id text, child_run_id i64
INSERT INTO pgqrs_workflow_children (parent_run_id, step_id, child_run_id)
VALUES (@parent_run_id, @step_id, @child_run_id)
ON CONFLICT (parent_run_id, step_id) DO NOTHING;

-- name: child_list :many
-- param: parent_run_id i64
-- returns: pgqrs_workflow_children.*
SELECT parent_run_id, step_id, child_run_id FROM pgqrs_workflow_children
WHERE parent_run_id = @parent_run_id ORDER BY child_run_id;

-- name: event_set :one
-- Sets key to value for a run executed by this worker (the last write wins)
-- and wakes the readers waiting on the run's events. Returns 1 when written, 0
-- when the run is not RUNNING on this worker.
-- param: run_id i64, key text, value json, worker_id i64, now timestamp?
-- returns: n i64
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
e AS (
    INSERT INTO pgqrs_workflow_events AS e (run_id, key, value, updated_at)
    SELECT @run_id, @key, @value::jsonb, t.now FROM t
    WHERE EXISTS (SELECT 1 FROM pgqrs_workflow_runs r
                  WHERE r.id = @run_id AND r.status = 'RUNNING' AND r.worker_id = @worker_id)
    ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
    RETURNING e.run_id
)
SELECT count(pg_notify('pgqrs_messages', 'e' || run_id::text)) AS n FROM e;

-- name: event_get :one
-- param: run_id i64, key text
-- returns: pgqrs_workflow_events.*
SELECT run_id, key, value, updated_at FROM pgqrs_workflow_events WHERE run_id = @run_id AND key = @key;

-- name: event_list :many
-- param: run_id i64
-- returns: pgqrs_workflow_events.*
SELECT run_id, key, value, updated_at FROM pgqrs_workflow_events WHERE run_id = @run_id ORDER BY key;
