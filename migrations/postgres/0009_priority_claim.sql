-- The claim walks the queue's messages by priority (issue 17): this index has
-- them in claim order, (priority DESC, vt, id) within a queue. message_dequeue
-- visits one priority level at a time (a range scan of vt <= now per level, so
-- invisible rows are never read); a queue that never uses priorities has one
-- level. pgqrs_messages_dequeue_idx (queue_id, vt, id) stays: min(vt), the
-- enqueue wake-up probes and the per-queue counts read it. docs/design.md has
-- the plan.
CREATE INDEX pgqrs_messages_claim_idx ON pgqrs_messages (queue_id, priority DESC, vt, id);
