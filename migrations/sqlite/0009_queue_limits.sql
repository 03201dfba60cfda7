-- Per-queue rate limits (issue 17): the claims of a rate-limited queue, one row
-- per claim statement with how many messages it claimed; the limited claim
-- (queries/sqlite/limits.sql) sums the last rate_period_ms of them (a sliding
-- window). The trigger deletes the rows older than the queue's period whenever
-- one is recorded (SQLite statements cannot write two tables). Turso reads
-- this file too (its limits are refused: no transactions across calls).
CREATE TABLE pgqrs_queue_claims (
    queue_id   INTEGER NOT NULL REFERENCES pgqrs_queues (id) ON DELETE CASCADE,
    claimed_at INTEGER NOT NULL,
    n          INTEGER NOT NULL CHECK (n > 0)
);
CREATE INDEX pgqrs_queue_claims_window_idx ON pgqrs_queue_claims (queue_id, claimed_at);
CREATE TRIGGER pgqrs_queue_claims_prune AFTER INSERT ON pgqrs_queue_claims
BEGIN
    DELETE FROM pgqrs_queue_claims
    WHERE queue_id = NEW.queue_id
      AND claimed_at <= NEW.claimed_at - (SELECT q.rate_period_ms FROM pgqrs_queues q WHERE q.id = NEW.queue_id) * 1000;
END;
