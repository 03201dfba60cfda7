-- Archive and dead-letter queue: listing, counting, replay, retention.

-- name: archive_list :many
-- Archived or dead-lettered rows of a queue in id order, after after_id.
-- param: queue_id i64, reason enum:archive_reason, after_id i64, limit i32
-- returns: pgqrs_archive.*
SELECT id, queue_id, payload, enqueued_at, read_ct, dequeued_at, producer_worker_id,
       consumer_worker_id, reason, archived_at, result, priority, unique_key, progress
FROM pgqrs_archive
WHERE queue_id = @queue_id AND reason = @reason AND id > @after_id
ORDER BY id
LIMIT @limit;

-- name: archive_get :one
-- param: id i64
-- returns: pgqrs_archive.*
SELECT id, queue_id, payload, enqueued_at, read_ct, dequeued_at, producer_worker_id,
       consumer_worker_id, reason, archived_at, result, priority, unique_key, progress
FROM pgqrs_archive
WHERE id = @id;

-- name: archive_count :one
-- param: queue_id i64, reason enum:archive_reason
-- returns: n i64
SELECT count(*) AS n FROM pgqrs_archive WHERE queue_id = @queue_id AND reason = @reason;

-- name: dlq_replay :many
-- Moves dead letters of the queue back to the live table as new messages (read
-- count 0, visible now): the given ids, or with all, the oldest up to limit.
-- Returns the dead-letter ids moved.
-- param: queue_id i64, ids i64[], all bool, limit i32, now timestamp?
-- returns: id i64
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
gone AS (
    DELETE FROM pgqrs_archive
    WHERE id IN (SELECT a.id FROM pgqrs_archive a
                 WHERE a.queue_id = @queue_id AND a.reason = 'dead_letter'
                   AND (@all::boolean OR a.id = ANY(@ids::bigint[]))
                 ORDER BY a.id
                 LIMIT @limit)
    RETURNING id, queue_id, payload
),
moved AS (
    INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at)
    SELECT g.queue_id, g.payload, t.now, t.now
    FROM gone g, t
    ORDER BY g.id
)
SELECT id FROM gone
WHERE (SELECT count(pg_notify('pgqrs_messages', @queue_id::text)) FROM t   -- wake-up: migration 0004
       WHERE EXISTS (SELECT FROM gone)
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
                                          WHERE m.queue_id = @queue_id AND m.priority = lv.p AND m.vt <= t.now ORDER BY m.vt LIMIT 1) v)) >= 0
ORDER BY id;

-- name: archive_purge :execrows
-- Retention: deletes archived (not dead-lettered) rows archived before `before`,
-- for one queue or, with queue_id NULL, for all.
-- param: queue_id i64?, before timestamp
DELETE FROM pgqrs_archive
WHERE reason = 'archived' AND archived_at < @before
  AND (@queue_id::bigint IS NULL OR queue_id = @queue_id::bigint);

-- name: queue_metrics :many
-- Per queue: pending (visible now), in flight (held, lease live), delayed (not
-- yet visible, not held), archived, dead-lettered, and the enqueue time of the
-- oldest pending message. One queue, or with queue_id NULL all of them.
-- param: queue_id i64?, now timestamp?
-- returns: queue_id i64, name text, pending i64, in_flight i64, delayed i64, archived i64, dead_lettered i64, oldest_pending_at timestamp?
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now)
SELECT q.id AS queue_id, q.name,
       coalesce(m.pending, 0) AS pending,
       coalesce(m.in_flight, 0) AS in_flight,
       coalesce(m.delayed, 0) AS delayed,
       coalesce(a.archived, 0) AS archived,
       coalesce(a.dead_lettered, 0) AS dead_lettered,
       m.oldest_pending_at
FROM pgqrs_queues q
LEFT JOIN (
    SELECT mm.queue_id,
           count(*) FILTER (WHERE mm.vt <= t.now) AS pending,
           count(*) FILTER (WHERE mm.vt > t.now AND mm.consumer_worker_id IS NOT NULL) AS in_flight,
           count(*) FILTER (WHERE mm.vt > t.now AND mm.consumer_worker_id IS NULL) AS delayed,
           min(mm.enqueued_at) FILTER (WHERE mm.vt <= t.now) AS oldest_pending_at
    FROM pgqrs_messages mm, t
    GROUP BY mm.queue_id
) m ON m.queue_id = q.id
LEFT JOIN (
    SELECT aa.queue_id,
           count(*) FILTER (WHERE aa.reason = 'archived') AS archived,
           count(*) FILTER (WHERE aa.reason = 'dead_letter') AS dead_lettered
    FROM pgqrs_archive aa
    GROUP BY aa.queue_id
) a ON a.queue_id = q.id
WHERE @queue_id::bigint IS NULL OR q.id = @queue_id::bigint
ORDER BY q.name;
