-- Job features (issue 17): priorities, unique keys, cancellation, progress and
-- per-queue limits. The claim statements and their index choices are in
-- queries/postgres/messages.sql; this file only adds the columns.
--
-- priority: higher runs first, FIFO (vt, id) within one priority; 0 for every
-- existing row. unique_key: unique among the queue's live rows only (the archive
-- keeps the key of a finished job, so the key can be used again).
-- cancel_requested_at: set by a cancel of an in-flight message; its worker sees
-- it and the message is never delivered again. progress: the last small JSON
-- value the worker holding the message stored.
ALTER TABLE pgqrs_messages
    ADD COLUMN priority integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN -32768 AND 32767),
    ADD COLUMN unique_key text CHECK (octet_length(unique_key) BETWEEN 1 AND 512),
    ADD COLUMN progress jsonb,
    ADD COLUMN cancel_requested_at timestamp with time zone;
CREATE UNIQUE INDEX pgqrs_messages_unique_key_idx ON pgqrs_messages (queue_id, unique_key)
    WHERE unique_key IS NOT NULL;

-- The archive keeps what the live row had, and learns the reason 'cancelled'.
ALTER TABLE pgqrs_archive
    ADD COLUMN priority integer NOT NULL DEFAULT 0,
    ADD COLUMN unique_key text,
    ADD COLUMN progress jsonb;
ALTER TABLE pgqrs_archive
    DROP CONSTRAINT pgqrs_archive_reason_check,
    ADD CONSTRAINT pgqrs_archive_reason_check CHECK (reason IN ('archived', 'dead_letter', 'cancelled'));

-- Per-queue limits; NULL = no limit. At most concurrency_limit messages of the
-- queue in flight; at most rate_limit claims per rate_period_ms.
ALTER TABLE pgqrs_queues
    ADD COLUMN concurrency_limit integer CHECK (concurrency_limit BETWEEN 1 AND 1000000),
    ADD COLUMN rate_limit integer CHECK (rate_limit BETWEEN 1 AND 1000000000),
    ADD COLUMN rate_period_ms bigint CHECK (rate_period_ms BETWEEN 1 AND 31622400000),
    ADD CONSTRAINT pgqrs_queues_rate_check CHECK ((rate_limit IS NULL) = (rate_period_ms IS NULL));
