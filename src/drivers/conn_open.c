/* conn_open.c: what opening and closing a connection share across backends; the
 * backends' own parts are in conn_pg.c, conn_sqlite.c and driver_turso.c, each
 * built only when its backend is (make WITH_POSTGRES/WITH_SQLITE/WITH_TURSO). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "drivers/conn.h"
#include "drivers/turso.h"

pgqrs_conn *pgqrs__conn_new(const pgqrs_queries *q, pgqrs__backend be)
{
    pgqrs_conn *c = pgqrs__calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->q = q;
    c->backend = be;
    c->rng = pgqrs__rng_seed(c);
    return c;
}

void pgqrs__first_line(char *err, size_t errlen, const char *prefix, const char *msg)
{
    size_t n = strcspn(msg, "\n");
    snprintf(err, errlen, "%s%.*s", prefix, (int)(n > 300 ? 300 : n), msg);
}

pgqrs_status pgqrs__conn_session_init(pgqrs_conn *c)
{
    pgqrs_status st = c->q->session_setup(c);
    if (st == PGQRS_OK && c->relaxed_durability)
        st = c->q->session_relaxed_durability(c);
    return st;
}

pgqrs_status pgqrs__conn_ensure(pgqrs_conn *c)
{
#if PGQRS_WITH_POSTGRES
    if (c->backend == PGQRS__BACKEND_POSTGRES)
        return pgqrs__pg_ensure(c);
#endif
    (void)c;
    return PGQRS_OK;
}

void pgqrs__conn_close(pgqrs_conn *c)
{
    if (!c)
        return;
#if PGQRS_WITH_SQLITE
    pgqrs__sq_close(c);
#endif
#if PGQRS_WITH_POSTGRES
    pgqrs__pg_close(c);
#endif
#if PGQRS_WITH_TURSO
    pgqrs__turso_close(c->tu);
#endif
    pgqrs__free(c);
}
