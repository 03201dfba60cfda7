/* postgres.c: the PostgreSQL driver: opening, checking, re-establishing and
 * closing libpq sessions, LISTEN/NOTIFY waits, and what PostgreSQL guarantees. */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/text.h"
#include "drivers/driver.h"
#include "drivers/postgres.h"

/* Server notices (e.g. "already exists, skipping") are not errors; keep them off stderr. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void pg_close(pgqrs_conn *c)
{
    pgqrs__pg_conn *p = pgqrs__pg(c);
    if (!c)
        return;
    if (p->pg)
        PQfinish(p->pg);
    pgqrs__free(p->prepared);
    pgqrs__free(p);
}

static pgqrs_status pg_check(const pgqrs__dsn *d, const pgqrs__open_opts *o, char *err, size_t errlen)
{
    if (o->relaxed_durability && d->pgbouncer) {
        snprintf(err, errlen, "connect options: relaxed_durability is a session setting, which cannot pass through "
                              "PgBouncer (?pgbouncer=true)");
        return PGQRS_EINVAL;
    }
    if (o->schema && d->pgbouncer) {
        snprintf(err, errlen, "connect options: schema cannot pass through PgBouncer (?pgbouncer=true); set "
                              "search_path on the role or database instead");
        return PGQRS_EINVAL;
    }
    return PGQRS_OK;
}

static int pg_pool_limit(const pgqrs__dsn *d)
{
    (void)d;
    return 0;
}

static pgqrs_status pg_open(pgqrs_conn **out, const pgqrs__dsn *d, const pgqrs__open_opts *o,
                            const pgqrs__conn_env *env, char *err, size_t errlen)
{
    const char *keys[5], *vals[5];
    const char *schema = o->schema ? o->schema : d->schema;
    char options[200], timeout[16];
    size_t used = 0;
    int k = 0;
    pgqrs__pg_conn *p = pgqrs__calloc(1, sizeof *p);
    *out = NULL;
    if (p) {
        pgqrs__conn_init(&p->base, &pgqrs__driver_postgres, env);
        p->prepared = pgqrs__calloc(p->base.q->stmt_slots, 1);
    }
    if (!p || !p->prepared) {
        pg_close(p ? &p->base : NULL);
        snprintf(err, errlen, "out of memory");
        return PGQRS_ENOMEM;
    }
    keys[k] = "dbname", vals[k++] = d->uri;   /* expand_dbname: a URI or key=value string */
    keys[k] = "fallback_application_name", vals[k++] = "pgqrs";
    options[0] = '\0';
    if (schema)   /* validated as an identifier by the DSN parser or the store; chosen once per session */
        used += (size_t)snprintf(options + used, sizeof options - used, "-c search_path=%s ", schema);
    if (!d->pgbouncer)
        /* each statement is prepared once per session: plan it once too. By
         * default PostgreSQL re-plans a statement whose first plans were cheaper
         * than its generic plan, and at batch 1 the planning cost as much as the
         * execution (docs/benchmarks.md). Every query's generic plan is an index
         * plan (queries/postgres/messages.sql says how the claim keeps one).
         * Through PgBouncer statements are unnamed and planned per call anyway,
         * and the startup options would be refused. */
        snprintf(options + used, sizeof options - used, "-c plan_cache_mode=force_generic_plan");
    if (options[0])
        keys[k] = "options", vals[k++] = options;
    if (o->connect_timeout_s > 0) {
        snprintf(timeout, sizeof timeout, "%d", o->connect_timeout_s);
        keys[k] = "connect_timeout", vals[k++] = timeout;
    }
    keys[k] = NULL, vals[k] = NULL;
    p->pg = PQconnectdbParams(keys, vals, 1);
    p->unnamed = d->pgbouncer;
    p->relaxed_durability = o->relaxed_durability;
    if (p->pg)
        PQsetNoticeProcessor(p->pg, ignore_notice, NULL);
    if (!p->pg || PQstatus(p->pg) != CONNECTION_OK) {
        pgqrs__first_line(err, errlen, "cannot connect to PostgreSQL: ", p->pg ? PQerrorMessage(p->pg) : "out of memory");
        pg_close(&p->base);
        return PGQRS_ECONN;
    }
    if (pgqrs__conn_session_init(&p->base, p->relaxed_durability) != PGQRS_OK) {
        snprintf(err, errlen, "%s", p->base.msg);
        pg_close(&p->base);
        return PGQRS_ECONN;
    }
    *out = &p->base;
    return PGQRS_OK;
}

static pgqrs_status pg_ensure(pgqrs_conn *c)
{
    pgqrs__pg_conn *p = pgqrs__pg(c);
    pgqrs_status st;
    if (PQstatus(p->pg) == CONNECTION_OK)
        return PGQRS_OK;
    /* the session is gone, and with it every prepared statement */
    PQreset(p->pg);
    memset(p->prepared, 0, c->q->stmt_slots);
    if (PQstatus(p->pg) != CONNECTION_OK) {
        char line[PGQRS__MSG_LEN];
        pgqrs__first_line(line, sizeof line, "", PQerrorMessage(p->pg));
        st = pgqrs__conn_fail(c, PGQRS_ECONN, "connection lost: %s", line);
        pgqrs__logf(c->log, PGQRS_LOG_WARN, "connection.reconnect", "lost PostgreSQL session not re-established: %s",
                    pgqrs__conn_msg(c));
        return st;
    }
    st = pgqrs__conn_session_init(c, p->relaxed_durability);
    pgqrs__logf(c->log, PGQRS_LOG_WARN, "connection.reconnect", "%s",
                st == PGQRS_OK ? "lost PostgreSQL session re-established" : pgqrs__conn_msg(c));
    return st;
}

static pgqrs_status pg_listen(pgqrs_conn *c) { return c->q->queue_listen(c); }

/* Consumes pending notifications; 1 if one carried one of the payloads. */
static int drain_notifies(PGconn *pg, const char *const *payloads, size_t np)
{
    PGnotify *n;
    int hit = 0;
    while ((n = PQnotifies(pg)) != NULL) {
        for (size_t i = 0; i < np && !hit; i++)
            hit = strcmp(n->extra, payloads[i]) == 0;
        PQfreemem(n);
    }
    return hit;
}

static int pg_wait_notify(pgqrs_conn *c, const char *const *payloads, size_t np, int64_t timeout_ms, int wake_fd)
{
    PGconn *pg = pgqrs__pg(c)->pg;
    int64_t deadline = pgqrs__now_us() + timeout_ms * 1000;
    for (;;) {
        struct pollfd pfd[2];
        int64_t left;
        if (!PQconsumeInput(pg)) {
            char line[PGQRS__MSG_LEN];
            pgqrs__first_line(line, sizeof line, "", PQerrorMessage(pg));
            pgqrs__conn_fail(c, PGQRS_ECONN, "listen: %s", line);
            return -1;
        }
        if (drain_notifies(pg, payloads, np))
            return 1;
        left = (deadline - pgqrs__now_us()) / 1000;
        if (left <= 0)
            return 0;
        pfd[0].fd = PQsocket(pg);
        pfd[0].events = POLLIN;
        pfd[0].revents = 0;
        pfd[1].fd = wake_fd;   /* poll ignores a negative fd */
        pfd[1].events = POLLIN;
        pfd[1].revents = 0;
        if (pfd[0].fd < 0) {
            pgqrs__conn_fail(c, PGQRS_ECONN, "listen: the connection has no socket");
            return -1;
        }
        if (poll(pfd, 2, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR) {
            pgqrs__conn_fail(c, PGQRS_ECONN, "listen: poll failed");
            return -1;
        }
        if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
            return 2;
    }
}

static void pg_capabilities(const pgqrs__dsn *d, pgqrs_capabilities *out)
{
    out->skip_locked = 1;
    out->multi_process = 1;
    out->transactions = 1;
    out->database_clock = 1;
    out->concurrency_model = "multi-process";
    /* a notification through PgBouncer reaches whichever client holds the server
     * connection next, so waiting consumers poll there */
    out->notifications = !d->pgbouncer;
    out->app_transactions = 1;   /* a PGconn *, also through PgBouncer (postgres_app.c) */
}

const pgqrs__driver pgqrs__driver_postgres = {
    .name = "postgres",
    .q = &pgqrs__queries_postgres,
    .database_clock = true,
    .check = pg_check,
    .pool_limit = pg_pool_limit,
    .open = pg_open,
    .ensure = pg_ensure,
    .close = pg_close,
    .tx_begin = pgqrs__tx_begin_query,
    .tx_commit = pgqrs__tx_commit_query,
    .tx_rollback = pgqrs__tx_rollback_query,
    .listen = pg_listen,
    .wait_notify = pg_wait_notify,
    .app_wrap = pgqrs__pg_app_wrap,
    .app_close = pgqrs__pg_app_close,
    .capabilities = pg_capabilities,
};
