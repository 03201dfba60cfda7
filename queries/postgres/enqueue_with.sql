-- Enqueue with options (issue 17): priority, unique key, per-message delay.
-- pgqrs_enqueue_with and pgqrs_enqueue_batch_with (src/queue/enqueue_with.c).
-- The plain pgqrs_enqueue / pgqrs_enqueue_batch keep message_enqueue and
-- message_enqueue_batch (queries/postgres/messages.sql).

-- name: message_enqueue_with :one
-- One message with a priority and an optional unique key. No row when the key
-- is live in the queue (ON CONFLICT on pgqrs_messages_unique_key_idx: it waits
-- for a concurrent insert of the same key to commit or roll back) or when the
-- queue does not exist; the caller then reads the live row with
-- message_id_by_key (a new statement, a new snapshot: it sees the row that
-- conflicted) and retries when that row has left meanwhile. Notifies as
-- message_enqueue does.
-- param: queue_id i64, payload json, priority i32, unique_key text?, delay_ms i64, producer_worker_id i64?, now timestamp?
-- returns: id i64
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
ins AS (
    INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at, producer_worker_id, priority, unique_key)
    SELECT q.id, @payload::jsonb, t.now + @delay_ms::bigint * interval '1 millisecond', t.now,
           @producer_worker_id::bigint, @priority::integer, @unique_key::text
    FROM pgqrs_queues q, t
    WHERE q.id = @queue_id
    ON CONFLICT (queue_id, unique_key) WHERE unique_key IS NOT NULL DO NOTHING
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

-- name: message_id_by_key :one
-- The live message of the queue holding this unique key (pgqrs_messages_unique_key_idx).
-- param: queue_id i64, unique_key text
-- returns: id i64
SELECT id FROM pgqrs_messages WHERE queue_id = @queue_id AND unique_key = @unique_key;

-- name: message_enqueue_batch_with :many
-- A batch without unique keys, each message with its own priority and delay
-- (priorities[i] and delays_ms[i] belong to payloads[i]): one statement, all
-- rows or none, ids in input order; no rows when the queue does not exist.
-- Notifies as message_enqueue_batch does when one of the messages is visible now.
-- param: queue_id i64, payloads json[], priorities i64[], delays_ms i64[], producer_worker_id i64?, now timestamp?
-- returns: id i64
WITH t AS (SELECT coalesce(@now::timestamptz, now()) AS now),
ins AS (
    INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at, producer_worker_id, priority)
    SELECT q.id, e.value, t.now + r.delay_ms * interval '1 millisecond', t.now, @producer_worker_id::bigint,
           r.priority::integer
    FROM pgqrs_queues q, t,
         jsonb_array_elements(@payloads::jsonb) WITH ORDINALITY AS e(value, ord)
         JOIN unnest(@priorities::bigint[], @delays_ms::bigint[]) WITH ORDINALITY AS r(priority, delay_ms, ord)
           ON r.ord = e.ord
    WHERE q.id = @queue_id
    ORDER BY e.ord
    RETURNING id)
SELECT id FROM ins
WHERE (SELECT count(pg_notify('pgqrs_messages', @queue_id::text)) FROM t   -- wake-up: migration 0004
       WHERE EXISTS (SELECT FROM ins) AND (SELECT min(d) FROM unnest(@delays_ms::bigint[]) AS d) <= 0
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
