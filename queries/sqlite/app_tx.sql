-- The savepoint around each call on the application's own connection (pgqrs_tx_*,
-- src/queue/app_tx.c). The library never begins, commits or rolls back the
-- application's transaction: it nests its statements in this savepoint, releases
-- it on success and rolls back to it on failure, so a failed call leaves nothing
-- behind and the application's transaction usable (on PostgreSQL a failed
-- statement would otherwise abort the whole transaction). Transaction-scoped,
-- so it passes through PgBouncer transaction pooling.

-- name: app_tx_savepoint :exec
SAVEPOINT pgqrs_tx;

-- name: app_tx_release :exec
RELEASE SAVEPOINT pgqrs_tx;

-- name: app_tx_rollback_to :exec
ROLLBACK TO SAVEPOINT pgqrs_tx;
