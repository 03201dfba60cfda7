/* conn_open.c: opening, checking and closing connections of each backend. */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "conn.h"
#include "driver_turso.h"

static pgqrs_conn *conn_new(const pgqrs_queries *q, pgqrs__backend be)
{
    pgqrs_conn *c = pgqrs__calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->q = q;
    c->backend = be;
    c->rng = pgqrs__rng_seed(c);
    return c;
}

/* Server notices (e.g. "already exists, skipping") are not errors; keep them off stderr. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void first_line(char *err, size_t errlen, const char *prefix, const char *msg)
{
    size_t n = strcspn(msg, "\n");
    snprintf(err, errlen, "%s%.*s", prefix, (int)(n > 300 ? 300 : n), msg);
}

pgqrs_status pgqrs__conn_open_postgres(pgqrs_conn **out, const pgqrs__pg_options *o, char *err, size_t errlen)
{
    const char *keys[5], *vals[5];
    char options[160], timeout[16];
    int k = 0;
    pgqrs_conn *c;
    *out = NULL;
    c = conn_new(&pgqrs__queries_postgres, PGQRS__BACKEND_POSTGRES);
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
        first_line(err, errlen, "cannot connect to PostgreSQL: ", c->pg ? PQerrorMessage(c->pg) : "out of memory");
        pgqrs__conn_close(c);
        return PGQRS_ECONN;
    }
    if (c->q->session_setup(c) != PGQRS_OK) {
        snprintf(err, errlen, "%s", c->msg);
        pgqrs__conn_close(c);
        return PGQRS_ECONN;
    }
    *out = c;
    return PGQRS_OK;
}

/* Waits for a locked database with capped, jittered exponential backoff until
 * busy_timeout_ms has passed in total; then SQLite reports SQLITE_BUSY. */
static int busy_wait(void *arg, int count)
{
    pgqrs_conn *c = arg;
    int64_t now = pgqrs__now_us(), left_ms, d;
    if (count == 0)
        c->busy_started_us = now;
    left_ms = (int64_t)c->busy_timeout_ms - (now - c->busy_started_us) / 1000;
    if (left_ms <= 0)
        return 0;
    d = pgqrs__backoff_ms(count, 1, 50, &c->rng);
    pgqrs__sleep_ms(d < left_ms ? (d > 0 ? d : 1) : left_ms);
    return 1;
}

pgqrs_status pgqrs__conn_open_sqlite(pgqrs_conn **out, const pgqrs__sqlite_options *o, char *err, size_t errlen)
{
    int fk = 0, rc;
    pgqrs_conn *c;
    *out = NULL;
    c = conn_new(&pgqrs__queries_sqlite, PGQRS__BACKEND_SQLITE);
    if (c)
        c->stmts = pgqrs__calloc(c->q->stmt_slots, sizeof *c->stmts);
    if (!c || !c->stmts) {
        pgqrs__conn_close(c);
        snprintf(err, errlen, "out of memory");
        return PGQRS_ENOMEM;
    }
    rc = sqlite3_open_v2(o->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open SQLite database %s: %s", o->path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        pgqrs__conn_close(c);
        return rc == SQLITE_NOMEM ? PGQRS_ENOMEM : PGQRS_ECONN;
    }
    sqlite3_extended_result_codes(c->db, 1);
    c->busy_timeout_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000;
    sqlite3_busy_handler(c->db, busy_wait, c);
    /* enforce foreign keys, and check it took: a build without FK support would
     * otherwise leave orphans silently */
    if (sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_FKEY, 1, &fk) != SQLITE_OK || fk != 1) {
        snprintf(err, errlen, "SQLite database %s: foreign key enforcement could not be enabled", o->path);
        pgqrs__conn_close(c);
        return PGQRS_ENOTSUPPORTED;
    }
    /* switching a new file to WAL needs a moment of exclusive access, and SQLite
     * reports SQLITE_BUSY for it without calling the busy handler: retry it
     * ourselves, with the same capped, jittered backoff, within busy_timeout */
    {
        int64_t deadline = pgqrs__now_us() + (int64_t)c->busy_timeout_ms * 1000;
        pgqrs_status st;
        for (int attempt = 0; (st = c->q->session_setup(c)) == PGQRS_EBUSY && pgqrs__now_us() < deadline; attempt++)
            pgqrs__sleep_ms(pgqrs__backoff_ms(attempt, 1, 50, &c->rng));
        if (st != PGQRS_OK) {
            snprintf(err, errlen, "%s", c->msg);
            pgqrs__conn_close(c);
            return st == PGQRS_EBUSY ? PGQRS_EBUSY : PGQRS_ECONN;
        }
    }
    *out = c;
    return PGQRS_OK;
}

pgqrs_status pgqrs__conn_ensure(pgqrs_conn *c)
{
    if (c->backend != PGQRS__BACKEND_POSTGRES || PQstatus(c->pg) == CONNECTION_OK)
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
    return c->q->session_setup(c);
}

void pgqrs__conn_close(pgqrs_conn *c)
{
    if (!c)
        return;
    if (c->stmts) {
        for (size_t i = 0; i < c->q->stmt_slots; i++)
            sqlite3_finalize(c->stmts[i]);
        pgqrs__free(c->stmts);
    }
    if (c->db)
        sqlite3_close(c->db);
    if (c->pg)
        PQfinish(c->pg);
    pgqrs__turso_close(c->tu);
    pgqrs__free(c->pg_prepared);
    pgqrs__free(c);
}
