-- Per-queue rate limits (issue 17): the claims of a rate-limited queue, one row
-- per claim statement with how many messages it claimed; the limited claim
-- (queries/sqlite/limits.sql) sums the last rate_period_ms of them (a sliding
-- window) and deletes the rows older than the period as it records a new one.
-- Turso reads this file too (its limits are refused: no transactions across calls).
CREATE TABLE pgqrs_queue_claims (
    queue_id   INTEGER NOT NULL REFERENCES pgqrs_queues (id) ON DELETE CASCADE,
    claimed_at INTEGER NOT NULL,
    n          INTEGER NOT NULL CHECK (n > 0)
);
CREATE INDEX pgqrs_queue_claims_window_idx ON pgqrs_queue_claims (queue_id, claimed_at);
