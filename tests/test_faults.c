/* test_faults.c: storage faults on SQLite (issue 7).
 *
 * disk_full: the database lives on a 1 MiB tmpfs; messages are enqueued until
 * the disk is full. The failing call must return an error with a clear message
 * ("database or disk is full"), every message whose enqueue succeeded must be
 * there, nothing half-written, PRAGMA integrity_check "ok"; once the tmpfs is
 * grown (space returns) the same store enqueues, dequeues and archives again.
 *
 * read_only: the filesystem under a database is remounted read-only: opening it
 * or writing must fail with a clear error; remounted read-write, the queue is
 * intact and usable.
 *
 * Needs root for mount(8) (make test runs as root on the CI machine); without it
 * the tests SKIP. They exercise SQLite's file driver, so they run on the sqlite
 * backend only and SKIP elsewhere: PostgreSQL and sqlite::memory: have no file to
 * fill (the PostgreSQL faults are in tests/chaos), and Turso's file belongs to
 * its server. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    return system(cmd);
}

/* Mounts a tmpfs of `size` on a new directory under the suite's tmpdir; NULL,
 * or why not (the caller SKIPs with it). */
static const char *mount_tmpfs(char *dir, size_t len, const char *name, const char *size)
{
    snprintf(dir, len, "%s/%s", th_tmpdir(), name);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return "cannot create the mount point";
    if (geteuid() != 0)
        return "cannot mount a tmpfs: needs root";
    if (sh("mount -t tmpfs -o size=%s tmpfs '%s' 2>/dev/null", size, dir) != 0)
        return "cannot mount a tmpfs (mount -t tmpfs failed: no CAP_SYS_ADMIN?)";
    return NULL;
}

/* The SQLite file tests apply to the sqlite backend only. */
#define SQLITE_FILE_ONLY() do { if (strcmp(th_backend(), "sqlite") != 0) \
    SKIP("a SQLite file fault: runs on the sqlite backend (this backend has no local database file)"); } while (0)

static void unmount(const char *dir)
{
    if (sh("umount '%s'%s", dir, " 2>/dev/null") != 0)
        fprintf(stderr, "    could not unmount %s\n", dir);
}

static bool integrity_ok(const char *path, char *why, size_t len)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    bool ok = false;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        snprintf(why, len, "%s", r ? r : "(null)");
        ok = r && strcmp(r, "ok") == 0;
    } else {
        snprintf(why, len, "%s", db ? sqlite3_errmsg(db) : "open failed");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

static pgqrs_status counts(pgqrs_store *s, int64_t *pending, int64_t *archived)
{
    pgqrs_metrics *ml = NULL;
    pgqrs_status st = pgqrs_metrics_list(&ml, s, "q");
    if (st == PGQRS_OK) {
        *pending = pgqrs_metrics_at(ml, 0)->pending;
        *archived = pgqrs_metrics_at(ml, 0)->archived;
    }
    pgqrs_metrics_free(ml);
    return st;
}

static void test_faults__disk_full_then_space_returns(void)
{
    char dir[512], path[600], dsn[700], why[256], payload[1100];
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_producer *p = NULL;
    pgqrs_consumer *c = NULL;
    pgqrs_status st = PGQRS_OK, st_full;
    int64_t ok = 0, pending = -1, archived = -1, drained = 0;
    char full_msg[512] = "";
    const char *why_not;
    SQLITE_FILE_ONLY();
    if ((why_not = mount_tmpfs(dir, sizeof dir, "full", "1m")) != NULL)
        SKIP("%s", why_not);
    snprintf(path, sizeof path, "%s/q.db", dir);
    snprintf(dsn, sizeof dsn, "sqlite://%s", path);
    o.heartbeat_interval_s = -1;
    st = pgqrs_connect(&s, dsn, &o);
    if (st == PGQRS_OK)
        st = pgqrs_schema_install(s);
    if (st == PGQRS_OK)
        st = pgqrs_queue_create(NULL, s, "q", NULL);
    if (st == PGQRS_OK)
        st = pgqrs_producer_new(&p, s, "q");
    if (st != PGQRS_OK) {
        th_fail(__FILE__, __LINE__, "setup on a 1 MiB tmpfs: %s: %s", pgqrs_errstr(st), s ? pgqrs_errmsg(s) : pgqrs_errmsg(NULL));
        goto out;
    }
    memset(payload, 'x', sizeof payload);
    payload[0] = '"';
    payload[1000] = '"';
    payload[1001] = 0;
    for (int i = 0; i < 5000; i++) {
        st = pgqrs_enqueue(NULL, p, payload, 0);
        if (st != PGQRS_OK)
            break;
        ok++;
    }
    st_full = st;
    snprintf(full_msg, sizeof full_msg, "%s", pgqrs_errmsg(p));
    if (getenv("PGQRS_TEST_VERBOSE"))
        fprintf(stderr, "    disk full after %" PRId64 " messages: %s (%s)\n", ok, pgqrs_errstr(st_full), full_msg);
    if (st_full == PGQRS_OK) {
        th_fail(__FILE__, __LINE__, "5000 KiB fit on a 1 MiB tmpfs");
        goto out;
    }
    if (st_full != PGQRS_ERROR && st_full != PGQRS_ENOMEM)
        th_fail(__FILE__, __LINE__, "disk full: got %d (%s), want PGQRS_ERROR", (int)st_full, pgqrs_errstr(st_full));
    if (!strstr(full_msg, "full"))
        th_fail(__FILE__, __LINE__, "disk full: the message does not say so: %s", full_msg);
    /* a second write fails the same way, not with a crash or a hang */
    st = pgqrs_enqueue(NULL, p, "{}", 0);
    if (st == PGQRS_OK)
        ok++;
    /* nothing lost, nothing half-written */
    if (!integrity_ok(path, why, sizeof why))
        th_fail(__FILE__, __LINE__, "integrity_check after disk full: %s", why);
    st = counts(s, &pending, &archived);
    if (st != PGQRS_OK || pending != ok)
        th_fail(__FILE__, __LINE__, "after disk full: metrics %s, pending %" PRId64 ", want %" PRId64, pgqrs_errstr(st),
                pending, ok);
    /* space returns */
    if (sh("mount -o remount,size=%s '%s'", "32m", dir) != 0) {
        th_fail(__FILE__, __LINE__, "cannot grow the tmpfs");
        goto out;
    }
    for (int i = 0; i < 10; i++) {
        st = pgqrs_enqueue(NULL, p, "{\"after\":true}", 0);
        if (st != PGQRS_OK) {
            th_fail(__FILE__, __LINE__, "enqueue after space returned: %s: %s", pgqrs_errstr(st), pgqrs_errmsg(p));
            goto out;
        }
        ok++;
    }
    st = pgqrs_consumer_new(&c, s, "q");
    while (st == PGQRS_OK) {
        pgqrs_batch *b = NULL;
        int64_t ids[100];
        size_t n;
        st = pgqrs_dequeue(&b, c, 100, 30);
        if (st != PGQRS_OK)
            break;
        n = pgqrs_batch_count(b);
        for (size_t i = 0; i < n; i++)
            ids[i] = pgqrs_batch_at(b, i)->id;
        pgqrs_batch_free(b);
        if (n == 0)
            break;
        st = pgqrs_archive_batch(NULL, c, ids, n);
        drained += (int64_t)n;
    }
    if (st != PGQRS_OK)
        th_fail(__FILE__, __LINE__, "drain after space returned: %s: %s", pgqrs_errstr(st),
                c ? pgqrs_errmsg(c) : pgqrs_errmsg(s));
    if (drained != ok)
        th_fail(__FILE__, __LINE__, "drained %" PRId64 ", enqueued %" PRId64, drained, ok);
    st = counts(s, &pending, &archived);
    if (st != PGQRS_OK || pending != 0 || archived != ok)
        th_fail(__FILE__, __LINE__, "final metrics: pending %" PRId64 " archived %" PRId64 ", want 0 and %" PRId64,
                pending, archived, ok);
    if (getenv("PGQRS_TEST_VERBOSE"))
        fprintf(stderr, "    space returned: %" PRId64 " messages drained, integrity ok\n", drained);
out:
    pgqrs_consumer_free(c);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
    if (!integrity_ok(path, why, sizeof why))
        th_fail(__FILE__, __LINE__, "integrity_check at the end: %s", why);
    unmount(dir);
}

static void test_faults__read_only_filesystem(void)
{
    char dir[512], path[600], dsn[700], why[256];
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_producer *p = NULL;
    pgqrs_status st;
    int64_t pending = -1, archived = -1;
    const char *why_not;
    SQLITE_FILE_ONLY();
    if ((why_not = mount_tmpfs(dir, sizeof dir, "ro", "8m")) != NULL)
        SKIP("%s", why_not);
    snprintf(path, sizeof path, "%s/q.db", dir);
    snprintf(dsn, sizeof dsn, "sqlite://%s", path);
    o.heartbeat_interval_s = -1;
    st = pgqrs_connect(&s, dsn, &o);
    if (st == PGQRS_OK)
        st = pgqrs_schema_install(s);
    if (st == PGQRS_OK)
        st = pgqrs_queue_create(NULL, s, "q", NULL);
    if (st == PGQRS_OK)
        st = pgqrs_producer_new(&p, s, "q");
    for (int i = 0; st == PGQRS_OK && i < 5; i++)
        st = pgqrs_enqueue(NULL, p, "{\"keep\":1}", 0);
    pgqrs_producer_free(p);
    p = NULL;
    pgqrs_store_free(s);
    s = NULL;
    if (st != PGQRS_OK) {
        th_fail(__FILE__, __LINE__, "setup: %s", pgqrs_errstr(st));
        unmount(dir);
        return;
    }
    if (sh("mount -o remount,ro '%s'%s", dir, "") != 0) {
        th_fail(__FILE__, __LINE__, "cannot remount read-only");
        unmount(dir);
        return;
    }
    st = pgqrs_connect(&s, dsn, &o);
    if (st != PGQRS_OK) {
        const char *m = pgqrs_errmsg(NULL);
        if (getenv("PGQRS_TEST_VERBOSE"))
            fprintf(stderr, "    read-only: connect %s: %s\n", pgqrs_errstr(st), m);
        if (!m || !*m)
            th_fail(__FILE__, __LINE__, "read-only: connect failed without a message");
    } else {
        /* opened (SQLite falls back to read-only): every write must fail, clearly */
        st = pgqrs_producer_new(&p, s, "q");
        if (st == PGQRS_OK)
            st = pgqrs_enqueue(NULL, p, "{\"lost\":1}", 0);
        if (getenv("PGQRS_TEST_VERBOSE"))
            fprintf(stderr, "    read-only: write %s: %s\n", pgqrs_errstr(st), p ? pgqrs_errmsg(p) : pgqrs_errmsg(s));
        if (st == PGQRS_OK)
            th_fail(__FILE__, __LINE__, "read-only: a write succeeded");
        pgqrs_producer_free(p);
        p = NULL;
        pgqrs_store_free(s);
        s = NULL;
    }
    if (sh("mount -o remount,rw '%s'%s", dir, "") != 0) {
        th_fail(__FILE__, __LINE__, "cannot remount read-write");
        unmount(dir);
        return;
    }
    if (!integrity_ok(path, why, sizeof why))
        th_fail(__FILE__, __LINE__, "integrity_check: %s", why);
    st = pgqrs_connect(&s, dsn, &o);
    if (st == PGQRS_OK)
        st = pgqrs_schema_verify(s);
    if (st == PGQRS_OK)
        st = counts(s, &pending, &archived);
    if (st != PGQRS_OK || pending != 5)
        th_fail(__FILE__, __LINE__, "after read-write again: %s, pending %" PRId64 " want 5: %s", pgqrs_errstr(st),
                pending, s ? pgqrs_errmsg(s) : pgqrs_errmsg(NULL));
    if (st == PGQRS_OK && (st = pgqrs_producer_new(&p, s, "q")) == PGQRS_OK)
        st = pgqrs_enqueue(NULL, p, "{}", 0);
    if (st != PGQRS_OK)
        th_fail(__FILE__, __LINE__, "write after read-write again: %s", pgqrs_errstr(st));
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
    unmount(dir);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "faults__disk_full_then_space_returns", test_faults__disk_full_then_space_returns },
        { "faults__read_only_filesystem", test_faults__read_only_filesystem },
    };
    return th_main(argc, argv, "test_faults", tests, sizeof tests / sizeof *tests);
}
