-- The wake-up of pgqrs_dequeue_wait moves from a statement trigger into the
-- library's inserting statements (message_enqueue, message_enqueue_batch,
-- dlq_replay, run_trigger: queries/postgres/). The trigger's transition table
-- and its function call cost an enqueue of one message more than the insert
-- itself on a busy queue, where it never notifies (measured, docs/benchmarks.md:
-- four single-message producers 5,601 -> 8,557 msg/s). Each of those
-- statements notifies, as the trigger did since migration 0003, only when it
-- makes a message visible in a queue that had no other visible message. Rows
-- inserted by anything other than the library no longer notify; a waiting
-- consumer still finds them when its wait times out.
-- The release trigger (a row whose vt moves earlier) stays: migration 0002.

DROP TRIGGER pgqrs_messages_notify_insert ON pgqrs_messages;
DROP FUNCTION pgqrs_notify_inserted();
