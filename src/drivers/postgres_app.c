/* postgres_app.c: the application's own PGconn as a connection for one call of
 * pgqrs_tx_* (src/queue/app_tx.c). Every statement is unnamed (PQexecParams),
 * nothing is SET, LISTENed or prepared, so no session state outlives the call and
 * it works behind PgBouncer transaction pooling. The application's connection is
 * never closed, committed or rolled back here. */
#include <stdio.h>

#include "base/alloc.h"
#include "drivers/driver.h"
#include "drivers/postgres.h"

pgqrs_status pgqrs__pg_app_wrap(pgqrs_conn **out, void *pgconn, const pgqrs__conn_env *env, char *err,
                                size_t errlen)
{
    PGconn *pg = pgconn;
    pgqrs__pg_conn *p;
    *out = NULL;
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "the application's PostgreSQL connection is not open");
        return PGQRS_ECONN;
    }
    switch (PQtransactionStatus(pg)) {
    case PQTRANS_INTRANS:
        break;
    case PQTRANS_IDLE:
        snprintf(err, errlen, "no transaction is open on the application's connection: begin one first");
        return PGQRS_ESTATE;
    case PQTRANS_INERROR:
        snprintf(err, errlen, "the application's transaction is aborted (a statement in it failed): roll it back");
        return PGQRS_ESTATE;
    case PQTRANS_ACTIVE:
        snprintf(err, errlen, "a command is in progress on the application's connection");
        return PGQRS_ESTATE;
    default:
        snprintf(err, errlen, "the application's PostgreSQL connection is in an unknown state");
        return PGQRS_ECONN;
    }
    p = pgqrs__calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return PGQRS_ENOMEM;
    }
    pgqrs__conn_init(&p->base, &pgqrs__driver_postgres, env);
    p->pg = pg;
    p->unnamed = true;   /* pgqrs__pg_exec never prepares: p->prepared stays NULL */
    *out = &p->base;
    return PGQRS_OK;
}

void pgqrs__pg_app_close(pgqrs_conn *c)
{
    pgqrs__free(c);   /* not the PGconn: it is the application's */
}
