-- Transaction control. The store brackets multi-query operations (migrations,
-- workflows) with these; single queries are atomic on their own.

-- name: tx_begin :exec
BEGIN;

-- name: tx_commit :exec
COMMIT;

-- name: tx_rollback :exec
ROLLBACK;
