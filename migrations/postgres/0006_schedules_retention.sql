-- Schedules (docs/schedules.md) and retention policies. Self-contained: it may be
-- renumbered before release, never split.
--
-- A schedule fires a target (a queue with a payload, or a workflow with an
-- input) at each tick of its cron expression in its time zone. Exactly once per
-- tick is the database's doing: the statement that creates a tick's job also
-- moves next_at on (guarded by its old value, under the row lock) and inserts
-- the tick's row, whose primary key (schedule_id, tick_at) refuses a second one
-- and rolls back the job with it. The schedule tables are not on the claim path,
-- so they keep their foreign keys: a schedule's queue or workflow cannot be
-- deleted while it exists (pgqrs_queue_delete says so first).

CREATE TABLE pgqrs_schedules (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    cron            text NOT NULL CHECK (length(cron) BETWEEN 1 AND 256),
    timezone        text NOT NULL DEFAULT 'UTC',
    queue_id        bigint REFERENCES pgqrs_queues (id) ON DELETE RESTRICT,
    workflow_id     bigint REFERENCES pgqrs_workflows (id) ON DELETE RESTRICT,
    target          text NOT NULL,
    payload         jsonb,
    overlap         text NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'allow')),
    misfire         text NOT NULL DEFAULT 'skip' CHECK (misfire IN ('skip', 'latest')),
    misfire_grace_s bigint NOT NULL DEFAULT 60 CHECK (misfire_grace_s >= 0),
    paused          boolean NOT NULL DEFAULT false,
    next_at         timestamp with time zone NOT NULL,
    last_tick_at    timestamp with time zone,
    created_at      timestamp with time zone NOT NULL DEFAULT now(),
    updated_at      timestamp with time zone NOT NULL DEFAULT now(),
    CHECK ((queue_id IS NULL) <> (workflow_id IS NULL))
);
-- the scheduler's scan: active schedules by their next tick
CREATE INDEX pgqrs_schedules_due_idx ON pgqrs_schedules (next_at) WHERE NOT paused;

CREATE TABLE pgqrs_schedule_ticks (
    schedule_id bigint NOT NULL REFERENCES pgqrs_schedules (id) ON DELETE CASCADE,
    tick_at     timestamp with time zone NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('fired', 'skipped')),
    message_id  bigint,
    run_id      bigint,
    created_at  timestamp with time zone NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, tick_at)
);
-- the overlap rule reads the latest fired tick of a schedule
CREATE INDEX pgqrs_schedule_ticks_fired_idx ON pgqrs_schedule_ticks (schedule_id, tick_at) WHERE outcome = 'fired';

-- Retention: 0 = not set (a queue inherits the default policy's value; the
-- default keeps everything), -1 = keep (overrides the default), > 0 = the limit.
-- run_max_age_s of a workflow's queue applies to that workflow's finished runs.
CREATE TABLE pgqrs_retention_default (
    id                integer PRIMARY KEY CHECK (id = 1),
    archive_max_age_s bigint NOT NULL DEFAULT 0 CHECK (archive_max_age_s >= -1),
    archive_max_rows  bigint NOT NULL DEFAULT 0 CHECK (archive_max_rows >= -1),
    dlq_max_age_s     bigint NOT NULL DEFAULT 0 CHECK (dlq_max_age_s >= -1),
    dlq_max_rows      bigint NOT NULL DEFAULT 0 CHECK (dlq_max_rows >= -1),
    run_max_age_s     bigint NOT NULL DEFAULT 0 CHECK (run_max_age_s >= -1),
    updated_at        timestamp with time zone NOT NULL DEFAULT now()
);

CREATE TABLE pgqrs_retention (
    queue_id          bigint PRIMARY KEY REFERENCES pgqrs_queues (id) ON DELETE CASCADE,
    archive_max_age_s bigint NOT NULL DEFAULT 0 CHECK (archive_max_age_s >= -1),
    archive_max_rows  bigint NOT NULL DEFAULT 0 CHECK (archive_max_rows >= -1),
    dlq_max_age_s     bigint NOT NULL DEFAULT 0 CHECK (dlq_max_age_s >= -1),
    dlq_max_rows      bigint NOT NULL DEFAULT 0 CHECK (dlq_max_rows >= -1),
    run_max_age_s     bigint NOT NULL DEFAULT 0 CHECK (run_max_age_s >= -1),
    updated_at        timestamp with time zone NOT NULL DEFAULT now()
);
