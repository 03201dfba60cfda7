-- Per-queue rate limits (issue 17): the claims of a rate-limited queue, one row
-- per claim statement with how many messages it claimed. The limited claim
-- (queries/postgres/limits.sql) sums the rows of the last rate_period_ms: a
-- sliding window, so no span of one period ever holds more than rate_limit
-- claims (a fixed window counter allows twice that across a window boundary);
-- it deletes the rows older than the period as it records a new one, so the
-- table holds at most one period's claim statements per queue.
CREATE TABLE pgqrs_queue_claims (
    queue_id   bigint NOT NULL REFERENCES pgqrs_queues (id) ON DELETE CASCADE,
    claimed_at timestamp with time zone NOT NULL,
    n          integer NOT NULL CHECK (n > 0)
);
CREATE INDEX pgqrs_queue_claims_window_idx ON pgqrs_queue_claims (queue_id, claimed_at);
