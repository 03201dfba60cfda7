/* bench/sqlite_trace.c: an LD_PRELOAD shim that profiles how a process uses
 * SQLite, for bench/profile.sh (the same numbers for pgqrs_bench and sqlite_bare
 * without changing either):
 *   - per statement (keyed by its `-- name:` comment or its first words): calls to
 *     completion, time in sqlite3_step, VM steps (sqlite3_stmt_status);
 *   - the write lock: time spent in BEGIN IMMEDIATE (waiting for it, busy handler
 *     included), time held (BEGIN IMMEDIATE returned -> COMMIT returned), and every
 *     hold interval (CLOCK_MONOTONIC, comparable across processes) so the lock's
 *     idle time between holders can be computed;
 *   - busy handler calls and the time spent in them (the handler the program
 *     registered, wrapped; sqlite3_busy_timeout's built-in one included);
 *   - fsync/fdatasync calls and time; pages written (SQLITE_DBSTATUS_CACHE_WRITE).
 * On every sqlite3_close/sqlite3_close_v2 the process appends one JSON line to
 * $SQLITE_TRACE_OUT.jsonl and its hold intervals to $SQLITE_TRACE_OUT.<pid>.holds
 * (pairs of doubles, microseconds), then starts over (so a parent's prefill and its
 * consumers are separate records). The drivers' children leave with _exit, so
 * closing is the only reliable moment.
 *   cc -O2 -shared -fPIC -o sqlite_trace.so bench/sqlite_trace.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

#define REAL(name) static __typeof__(name) *real_##name; if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name)

typedef struct { char key[64]; long calls; double us; long vm; long fullscan; } stat_t;
static stat_t stats[64];
static int nstats;
static long n_begin, n_commit, busy_calls, n_fsync;
static double begin_us, hold_us, busy_us, fsync_us, held_since;
static double *holds;
static size_t nholds, capholds;

static void reset(void)
{
    memset(stats, 0, sizeof stats);
    nstats = 0;
    n_begin = n_commit = busy_calls = n_fsync = 0;
    begin_us = hold_us = busy_us = fsync_us = held_since = 0;
    nholds = 0;
}

/* the statement's key: the name from a leading "-- name: x" comment, else its first words */
static void key_of(sqlite3_stmt *s, char *out, size_t len)
{
    const char *sql = sqlite3_sql(s);
    if (!sql) sql = "?";
    while (*sql == ' ' || *sql == '\n') sql++;
    if (!strncmp(sql, "-- name: ", 9)) {
        sql += 9;
        size_t n = strcspn(sql, " \n");
        const char *part = strstr(sql, "(statement ");
        const char *nl = strchr(sql, '\n');
        if (part && (!nl || part < nl))
            snprintf(out, len, "%.*s #%c", (int)n, sql, part[11]);
        else
            snprintf(out, len, "%.*s", (int)n, sql);
        return;
    }
    size_t i = 0;
    for (; sql[i] && i + 1 < len && i < 40; i++) out[i] = (sql[i] == '\n' || sql[i] == '"') ? ' ' : sql[i];
    out[i] = 0;
}
static stat_t *stat_for(const char *k)
{
    for (int i = 0; i < nstats; i++)
        if (!strcmp(stats[i].key, k)) return &stats[i];
    if (nstats == 64) return &stats[63];
    snprintf(stats[nstats].key, sizeof stats[nstats].key, "%s", k);
    return &stats[nstats++];
}

int sqlite3_step(sqlite3_stmt *s)
{
    REAL(sqlite3_step);
    char k[64];
    key_of(s, k, sizeof k);
    stat_t *st = stat_for(k);
    if (!sqlite3_stmt_busy(s)) {   /* a new execution (the counters of the last one, if it never reached DONE) */
        st->calls++;
        st->vm += sqlite3_stmt_status(s, SQLITE_STMTSTATUS_VM_STEP, 1);
        st->fullscan += sqlite3_stmt_status(s, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
    }
    double t0 = mono_us();
    int rc = real_sqlite3_step(s);
    double t1 = mono_us();
    st->us += t1 - t0;
    if (rc != SQLITE_ROW) {
        st->vm += sqlite3_stmt_status(s, SQLITE_STMTSTATUS_VM_STEP, 1);
        st->fullscan += sqlite3_stmt_status(s, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
    }
    const char *sql = sqlite3_sql(s);
    const char *verb = sql ? strrchr(sql, '\n') : NULL;   /* tx statements are one line after the comment */
    verb = verb ? verb + 1 : sql;
    if (verb && !strncmp(verb, "BEGIN", 5)) {
        n_begin++;
        begin_us += t1 - t0;
        if (rc == SQLITE_DONE) held_since = t1;
    } else if (verb && (!strncmp(verb, "COMMIT", 6) || !strncmp(verb, "ROLLBACK", 8)) && held_since > 0) {
        if (rc == SQLITE_DONE) {
            n_commit++;
            hold_us += t1 - held_since;
            if (nholds + 2 > capholds) {
                capholds = capholds ? capholds * 2 : 65536;
                holds = realloc(holds, capholds * sizeof *holds);
            }
            if (holds) { holds[nholds++] = held_since; holds[nholds++] = t1; }
            held_since = 0;
        }
    }
    return rc;
}

/* the busy handler the program registers, wrapped to count its calls */
typedef struct { sqlite3 *db; int (*fn)(void *, int); void *arg; } busy_t;
static busy_t busy[8];
static int wrapped_busy(void *p, int count)
{
    busy_t *b = p;
    double t0 = mono_us();
    int r = b->fn(b->arg, count);
    busy_us += mono_us() - t0;
    busy_calls++;
    return r;
}
static int builtin_busy;   /* inside sqlite3_busy_timeout: its handler is SQLite's own */
int sqlite3_busy_handler(sqlite3 *db, int (*fn)(void *, int), void *arg)
{
    REAL(sqlite3_busy_handler);
    if (!fn) return real_sqlite3_busy_handler(db, fn, arg);
    /* SQLITE_TRACE_BUSY=builtin: an experiment, the program's own handler replaced
     * by SQLite's (sqlite3_busy_timeout, same 5 s), to compare wait strategies */
    const char *o = getenv("SQLITE_TRACE_BUSY");
    if (!builtin_busy && o && !strcmp(o, "builtin")) {
        REAL(sqlite3_busy_timeout);
        builtin_busy = 1;
        int r = real_sqlite3_busy_timeout(db, 5000);
        builtin_busy = 0;
        return r;
    }
    busy_t *b = NULL;
    for (int i = 0; i < 8 && !b; i++)
        if (busy[i].db == db || !busy[i].db) b = &busy[i];
    if (!b) return real_sqlite3_busy_handler(db, fn, arg);
    b->db = db;
    b->fn = fn;
    b->arg = arg;
    return real_sqlite3_busy_handler(db, wrapped_busy, b);
}

/* SQLITE_TRACE_NO_FK=1: an experiment, foreign key enforcement left off while the
 * program is told it is on (pgqrs refuses to run without it) */
int sqlite3_db_config(sqlite3 *db, int op, ...)
{
    REAL(sqlite3_db_config);
    va_list ap;
    va_start(ap, op);
    int r;
    if (op == SQLITE_DBCONFIG_ENABLE_FKEY) {
        int on = va_arg(ap, int), *out = va_arg(ap, int *);
        const char *o = getenv("SQLITE_TRACE_NO_FK");
        int off = o && !strcmp(o, "1");
        r = real_sqlite3_db_config(db, op, off ? 0 : on, out);
        if (off && out) *out = on;
    } else if (op == SQLITE_DBCONFIG_MAINDBNAME) {
        r = real_sqlite3_db_config(db, op, va_arg(ap, const char *));
    } else if (op == SQLITE_DBCONFIG_LOOKASIDE) {
        void *buf = va_arg(ap, void *);
        int sz = va_arg(ap, int), cnt = va_arg(ap, int);
        r = real_sqlite3_db_config(db, op, buf, sz, cnt);
    } else {   /* the boolean options: (int, int *) */
        int v = va_arg(ap, int), *out = va_arg(ap, int *);
        r = real_sqlite3_db_config(db, op, v, out);
    }
    va_end(ap);
    return r;
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    double t0 = mono_us();
    int r = real_fdatasync(fd);
    fsync_us += mono_us() - t0;
    n_fsync++;
    return r;
}
int fsync(int fd)
{
    REAL(fsync);
    double t0 = mono_us();
    int r = real_fsync(fd);
    fsync_us += mono_us() - t0;
    n_fsync++;
    return r;
}

static void dump(sqlite3 *db)
{
    const char *out = getenv("SQLITE_TRACE_OUT");
    if (!out || !*out) return;
    int cur = 0, hi = 0, pcur = 0, phi = 0;
    sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &cur, &hi, 0);
    sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS, &pcur, &phi, 0);
    char path[600];
    size_t cap = 4096 + (size_t)nstats * 200, len = 0;
    char *line = malloc(cap);
    if (!line) return;
    len += (size_t)snprintf(line + len, cap - len,
                            "{\"pid\":%d,\"ppid\":%d,\"begin\":%ld,\"begin_us\":%.0f,\"commit\":%ld,\"hold_us\":%.0f,"
                            "\"busy_calls\":%ld,\"busy_us\":%.0f,\"fsync\":%ld,\"fsync_us\":%.0f,\"pages_written\":%d,"
                            "\"cache_miss\":%d,\"stmts\":{",
                            (int)getpid(), (int)getppid(), n_begin, begin_us, n_commit, hold_us, busy_calls, busy_us,
                            n_fsync, fsync_us, cur, pcur);
    for (int i = 0; i < nstats; i++)
        len += (size_t)snprintf(line + len, cap - len, "%s\"%s\":{\"calls\":%ld,\"us\":%.0f,\"vm\":%ld,\"fullscan\":%ld}",
                                i ? "," : "", stats[i].key, stats[i].calls, stats[i].us, stats[i].vm, stats[i].fullscan);
    len += (size_t)snprintf(line + len, cap - len, "}}\n");
    snprintf(path, sizeof path, "%s.jsonl", out);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) { if (write(fd, line, len) < 0) {} close(fd); }
    free(line);
    if (nholds) {
        snprintf(path, sizeof path, "%s.%d.holds", out, (int)getpid());
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) { if (write(fd, holds, nholds * sizeof *holds) < 0) {} close(fd); }
    }
    for (int i = 0; i < 8; i++)
        if (busy[i].db == db) busy[i].db = NULL;
    reset();
}

int sqlite3_close(sqlite3 *db)
{
    REAL(sqlite3_close);
    if (db) dump(db);
    return real_sqlite3_close(db);
}
int sqlite3_close_v2(sqlite3 *db)
{
    REAL(sqlite3_close_v2);
    if (db) dump(db);
    return real_sqlite3_close_v2(db);
}

static void child_reset(void) { reset(); }
__attribute__((constructor)) static void init(void) { pthread_atfork(NULL, NULL, child_reset); }
