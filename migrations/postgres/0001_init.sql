-- pgqrs schema v1 for PostgreSQL. Applied in one transaction by pgqrs_admin_install;
-- its checksum is recorded in pgqrs_schema_version, so never edit it once released:
-- add 0002_*.sql instead.

CREATE TABLE pgqrs_queues (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    created_at   timestamp with time zone NOT NULL DEFAULT now()
);

CREATE TABLE pgqrs_workers (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_id     bigint REFERENCES pgqrs_queues (id) ON DELETE SET NULL,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('producer', 'consumer', 'admin', 'workflow')),
    status       text NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'suspended', 'stopped')),
    started_at   timestamp with time zone NOT NULL DEFAULT now(),
    heartbeat_at timestamp with time zone NOT NULL DEFAULT now(),
    stopped_at   timestamp with time zone
);
-- zombie detection scans by heartbeat; listing and health group by queue and status
CREATE INDEX pgqrs_workers_heartbeat_idx ON pgqrs_workers (heartbeat_at) WHERE status <> 'stopped';
CREATE INDEX pgqrs_workers_queue_status_idx ON pgqrs_workers (queue_id, status);

-- Live messages only. Archived and dead-lettered rows move to pgqrs_archive so the
-- dequeue index stays as small as the backlog (docs/design.md).
CREATE TABLE pgqrs_messages (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_id           bigint NOT NULL REFERENCES pgqrs_queues (id) ON DELETE CASCADE,
    payload            jsonb NOT NULL,
    vt                 timestamp with time zone NOT NULL DEFAULT now(),
    enqueued_at        timestamp with time zone NOT NULL DEFAULT now(),
    read_ct            integer NOT NULL DEFAULT 0 CHECK (read_ct >= 0),
    dequeued_at        timestamp with time zone,
    -- informational: no foreign key, so enqueue never pays a worker lookup
    producer_worker_id bigint,
    consumer_worker_id bigint REFERENCES pgqrs_workers (id) ON DELETE SET NULL
);
-- the dequeue walks this index in (vt, id) order and stops after LIMIT rows
CREATE INDEX pgqrs_messages_dequeue_idx ON pgqrs_messages (queue_id, vt, id);
-- ownership checks, zombie reclaim and the ON DELETE SET NULL above
CREATE INDEX pgqrs_messages_consumer_idx ON pgqrs_messages (consumer_worker_id)
    WHERE consumer_worker_id IS NOT NULL;

CREATE TABLE pgqrs_archive (
    id                 bigint PRIMARY KEY,
    queue_id           bigint NOT NULL REFERENCES pgqrs_queues (id) ON DELETE CASCADE,
    payload            jsonb NOT NULL,
    enqueued_at        timestamp with time zone NOT NULL,
    read_ct            integer NOT NULL CHECK (read_ct >= 0),
    dequeued_at        timestamp with time zone,
    producer_worker_id bigint,
    consumer_worker_id bigint,
    reason             text NOT NULL CHECK (reason IN ('archived', 'dead_letter')),
    archived_at        timestamp with time zone NOT NULL DEFAULT now()
);
-- DLQ listing, per-queue counts and the retention purge by age
CREATE INDEX pgqrs_archive_queue_reason_idx ON pgqrs_archive (queue_id, reason, archived_at);

CREATE TABLE pgqrs_workflows (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    queue_id     bigint NOT NULL REFERENCES pgqrs_queues (id) ON DELETE RESTRICT,
    retry_policy jsonb NOT NULL,
    created_at   timestamp with time zone NOT NULL DEFAULT now()
);

CREATE TABLE pgqrs_workflow_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id     bigint NOT NULL REFERENCES pgqrs_workflows (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'RUNNING', 'SUCCESS', 'ERROR', 'CANCELLING', 'CANCELLED')),
    input           jsonb,
    output          jsonb,
    error           jsonb,
    idempotency_key text,
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    worker_id       bigint,
    retry_at        timestamp with time zone,
    cancel_reason   text,
    created_at      timestamp with time zone NOT NULL DEFAULT now(),
    started_at      timestamp with time zone,
    completed_at    timestamp with time zone,
    cancelled_at    timestamp with time zone,
    updated_at      timestamp with time zone NOT NULL DEFAULT now(),
    UNIQUE (workflow_id, idempotency_key)
);
CREATE INDEX pgqrs_workflow_runs_list_idx ON pgqrs_workflow_runs (workflow_id, status, created_at);

CREATE TABLE pgqrs_workflow_steps (
    run_id       bigint NOT NULL REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
    step_id      text NOT NULL CHECK (length(step_id) BETWEEN 1 AND 256),
    status       text NOT NULL CHECK (status IN ('RUNNING', 'SUCCESS', 'ERROR')),
    output       jsonb,
    error        jsonb,
    attempts     integer NOT NULL DEFAULT 1 CHECK (attempts >= 0),
    retry_at     timestamp with time zone,
    -- the worker executing a RUNNING step, and until when its claim holds
    worker_id    bigint,
    lease_until  timestamp with time zone,
    started_at   timestamp with time zone NOT NULL DEFAULT now(),
    completed_at timestamp with time zone,
    PRIMARY KEY (run_id, step_id)
);
