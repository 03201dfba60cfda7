-- The claim walks the queue's messages by priority (issue 17): this index has
-- them in claim order, (priority DESC, vt, id) within a queue; message_dequeue
-- visits one priority level at a time. pgqrs_messages_dequeue_idx stays (min(vt),
-- counts). Turso reads this file too. The priority and unique-key ranges are
-- checked by the library before it writes (SQLite cannot add a CHECK to an
-- existing column; PostgreSQL's migration 0008 has them as CHECKs).
CREATE INDEX pgqrs_messages_claim_idx ON pgqrs_messages (queue_id, priority DESC, vt, id);
