-- Transactions, session setup and the migration bookkeeping.

-- name: tx_begin :exec
BEGIN;

-- name: tx_commit :exec
COMMIT;

-- name: tx_rollback :exec
ROLLBACK;

-- name: session_setup :exec
SELECT 1;

-- name: schema_version_ensure :exec
-- Creates the version table before the first migration.
CREATE TABLE IF NOT EXISTS g_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamp with time zone NOT NULL DEFAULT now()
);

-- name: version_list :many
-- returns: g_version.*
SELECT version, name, applied_at
FROM g_version
ORDER BY version;

-- name: version_insert :exec
-- param: version i32, name text
INSERT INTO g_version (version, name)
VALUES (@version, @name);
