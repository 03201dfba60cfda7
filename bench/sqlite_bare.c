/* bench/sqlite_bare.c: the SQLite "physical limit" for the drain scenario: the
 * same work per batch as pgqrs (one BEGIN IMMEDIATE claim transaction that sets
 * vt/read count/consumer on the next B visible rows, one transaction that moves
 * them to an archive table), as bare sqlite3 calls with prepared statements and
 * no library around them. Same file settings as pgqrs: WAL, synchronous left at
 * the library default (FULL), busy timeout 5 s. C processes, each its own connection.
 *   sqlite_bare drain PATH CONSUMERS BATCH MESSAGES TMPDIR */
#include <sqlite3.h>
#include "common.h"

typedef struct { double end_us; long done; long errors; } child_result;

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) { fprintf(stderr, "open %s\n", path); _exit(2); }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    return db;
}
static void ex(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) { fprintf(stderr, "%s: %s\n", sql, err); _exit(2); }
}
static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) { fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db)); _exit(2); }
    return s;
}
static int step_all(sqlite3_stmt *s, long long *ids, int *n)
{
    int rc;
    if (n) *n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (ids) ids[(*n)++] = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : rc;
}
static long long now_db(void) { return (long long)wall_us(); }

int main(int argc, char **argv)
{
    if (argc != 7 || strcmp(argv[1], "drain")) { fprintf(stderr, "usage: sqlite_bare drain PATH C B N TMPDIR\n"); return 2; }
    const char *path = argv[2], *tmp = argv[6];
    int consumers = atoi(argv[3]), batch = atoi(argv[4]);
    long messages = atol(argv[5]);
    sqlite3 *db = open_db(path);
    ex(db, "CREATE TABLE m (id INTEGER PRIMARY KEY, queue_id INTEGER NOT NULL, payload TEXT NOT NULL, vt INTEGER NOT NULL,"
           " read_ct INTEGER NOT NULL DEFAULT 0, dequeued_at INTEGER, consumer INTEGER, enqueued_at INTEGER NOT NULL);"
           "CREATE INDEX m_dq ON m (queue_id, vt, id);"
           "CREATE TABLE a (id INTEGER PRIMARY KEY, queue_id INTEGER, payload TEXT, read_ct INTEGER, dequeued_at INTEGER,"
           " consumer INTEGER, enqueued_at INTEGER, archived_at INTEGER);");
    ex(db, "BEGIN");
    sqlite3_stmt *ins = prep(db, "INSERT INTO m (queue_id, payload, vt, enqueued_at) VALUES (1, ?, ?, ?)");
    for (long i = 0; i < messages; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "{\"task\":\"send_email\",\"n\":%ld}", i);
        sqlite3_bind_text(ins, 1, buf, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 2, now_db());
        sqlite3_bind_int64(ins, 3, now_db());
        step_all(ins, NULL, NULL);
    }
    sqlite3_finalize(ins);
    ex(db, "COMMIT");
    sqlite3_close(db);

    barrier b;
    barrier_init(&b);
    int ready[2], res[2];
    if (pipe(ready) || pipe(res)) return 2;
    for (int k = 0; k < consumers; k++) {
        if (fork()) continue;
        close(ready[0]); close(res[0]);
        sqlite3 *d = open_db(path);
        sqlite3_stmt *begin = prep(d, "BEGIN IMMEDIATE"), *commit = prep(d, "COMMIT");
        sqlite3_stmt *claim = prep(d,
            "UPDATE m SET vt = ?1 + 30000000, read_ct = read_ct + 1, dequeued_at = ?1, consumer = ?2"
            " WHERE id IN (SELECT id FROM m WHERE queue_id = 1 AND vt <= ?1 ORDER BY vt, id LIMIT ?3)"
            " RETURNING id, payload");
        sqlite3_stmt *arch = prep(d,
            "INSERT INTO a SELECT id, queue_id, payload, read_ct, dequeued_at, consumer, enqueued_at, ?1 FROM m"
            " WHERE id IN (SELECT value FROM json_each(?2)) AND consumer = ?3");
        sqlite3_stmt *del = prep(d, "DELETE FROM m WHERE id IN (SELECT value FROM json_each(?1)) AND consumer = ?2");
        long long *ids = malloc(sizeof(long long) * (size_t)batch);
        char *idjson = malloc((size_t)batch * 24 + 4);
        samples dq = {0}, ar = {0};
        child_result r = {0};
        if (write(ready[1], "r", 1) != 1) _exit(2);
        barrier_wait_child(&b);
        for (;;) {
            int n = 0;
            double t0 = now_us();
            long long t = now_db();
            if (step_all(begin, NULL, NULL)) { r.errors++; continue; }
            sqlite3_bind_int64(claim, 1, t);
            sqlite3_bind_int64(claim, 2, getpid());
            sqlite3_bind_int(claim, 3, batch);
            int rc = step_all(claim, ids, &n);
            if (rc || step_all(commit, NULL, NULL)) { r.errors++; sqlite3_exec(d, "ROLLBACK", NULL, NULL, NULL); continue; }
            double t1 = now_us();
            samples_add(&dq, t1 - t0);
            if (n == 0) break;
            size_t len = 0;
            idjson[len++] = '[';
            for (int i = 0; i < n; i++) len += (size_t)sprintf(idjson + len, "%s%lld", i ? "," : "", ids[i]);
            idjson[len++] = ']';
            idjson[len] = 0;
            t0 = now_us();
            step_all(begin, NULL, NULL);
            sqlite3_bind_int64(arch, 1, now_db());
            sqlite3_bind_text(arch, 2, idjson, -1, SQLITE_STATIC);
            sqlite3_bind_int64(arch, 3, getpid());
            sqlite3_bind_text(del, 1, idjson, -1, SQLITE_STATIC);
            sqlite3_bind_int64(del, 2, getpid());
            if (step_all(arch, NULL, NULL) || step_all(del, NULL, NULL) || step_all(commit, NULL, NULL)) {
                r.errors++;
                sqlite3_exec(d, "ROLLBACK", NULL, NULL, NULL);
            } else
                r.done += n;
            t1 = now_us();
            samples_add(&ar, t1 - t0);
            r.end_us = t1;
        }
        samples_save(&dq, tmp, "dequeue");
        samples_save(&ar, tmp, "archive");
        sqlite3_close_v2(d);
        if (write(res[1], &r, sizeof r) != sizeof r) _exit(2);
        _exit(0);
    }
    close(ready[1]); close(res[1]); close(b.rd);
    ready_wait(ready[0], consumers);
    double start = now_us();
    close(b.wr);
    double end = 0; long done = 0, errors = 0;
    child_result r;
    for (int i = 0; i < consumers; i++) {
        if (read(res[0], &r, sizeof r) != sizeof r) { errors++; continue; }
        if (r.end_us > end) end = r.end_us;
        done += r.done; errors += r.errors;
    }
    errors += wait_children(consumers);
    double secs = (end - start) / 1e6;
    samples dq = {0}, ar = {0};
    samples_load(&dq, tmp, "dequeue");
    samples_load(&ar, tmp, "archive");
    printf("{\"messages\":%ld,\"drained\":%ld,\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"errors\":%ld", messages, done, secs,
           done / secs, errors + (done != messages));
    print_lat(stdout, "dequeue", &dq);
    print_lat(stdout, "archive", &ar);
    printf("}\n");
    return 0;
}
