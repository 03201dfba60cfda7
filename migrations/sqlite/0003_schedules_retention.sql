-- Schedules (docs/schedules.md) and retention policies. Self-contained: it may be
-- renumbered before release, never split. Exactly once per tick: the query that
-- creates a tick's job moves next_at on, guarded by its old value, and inserts
-- the tick's row, whose primary key refuses a second one (the whole query is one
-- BEGIN IMMEDIATE transaction; on Turso one batch).

CREATE TABLE pgqrs_schedules (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    cron            TEXT NOT NULL CHECK (length(cron) BETWEEN 1 AND 256),
    timezone        TEXT NOT NULL DEFAULT 'UTC',
    queue_id        INTEGER REFERENCES pgqrs_queues (id) ON DELETE RESTRICT,
    workflow_id     INTEGER REFERENCES pgqrs_workflows (id) ON DELETE RESTRICT,
    target          TEXT NOT NULL,
    payload         TEXT CHECK (payload IS NULL OR json_valid(payload)),
    overlap         TEXT NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'allow')),
    misfire         TEXT NOT NULL DEFAULT 'skip' CHECK (misfire IN ('skip', 'latest')),
    misfire_grace_s INTEGER NOT NULL DEFAULT 60 CHECK (misfire_grace_s >= 0),
    paused          INTEGER NOT NULL DEFAULT 0,
    next_at         INTEGER NOT NULL,
    last_tick_at    INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((queue_id IS NULL) <> (workflow_id IS NULL))
);
CREATE INDEX pgqrs_schedules_due_idx ON pgqrs_schedules (next_at) WHERE paused = 0;

CREATE TABLE pgqrs_schedule_ticks (
    schedule_id INTEGER NOT NULL REFERENCES pgqrs_schedules (id) ON DELETE CASCADE,
    tick_at     INTEGER NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('fired', 'skipped')),
    message_id  INTEGER,
    run_id      INTEGER,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (schedule_id, tick_at)
);
CREATE INDEX pgqrs_schedule_ticks_fired_idx ON pgqrs_schedule_ticks (schedule_id, tick_at) WHERE outcome = 'fired';

CREATE TABLE pgqrs_retention_default (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    archive_max_age_s INTEGER NOT NULL DEFAULT 0 CHECK (archive_max_age_s >= -1),
    archive_max_rows  INTEGER NOT NULL DEFAULT 0 CHECK (archive_max_rows >= -1),
    dlq_max_age_s     INTEGER NOT NULL DEFAULT 0 CHECK (dlq_max_age_s >= -1),
    dlq_max_rows      INTEGER NOT NULL DEFAULT 0 CHECK (dlq_max_rows >= -1),
    run_max_age_s     INTEGER NOT NULL DEFAULT 0 CHECK (run_max_age_s >= -1),
    updated_at        INTEGER NOT NULL
);

CREATE TABLE pgqrs_retention (
    queue_id          INTEGER PRIMARY KEY REFERENCES pgqrs_queues (id) ON DELETE CASCADE,
    archive_max_age_s INTEGER NOT NULL DEFAULT 0 CHECK (archive_max_age_s >= -1),
    archive_max_rows  INTEGER NOT NULL DEFAULT 0 CHECK (archive_max_rows >= -1),
    dlq_max_age_s     INTEGER NOT NULL DEFAULT 0 CHECK (dlq_max_age_s >= -1),
    dlq_max_rows      INTEGER NOT NULL DEFAULT 0 CHECK (dlq_max_rows >= -1),
    run_max_age_s     INTEGER NOT NULL DEFAULT 0 CHECK (run_max_age_s >= -1),
    updated_at        INTEGER NOT NULL
);
