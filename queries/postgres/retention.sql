-- Retention: policies, and purges in bounded batches. Each purge is one short
-- statement that deletes at most `limit` rows; none touches pgqrs_messages, so
-- none waits for or blocks a claim.

-- name: retention_default_get :one
-- returns: pgqrs_retention_default.*
SELECT id, archive_max_age_s, archive_max_rows, dlq_max_age_s, dlq_max_rows, run_max_age_s, updated_at
FROM pgqrs_retention_default WHERE id = 1;

-- name: retention_default_set :exec
-- param: archive_max_age_s i64, archive_max_rows i64, dlq_max_age_s i64, dlq_max_rows i64, run_max_age_s i64, now timestamp?
INSERT INTO pgqrs_retention_default (id, archive_max_age_s, archive_max_rows, dlq_max_age_s, dlq_max_rows,
                                     run_max_age_s, updated_at)
VALUES (1, @archive_max_age_s, @archive_max_rows, @dlq_max_age_s, @dlq_max_rows, @run_max_age_s, coalesce(@now::timestamptz, now()))
ON CONFLICT (id) DO UPDATE
SET archive_max_age_s = EXCLUDED.archive_max_age_s, archive_max_rows = EXCLUDED.archive_max_rows,
    dlq_max_age_s = EXCLUDED.dlq_max_age_s, dlq_max_rows = EXCLUDED.dlq_max_rows,
    run_max_age_s = EXCLUDED.run_max_age_s, updated_at = EXCLUDED.updated_at;

-- name: retention_queue_get :one
-- param: queue_id i64
-- returns: pgqrs_retention.*
SELECT queue_id, archive_max_age_s, archive_max_rows, dlq_max_age_s, dlq_max_rows, run_max_age_s, updated_at
FROM pgqrs_retention WHERE queue_id = @queue_id;

-- name: retention_queue_list :many
-- returns: pgqrs_retention.*
SELECT queue_id, archive_max_age_s, archive_max_rows, dlq_max_age_s, dlq_max_rows, run_max_age_s, updated_at
FROM pgqrs_retention ORDER BY queue_id;

-- name: retention_queue_set :exec
-- param: queue_id i64, archive_max_age_s i64, archive_max_rows i64, dlq_max_age_s i64, dlq_max_rows i64, run_max_age_s i64, now timestamp?
INSERT INTO pgqrs_retention (queue_id, archive_max_age_s, archive_max_rows, dlq_max_age_s, dlq_max_rows,
                             run_max_age_s, updated_at)
VALUES (@queue_id, @archive_max_age_s, @archive_max_rows, @dlq_max_age_s, @dlq_max_rows, @run_max_age_s, coalesce(@now::timestamptz, now()))
ON CONFLICT (queue_id) DO UPDATE
SET archive_max_age_s = EXCLUDED.archive_max_age_s, archive_max_rows = EXCLUDED.archive_max_rows,
    dlq_max_age_s = EXCLUDED.dlq_max_age_s, dlq_max_rows = EXCLUDED.dlq_max_rows,
    run_max_age_s = EXCLUDED.run_max_age_s, updated_at = EXCLUDED.updated_at;

-- name: archive_purge_older :execrows
-- Deletes at most `limit` of the queue's archived or dead-lettered rows
-- archived before `before`, oldest first (pgqrs_archive_queue_reason_idx).
-- param: queue_id i64, reason enum:archive_reason, before timestamp, limit i32
DELETE FROM pgqrs_archive
WHERE id IN (SELECT a.id FROM pgqrs_archive a
             WHERE a.queue_id = @queue_id AND a.reason = @reason AND a.archived_at < @before
             ORDER BY a.archived_at
             LIMIT @limit);

-- name: archive_keep_cutoff :one
-- The newest row past the `keep` newest of the queue's archived or
-- dead-lettered rows: it and everything older go. No row: nothing to trim.
-- param: queue_id i64, reason enum:archive_reason, keep i64
-- returns: archived_at timestamp, id i64
SELECT a.archived_at, a.id FROM pgqrs_archive a
WHERE a.queue_id = @queue_id AND a.reason = @reason
ORDER BY a.archived_at DESC, a.id DESC
LIMIT 1 OFFSET @keep;

-- name: archive_purge_through :execrows
-- Deletes at most `limit` of the queue's rows at or before (cut_at, cut_id)
-- in (archived_at, id) order, oldest first.
-- param: queue_id i64, reason enum:archive_reason, cut_at timestamp, cut_id i64, limit i32
DELETE FROM pgqrs_archive
WHERE id IN (SELECT a.id FROM pgqrs_archive a
             WHERE a.queue_id = @queue_id AND a.reason = @reason
               AND (a.archived_at < @cut_at OR (a.archived_at = @cut_at AND a.id <= @cut_id))
             ORDER BY a.archived_at, a.id
             LIMIT @limit);

-- name: run_purge_candidates :many
-- At most `limit` finished runs of the workflow that completed before `before`
-- (created before it too, which keeps the scan on pgqrs_workflow_runs_list_idx).
-- param: workflow_id i64, before timestamp, limit i32
-- returns: id i64
SELECT r.id FROM pgqrs_workflow_runs r
WHERE r.workflow_id = @workflow_id AND r.status IN ('SUCCESS', 'ERROR', 'CANCELLED')
  AND r.created_at < @before AND r.completed_at < @before
LIMIT @limit;

-- name: run_purge :execrows
-- Deletes the given runs that are finished, with their steps, in one statement.
-- param: ids i64[]
WITH gone AS (
    DELETE FROM pgqrs_workflow_steps st
    WHERE st.run_id IN (SELECT r.id FROM pgqrs_workflow_runs r
                        WHERE r.id = ANY(@ids::bigint[]) AND r.status IN ('SUCCESS', 'ERROR', 'CANCELLED'))
)
DELETE FROM pgqrs_workflow_runs
WHERE id = ANY(@ids::bigint[]) AND status IN ('SUCCESS', 'ERROR', 'CANCELLED');

-- name: tick_purge :execrows
-- Deletes at most `limit` schedule ticks older than `before`, keeping each
-- schedule's latest fired tick (the overlap rule reads it).
-- param: before timestamp, limit i32
DELETE FROM pgqrs_schedule_ticks d
USING (SELECT k.schedule_id, k.tick_at FROM pgqrs_schedule_ticks k
       WHERE k.tick_at < @before
         AND (k.outcome <> 'fired'
              OR k.tick_at < (SELECT max(f.tick_at) FROM pgqrs_schedule_ticks f
                              WHERE f.schedule_id = k.schedule_id AND f.outcome = 'fired'))
       LIMIT @limit) x
WHERE d.schedule_id = x.schedule_id AND d.tick_at = x.tick_at;
