-- Schedules: definitions, the scheduler's scan, and firing a tick exactly once.
-- A multi-statement query is one BEGIN IMMEDIATE transaction (one batch on Turso).

-- name: schedule_create :one
-- Inserts the schedule, or returns no row (PGQRS_ENOTFOUND) when the name is
-- taken. The target's foreign key makes a missing queue or workflow fail.
-- param: name text, cron text, timezone text, queue_id i64?, workflow_id i64?, target text, payload json?, overlap enum:schedule_overlap, misfire enum:schedule_misfire, misfire_grace_s i64, paused bool, next_at timestamp, now timestamp?
-- returns: pgqrs_schedules.*
INSERT INTO pgqrs_schedules (name, cron, timezone, queue_id, workflow_id, target, payload, overlap, misfire,
                             misfire_grace_s, paused, next_at, created_at, updated_at)
VALUES (@name, @cron, @timezone, @queue_id, @workflow_id, @target, @payload, @overlap, @misfire,
        @misfire_grace_s, @paused, @next_at, coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)), coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)))
ON CONFLICT (name) DO NOTHING
RETURNING id, name, cron, timezone, queue_id, workflow_id, target, payload, overlap, misfire, misfire_grace_s,
          paused, next_at, last_tick_at, created_at, updated_at;

-- name: schedule_get_by_name :one
-- param: name text
-- returns: pgqrs_schedules.*
SELECT id, name, cron, timezone, queue_id, workflow_id, target, payload, overlap, misfire, misfire_grace_s,
       paused, next_at, last_tick_at, created_at, updated_at
FROM pgqrs_schedules WHERE name = @name;

-- name: schedule_list :many
-- returns: pgqrs_schedules.*
SELECT id, name, cron, timezone, queue_id, workflow_id, target, payload, overlap, misfire, misfire_grace_s,
       paused, next_at, last_tick_at, created_at, updated_at
FROM pgqrs_schedules ORDER BY name;

-- name: schedule_of_queue :one
-- A schedule whose target is the queue, if any (a queue delete refuses then).
-- param: queue_id i64
-- returns: pgqrs_schedules.*
SELECT id, name, cron, timezone, queue_id, workflow_id, target, payload, overlap, misfire, misfire_grace_s,
       paused, next_at, last_tick_at, created_at, updated_at
FROM pgqrs_schedules WHERE queue_id = @queue_id ORDER BY name LIMIT 1;

-- name: schedule_of_workflow :one
-- A schedule whose target is the workflow, if any (a workflow delete refuses then).
-- param: workflow_id i64
-- returns: pgqrs_schedules.*
SELECT id, name, cron, timezone, queue_id, workflow_id, target, payload, overlap, misfire, misfire_grace_s,
       paused, next_at, last_tick_at, created_at, updated_at
FROM pgqrs_schedules WHERE workflow_id = @workflow_id ORDER BY name LIMIT 1;

-- name: schedule_set_paused :one
-- Pauses or resumes; a resume sets the next tick (computed after now), so the
-- ticks of the pause are not fired late.
-- param: id i64, paused bool, next_at timestamp?, now timestamp?
-- returns: pgqrs_schedules.*
UPDATE pgqrs_schedules
SET paused = @paused, next_at = coalesce(@next_at, next_at), updated_at = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
WHERE id = @id
RETURNING id, name, cron, timezone, queue_id, workflow_id, target, payload, overlap, misfire, misfire_grace_s,
          paused, next_at, last_tick_at, created_at, updated_at;

-- name: schedule_delete :execrows
-- Deletes the schedule and its ticks (the jobs it created stay).
-- param: id i64
DELETE FROM pgqrs_schedule_ticks WHERE schedule_id = @id;
DELETE FROM pgqrs_schedules WHERE id = @id;

-- name: schedule_due :many
-- Active schedules whose next tick is due at `at` (the round's time), the most
-- overdue first.
-- param: limit i32, at timestamp
-- returns: pgqrs_schedules.*
SELECT id, name, cron, timezone, queue_id, workflow_id, target, payload, overlap, misfire, misfire_grace_s,
       paused, next_at, last_tick_at, created_at, updated_at
FROM pgqrs_schedules
WHERE paused = 0 AND next_at <= @at
ORDER BY next_at
LIMIT @limit;

-- name: schedule_next_due :one
-- When the next active schedule is due; NULL when none is active.
-- returns: next_at timestamp?
SELECT min(next_at) AS next_at FROM pgqrs_schedules WHERE paused = 0;

-- name: schedule_fire :one
-- Fires tick tick_at of the schedule, once, in one transaction: the tick's row
-- first (only while next_at is still expected_at: a scheduler that lost the
-- race inserts nothing; its primary key refuses a tick fired twice, which
-- rolls everything back), then the job (a message, or a PENDING run and its
-- message) with its id noted on the tick, then next_at moved on. With overlap
-- 'skip' and the previous fired tick's job still live (its message pending or
-- in flight, or its run not finished), the tick is recorded as skipped and
-- creates nothing. changes() and last_insert_rowid() carry ids from one
-- statement to the next. No row: paused, deleted or already moved on.
-- param: id i64, expected_at timestamp, tick_at timestamp, next_at timestamp, now timestamp?
-- returns: outcome enum:tick_outcome, message_id i64?, run_id i64?
INSERT INTO pgqrs_schedule_ticks (schedule_id, tick_at, outcome, created_at)
SELECT s.id, @tick_at,
       CASE WHEN s.overlap = 'skip' AND (
                 EXISTS (SELECT 1 FROM pgqrs_messages m
                         WHERE m.id = (SELECT k.message_id FROM pgqrs_schedule_ticks k
                                       WHERE k.schedule_id = s.id AND k.outcome = 'fired'
                                       ORDER BY k.tick_at DESC LIMIT 1))
              OR EXISTS (SELECT 1 FROM pgqrs_workflow_runs r
                         WHERE r.id = (SELECT k.run_id FROM pgqrs_schedule_ticks k
                                       WHERE k.schedule_id = s.id AND k.outcome = 'fired'
                                       ORDER BY k.tick_at DESC LIMIT 1)
                           AND r.status IN ('PENDING', 'RUNNING', 'CANCELLING')))
            THEN 'skipped' ELSE 'fired' END,
       coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
FROM pgqrs_schedules s
WHERE s.id = @id AND s.next_at = @expected_at AND s.paused = 0;
INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at)
SELECT q.id, coalesce(s.payload, '{}'), coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)), coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
FROM pgqrs_schedules s
JOIN pgqrs_queues q ON q.id = s.queue_id
JOIN pgqrs_schedule_ticks k ON k.schedule_id = s.id AND k.tick_at = @tick_at
WHERE s.id = @id AND s.next_at = @expected_at
  AND k.outcome = 'fired' AND k.message_id IS NULL AND k.run_id IS NULL;
UPDATE pgqrs_schedule_ticks SET message_id = last_insert_rowid()
WHERE changes() > 0 AND schedule_id = @id AND tick_at = @tick_at AND message_id IS NULL AND run_id IS NULL;
INSERT INTO pgqrs_workflow_runs (workflow_id, status, input, attempts, created_at, updated_at)
SELECT s.workflow_id, 'PENDING', s.payload, 0, coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)), coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
FROM pgqrs_schedules s
JOIN pgqrs_schedule_ticks k ON k.schedule_id = s.id AND k.tick_at = @tick_at
WHERE s.id = @id AND s.next_at = @expected_at AND s.workflow_id IS NOT NULL
  AND k.outcome = 'fired' AND k.message_id IS NULL AND k.run_id IS NULL;
UPDATE pgqrs_schedule_ticks SET run_id = last_insert_rowid()
WHERE changes() > 0 AND schedule_id = @id AND tick_at = @tick_at AND message_id IS NULL AND run_id IS NULL;
INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at)
SELECT w.queue_id, json_object('run_id', k.run_id), coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)), coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
FROM pgqrs_schedule_ticks k
JOIN pgqrs_schedules s ON s.id = k.schedule_id
JOIN pgqrs_workflows w ON w.id = s.workflow_id
WHERE k.schedule_id = @id AND k.tick_at = @tick_at AND s.next_at = @expected_at
  AND k.run_id IS NOT NULL AND k.message_id IS NULL;
UPDATE pgqrs_schedule_ticks SET message_id = last_insert_rowid()
WHERE changes() > 0 AND schedule_id = @id AND tick_at = @tick_at AND run_id IS NOT NULL AND message_id IS NULL;
UPDATE pgqrs_schedules
SET next_at = @next_at, last_tick_at = @tick_at, updated_at = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
WHERE id = @id AND next_at = @expected_at AND paused = 0;
SELECT outcome, message_id, run_id FROM pgqrs_schedule_ticks
WHERE changes() > 0 AND schedule_id = @id AND tick_at = @tick_at;

-- name: schedule_advance :execrows
-- Moves next_at on without firing (missed ticks skipped after downtime), from
-- expected_at only, like schedule_fire.
-- param: id i64, expected_at timestamp, next_at timestamp, now timestamp?
UPDATE pgqrs_schedules
SET next_at = @next_at, updated_at = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
WHERE id = @id AND next_at = @expected_at AND paused = 0;

-- name: schedule_tick_list :many
-- The newest ticks of a schedule.
-- param: schedule_id i64, limit i32
-- returns: pgqrs_schedule_ticks.*
SELECT schedule_id, tick_at, outcome, message_id, run_id, created_at
FROM pgqrs_schedule_ticks WHERE schedule_id = @schedule_id
ORDER BY tick_at DESC
LIMIT @limit;

-- name: clock_now :one
-- The time every scheduler compares ticks with: the local clock (or the store's
-- test override); on Turso the server's.
-- param: now timestamp?
-- returns: now timestamp
SELECT coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) AS now;
