/* conn.h: what every connection has, whichever database it talks to: its driver,
 * its query table, the store's clock and logger, and the handle its failures are
 * recorded on. A driver allocates a larger struct that starts with this one and
 * keeps its private state after it (postgres.c, sqlite.c, turso.c). Used by one
 * thread at a time. */
#ifndef PGQRS_CONN_H
#define PGQRS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/handle.h"
#include "base/log.h"
#include "pgqrs.h"
#include "pgqrs_queries.h"

struct pgqrs__driver;

struct pgqrs_conn {
    const struct pgqrs__driver *drv;
    const pgqrs_queries *q;
    const pgqrs__clock *clock;   /* the store's: `now` for the queries that take one */
    pgqrs__logger *log;          /* the store's: busy retries, reconnects */
    pgqrs__handle *owner;        /* failures are recorded on it while checked out; NULL: in msg */
    bool mute;                   /* a rollback after a failure: keep the failure's message */
    uint64_t rng;                /* jitter for retries */
    char msg[PGQRS__MSG_LEN];    /* the last failure while no handle owned the connection */
};

/* What the store lends every connection it opens. */
typedef struct pgqrs__conn_env {
    const pgqrs__clock *clock;
    pgqrs__logger *log;
} pgqrs__conn_env;

/* Fills the common part of a connection a driver just allocated (zeroed). */
void pgqrs__conn_init(pgqrs_conn *c, const struct pgqrs__driver *drv, const pgqrs__conn_env *env);

/* Records a failure of this connection and returns st: on the owning handle (so
 * the caller's handle has it without copying), else in c->msg. The message is one
 * line and goes through the DSN redactor. */
pgqrs_status pgqrs__conn_fail(pgqrs_conn *c, pgqrs_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
pgqrs_status pgqrs__conn_not_found(pgqrs_conn *c, const char *what);
pgqrs_status pgqrs__conn_oom(pgqrs_conn *c);
/* The message of the connection's last failure (its owner's while owned). */
const char *pgqrs__conn_msg(const pgqrs_conn *c);
/* Rolls back the open transaction and returns st, keeping st's message (not the
 * rollback's). */
pgqrs_status pgqrs__conn_rollback_keep(pgqrs_conn *c, pgqrs_status st);

/* The `now` parameter of a query: the store's override when a test set one; the
 * local clock when the driver's database has no clock of its own to share
 * (SQLite); else false, and the query reads the database's clock. */
bool pgqrs__conn_now(const pgqrs_conn *c, int64_t *now_us);

/* Session setup after connecting or reconnecting: session_setup, then the
 * opt-in relaxed durability. */
pgqrs_status pgqrs__conn_session_init(pgqrs_conn *c, bool relaxed_durability);

#endif
