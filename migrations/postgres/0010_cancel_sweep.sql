-- Cancellation (issue 17): claims skip messages with a cancel request, so a
-- cancel-requested message whose holder died stays visible until a short claim
-- sweeps it into the archive as 'cancelled' (queries/postgres/jobs.sql,
-- message_cancel_sweep). This partial index holds only those rows, so the sweep
-- is one probe of an (almost always) empty index and costs nothing else.
CREATE INDEX pgqrs_messages_cancel_idx ON pgqrs_messages (queue_id, vt, id) WHERE cancel_requested_at IS NOT NULL;
