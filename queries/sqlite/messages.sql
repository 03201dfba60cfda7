-- Live messages: enqueue, dequeue, visibility, release, archive, delete.
-- Every writing query runs in one BEGIN IMMEDIATE transaction (all of its
-- statements), so it is atomic and safe across processes sharing the file.
-- `now` is the caller's clock in microseconds (same machine as the file);
-- NULL falls back to SQLite's clock.

-- name: message_enqueue :one
-- param: queue_id i64, payload json, delay_ms i64, producer_worker_id i64?, now timestamp?
-- returns: id i64
INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at, producer_worker_id)
SELECT @queue_id, @payload, t.now + @delay_ms * 1000, t.now, @producer_worker_id
FROM (SELECT coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) AS now) t
RETURNING id;

-- name: message_enqueue_batch :many
-- One statement for the whole batch: all rows or none. Ids come back in input order.
-- json_each yields strings unquoted and booleans as 0/1, so each element is
-- turned back into its JSON text by type.
-- param: queue_id i64, payloads json[], delay_ms i64, producer_worker_id i64?, now timestamp?
-- returns: id i64
INSERT INTO pgqrs_messages (queue_id, payload, vt, enqueued_at, producer_worker_id)
SELECT @queue_id,
       CASE e.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null'
                   WHEN 'text' THEN json_quote(e.value) ELSE e.value END,
       t.now + @delay_ms * 1000, t.now, @producer_worker_id
FROM (SELECT coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) AS now) t,
     json_each(@payloads) e
ORDER BY e.key
RETURNING id;

-- name: message_dequeue :many
-- The window is the next @max visible messages in (priority DESC, vt, id) order:
-- higher priority first, FIFO within one priority, rows with a cancel request
-- skipped. `lv` lists the queue's priority levels (one descent of
-- pgqrs_messages_claim_idx each; a queue that never uses priorities has one);
-- `priority IN lv` makes the window one index range scan of vt <= now per level,
-- walked in index order (no sort, invisible rows never read); those already
-- delivered max_attempts times are left for
-- message_dead_letter (the caller runs it when a claim comes back short), the
-- others are claimed, in one statement; nothing when the worker is not 'ready'.
-- BEGIN IMMEDIATE makes the claim exclusive. The clock is inline (SQLite keeps
-- 'now' fixed within one statement) so the subquery is not correlated.
-- param: queue_id i64, worker_id i64, max i32, vt_ms i64, max_attempts i32, now timestamp?
-- returns: pgqrs_messages.*
UPDATE pgqrs_messages
SET vt = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) + @vt_ms * 1000,
    read_ct = read_ct + 1,
    dequeued_at = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
    consumer_worker_id = @worker_id
WHERE id IN (SELECT win.id FROM (WITH RECURSIVE lv(p) AS (
                 SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id
                         ORDER BY l.priority DESC LIMIT 1)
                 UNION ALL
                 SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority < lv.p
                         ORDER BY l.priority DESC LIMIT 1)
                 FROM lv WHERE lv.p IS NOT NULL)
             SELECT w.id, w.read_ct FROM pgqrs_messages w
             WHERE w.queue_id = @queue_id AND w.priority IN (SELECT p FROM lv)
               AND w.vt <= coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
               AND w.cancel_requested_at IS NULL
             ORDER BY w.priority DESC, w.vt, w.id LIMIT @max) win
             WHERE win.read_ct < @max_attempts)
  AND EXISTS (SELECT 1 FROM pgqrs_workers k WHERE k.id = @worker_id AND k.status = 'ready')
RETURNING id, queue_id, payload, vt, enqueued_at, read_ct, dequeued_at, producer_worker_id, consumer_worker_id,
          priority, unique_key, progress, cancel_requested_at;

-- name: message_dead_letter :execrows
-- Poison messages: in the next @max visible rows (the claim's window, in its
-- priority order), those already delivered
-- max_attempts times move to the archive as dead letters (both statements in one
-- transaction), at the moment they would have been delivered again.
-- param: queue_id i64, max i32, max_attempts i32, now timestamp?
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                           producer_worker_id, consumer_worker_id, reason, archived_at,
                           priority, unique_key, progress)
SELECT m.id, m.queue_id, m.payload, m.enqueued_at, m.read_ct, m.dequeued_at,
       m.producer_worker_id, m.consumer_worker_id, 'dead_letter', coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
       m.priority, m.unique_key, m.progress
FROM pgqrs_messages m
WHERE m.id IN (SELECT win.id FROM (WITH RECURSIVE lv(p) AS (
                 SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id
                         ORDER BY l.priority DESC LIMIT 1)
                 UNION ALL
                 SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority < lv.p
                         ORDER BY l.priority DESC LIMIT 1)
                 FROM lv WHERE lv.p IS NOT NULL)
             SELECT w.id, w.read_ct FROM pgqrs_messages w
             WHERE w.queue_id = @queue_id AND w.priority IN (SELECT p FROM lv)
               AND w.vt <= coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
               AND w.cancel_requested_at IS NULL
             ORDER BY w.priority DESC, w.vt, w.id LIMIT @max) win
               WHERE win.read_ct >= @max_attempts);
DELETE FROM pgqrs_messages
WHERE id IN (SELECT win.id FROM (WITH RECURSIVE lv(p) AS (
                 SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id
                         ORDER BY l.priority DESC LIMIT 1)
                 UNION ALL
                 SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority < lv.p
                         ORDER BY l.priority DESC LIMIT 1)
                 FROM lv WHERE lv.p IS NOT NULL)
             SELECT w.id, w.read_ct FROM pgqrs_messages w
             WHERE w.queue_id = @queue_id AND w.priority IN (SELECT p FROM lv)
               AND w.vt <= coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
               AND w.cancel_requested_at IS NULL
             ORDER BY w.priority DESC, w.vt, w.id LIMIT @max) win
             WHERE win.read_ct >= @max_attempts)
  AND id IN (SELECT id FROM pgqrs_archive WHERE reason = 'dead_letter');

-- name: message_extend_vt :one
-- Sets the message's visibility to now + vt_ms, only while this worker holds it.
-- param: id i64, worker_id i64, vt_ms i64, now timestamp?
-- returns: pgqrs_messages.vt
UPDATE pgqrs_messages
SET vt = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) + @vt_ms * 1000
WHERE id = @id AND coalesce(consumer_worker_id, 0) = @worker_id
RETURNING vt;

-- name: message_release :many
-- Back to pending (visible after delay_ms); only messages this worker holds.
-- param: ids i64[], worker_id i64, delay_ms i64, now timestamp?
-- returns: id i64
UPDATE pgqrs_messages
SET vt = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) + @delay_ms * 1000,
    consumer_worker_id = NULL
WHERE id IN (SELECT value FROM json_each(@ids)) AND coalesce(consumer_worker_id, 0) = @worker_id
RETURNING id;

-- name: message_archive :many
-- Moves the messages this worker holds to the archive (both statements in one
-- transaction).
-- param: ids i64[], worker_id i64, now timestamp?
-- returns: id i64
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                           producer_worker_id, consumer_worker_id, reason, archived_at,
                           priority, unique_key, progress)
SELECT id, queue_id, payload, enqueued_at, read_ct, dequeued_at, producer_worker_id, consumer_worker_id,
       'archived', coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
       priority, unique_key, progress
FROM pgqrs_messages
WHERE id IN (SELECT value FROM json_each(@ids)) AND coalesce(consumer_worker_id, 0) = @worker_id;
DELETE FROM pgqrs_messages
WHERE id IN (SELECT value FROM json_each(@ids)) AND coalesce(consumer_worker_id, 0) = @worker_id
RETURNING id;

-- name: message_delete :many
-- Deletes the messages this worker holds.
-- param: ids i64[], worker_id i64
-- returns: id i64
DELETE FROM pgqrs_messages
WHERE id IN (SELECT value FROM json_each(@ids)) AND coalesce(consumer_worker_id, 0) = @worker_id
RETURNING id;

-- name: message_existing :many
-- Which of these ids are live messages (to tell "not owned" from "not found").
-- param: ids i64[]
-- returns: id i64
SELECT id FROM pgqrs_messages WHERE id IN (SELECT value FROM json_each(@ids)) ORDER BY id;

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
-- vt in pgqrs_messages_claim_idx (one descent per level; migration 0006 dropped
-- the (queue_id, vt, id) index the claim no longer reads).
-- param: queue_id i64
-- returns: next_vt timestamp?
WITH RECURSIVE lv(p) AS (
    SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id
            ORDER BY l.priority DESC LIMIT 1)
    UNION ALL
    SELECT (SELECT l.priority FROM pgqrs_messages l WHERE l.queue_id = @queue_id AND l.priority < lv.p
            ORDER BY l.priority DESC LIMIT 1)
    FROM lv WHERE lv.p IS NOT NULL)
SELECT min((SELECT m.vt FROM pgqrs_messages m WHERE m.queue_id = @queue_id AND m.priority = lv.p
            ORDER BY m.priority DESC, m.vt LIMIT 1)) AS next_vt
FROM lv WHERE lv.p IS NOT NULL;

-- name: queue_listen :exec
-- SQLite has no notifications between processes: pgqrs_dequeue_wait polls with
-- capped, jittered backoff instead, and this does nothing.
SELECT 1;

-- ---- the worker runtime (src/runtime/): settle many at once, lease extension ----

-- name: message_settle :many
-- Moves the messages this worker holds to the archive (both statements in one
-- transaction), each with its result (results[i] belongs to ids[i]; JSON null =
-- no result), as `reason`: 'archived' for a finished job, 'dead_letter' for a
-- failed one. `->` gives each element's JSON text.
-- param: ids i64[], results json[], reason enum:archive_reason, worker_id i64, now timestamp?
-- returns: id i64
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, dequeued_at,
                           producer_worker_id, consumer_worker_id, reason, archived_at, result,
                           priority, unique_key, progress)
SELECT m.id, m.queue_id, m.payload, m.enqueued_at, m.read_ct, m.dequeued_at, m.producer_worker_id,
       m.consumer_worker_id, @reason, coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
       nullif(@results -> ('$[' || i.key || ']'), 'null'), m.priority, m.unique_key, m.progress
FROM json_each(@ids) i
JOIN pgqrs_messages m ON m.id = i.value
WHERE coalesce(m.consumer_worker_id, 0) = @worker_id;
DELETE FROM pgqrs_messages
WHERE id IN (SELECT value FROM json_each(@ids)) AND coalesce(consumer_worker_id, 0) = @worker_id
RETURNING id;

-- name: message_retry :many
-- Back to pending, each visible after its own delay (delays_ms[i] belongs to
-- ids[i]: the retry policy's next delay, computed by the caller); only messages
-- this worker holds. The read count is the claim's: a retry is one delivery.
-- param: ids i64[], delays_ms i64[], worker_id i64, now timestamp?
-- returns: id i64
UPDATE pgqrs_messages
SET vt = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
         + (SELECT @delays_ms ->> ('$[' || i.key || ']') FROM json_each(@ids) i
            WHERE i.value = pgqrs_messages.id LIMIT 1) * 1000,
    consumer_worker_id = NULL
WHERE id IN (SELECT value FROM json_each(@ids)) AND coalesce(consumer_worker_id, 0) = @worker_id
RETURNING id;

-- name: message_extend_held :execrows
-- The lease extension: each of these messages that one of these workers still
-- holds becomes invisible for vt_ms from now, in one statement (writes are
-- serialised, so there is nothing to skip).
-- param: ids i64[], worker_ids i64[], vt_ms i64, now timestamp?
UPDATE pgqrs_messages
SET vt = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) + @vt_ms * 1000
WHERE id IN (SELECT value FROM json_each(@ids))
  AND coalesce(consumer_worker_id, 0) IN (SELECT value FROM json_each(@worker_ids));

-- name: message_unclaim :many
-- Gives back messages this worker claimed and never started: pending now, and
-- the claim's delivery is not counted (read_ct goes back down by one).
-- param: ids i64[], worker_id i64, now timestamp?
-- returns: id i64
UPDATE pgqrs_messages
SET vt = coalesce(@now, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
    read_ct = max(read_ct - 1, 0),
    consumer_worker_id = NULL
WHERE id IN (SELECT value FROM json_each(@ids)) AND coalesce(consumer_worker_id, 0) = @worker_id
RETURNING id;
