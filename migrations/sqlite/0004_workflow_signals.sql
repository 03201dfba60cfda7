-- Workflows that talk (issue 19): messages sent to a run, the events a run
-- publishes, child runs, and the wait of a suspended run. Deleting a workflow
-- needs no DDL here: its runs, and everything below them, go by cascade.
-- Turso reads this file too.

-- A message sent to a run waits here until the run's recv consumes it (in the
-- transaction that stores it as the recv step's output).
CREATE TABLE pgqrs_workflow_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     INTEGER NOT NULL REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
    topic      TEXT NOT NULL CHECK (length(topic) BETWEEN 1 AND 256),
    payload    TEXT NOT NULL CHECK (json_valid(payload)),
    created_at INTEGER NOT NULL
);
CREATE INDEX pgqrs_workflow_messages_recv_idx ON pgqrs_workflow_messages (run_id, topic, id);

-- Key/value events of a run; the last write of a key wins.
CREATE TABLE pgqrs_workflow_events (
    run_id     INTEGER NOT NULL REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
    key        TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 256),
    value      TEXT NOT NULL CHECK (json_valid(value)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, key)
);

-- The child runs a run started, one per step of the parent.
CREATE TABLE pgqrs_workflow_children (
    parent_run_id INTEGER NOT NULL REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
    step_id       TEXT NOT NULL,
    child_run_id  INTEGER NOT NULL REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
    PRIMARY KEY (parent_run_id, step_id)
);
CREATE INDEX pgqrs_workflow_children_child_idx ON pgqrs_workflow_children (child_run_id);

-- What a suspended run waits for (a message on topic, or the end of
-- child_run_id) and until when, with its run message.
CREATE TABLE pgqrs_workflow_waits (
    run_id       INTEGER PRIMARY KEY REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
    step_id      TEXT NOT NULL,
    topic        TEXT,
    child_run_id INTEGER,
    message_id   INTEGER NOT NULL,
    until        INTEGER NOT NULL
);
CREATE INDEX pgqrs_workflow_waits_child_idx ON pgqrs_workflow_waits (child_run_id) WHERE child_run_id IS NOT NULL;
