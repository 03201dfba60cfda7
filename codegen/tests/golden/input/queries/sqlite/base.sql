-- Transactions, session setup and the migration bookkeeping.

-- name: tx_begin :exec
BEGIN IMMEDIATE;

-- name: tx_commit :exec
COMMIT;

-- name: tx_rollback :exec
ROLLBACK;

-- name: session_setup :exec
PRAGMA journal_mode = WAL;

-- name: schema_version_ensure :exec
-- Creates the version table before the first migration.
CREATE TABLE IF NOT EXISTS g_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
);

-- name: version_list :many
-- returns: g_version.*
SELECT version, name, applied_at
FROM g_version
ORDER BY version;

-- name: version_insert :exec
-- param: version i32, name text
INSERT INTO g_version (version, name, applied_at)
VALUES (@version, @name, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER));
