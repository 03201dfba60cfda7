-- Live messages: enqueue, dequeue, visibility, release, archive, delete.
-- `now` is NULL in production (the database clock, one clock for every worker
-- machine); tests pass a value to move time without sleeping.

-- name: message_enqueue :one
-- No row when the queue does not exist (no foreign key: the queue row is read,
-- not locked; migration 0003). A visible message inserted into a queue with no
-- other visible message notifies channel pgqrs_messages (migration 0004: the
-- statement notifies, not a trigger). The probe cannot see the row this
-- statement inserts (every part of a statement reads one snapshot).
-- param: queue_id i64, payload json, delay_ms i64, producer_worker_id i64?, now timestamp?
-- returns: id i64
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
ins AS (
    INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at, producer_worker_id)
    SELECT q.id, @payload::jsonb, t.now + @delay_ms::bigint * interval '1 millisecond', t.now, @producer_worker_id::bigint
    FROM pgqrs_queues q, t
    WHERE q.id = @queue_id
    RETURNING id)
SELECT id FROM ins
WHERE (SELECT count(pg_notify('pgqrs_messages', @queue_id::text)) FROM t   -- wake-up: migration 0004
       WHERE EXISTS (SELECT FROM ins) AND @delay_ms::bigint <= 0
         AND NOT EXISTS (WITH RECURSIVE lv(p) AS (   -- a visible message at some priority level
                 SELECT CASE WHEN EXISTS (SELECT FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority > 0)
                             THEN (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id
                                   ORDER BY l.priority DESC LIMIT 1)
                             ELSE 0 END   -- the top level; no descent past dead entries when it is 0
                 UNION ALL
                 SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority < lv.p
                         ORDER BY l.priority DESC LIMIT 1)
                 FROM lv WHERE lv.p IS NOT NULL)
             SELECT FROM lv CROSS JOIN LATERAL (SELECT FROM pgqrs_messages m   -- LATERAL, ORDER BY vt: an index probe per level (verify_pg.py checks)
                                          WHERE m.queue_id = @queue_id AND m.priority = lv.p AND m.vt <= t.now ORDER BY m.vt LIMIT 1) v)) >= 0;

-- name: message_enqueue_batch :many
-- One statement for the whole batch: all rows or none. Ids come back in input
-- order; no rows when the queue does not exist. Notifies as message_enqueue
-- does, once per batch.
-- param: queue_id i64, payloads json[], delay_ms i64, producer_worker_id i64?, now timestamp?
-- returns: id i64
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
ins AS (
    INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at, producer_worker_id)
    SELECT q.id, e.value, t.now + @delay_ms::bigint * interval '1 millisecond', t.now, @producer_worker_id::bigint
    FROM pgqrs_queues q, t,
         jsonb_array_elements(@payloads::jsonb) WITH ORDINALITY AS e(value, ord)
    WHERE q.id = @queue_id
    ORDER BY e.ord
    RETURNING id)
SELECT id FROM ins
WHERE (SELECT count(pg_notify('pgqrs_messages', @queue_id::text)) FROM t   -- wake-up: migration 0004
       WHERE EXISTS (SELECT FROM ins) AND @delay_ms::bigint <= 0
         AND NOT EXISTS (WITH RECURSIVE lv(p) AS (   -- a visible message at some priority level
                 SELECT CASE WHEN EXISTS (SELECT FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority > 0)
                             THEN (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id
                                   ORDER BY l.priority DESC LIMIT 1)
                             ELSE 0 END   -- the top level; no descent past dead entries when it is 0
                 UNION ALL
                 SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority < lv.p
                         ORDER BY l.priority DESC LIMIT 1)
                 FROM lv WHERE lv.p IS NOT NULL)
             SELECT FROM lv CROSS JOIN LATERAL (SELECT FROM pgqrs_messages m   -- LATERAL, ORDER BY vt: an index probe per level (verify_pg.py checks)
                                          WHERE m.queue_id = @queue_id AND m.priority = lv.p AND m.vt <= t.now ORDER BY m.vt LIMIT 1) v)) >= 0;

-- name: message_dequeue :many
-- Claims up to @max visible messages in (priority DESC, vt, id) order: higher
-- priority first, FIFO within one priority, skipping rows other consumers hold
-- locks on and rows with a cancel request; nothing when the worker is not
-- 'ready'. `lv` walks the queue's priority levels from the highest down (one
-- descent of pgqrs_messages_claim_idx per level, computed only as far as the
-- claim needs: a queue that never uses priorities has one level). The top level
-- is 0 unless a message has a priority above 0: that probe is an empty range of
-- the index, where finding the highest priority present would read the heap for
-- every dead entry at the head of the queue's range (the rows claimed since the
-- last VACUUM), as the window then does again (migration 0012); per level the
-- window is an index range scan of vt <= now in (vt, id) order, so invisible
-- (delayed, in-flight) rows are never read (docs/design.md, "The claim").
-- The window is the next @max visible rows; those already delivered
-- max_attempts times are left for message_dead_letter (the caller runs it when a
-- claim comes back short), the others are claimed. `id = ANY(ARRAY(window))`
-- rather than a join: the window is an InitPlan and each claimed row one
-- primary-key probe, a plan that stays the same when the statement is planned
-- once for every parameter (the driver plans each statement once per session; a
-- join here becomes a sequential scan of the backlog in the generic plan).
-- param: queue_id i64, worker_id i64, max i32, vt_ms i64, max_attempts i32, now timestamp?
-- returns: pgqrs_messages.*
UPDATE pgqrs_messages m
SET vt = coalesce(@now::timestamptz, now()) + @vt_ms::bigint * interval '1 millisecond',
    read_ct = m.read_ct + 1,
    dequeued_at = coalesce(@now::timestamptz, now()),
    consumer_worker_id = @worker_id
WHERE m.id = ANY(ARRAY(
        WITH RECURSIVE lv(p) AS (
            SELECT CASE WHEN EXISTS (SELECT FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority > 0)
                        THEN (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id
                              ORDER BY l.priority DESC LIMIT 1)
                        ELSE 0 END
            UNION ALL
            SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority < lv.p
                    ORDER BY l.priority DESC LIMIT 1)
            FROM lv WHERE lv.p IS NOT NULL)
        SELECT win.id
        FROM lv CROSS JOIN LATERAL (
            SELECT w.id
            FROM pgqrs_messages w
            WHERE w.queue_id = @queue_id AND w.priority = lv.p AND w.vt <= coalesce(@now::timestamptz, now())
              AND w.cancel_requested_at IS NULL
              AND EXISTS (SELECT 1 FROM pgqrs_workers k WHERE k.id = @worker_id AND k.status = 'ready')
            ORDER BY w.vt, w.id
            LIMIT @max
            FOR UPDATE OF w SKIP LOCKED) win
        LIMIT @max))
  AND m.read_ct < @max_attempts
RETURNING m.id, m.queue_id, m.payload, m.vt, m.enqueued_at, m.read_ct, m.dequeued_at,
          m.producer_worker_id, m.consumer_worker_id, m.priority, m.unique_key, m.progress, m.cancel_requested_at;

-- name: message_dead_letter :execrows
-- Poison messages: in the next @max visible rows (the claim's window, in its
-- priority order), those already delivered max_attempts times move to the
-- archive as dead letters, in one statement, at the moment they would have been
-- delivered again. The window is an InitPlan, as in message_dequeue.
-- param: queue_id i64, max i32, max_attempts i32, now timestamp?
WITH dead AS (
    DELETE FROM pgqrs_messages m
    WHERE m.id = ANY(ARRAY(
            WITH RECURSIVE lv(p) AS (
                (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id
                 ORDER BY l.priority DESC LIMIT 1)
                UNION ALL
                SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority < lv.p
                        ORDER BY l.priority DESC LIMIT 1)
                FROM lv WHERE lv.p IS NOT NULL)
            SELECT win.id
            FROM lv CROSS JOIN LATERAL (
                SELECT w.id
                FROM pgqrs_messages w
                WHERE w.queue_id = @queue_id AND w.priority = lv.p AND w.vt <= coalesce(@now::timestamptz, now())
                  AND w.cancel_requested_at IS NULL
                ORDER BY w.vt, w.id
                LIMIT @max
                FOR UPDATE OF w SKIP LOCKED) win
            LIMIT @max))
      AND m.read_ct >= @max_attempts
    RETURNING m.*
)
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                           producer_worker_id, consumer_worker_id, reason, archived_at,
                           priority, unique_key, progress)
SELECT d.id, d.queue_id, d.payload, d.enqueued_at, d.read_ct, d.dequeued_at,
       d.producer_worker_id, d.consumer_worker_id, 'dead_letter', coalesce(@now::timestamptz, now()),
       d.priority, d.unique_key, d.progress
FROM dead d;

-- name: message_extend_vt :one
-- Sets the message's visibility to now + vt_ms, only while this worker holds it.
-- param: id i64, worker_id i64, vt_ms i64, now timestamp?
-- returns: pgqrs_messages.vt
UPDATE pgqrs_messages
SET vt = coalesce(@now::timestamptz, now()) + @vt_ms::bigint * interval '1 millisecond'
WHERE id = @id AND coalesce(consumer_worker_id, 0) = @worker_id   -- by primary key: see message_archive
RETURNING vt;

-- name: message_release :many
-- Back to pending (visible after delay_ms); only messages this worker holds.
-- param: ids i64[], worker_id i64, delay_ms i64, now timestamp?
-- returns: id i64
UPDATE pgqrs_messages
SET vt = coalesce(@now::timestamptz, now()) + @delay_ms::bigint * interval '1 millisecond',
    consumer_worker_id = NULL
WHERE id = ANY(@ids::bigint[]) AND coalesce(consumer_worker_id, 0) = @worker_id   -- by primary key: see message_archive
RETURNING id;

-- name: message_archive :many
-- Moves the messages this worker holds to the archive in one statement. The
-- rows are found by primary key; `coalesce(consumer_worker_id, 0)` keeps the
-- planner off the partial consumer index (a strict expression such as
-- `consumer_worker_id + 0` still implies its IS NOT NULL predicate), which holds
-- an entry for every message this worker ever claimed until VACUUM removes the
-- dead ones (docs/benchmarks.md: a batch of 10 read 0.48 ms through it, 0.14 ms
-- through the primary key).
-- param: ids i64[], worker_id i64, now timestamp?
-- returns: id i64
WITH moved AS (
    DELETE FROM pgqrs_messages
    WHERE id = ANY(@ids::bigint[]) AND coalesce(consumer_worker_id, 0) = @worker_id
    RETURNING *
)
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                           producer_worker_id, consumer_worker_id, reason, archived_at,
                           priority, unique_key, progress)
SELECT id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
       producer_worker_id, consumer_worker_id, 'archived', coalesce(@now::timestamptz, now()),
       priority, unique_key, progress
FROM moved
RETURNING id;

-- name: message_delete :many
-- Deletes the messages this worker holds (by primary key: see message_archive).
-- param: ids i64[], worker_id i64
-- returns: id i64
DELETE FROM pgqrs_messages
WHERE id = ANY(@ids::bigint[]) AND coalesce(consumer_worker_id, 0) = @worker_id
RETURNING id;

-- name: message_existing :many
-- Which of these ids are live messages (to tell "not owned" from "not found").
-- param: ids i64[]
-- returns: id i64
SELECT id FROM pgqrs_messages WHERE id = ANY(@ids::bigint[]) ORDER BY id;

-- name: message_get :one
-- param: id i64
-- returns: pgqrs_messages.*
SELECT id, queue_id, payload, vt, enqueued_at, read_ct, dequeued_at, producer_worker_id, consumer_worker_id,
       priority, unique_key, progress, cancel_requested_at
FROM pgqrs_messages
WHERE id = @id;

-- name: message_list :many
-- Live messages of a queue in id order, without claiming them (CLI `message read`).
-- param: queue_id i64, after_id i64, limit i32
-- returns: pgqrs_messages.*
SELECT id, queue_id, payload, vt, enqueued_at, read_ct, dequeued_at, producer_worker_id, consumer_worker_id,
       priority, unique_key, progress, cancel_requested_at
FROM pgqrs_messages
WHERE queue_id = @queue_id AND id > @after_id
ORDER BY id
LIMIT @limit;

-- name: message_purge :execrows
-- Deletes every live message of the queue.
-- param: queue_id i64
DELETE FROM pgqrs_messages WHERE queue_id = @queue_id;

-- name: message_next_vt :one
-- When the queue's next message becomes visible (a delayed one, or an expired
-- lease); NULL when the queue is empty. The least of each priority level's first
-- vt in pgqrs_messages_claim_idx (one descent per level; migration 0012 dropped
-- the (queue_id, vt, id) index the claim no longer reads).
-- param: queue_id i64
-- returns: next_vt timestamp?
WITH RECURSIVE lv(p) AS (
    SELECT CASE WHEN EXISTS (SELECT FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority > 0)
                THEN (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id
                      ORDER BY l.priority DESC LIMIT 1)
                ELSE 0 END   -- the top level; no descent past dead entries when it is 0
    UNION ALL
    SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority < lv.p
            ORDER BY l.priority DESC LIMIT 1)
    FROM lv WHERE lv.p IS NOT NULL)
SELECT min((SELECT m.vt FROM pgqrs_messages m WHERE m.queue_id = @queue_id AND m.priority = lv.p
            ORDER BY m.vt LIMIT 1)) AS next_vt
FROM lv WHERE lv.p IS NOT NULL;

-- name: queue_listen :exec
-- Subscribes this session to the notifications of migration 0002 (every queue
-- shares the channel; the payload is the queue id). Session-scoped: not used
-- through PgBouncer.
LISTEN pgqrs_messages;

-- ---- the worker runtime (src/runtime/): settle many at once, lease extension ----

-- name: message_settle :many
-- Moves the messages this worker holds to the archive in one statement, each
-- with its result (results[i] belongs to ids[i]; JSON null = no result), as
-- `reason`: 'archived' for a finished job, 'dead_letter' for a failed one.
-- param: ids i64[], results json[], reason enum:archive_reason, worker_id i64, now timestamp?
-- returns: id i64
WITH moved AS (   -- by primary key, as message_archive: a join with the ids plans a Seq Scan on an empty table
    DELETE FROM pgqrs_messages m
    WHERE m.id = ANY(@ids::bigint[]) AND coalesce(m.consumer_worker_id, 0) = @worker_id
    RETURNING m.id, m.queue_id, m.payload, m.enqueued_at, m.read_ct, m.dequeued_at,
              m.producer_worker_id, m.consumer_worker_id, m.priority, m.unique_key, m.progress
)
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                           producer_worker_id, consumer_worker_id, reason, archived_at, result,
                           priority, unique_key, progress)
SELECT id, queue_id, payload, enqueued_at, read_ct, dequeued_at, producer_worker_id, consumer_worker_id,
       @reason, coalesce(@now::timestamptz, now()),
       nullif(@results::jsonb -> (array_position(@ids::bigint[], id) - 1), 'null'::jsonb), priority, unique_key, progress
FROM moved
RETURNING id;

-- name: message_retry :many
-- Back to pending, each visible after its own delay (delays_ms[i] belongs to
-- ids[i]: the retry policy's next delay, computed by the caller); only messages
-- this worker holds. The read count is the claim's: a retry is one delivery.
-- param: ids i64[], delays_ms i64[], worker_id i64, now timestamp?
-- returns: id i64
UPDATE pgqrs_messages m   -- by primary key, as message_settle
SET vt = coalesce(@now::timestamptz, now())
         + (@delays_ms::bigint[])[array_position(@ids::bigint[], m.id)] * interval '1 millisecond',
    consumer_worker_id = NULL
WHERE m.id = ANY(@ids::bigint[]) AND coalesce(m.consumer_worker_id, 0) = @worker_id
RETURNING m.id;

-- name: message_extend_held :execrows
-- The lease extension: each of these messages that one of these workers still
-- holds becomes invisible for vt_ms from now, in one statement. Rows locked by a
-- transaction settling them are skipped (they are leaving; waiting for them
-- could deadlock with it).
-- param: ids i64[], worker_ids i64[], vt_ms i64, now timestamp?
WITH held AS (
    SELECT id FROM pgqrs_messages
    WHERE id = ANY(@ids::bigint[]) AND coalesce(consumer_worker_id, 0) = ANY(@worker_ids::bigint[])
    FOR UPDATE SKIP LOCKED
)
UPDATE pgqrs_messages m
SET vt = coalesce(@now::timestamptz, now()) + @vt_ms::bigint * interval '1 millisecond'
FROM held
WHERE m.id = held.id;

-- name: message_unclaim :many
-- Gives back messages this worker claimed and never started: pending now, and
-- the claim's delivery is not counted (read_ct goes back down by one).
-- param: ids i64[], worker_id i64, now timestamp?
-- returns: id i64
UPDATE pgqrs_messages
SET vt = coalesce(@now::timestamptz, now()),
    read_ct = greatest(read_ct - 1, 0),
    consumer_worker_id = NULL
WHERE id = ANY(@ids::bigint[]) AND coalesce(consumer_worker_id, 0) = @worker_id
RETURNING id;
