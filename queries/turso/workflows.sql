-- Turso overrides of queries/sqlite/workflows.sql: same names, parameters and
-- results (the generator checks it); only the SQL differs where the Turso engine
-- needs it.

-- name: step_acquire :one
-- Claims a step of a RUNNING run for this worker: a new step, a failed one being
-- retried, one this worker already held, or one whose holder's lease ran out or
-- whose worker is stopped (a crashed run resumed). No row when the step already
-- succeeded, another live worker holds it, or the run is not RUNNING: exactly one
-- worker executes a step at a time. Turso (0.7) accepts neither the `INSERT ... AS
-- s` alias nor a subquery in an upsert's DO UPDATE, so the claim is three
-- statements in one transaction: take over an existing step, insert a new one,
-- and read back the step if this worker now holds it (it does only if one of the
-- two claimed it: a step is RUNNING for this worker only after a claim).
-- param: run_id i64, step_id text, worker_id i64, lease_ms i64, now timestamp?
-- returns: pgqrs_workflow_steps.*
UPDATE pgqrs_workflow_steps
SET status = 'RUNNING', attempts = attempts + 1, worker_id = @worker_id,
    lease_until = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) + @lease_ms * 1000,
    started_at = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)), error = NULL, retry_at = NULL, completed_at = NULL
WHERE run_id = @run_id AND step_id = @step_id AND status <> 'SUCCESS'
  AND (status = 'ERROR' OR worker_id = @worker_id
       OR lease_until < coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
       OR NOT EXISTS (SELECT 1 FROM pgqrs_workers w WHERE w.id = pgqrs_workflow_steps.worker_id AND w.status <> 'stopped'))
  AND EXISTS (SELECT 1 FROM pgqrs_workflow_runs r WHERE r.id = @run_id AND r.status = 'RUNNING');
INSERT INTO pgqrs_workflow_steps (run_id, step_id, status, attempts, worker_id, lease_until, started_at)
SELECT @run_id, @step_id, 'RUNNING', 1, @worker_id, coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) + @lease_ms * 1000, coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
WHERE EXISTS (SELECT 1 FROM pgqrs_workflow_runs r WHERE r.id = @run_id AND r.status = 'RUNNING')
ON CONFLICT (run_id, step_id) DO NOTHING;
SELECT run_id, step_id, status, output, error, attempts, retry_at, worker_id, lease_until,
       started_at, completed_at
FROM pgqrs_workflow_steps
WHERE run_id = @run_id AND step_id = @step_id AND status = 'RUNNING' AND worker_id = @worker_id
  AND EXISTS (SELECT 1 FROM pgqrs_workflow_runs r WHERE r.id = @run_id AND r.status = 'RUNNING');
