-- Job features (issue 17): priorities, unique keys, cancellation, progress and
-- per-queue limits. The claim statements are in queries/sqlite/messages.sql;
-- this file only adds the columns (the library checks ranges before it writes;
-- PostgreSQL's migration also has CHECKs). Turso reads this file too.
--
-- priority: higher runs first, FIFO (vt, id) within one priority. unique_key:
-- unique among the queue's live rows only. cancel_requested_at: a cancel of an
-- in-flight message; it is never delivered again. progress: the last small JSON
-- value the worker holding the message stored.
ALTER TABLE pgqrs_messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pgqrs_messages ADD COLUMN unique_key TEXT;
ALTER TABLE pgqrs_messages ADD COLUMN progress TEXT;
ALTER TABLE pgqrs_messages ADD COLUMN cancel_requested_at INTEGER;
CREATE UNIQUE INDEX pgqrs_messages_unique_key_idx ON pgqrs_messages (queue_id, unique_key)
    WHERE unique_key IS NOT NULL;

-- The archive keeps what the live row had and learns the reason 'cancelled'.
-- SQLite cannot change a CHECK in place, so the table is rebuilt (rows, index).
CREATE TABLE pgqrs_archive_new (
    id                 INTEGER PRIMARY KEY,
    queue_id           INTEGER NOT NULL REFERENCES pgqrs_queues (id) ON DELETE CASCADE,
    payload            TEXT NOT NULL,
    enqueued_at        INTEGER NOT NULL,
    read_ct            INTEGER NOT NULL CHECK (read_ct >= 0),
    dequeued_at        INTEGER,
    producer_worker_id INTEGER,
    consumer_worker_id INTEGER,
    reason             TEXT NOT NULL CHECK (reason IN ('archived', 'dead_letter', 'cancelled')),
    archived_at        INTEGER NOT NULL,
    result             TEXT,
    priority           INTEGER NOT NULL DEFAULT 0,
    unique_key         TEXT,
    progress           TEXT
);
INSERT INTO pgqrs_archive_new (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                               producer_worker_id, consumer_worker_id, reason, archived_at, result)
SELECT id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
       producer_worker_id, consumer_worker_id, reason, archived_at, result
FROM pgqrs_archive;
DROP TABLE pgqrs_archive;
ALTER TABLE pgqrs_archive_new RENAME TO pgqrs_archive;
CREATE INDEX pgqrs_archive_queue_reason_idx ON pgqrs_archive (queue_id, reason, archived_at);

-- Per-queue limits; NULL = no limit.
ALTER TABLE pgqrs_queues ADD COLUMN concurrency_limit INTEGER;
ALTER TABLE pgqrs_queues ADD COLUMN rate_limit INTEGER;
ALTER TABLE pgqrs_queues ADD COLUMN rate_period_ms INTEGER;
