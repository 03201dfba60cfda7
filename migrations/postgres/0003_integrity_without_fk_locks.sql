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
