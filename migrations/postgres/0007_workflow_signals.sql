-- Workflows that talk (issue 19): messages sent to a run, the events a run
-- publishes, child runs, the wait of a suspended run, and deleting a workflow.
--
-- A message sent to a run waits here until the run's recv consumes it: the
-- statement that consumes it also stores it as the recv step's output, so it is
-- consumed exactly once and replayed from the step afterwards.
CREATE TABLE pgqrs_workflow_messages (
    id         bigserial PRIMARY KEY,
    run_id     bigint NOT NULL REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
    topic      text NOT NULL CHECK (length(topic) BETWEEN 1 AND 256),
    payload    jsonb NOT NULL,
    created_at timestamp with time zone NOT NULL
);
CREATE INDEX pgqrs_workflow_messages_recv_idx ON pgqrs_workflow_messages (run_id, topic, id);

-- Key/value events of a run; the last write of a key wins.
CREATE TABLE pgqrs_workflow_events (
    run_id     bigint NOT NULL REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
    key        text NOT NULL CHECK (length(key) BETWEEN 1 AND 256),
    value      jsonb NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    PRIMARY KEY (run_id, key)
);

-- The child runs a run started, one per step of the parent.
CREATE TABLE pgqrs_workflow_children (
    parent_run_id bigint NOT NULL REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
    step_id       text NOT NULL,
    child_run_id  bigint NOT NULL REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
    PRIMARY KEY (parent_run_id, step_id)
);
CREATE INDEX pgqrs_workflow_children_child_idx ON pgqrs_workflow_children (child_run_id);

-- What a suspended run waits for (a message on topic, or the end of
-- child_run_id) and until when, with its run message: whoever makes the wait
-- ready (a send, the child's end) makes that message visible at once.
CREATE TABLE pgqrs_workflow_waits (
    run_id       bigint PRIMARY KEY REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
    step_id      text NOT NULL,
    topic        text,
    child_run_id bigint,
    message_id   bigint NOT NULL,
    until        timestamp with time zone NOT NULL
);
CREATE INDEX pgqrs_workflow_waits_child_idx ON pgqrs_workflow_waits (child_run_id) WHERE child_run_id IS NOT NULL;

-- Deletes workflow wf with its runs (their steps, messages, events, children
-- and waits go by cascade) and its queue with that queue's messages and
-- archive, unless runs are in flight (PENDING, RUNNING, CANCELLING) and force is
-- false: then nothing. Returns the queue's id when deleted. Like
-- pgqrs_queue_delete_rows (0003) it first waits at most 5 s for transactions
-- writing messages.
CREATE FUNCTION pgqrs_workflow_delete_rows(wf bigint, force boolean) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
    q bigint;
BEGIN
    PERFORM set_config('lock_timeout', '5s', true);
    LOCK TABLE pgqrs_messages IN SHARE MODE;
    SELECT queue_id INTO q FROM pgqrs_workflows WHERE id = wf FOR UPDATE;
    IF q IS NULL THEN
        RETURN;
    END IF;
    IF NOT force AND EXISTS (SELECT 1 FROM pgqrs_workflow_runs
                             WHERE workflow_id = wf AND status IN ('PENDING', 'RUNNING', 'CANCELLING')) THEN
        RETURN;
    END IF;
    DELETE FROM pgqrs_workflow_runs WHERE workflow_id = wf;
    DELETE FROM pgqrs_workflows WHERE id = wf;
    DELETE FROM pgqrs_messages WHERE queue_id = q;
    DELETE FROM pgqrs_archive WHERE queue_id = q;
    RETURN QUERY DELETE FROM pgqrs_queues WHERE id = q RETURNING id;
END
$$;
