-- The cancel sweep's partial index without vt (issue 17, the drain of a queue
-- that uses none of the job features). SQLite maintains an index in an UPDATE
-- only when the statement changes one of its columns or a column of its WHERE
-- clause; every claim, release and lease extension changes vt, so with vt in
-- it each of them evaluated the index's predicate for the old and the new row
-- of every message. Keyed by (queue_id, id), the sweep (queries/sqlite/jobs.sql,
-- message_cancel_sweep) reads the queue's cancel-requested rows, a handful at
-- most, and orders them by vt itself. PostgreSQL keeps migration 0010's index:
-- a claim there is never a HOT update (vt is in the claim index), and a partial
-- index takes an entry only when its predicate holds, whatever its columns.
-- Turso reads this file too.
DROP INDEX pgqrs_messages_cancel_idx;
CREATE INDEX pgqrs_messages_cancel_idx ON pgqrs_messages (queue_id, id) WHERE cancel_requested_at IS NOT NULL;
