-- The hot path without foreign-key row locks (docs/design.md, "Integrity
-- without foreign-key locks"). Each of these three foreign keys made every
-- claim, archive or enqueue take a FOR KEY SHARE row lock on a worker or queue
-- row (a WAL record, and a MultiXact once several consumers or producers share
-- the row), through a per-row trigger. The guarantees stay, enforced here:
--   * a message or archived message never names a missing queue, and one never
--     names a missing worker: the statements that write rows naming them read the
--     queue / worker row (enqueue: the queue exists; claim: the worker is ready),
--     and the only two deletions of those rows (pgqrs_queue_delete_rows,
--     pgqrs_worker_purge below) first take a SHARE lock on pgqrs_messages. That
--     lock waits for every transaction writing pgqrs_messages to end, and a writer
--     that comes later takes its lock before its snapshot (PostgreSQL acquires
--     relation locks before taking the statement's snapshot), so it sees the
--     deletion. Every statement that creates such a row writes pgqrs_messages.
--   * deleting a queue deletes its messages and archive explicitly (no cascade).

ALTER TABLE pgqrs_messages DROP CONSTRAINT pgqrs_messages_queue_id_fkey;
ALTER TABLE pgqrs_messages DROP CONSTRAINT pgqrs_messages_consumer_worker_id_fkey;
ALTER TABLE pgqrs_archive DROP CONSTRAINT pgqrs_archive_queue_id_fkey;

-- Every message row is written twice (claim, archive) and dies within seconds:
-- vacuum the live table early, or each claim walks more dead entries at the head
-- of its index (2.5 buffer reads per claim per 1,000 messages consumed since the
-- last VACUUM, docs/benchmarks.md).
ALTER TABLE pgqrs_messages SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                                autovacuum_vacuum_cost_delay = 0);

-- Deletes queue q with its messages and archive, unless it holds live messages
-- and force is false (then nothing). Returns q when it was deleted. Waits at
-- most 5 s for transactions writing messages (then SQLSTATE 55P03).
CREATE FUNCTION pgqrs_queue_delete_rows(q bigint, force boolean) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('lock_timeout', '5s', true);
    LOCK TABLE pgqrs_messages IN SHARE MODE;
    -- each statement below sees every write committed before the lock
    IF NOT force AND EXISTS (SELECT 1 FROM pgqrs_messages WHERE queue_id = q) THEN
        RETURN;
    END IF;
    DELETE FROM pgqrs_messages WHERE queue_id = q;
    DELETE FROM pgqrs_archive WHERE queue_id = q;
    RETURN QUERY DELETE FROM pgqrs_queues WHERE id = q RETURNING id;
END
$$;

-- Deletes the workers stopped, or silent, since before that hold no messages.
-- Returns their ids. Waits at most 5 s for transactions writing messages.
CREATE FUNCTION pgqrs_worker_purge(before timestamp with time zone) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('lock_timeout', '5s', true);
    LOCK TABLE pgqrs_messages IN SHARE MODE;
    RETURN QUERY
    DELETE FROM pgqrs_workers w
    WHERE (w.status = 'stopped' AND coalesce(w.stopped_at, w.heartbeat_at) < before OR w.heartbeat_at < before)
      AND NOT EXISTS (SELECT 1 FROM pgqrs_messages m WHERE m.consumer_worker_id = w.id)
    RETURNING w.id;
END
$$;

-- Wake-ups without serialising producers. A NOTIFY makes its transaction take
-- a database-wide lock at commit, so notifying producers commit one at a time
-- (four single-message producers: 4,370 msg/s when every insert notified, 9,782
-- with no notification at all; docs/benchmarks.md). A consumer waits only after
-- a claim found nothing visible, and it LISTENs before that claim. So an insert
-- notifies only when, apart from its own rows, the queue has no visible message:
-- when it has one, either a consumer claimed that one and comes back for more
-- when done (the runtime and pgqrs_dequeue_wait loop until the queue is empty),
-- or the insert of that one notified the waiting consumers itself. The rows this
-- statement sees that it did not insert all have smaller ids (ids come from one
-- sequence, allocated after the snapshot a row must precede to be seen), so
-- "visible, with an id below the first one inserted" is one probe of the dequeue
-- index.
CREATE OR REPLACE FUNCTION pgqrs_notify_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- LATERAL ... ORDER BY ... LIMIT 1: the oldest visible message on the dequeue
    -- index (a NOT EXISTS here is planned as a hash anti-join over the whole table)
    PERFORM pg_notify('pgqrs_messages', q.queue_id::text)
    FROM (SELECT i.queue_id, min(i.id) AS first_id FROM inserted i GROUP BY i.queue_id) q
    LEFT JOIN LATERAL (SELECT m.id FROM pgqrs_messages m
                       WHERE m.queue_id = q.queue_id AND m.vt <= now() AND m.id < q.first_id
                       ORDER BY m.queue_id, m.vt, m.id
                       LIMIT 1) older ON true
    WHERE older.id IS NULL;
    RETURN NULL;
END
$$;
