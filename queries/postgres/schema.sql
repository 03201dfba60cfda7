-- Schema bookkeeping: the migration version table, the install lock and verify.

-- name: schema_version_ensure :exec
-- Creates the version table before the first migration; a no-op afterwards.
CREATE TABLE IF NOT EXISTS pgqrs_schema_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamp with time zone NOT NULL DEFAULT now()
);

-- name: schema_version_list :many
-- returns: pgqrs_schema_version.*
SELECT version, name, checksum, applied_at
FROM pgqrs_schema_version
ORDER BY version;

-- name: schema_version_insert :exec
-- param: version i32, name text, checksum text
INSERT INTO pgqrs_schema_version (version, name, checksum)
VALUES (@version, @name, @checksum);

-- name: migration_lock :exec
-- Serialises concurrent installs until the surrounding transaction ends.
SELECT pg_advisory_xact_lock(7318920211);

-- name: table_list :many
-- The pgqrs tables present in the current schema (search_path), by name.
-- returns: name text
SELECT table_name::text AS name
FROM information_schema.tables
WHERE table_schema = current_schema() AND table_name LIKE 'pgqrs\_%'
ORDER BY table_name;

-- name: schema_selected :one
-- Whether the session has a schema to create tables in: a search_path naming no
-- existing schema (a ?schema= never created) leaves current_schema() NULL.
-- returns: selected bool, search_path text
SELECT current_schema() IS NOT NULL AS selected, current_setting('search_path') AS search_path;

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
-- Run once per new session. Nothing to set on PostgreSQL: the schema comes from
-- the connection's options and results are decoded in binary, independent of
-- DateStyle and TimeZone.
SELECT 1;

-- name: session_relaxed_durability :exec
-- Opt-in (pgqrs_connect_options.relaxed_durability): commits return before the
-- WAL is flushed. A server crash can lose the last few hundred milliseconds of
-- commits, never corrupt or half-apply one. Session-scoped, like every
-- connection setting, so it is refused through PgBouncer.
SELECT set_config('synchronous_commit', 'off', false);

-- name: session_foreign_keys :one
-- Whether foreign keys are enforced for this session (connecting fails when
-- not). PostgreSQL always enforces them.
-- returns: foreign_keys i64
SELECT 1::bigint AS foreign_keys;
