/* driver.h: one driver per backend, a const table beside its generated query
 * table. The store picks it by the DSN's scheme (registry.c) and from then on
 * asks it, never which backend it is: how to open, check, reconnect and close a
 * connection, control a transaction, wait for a notification, what the backend
 * guarantees, and whose clock a query uses. Everything above src/drivers/ goes
 * through this table or the query table. */
#ifndef PGQRS_DRIVER_H
#define PGQRS_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/conn.h"
#include "drivers/dsn.h"

/* The store's options a driver needs to open a connection. */
typedef struct pgqrs__open_opts {
    int busy_timeout_ms;         /* total wait for a lock (SQLite, Turso) */
    int connect_timeout_s;
    bool relaxed_durability;
    const char *schema;          /* PostgreSQL: the schema to use, NULL = the DSN's or the server's */
} pgqrs__open_opts;

typedef struct pgqrs__driver {
    const char *name;            /* "postgres", "sqlite", "turso" (pgqrs_store_backend) */
    const pgqrs_queries *q;
    /* The database's clock is not this machine's (PostgreSQL, Turso): queries
     * are passed no `now` and read it themselves. false: the local clock is passed. */
    bool database_clock;
    /* Must provide. Refuses options this backend cannot honour for this DSN,
     * with one line in err. */
    pgqrs_status (*check)(const pgqrs__dsn *d, const pgqrs__open_opts *o, char *err, size_t errlen);
    /* Must provide. The largest pool this DSN allows (1 for SQLite :memory:), 0 = any. */
    int (*pool_limit)(const pgqrs__dsn *d);
    /* Must provide. Opens and sets up a connection; on failure *out is NULL and
     * err holds one line (the caller redacts it). */
    pgqrs_status (*open)(pgqrs_conn **out, const pgqrs__dsn *d, const pgqrs__open_opts *o, const pgqrs__conn_env *env,
                         char *err, size_t errlen);
    /* May provide: re-establishes a lost session once (PostgreSQL); NULL: nothing to do. */
    pgqrs_status (*ensure)(pgqrs_conn *c);
    /* Must provide; NULL connection: no-op. */
    void (*close)(pgqrs_conn *c);
    /* Must provide. A transaction spanning several queries; PGQRS_ENOTSUPPORTED
     * where each call is its own request (Turso over HTTP). */
    pgqrs_status (*tx_begin)(pgqrs_conn *c);
    pgqrs_status (*tx_commit)(pgqrs_conn *c);
    pgqrs_status (*tx_rollback)(pgqrs_conn *c);
    /* May provide (NULL: the backend cannot notify; callers poll): subscribes this
     * connection to queue notifications, and waits up to timeout_ms for one whose
     * payload is one of the n `payloads`, consuming the others, or for wake_fd
     * (-1: none) to become readable: 1 a notification arrived, 2 wake_fd is
     * readable (it is not read), 0 timed out, -1 the session failed (recorded on c). */
    pgqrs_status (*listen)(pgqrs_conn *c);
    int (*wait_notify)(pgqrs_conn *c, const char *const *payloads, size_t n, int64_t timeout_ms, int wake_fd);
    /* May provide (NULL: this backend has no application connection type, e.g.
     * Turso over HTTP; pgqrs_capabilities.app_transactions is 0): wraps the
     * application's own open connection (`PGconn *`, `sqlite3 *`) for one call
     * of pgqrs_tx_* (src/queue/app_tx.c). ESTATE, with one line in err, unless
     * a transaction is open and usable on it. app_close frees the wrapper and
     * anything it prepared on the connection, and never closes, commits or
     * rolls back the application's connection. */
    pgqrs_status (*app_wrap)(pgqrs_conn **out, void *foreign, const pgqrs__conn_env *env, char *err, size_t errlen);
    void (*app_close)(pgqrs_conn *c);
    /* Must provide. What the backend guarantees for this DSN (every field but version). */
    void (*capabilities)(const pgqrs__dsn *d, pgqrs_capabilities *out);
} pgqrs__driver;

/* The drivers this library is built with (registry.c lists their schemes). */
extern const pgqrs__driver pgqrs__driver_postgres;
extern const pgqrs__driver pgqrs__driver_sqlite;
extern const pgqrs__driver pgqrs__driver_turso_file;   /* turso:///path.db, through SQLite */
extern const pgqrs__driver pgqrs__driver_turso;        /* Hrana over HTTP */

/* Opens a connection with the DSN's driver (registry.c): ENOTSUPPORTED, with how
 * to build it in, when this library was built without it. o and env may be NULL. */
pgqrs_status pgqrs__conn_open_dsn(pgqrs_conn **out, const pgqrs__dsn *d, const pgqrs__open_opts *o,
                                  const pgqrs__conn_env *env, char *err, size_t errlen);
void pgqrs__conn_close(pgqrs_conn *c);   /* NULL: no-op */

/* Shorthands for the transaction slots. */
static inline pgqrs_status pgqrs__tx_begin(pgqrs_conn *c) { return c->drv->tx_begin(c); }
static inline pgqrs_status pgqrs__tx_commit(pgqrs_conn *c) { return c->drv->tx_commit(c); }
static inline pgqrs_status pgqrs__tx_rollback(pgqrs_conn *c) { return c->drv->tx_rollback(c); }

/* The transaction slots of a driver whose transactions are the tx_* queries. */
pgqrs_status pgqrs__tx_begin_query(pgqrs_conn *c);
pgqrs_status pgqrs__tx_commit_query(pgqrs_conn *c);
pgqrs_status pgqrs__tx_rollback_query(pgqrs_conn *c);

#endif
