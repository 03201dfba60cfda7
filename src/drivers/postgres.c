/* conn_pg.c: opening, checking and closing PostgreSQL connections (libpq). */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "drivers/conn.h"

/* Server notices (e.g. "already exists, skipping") are not errors; keep them off stderr. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

pgqrs_status pgqrs__conn_open_postgres(pgqrs_conn **out, const pgqrs__pg_options *o, char *err, size_t errlen)
{
    const char *keys[5], *vals[5];
    char options[160], timeout[16];
    int k = 0;
    pgqrs_conn *c;
    *out = NULL;
    c = pgqrs__conn_new(&pgqrs__queries_postgres, PGQRS__BACKEND_POSTGRES);
    if (c)
        c->pg_prepared = pgqrs__calloc(c->q->stmt_slots, 1);
    if (!c || !c->pg_prepared) {
        pgqrs__conn_close(c);
        snprintf(err, errlen, "out of memory");
        return PGQRS_ENOMEM;
    }
    keys[k] = "dbname", vals[k++] = o->uri;   /* expand_dbname: a URI or key=value string */
    keys[k] = "fallback_application_name", vals[k++] = "pgqrs";
    if (o->schema) {
        /* the caller validated it as an identifier; chosen once per session */
        snprintf(options, sizeof options, "-c search_path=%s", o->schema);
        keys[k] = "options", vals[k++] = options;
    }
    if (o->connect_timeout_s > 0) {
        snprintf(timeout, sizeof timeout, "%d", o->connect_timeout_s);
        keys[k] = "connect_timeout", vals[k++] = timeout;
    }
    keys[k] = NULL, vals[k] = NULL;
    c->pg = PQconnectdbParams(keys, vals, 1);
    c->pg_unnamed = o->unnamed_statements;
    if (c->pg)
        PQsetNoticeProcessor(c->pg, ignore_notice, NULL);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        pgqrs__first_line(err, errlen, "cannot connect to PostgreSQL: ", c->pg ? PQerrorMessage(c->pg) : "out of memory");
        pgqrs__conn_close(c);
        return PGQRS_ECONN;
    }
    c->relaxed_durability = o->relaxed_durability;
    if (pgqrs__conn_session_init(c) != PGQRS_OK) {
        snprintf(err, errlen, "%s", c->msg);
        pgqrs__conn_close(c);
        return PGQRS_ECONN;
    }
    *out = c;
    return PGQRS_OK;
}

pgqrs_status pgqrs__pg_ensure(pgqrs_conn *c)
{
    if (PQstatus(c->pg) == CONNECTION_OK)
        return PGQRS_OK;
    /* the session is gone, and with it every prepared statement */
    PQreset(c->pg);
    c->reconnected = true;
    memset(c->pg_prepared, 0, c->q->stmt_slots);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        const char *m = PQerrorMessage(c->pg);
        size_t n = strcspn(m, "\n");
        return pgqrs__conn_fail(c, PGQRS_ECONN, "connection lost: %.*s", (int)(n > 300 ? 300 : n), m);
    }
    return pgqrs__conn_session_init(c);
}

void pgqrs__pg_close(pgqrs_conn *c)
{
    if (c->pg)
        PQfinish(c->pg);
    pgqrs__free(c->pg_prepared);
}
