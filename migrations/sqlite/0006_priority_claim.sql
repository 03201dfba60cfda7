-- The claim walks the queue's messages by priority (issue 17): this index has
-- them in claim order, (priority DESC, vt, id) within a queue; message_dequeue
-- visits one priority level at a time. It replaces pgqrs_messages_dequeue_idx
-- (queue_id, vt, id): nothing reads that one any more (message_next_vt takes each
-- level's first vt here), and one index less is less work for every claim,
-- archive and enqueue. Turso reads this file too. The priority and unique-key
-- ranges are checked by the library before it writes (SQLite cannot add a CHECK
-- to an existing column; PostgreSQL's migration 0008 has them as CHECKs).
CREATE INDEX pgqrs_messages_claim_idx ON pgqrs_messages (queue_id, priority DESC, vt, id);
DROP INDEX pgqrs_messages_dequeue_idx;
