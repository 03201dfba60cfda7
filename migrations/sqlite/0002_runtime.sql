-- The worker runtime (issue 16): a retry policy per queue and a result per
-- archived message.
-- Turso reads this file too, so it sticks to plain ADD COLUMN (the library checks
-- the ranges before it writes; PostgreSQL's migration also has CHECKs).
--
-- The policy is what a retry waits: initial_delay_ms before the first retry,
-- times multiplier per retry, capped at max_delay_ms, each delay shortened by a
-- random fraction up to jitter. Existing queues get the defaults.
ALTER TABLE pgqrs_queues ADD COLUMN retry_initial_delay_ms INTEGER NOT NULL DEFAULT 1000;
ALTER TABLE pgqrs_queues ADD COLUMN retry_multiplier REAL NOT NULL DEFAULT 2.0;
ALTER TABLE pgqrs_queues ADD COLUMN retry_max_delay_ms INTEGER NOT NULL DEFAULT 300000;
ALTER TABLE pgqrs_queues ADD COLUMN retry_jitter REAL NOT NULL DEFAULT 0.25;

-- What the handler returned for a message it finished (JSON text, or NULL: none).
ALTER TABLE pgqrs_archive ADD COLUMN result TEXT;
