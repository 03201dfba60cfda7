-- Schedules: definitions, the scheduler's scan, and firing a tick exactly once.

-- name: schedule_create :one
-- Inserts the schedule, or returns no row (PGQRS_ENOTFOUND) when the name is
-- taken. The target's foreign key makes a missing queue or workflow fail.
-- param: name text, cron text, timezone text, queue_id i64?, workflow_id i64?, target text, payload json?, overlap enum:schedule_overlap, misfire enum:schedule_misfire, misfire_grace_s i64, paused bool, next_at timestamp, now timestamp?
-- returns: pgqrs_schedules.*
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now)
INSERT INTO pgqrs_schedules (name, cron, timezone, queue_id, workflow_id, target, payload, overlap, misfire,
                             misfire_grace_s, paused, next_at, created_at, updated_at)
SELECT @name, @cron, @timezone, @queue_id::bigint, @workflow_id::bigint, @target, @payload::jsonb, @overlap,
       @misfire, @misfire_grace_s, @paused, @next_at, t.now, t.now
FROM t
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
UPDATE pgqrs_schedules s
SET paused = @paused, next_at = coalesce(@next_at::timestamptz, s.next_at), updated_at = t.now
FROM (SELECT coalesce(@now::timestamptz, now()) AS now) t
WHERE s.id = @id
RETURNING s.id, s.name, s.cron, s.timezone, s.queue_id, s.workflow_id, s.target, s.payload, s.overlap, s.misfire,
          s.misfire_grace_s, s.paused, s.next_at, s.last_tick_at, s.created_at, s.updated_at;

-- name: schedule_delete :execrows
-- Deletes the schedule and its ticks (the jobs it created stay).
-- param: id i64
DELETE FROM pgqrs_schedules WHERE id = @id;

-- name: schedule_due :many
-- Active schedules whose next tick is due at `at` (the round's time), the most
-- overdue first.
-- param: limit i32, at timestamp
-- returns: pgqrs_schedules.*
SELECT id, name, cron, timezone, queue_id, workflow_id, target, payload, overlap, misfire, misfire_grace_s,
       paused, next_at, last_tick_at, created_at, updated_at
FROM pgqrs_schedules
WHERE NOT paused AND next_at <= @at
ORDER BY next_at
LIMIT @limit;

-- name: schedule_next_due :one
-- When the next active schedule is due; NULL when none is active.
-- returns: next_at timestamp?
SELECT min(next_at) AS next_at FROM pgqrs_schedules WHERE NOT paused;

-- name: schedule_fire :one
-- Fires tick tick_at of the schedule, once. The UPDATE moves next_at on only
-- from expected_at (the value the scheduler read): a second scheduler waits for
-- the first one's row lock, then finds next_at moved and does nothing. The job
-- (a message, or a PENDING run and its message) is created in the same
-- statement, and so is the tick's row: its primary key refuses a tick fired
-- twice, rolling the job back with it. With overlap 'skip' and the previous
-- fired tick's job still live (its message pending or in flight, or its run
-- not finished), the tick is recorded as skipped and creates nothing. No row:
-- the schedule was paused, deleted or already moved on. A job's message made
-- visible in a queue with no other visible message notifies channel
-- pgqrs_messages, as message_enqueue does (migration 0004: the statement
-- notifies, not a trigger; the probe does not see this statement's rows).
-- param: id i64, expected_at timestamp, tick_at timestamp, next_at timestamp, now timestamp?
-- returns: outcome enum:tick_outcome, message_id i64?, run_id i64?
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
u AS (
    UPDATE pgqrs_schedules s
    SET next_at = @next_at, last_tick_at = @tick_at, updated_at = t.now
    FROM t
    WHERE s.id = @id AND s.next_at = @expected_at AND NOT s.paused
    RETURNING s.id, s.queue_id, s.workflow_id, s.payload, s.overlap
),
prev AS (
    SELECT k.message_id, k.run_id FROM pgqrs_schedule_ticks k
    WHERE k.schedule_id = @id AND k.outcome = 'fired'
    ORDER BY k.tick_at DESC
    LIMIT 1
),
go AS (
    SELECT u.id, u.queue_id, u.workflow_id, u.payload,
           coalesce(u.queue_id, (SELECT w.queue_id FROM pgqrs_workflows w WHERE w.id = u.workflow_id)) AS job_queue_id,
           NOT (u.overlap = 'skip' AND (
                EXISTS (SELECT 1 FROM prev JOIN pgqrs_messages m ON m.id = prev.message_id)
             OR EXISTS (SELECT 1 FROM prev JOIN pgqrs_workflow_runs r ON r.id = prev.run_id
                        WHERE r.status IN ('PENDING', 'RUNNING', 'CANCELLING')))) AS fire
    FROM u
),
qmsg AS (
    INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at)
    SELECT q.id, coalesce(go.payload, '{}'::jsonb), t.now, t.now
    FROM go JOIN pgqrs_queues q ON q.id = go.queue_id, t
    WHERE go.fire
    RETURNING id
),
run AS (
    INSERT INTO pgqrs_workflow_runs (workflow_id, status, input, attempts, created_at, updated_at)
    SELECT go.workflow_id, 'PENDING', go.payload, 0, t.now, t.now
    FROM go, t
    WHERE go.fire AND go.workflow_id IS NOT NULL
    RETURNING id, workflow_id
),
rmsg AS (
    INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at)
    SELECT w.queue_id, jsonb_build_object('run_id', run.id), t.now, t.now
    FROM run JOIN pgqrs_workflows w ON w.id = run.workflow_id, t
    RETURNING id
),
k AS (
    INSERT INTO pgqrs_schedule_ticks (schedule_id, tick_at, outcome, message_id, run_id, created_at)
    SELECT go.id, @tick_at, CASE WHEN go.fire THEN 'fired' ELSE 'skipped' END,
           coalesce((SELECT id FROM qmsg), (SELECT id FROM rmsg)), (SELECT id FROM run), t.now
    FROM go, t
    RETURNING outcome, message_id, run_id
)
SELECT outcome, message_id, run_id FROM k
WHERE (SELECT count(pg_notify('pgqrs_messages', go.job_queue_id::text)) FROM go, t   -- wake-up: migration 0004
       WHERE go.fire
         AND NOT EXISTS (WITH RECURSIVE lv(p) AS (   -- a visible message at some priority level
                 SELECT CASE WHEN EXISTS (SELECT FROM pgqrs_messages l WHERE l.queue_id = go.job_queue_id AND l.priority > 0)
                             THEN (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = go.job_queue_id
                                   ORDER BY l.priority DESC LIMIT 1)
                             ELSE 0 END   -- the top level; no descent past dead entries when it is 0
                 UNION ALL
                 SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = go.job_queue_id AND l.priority < lv.p
                         ORDER BY l.priority DESC LIMIT 1)
                 FROM lv WHERE lv.p IS NOT NULL)
             SELECT FROM lv CROSS JOIN LATERAL (SELECT FROM pgqrs_messages m   -- LATERAL, ORDER BY vt: an index probe per level (verify_pg.py checks)
                                          WHERE m.queue_id = go.job_queue_id AND m.priority = lv.p AND m.vt <= t.now ORDER BY m.vt LIMIT 1) v)) >= 0;

-- name: schedule_advance :execrows
-- Moves next_at on without firing (missed ticks skipped after downtime), from
-- expected_at only, like schedule_fire.
-- param: id i64, expected_at timestamp, next_at timestamp, now timestamp?
UPDATE pgqrs_schedules
SET next_at = @next_at, updated_at = coalesce(@now::timestamptz, now())
WHERE id = @id AND next_at = @expected_at AND NOT paused;

-- name: schedule_tick_list :many
-- The newest ticks of a schedule.
-- param: schedule_id i64, limit i32
-- returns: pgqrs_schedule_ticks.*
SELECT schedule_id, tick_at, outcome, message_id, run_id, created_at
FROM pgqrs_schedule_ticks WHERE schedule_id = @schedule_id
ORDER BY tick_at DESC
LIMIT @limit;

-- name: clock_now :one
-- The time every scheduler compares ticks with: the database's clock (or the
-- store's test override), the same for every machine.
-- param: now timestamp?
-- returns: now timestamp
SELECT coalesce(@now::timestamptz, now()) AS now;
