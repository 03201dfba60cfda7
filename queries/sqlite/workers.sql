-- Workers: registration, heartbeats, lifecycle transitions checked in SQL,
-- health, zombie reclaim and purge.

-- name: worker_register :one
-- param: queue_id i64?, hostname text, pid i32, kind enum:worker_kind, now timestamp?
-- returns: pgqrs_workers.*
INSERT INTO pgqrs_workers (queue_id, hostname, pid, kind, status, started_at, heartbeat_at)
SELECT @queue_id, @hostname, @pid, @kind, 'ready', t.now, t.now
FROM (SELECT coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) AS now) t
RETURNING id, queue_id, hostname, pid, kind, status, started_at, heartbeat_at, stopped_at;

-- name: worker_get :one
-- param: id i64
-- returns: pgqrs_workers.*
SELECT id, queue_id, hostname, pid, kind, status, started_at, heartbeat_at, stopped_at
FROM pgqrs_workers
WHERE id = @id;

-- name: worker_list :many
-- All workers, or those of one queue; newest first.
-- param: queue_id i64?
-- returns: pgqrs_workers.*
SELECT id, queue_id, hostname, pid, kind, status, started_at, heartbeat_at, stopped_at
FROM pgqrs_workers
WHERE @queue_id IS NULL OR queue_id = @queue_id
ORDER BY id DESC;

-- name: worker_heartbeat :execrows
-- Refreshes the heartbeat of these workers unless they are stopped.
-- param: ids i64[], now timestamp?
UPDATE pgqrs_workers
SET heartbeat_at = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
WHERE id IN (SELECT value FROM json_each(@ids)) AND status <> 'stopped';

-- name: worker_transition :one
-- Moves a worker from one status to another; no row when it is not in `from`
-- (the caller then tells "not found" from "illegal transition").
-- param: id i64, from_status enum:worker_status, to_status enum:worker_status, now timestamp?
-- returns: pgqrs_workers.*
UPDATE pgqrs_workers
SET status = @to_status,
    heartbeat_at = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
    stopped_at = CASE WHEN @to_status = 'stopped'
                      THEN coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) END
WHERE id = @id AND status = @from_status
RETURNING id, queue_id, hostname, pid, kind, status, started_at, heartbeat_at, stopped_at;

-- name: worker_shutdown :one
-- Stops a ready or suspended worker. With release, the messages it holds go back
-- to pending in the same transaction; without, a worker that holds messages is
-- left as it was (no row).
-- param: id i64, release bool, now timestamp?
-- returns: pgqrs_workers.*
UPDATE pgqrs_messages
SET consumer_worker_id = NULL,
    vt = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
WHERE consumer_worker_id = @id AND @release;
UPDATE pgqrs_workers
SET status = 'stopped',
    stopped_at = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
    heartbeat_at = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
WHERE id = @id AND status <> 'stopped'
  AND NOT EXISTS (SELECT 1 FROM pgqrs_messages m WHERE m.consumer_worker_id = @id)
RETURNING id, queue_id, hostname, pid, kind, status, started_at, heartbeat_at, stopped_at;

-- name: worker_held_count :one
-- How many live messages the worker holds.
-- param: id i64
-- returns: held i64
SELECT count(*) AS held FROM pgqrs_messages WHERE consumer_worker_id = @id;

-- name: worker_health :one
-- Counts by status; stale = not stopped and no heartbeat since stale_before.
-- param: stale_before timestamp
-- returns: total i64, ready i64, suspended i64, stopped i64, stale i64
SELECT count(*) AS total,
       count(*) FILTER (WHERE status = 'ready') AS ready,
       count(*) FILTER (WHERE status = 'suspended') AS suspended,
       count(*) FILTER (WHERE status = 'stopped') AS stopped,
       count(*) FILTER (WHERE status <> 'stopped' AND heartbeat_at < @stale_before) AS stale
FROM pgqrs_workers;

-- name: worker_reclaim :many
-- Zombies: workers not stopped whose heartbeat is older than stale_before. Their
-- messages go back to pending now and they are marked stopped, in one transaction.
-- param: stale_before timestamp, now timestamp?
-- returns: id i64
UPDATE pgqrs_messages
SET consumer_worker_id = NULL,
    vt = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
WHERE consumer_worker_id IN (SELECT id FROM pgqrs_workers
                             WHERE status <> 'stopped' AND heartbeat_at < @stale_before);
UPDATE pgqrs_workers
SET status = 'stopped',
    stopped_at = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
WHERE status <> 'stopped' AND heartbeat_at < @stale_before
RETURNING id;

-- name: worker_purge_stale :many
-- Deletes workers that are stopped, or silent since before, and hold no
-- messages; returns their ids.
-- param: before timestamp
-- returns: id i64
DELETE FROM pgqrs_workers
WHERE (status = 'stopped' AND coalesce(stopped_at, heartbeat_at) < @before
       OR heartbeat_at < @before)
  AND NOT EXISTS (SELECT 1 FROM pgqrs_messages m WHERE m.consumer_worker_id = pgqrs_workers.id)
RETURNING id;
