/* conn_sqlite.c: opening and closing SQLite connections. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "drivers/conn.h"

/* Waits for a locked database with capped, jittered exponential backoff until
 * busy_timeout_ms has passed in total; then SQLite reports SQLITE_BUSY. A writer
 * holds the lock for a fraction of a millisecond, so the first retries come after
 * 50-100 us, doubling to a 10 ms cap: waiting in whole milliseconds would leave
 * the lock idle and let a lucky process starve the others. */
static int busy_wait(void *arg, int count)
{
    pgqrs_conn *c = arg;
    int64_t now = pgqrs__now_us(), left_us, d_us;
    if (count == 0)
        c->busy_started_us = now;
    left_us = (int64_t)c->busy_timeout_ms * 1000 - (now - c->busy_started_us);
    if (left_us <= 0)
        return 0;
    d_us = pgqrs__backoff_ms(count, 2, 200, &c->rng) * 50;   /* in units of 50 us */
    pgqrs__sleep_us(d_us < left_us ? d_us : left_us);
    return 1;
}

pgqrs_status pgqrs__conn_open_sqlite(pgqrs_conn **out, const pgqrs__sqlite_options *o, char *err, size_t errlen)
{
    int fk = 0, rc;
    pgqrs_conn *c;
    *out = NULL;
    c = pgqrs__conn_new(&pgqrs__queries_sqlite, PGQRS__BACKEND_SQLITE);
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
        c->relaxed_durability = o->relaxed_durability;
        for (int attempt = 0; (st = pgqrs__conn_session_init(c)) == PGQRS_EBUSY && pgqrs__now_us() < deadline;
             attempt++)
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

void pgqrs__sq_close(pgqrs_conn *c)
{
    if (c->stmts) {
        for (size_t i = 0; i < c->q->stmt_slots; i++)
            sqlite3_finalize(c->stmts[i]);
        pgqrs__free(c->stmts);
    }
    if (c->db)
        sqlite3_close(c->db);
}

/* ---- turso:///path.db: a local Turso-format file through the SQLite backend ---- */

pgqrs_status pgqrs__conn_open_turso_file(pgqrs_conn **out, const pgqrs__sqlite_options *o, char *err, size_t errlen)
{
    unsigned char hdr[100];
    FILE *f = fopen(o->path, "rb");
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
                     o->path, hdr[18], hdr[19]);
            return PGQRS_ENOTSUPPORTED;
        }
        if (n > 0 && (n < 16 || memcmp(hdr, "SQLite format 3", 16) != 0)) {
            snprintf(err, errlen, "%s is not a Turso/SQLite database file", o->path);
            return PGQRS_EINVAL;
        }
    }
    return pgqrs__conn_open_sqlite(out, o, err, errlen);
}
