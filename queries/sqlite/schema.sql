-- Schema bookkeeping: the migration version table, the install lock and verify.

-- name: schema_version_ensure :exec
-- Creates the version table before the first migration; a no-op afterwards.
CREATE TABLE IF NOT EXISTS pgqrs_schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at INTEGER NOT NULL
);

-- name: schema_version_list :many
-- returns: pgqrs_schema_version.*
SELECT version, name, checksum, applied_at
FROM pgqrs_schema_version
ORDER BY version;

-- name: schema_version_insert :exec
-- param: version i32, name text, checksum text
INSERT INTO pgqrs_schema_version (version, name, checksum, applied_at)
VALUES (@version, @name, @checksum, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER));

-- name: migration_lock :exec
-- Nothing to take: tx_begin's BEGIN IMMEDIATE already holds the database write lock.
SELECT 1;

-- name: table_list :many
-- The pgqrs tables present in the database, by name.
-- returns: name text
SELECT name
FROM sqlite_master
WHERE type = 'table' AND name LIKE 'pgqrs\_%' ESCAPE '\'
ORDER BY name;

-- name: schema_selected :one
-- A SQLite database always has its main schema.
-- returns: selected bool, search_path text
SELECT 1 AS selected, 'main' AS search_path;

-- name: integrity_orphans :one
-- Rows that name a queue, worker or run that does not exist (pgqrs_schema_verify
-- reports them): none may exist, foreign key or not (migration 0003 on
-- PostgreSQL). Scans the messages and the archive.
-- returns: messages_without_queue i64, messages_without_worker i64, archive_without_queue i64, steps_without_run i64
SELECT (SELECT count(*) FROM pgqrs_messages m
        WHERE NOT EXISTS (SELECT 1 FROM pgqrs_queues q WHERE q.id = m.queue_id)) AS messages_without_queue,
       (SELECT count(*) FROM pgqrs_messages m
        WHERE m.consumer_worker_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM pgqrs_workers w WHERE w.id = m.consumer_worker_id)) AS messages_without_worker,
       (SELECT count(*) FROM pgqrs_archive a
        WHERE NOT EXISTS (SELECT 1 FROM pgqrs_queues q WHERE q.id = a.queue_id)) AS archive_without_queue,
       (SELECT count(*) FROM pgqrs_workflow_steps st
        WHERE NOT EXISTS (SELECT 1 FROM pgqrs_workflow_runs r WHERE r.id = st.run_id)) AS steps_without_run;

-- name: session_setup :exec
-- Run once per new connection, outside any transaction: readers never block the
-- writer and the writer never blocks readers in WAL mode. (Foreign keys are
-- switched on through sqlite3_db_config, which also reports whether it took.)
PRAGMA journal_mode = WAL;

-- name: session_relaxed_durability :exec
-- Opt-in (pgqrs_connect_options.relaxed_durability): in WAL mode, commits are
-- not fsynced one by one (the WAL is synced at checkpoints). A power loss or OS
-- crash can lose the last commits, never corrupt the file; a process crash loses
-- nothing. This is what plainjob and many embedded queues run with.
PRAGMA synchronous = NORMAL;

-- name: session_foreign_keys :one
-- Switches foreign-key enforcement on for the session and reports whether it is
-- on (connecting fails when not: a build without them would leave orphans
-- silently). Outside any transaction, where the pragma has no effect. The Turso
-- backend also starts every write batch with the first statement, because
-- tursodb shares one connection between clients.
-- returns: foreign_keys i64
PRAGMA foreign_keys = ON;
PRAGMA foreign_keys;
