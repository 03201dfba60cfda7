/* sqlite_app.c: the application's own sqlite3 handle as a connection for one
 * call of pgqrs_tx_* (src/queue/app_tx.c). Its busy handler, pragmas and
 * transaction are the application's and are left alone; the statements prepared
 * for the call are finalized when it ends, so the application can close its
 * handle with sqlite3_close at any time between calls. */
#include <stdio.h>

#include "base/alloc.h"
#include "drivers/driver.h"
#include "drivers/sqlite.h"

pgqrs_status pgqrs__sq_app_wrap(pgqrs_conn **out, void *db, const pgqrs__conn_env *env, char *err, size_t errlen)
{
    pgqrs__sq_conn *q;
    *out = NULL;
    if (sqlite3_get_autocommit(db)) {
        snprintf(err, errlen, "no transaction is open on the application's connection: begin one first");
        return PGQRS_ESTATE;
    }
    q = pgqrs__calloc(1, sizeof *q);
    if (q) {
        pgqrs__conn_init(&q->base, &pgqrs__driver_sqlite, env);
        q->stmts = pgqrs__calloc(q->base.q->stmt_slots, sizeof *q->stmts);
    }
    if (!q || !q->stmts) {
        pgqrs__free(q);
        snprintf(err, errlen, "out of memory");
        return PGQRS_ENOMEM;
    }
    q->db = db;
    q->busy_timeout_ms = 0;   /* the application's busy handler applies, not ours */
    *out = &q->base;
    return PGQRS_OK;
}

void pgqrs__sq_app_close(pgqrs_conn *c)
{
    pgqrs__sq_conn *q = pgqrs__sq(c);
    if (!c)
        return;
    for (size_t i = 0; i < c->q->stmt_slots; i++)
        sqlite3_finalize(q->stmts[i]);   /* NULL: no-op */
    pgqrs__free(q->stmts);
    pgqrs__free(q);   /* not the sqlite3 handle: it is the application's */
}
