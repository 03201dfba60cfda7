-- pgqrs schema v1 for SQLite. Timestamps are INTEGER microseconds since the Unix
-- epoch (UTC). Applied in one BEGIN IMMEDIATE transaction by pgqrs_admin_install;
-- its checksum is recorded in pgqrs_schema_version, so never edit it once released.
-- AUTOINCREMENT keeps ids from being reused after the newest row is deleted: an
-- archived message keeps its id, so a reused id would collide in pgqrs_archive.

CREATE TABLE pgqrs_queues (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    max_attempts INTEGER NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    created_at   INTEGER NOT NULL
);

CREATE TABLE pgqrs_workers (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id     INTEGER REFERENCES pgqrs_queues (id) ON DELETE SET NULL,
    hostname     TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('producer', 'consumer', 'admin', 'workflow')),
    status       TEXT NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'suspended', 'stopped')),
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    stopped_at   INTEGER
);
CREATE INDEX pgqrs_workers_heartbeat_idx ON pgqrs_workers (heartbeat_at) WHERE status <> 'stopped';
CREATE INDEX pgqrs_workers_queue_status_idx ON pgqrs_workers (queue_id, status);

CREATE TABLE pgqrs_messages (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id           INTEGER NOT NULL REFERENCES pgqrs_queues (id) ON DELETE CASCADE,
    payload            TEXT NOT NULL CHECK (json_valid(payload)),
    vt                 INTEGER NOT NULL,
    enqueued_at        INTEGER NOT NULL,
    read_ct            INTEGER NOT NULL DEFAULT 0 CHECK (read_ct >= 0),
    dequeued_at        INTEGER,
    producer_worker_id INTEGER,
    consumer_worker_id INTEGER REFERENCES pgqrs_workers (id) ON DELETE SET NULL
);
CREATE INDEX pgqrs_messages_dequeue_idx ON pgqrs_messages (queue_id, vt, id);
CREATE INDEX pgqrs_messages_consumer_idx ON pgqrs_messages (consumer_worker_id)
    WHERE consumer_worker_id IS NOT NULL;

CREATE TABLE pgqrs_archive (
    id                 INTEGER PRIMARY KEY,
    queue_id           INTEGER NOT NULL REFERENCES pgqrs_queues (id) ON DELETE CASCADE,
    payload            TEXT NOT NULL,
    enqueued_at        INTEGER NOT NULL,
    read_ct            INTEGER NOT NULL CHECK (read_ct >= 0),
    dequeued_at        INTEGER,
    producer_worker_id INTEGER,
    consumer_worker_id INTEGER,
    reason             TEXT NOT NULL CHECK (reason IN ('archived', 'dead_letter')),
    archived_at        INTEGER NOT NULL
);
CREATE INDEX pgqrs_archive_queue_reason_idx ON pgqrs_archive (queue_id, reason, archived_at);

CREATE TABLE pgqrs_workflows (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    queue_id     INTEGER NOT NULL REFERENCES pgqrs_queues (id) ON DELETE RESTRICT,
    retry_policy TEXT NOT NULL CHECK (json_valid(retry_policy)),
    created_at   INTEGER NOT NULL
);

CREATE TABLE pgqrs_workflow_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id     INTEGER NOT NULL REFERENCES pgqrs_workflows (id) ON DELETE CASCADE,
    status          TEXT NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'RUNNING', 'SUCCESS', 'ERROR', 'CANCELLING', 'CANCELLED')),
    input           TEXT,
    output          TEXT,
    error           TEXT,
    idempotency_key TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    worker_id       INTEGER,
    retry_at        INTEGER,
    cancel_reason   TEXT,
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    completed_at    INTEGER,
    cancelled_at    INTEGER,
    updated_at      INTEGER NOT NULL,
    UNIQUE (workflow_id, idempotency_key)
);
CREATE INDEX pgqrs_workflow_runs_list_idx ON pgqrs_workflow_runs (workflow_id, status, created_at);

CREATE TABLE pgqrs_workflow_steps (
    run_id       INTEGER NOT NULL REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
    step_id      TEXT NOT NULL CHECK (length(step_id) BETWEEN 1 AND 256),
    status       TEXT NOT NULL CHECK (status IN ('RUNNING', 'SUCCESS', 'ERROR')),
    output       TEXT,
    error        TEXT,
    attempts     INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 0),
    retry_at     INTEGER,
    -- the worker executing a RUNNING step, and until when its claim holds
    worker_id    INTEGER,
    lease_until  INTEGER,
    started_at   INTEGER NOT NULL,
    completed_at INTEGER,
    PRIMARY KEY (run_id, step_id)
);
