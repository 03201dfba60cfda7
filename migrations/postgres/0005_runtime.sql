-- The worker runtime (issue 16): a retry policy per queue and a result per
-- archived message.
--
-- The policy is what a retry waits: initial_delay_ms before the first retry,
-- times multiplier per retry, capped at max_delay_ms, each delay shortened by a
-- random fraction up to jitter. The runtime computes the next visible time from
-- it (pgqrs_retry_delay_ms) and writes it with the release, so a retry survives a
-- restart of every worker. Existing queues get the defaults.
ALTER TABLE pgqrs_queues
    ADD COLUMN retry_initial_delay_ms bigint NOT NULL DEFAULT 1000
        CHECK (retry_initial_delay_ms BETWEEN 1 AND 31536000000),
    ADD COLUMN retry_multiplier double precision NOT NULL DEFAULT 2.0
        CHECK (retry_multiplier BETWEEN 1.0 AND 1000.0),
    ADD COLUMN retry_max_delay_ms bigint NOT NULL DEFAULT 300000
        CHECK (retry_max_delay_ms BETWEEN 1 AND 31536000000),
    ADD COLUMN retry_jitter double precision NOT NULL DEFAULT 0.25
        CHECK (retry_jitter BETWEEN 0.0 AND 1.0);

-- What the handler returned for a message it finished (JSON, or NULL: none);
-- rows archived before this migration, and by pgqrs_archive, have none.
ALTER TABLE pgqrs_archive ADD COLUMN result jsonb;
