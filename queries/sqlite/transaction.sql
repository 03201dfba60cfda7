-- Transaction control. IMMEDIATE takes the write lock up front, so a transaction
-- never fails half-way with SQLITE_BUSY when it first writes; the busy handler
-- waits for the lock with capped, jittered backoff. Generated SQLite accessors
-- that write wrap themselves in tx_begin/tx_commit when no transaction is open.

-- name: tx_begin :exec
BEGIN IMMEDIATE;

-- name: tx_commit :exec
COMMIT;

-- name: tx_rollback :exec
ROLLBACK;
