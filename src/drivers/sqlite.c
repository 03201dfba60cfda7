/* sqlite.c: the SQLite driver (and turso:///path.db, a Turso-format file opened
 * through it): opening with WAL, enforced foreign keys and a jittered busy
 * handler; closing; what SQLite guarantees. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "drivers/driver.h"
#include "drivers/sqlite.h"

/* Waits for a locked database with capped, jittered exponential backoff until
 * busy_timeout_ms has passed in total; then SQLite reports SQLITE_BUSY. The first
 * retry comes after 0.5-1 ms, doubling to a 5-10 ms cap. Shorter first waits
 * (the 50-100 us of 0.2) passed the lock between processes in 13-18 % of
 * transactions at 4 consumers, and each hand-over makes the new holder re-read
 * its pages (SQLite drops a connection's cache when another one wrote): the
 * claim got slower as consumers were added (docs/benchmarks.md, "Profile of
 * the claim path"). A holder that keeps the lock through a busy stretch is
 * bounded by busy_timeout_ms for the others. Logged at WARN on the first retry
 * of a wait and then at every doubling of the retry count. */
static int busy_wait(void *arg, int count)
{
    pgqrs__sq_conn *q = arg;
    int64_t now = pgqrs__now_us(), left_us, d_us;
    if (count == 0)
        q->busy_started_us = now;
    left_us = (int64_t)q->busy_timeout_ms * 1000 - (now - q->busy_started_us);
    if (left_us <= 0) {
        pgqrs__logf(q->base.log, PGQRS_LOG_WARN, "sqlite.busy",
                    "database still locked after %d ms (busy_timeout_ms); giving up", q->busy_timeout_ms);
        return 0;
    }
    d_us = pgqrs__backoff_ms(count, 2, 20, &q->base.rng) * 500;   /* in units of 0.5 ms */
    if (d_us > left_us)
        d_us = left_us;
    if ((count & (count - 1)) == 0)
        pgqrs__logf(q->base.log, PGQRS_LOG_WARN, "sqlite.busy",
                    "database locked: retry %d in %lld us (waited %lld ms of %d)", count + 1, (long long)d_us,
                    (long long)((now - q->busy_started_us) / 1000), q->busy_timeout_ms);
    pgqrs__sleep_us(d_us);
    return 1;
}

static void sq_close(pgqrs_conn *c)
{
    pgqrs__sq_conn *q = pgqrs__sq(c);
    if (!c)
        return;
    if (q->stmts) {
        for (size_t i = 0; i < c->q->stmt_slots; i++)
            sqlite3_finalize(q->stmts[i]);
        pgqrs__free(q->stmts);
    }
    if (q->db)
        sqlite3_close(q->db);
    pgqrs__free(q);
}

/* Every option applies (a schema is PostgreSQL's and ignored here). */
static pgqrs_status sq_check(const pgqrs__dsn *d, const pgqrs__open_opts *o, char *err, size_t errlen)
{
    (void)d;
    (void)o;
    (void)err;
    (void)errlen;
    return PGQRS_OK;
}

static int sq_pool_limit(const pgqrs__dsn *d)
{
    return strcmp(d->path, ":memory:") == 0 ? 1 : 0;   /* every connection to :memory: is another database */
}

static pgqrs_status open_with(const pgqrs__driver *drv, pgqrs_conn **out, const pgqrs__dsn *d,
                              const pgqrs__open_opts *o, const pgqrs__conn_env *env, char *err, size_t errlen)
{
    int fk = 0, rc;
    pgqrs__sq_conn *q = pgqrs__calloc(1, sizeof *q);
    *out = NULL;
    if (q) {
        pgqrs__conn_init(&q->base, drv, env);
        q->stmts = pgqrs__calloc(q->base.q->stmt_slots, sizeof *q->stmts);
    }
    if (!q || !q->stmts) {
        sq_close(q ? &q->base : NULL);
        snprintf(err, errlen, "out of memory");
        return PGQRS_ENOMEM;
    }
    rc = sqlite3_open_v2(d->path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open SQLite database %s: %s", d->path,
                 q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        sq_close(&q->base);
        return rc == SQLITE_NOMEM ? PGQRS_ENOMEM : PGQRS_ECONN;
    }
    sqlite3_extended_result_codes(q->db, 1);
    q->busy_timeout_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000;
    sqlite3_busy_handler(q->db, busy_wait, q);
    /* enforce foreign keys, and check it took: a build without FK support would
     * otherwise leave orphans silently */
    if (sqlite3_db_config(q->db, SQLITE_DBCONFIG_ENABLE_FKEY, 1, &fk) != SQLITE_OK || fk != 1) {
        snprintf(err, errlen, "SQLite database %s: foreign key enforcement could not be enabled", d->path);
        sq_close(&q->base);
        return PGQRS_ENOTSUPPORTED;
    }
    /* switching a new file to WAL needs a moment of exclusive access, and SQLite
     * reports SQLITE_BUSY for it without calling the busy handler: retry it
     * ourselves, with the same capped, jittered backoff, within busy_timeout */
    {
        int64_t deadline = pgqrs__now_us() + (int64_t)q->busy_timeout_ms * 1000;
        pgqrs_status st;
        for (int attempt = 0;
             (st = pgqrs__conn_session_init(&q->base, o->relaxed_durability)) == PGQRS_EBUSY && pgqrs__now_us() < deadline;
             attempt++) {
            int64_t ms = pgqrs__backoff_ms(attempt, 1, 50, &q->base.rng);
            pgqrs__logf(q->base.log, PGQRS_LOG_WARN, "sqlite.busy", "database locked while opening: retry %d in %lld ms",
                        attempt + 1, (long long)ms);
            pgqrs__sleep_ms(ms);
        }
        if (st != PGQRS_OK) {
            snprintf(err, errlen, "%s", q->base.msg);
            sq_close(&q->base);
            return st == PGQRS_EBUSY ? PGQRS_EBUSY : PGQRS_ECONN;
        }
    }
    *out = &q->base;
    return PGQRS_OK;
}

static pgqrs_status sq_open(pgqrs_conn **out, const pgqrs__dsn *d, const pgqrs__open_opts *o,
                            const pgqrs__conn_env *env, char *err, size_t errlen)
{
    return open_with(&pgqrs__driver_sqlite, out, d, o, env, err, errlen);
}

static void sq_capabilities(const pgqrs__dsn *d, pgqrs_capabilities *out)
{
    (void)d;
    out->skip_locked = 0;
    out->multi_process = 0;
    out->transactions = 1;
    out->database_clock = 0;
    out->concurrency_model = "single-process";
    out->notifications = 0;
    out->app_transactions = 1;   /* a sqlite3 * (sqlite_app.c) */
}

const pgqrs__driver pgqrs__driver_sqlite = {
    .name = "sqlite",
    .q = &pgqrs__queries_sqlite,
    .database_clock = false,
    .check = sq_check,
    .pool_limit = sq_pool_limit,
    .open = sq_open,
    .ensure = NULL,
    .close = sq_close,
    .tx_begin = pgqrs__tx_begin_query,
    .tx_commit = pgqrs__tx_commit_query,
    .tx_rollback = pgqrs__tx_rollback_query,
    .listen = NULL,
    .wait_notify = NULL,
    .app_wrap = pgqrs__sq_app_wrap,
    .app_close = pgqrs__sq_app_close,
    .capabilities = sq_capabilities,
};

/* ---- turso:///path.db: a local Turso-format file through the SQLite driver ---- */

static pgqrs_status turso_file_open(pgqrs_conn **out, const pgqrs__dsn *d, const pgqrs__open_opts *o,
                                    const pgqrs__conn_env *env, char *err, size_t errlen)
{
    unsigned char hdr[100];
    FILE *f = fopen(d->path, "rb");
    *out = NULL;
    if (f) {
        size_t n = fread(hdr, 1, sizeof hdr, f);
        fclose(f);
        /* bytes 18 and 19 are the file format write and read versions: 1 legacy,
         * 2 WAL (both SQLite-compatible); Turso's MVCC mode writes 255, and keeps
         * its rows in a log SQLite cannot read */
        if (n == sizeof hdr && memcmp(hdr, "SQLite format 3", 16) == 0 && (hdr[18] > 2 || hdr[19] > 2)) {
            snprintf(err, errlen, "Turso database %s is in MVCC mode (file format %d/%d), which SQLite cannot read: "
                     "switch it to WAL (PRAGMA journal_mode = 'wal' in tursodb) or serve it over Hrana (http://, libsql://)",
                     d->path, hdr[18], hdr[19]);
            return PGQRS_ENOTSUPPORTED;
        }
        if (n > 0 && (n < 16 || memcmp(hdr, "SQLite format 3", 16) != 0)) {
            snprintf(err, errlen, "%s is not a Turso/SQLite database file", d->path);
            return PGQRS_EINVAL;
        }
    }
    return open_with(&pgqrs__driver_turso_file, out, d, o, env, err, errlen);
}

static void turso_file_capabilities(const pgqrs__dsn *d, pgqrs_capabilities *out)
{
    sq_capabilities(d, out);
    out->app_transactions = 0;   /* a Turso database has no application connection type to wrap */
}

const pgqrs__driver pgqrs__driver_turso_file = {
    .name = "turso",
    .q = &pgqrs__queries_sqlite,
    .database_clock = false,
    .check = sq_check,
    .pool_limit = sq_pool_limit,
    .open = turso_file_open,
    .ensure = NULL,
    .close = sq_close,
    .tx_begin = pgqrs__tx_begin_query,
    .tx_commit = pgqrs__tx_commit_query,
    .tx_rollback = pgqrs__tx_rollback_query,
    .listen = NULL,
    .wait_notify = NULL,
    .capabilities = turso_file_capabilities,
};
