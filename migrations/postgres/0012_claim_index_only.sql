-- One ordered index per live message, as on SQLite (migration sqlite 0006):
-- pgqrs_messages_dequeue_idx (queue_id, vt, id) goes, and pgqrs_messages_claim_idx
-- (queue_id, priority DESC, vt, id) serves what read it. Every claim moves vt, so
-- each claimed row added an entry to both indexes: measured with bench/profile.sh
-- (batch 10, one consumer) dropping it took a drain from 10,100 to 13,000 msg/s.
-- What read it now walks the priority levels of the claim index, one descent
-- per level (a queue that never uses priorities has one): min(vt)
-- (message_next_vt), the enqueue wake-up probes ("a visible message at any
-- level") and the limited claim's in-flight count (queries/postgres/limits.sql).
DROP INDEX pgqrs_messages_dequeue_idx;
