/* harness.c: backend selection, fresh databases, reporting. */
#include "harness.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

int th_failed_now;
static const char *backend;
static char tmpdir[256];
static char dsn[1024];
static int db_seq;
static PGconn *admin;   /* PostgreSQL: creates a schema per fresh database */

const char *th_backend(void) { return backend; }
bool th_is_postgres(void) { return strcmp(backend, "postgres") == 0 || th_is_pgbouncer(); }
bool th_is_pgbouncer(void) { return strcmp(backend, "pgbouncer") == 0; }
bool th_is_memory(void) { return strcmp(backend, "sqlite-memory") == 0; }
const char *th_tmpdir(void) { return tmpdir; }
const char *th_current_dsn(void) { return dsn; }

void th_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    th_failed_now = 1;
}

const char *th_fresh_dsn(void)
{
    db_seq++;
    if (th_is_memory()) {
        snprintf(dsn, sizeof dsn, "sqlite::memory:");
    } else if (!th_is_postgres()) {
        snprintf(dsn, sizeof dsn, "sqlite://%s/db%d.sqlite", tmpdir, db_seq);
    } else if (th_is_pgbouncer()) {
        /* PgBouncer cannot carry ?schema= (startup options), so each test gets a
         * fresh database, created directly on the server */
        char sql[128];
        PGresult *res;
        snprintf(sql, sizeof sql, "CREATE DATABASE t%d_%d", (int)getpid(), db_seq);
        res = PQexec(admin, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(admin));
            exit(2);
        }
        PQclear(res);
        snprintf(dsn, sizeof dsn, "postgresql://postgres@/t%d_%d?host=%s&port=%s&pgbouncer=true", (int)getpid(),
                 db_seq, getenv("PGQRS_TEST_PGBOUNCER_DIR"), getenv("PGQRS_TEST_PGBOUNCER_PORT"));
    } else {
        char sql[128];
        PGresult *res;
        const char *base = getenv("PGQRS_TEST_PG_DSN");
        snprintf(sql, sizeof sql, "CREATE SCHEMA t%d_%d", (int)getpid(), db_seq);
        res = PQexec(admin, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(admin));
            exit(2);
        }
        PQclear(res);
        snprintf(dsn, sizeof dsn, "%s%sschema=t%d_%d", base, strchr(base, '?') ? "&" : "?", (int)getpid(), db_seq);
    }
    return dsn;
}

static void cleanup_tmp(void)
{
    char cmd[300];
    if (tmpdir[0] && !getenv("PGQRS_TEST_KEEP")) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "harness: could not remove %s\n", tmpdir);
    }
}

int th_main(int argc, char **argv, const char *suite, const th_test *tests, size_t n)
{
    const char *only = NULL;
    int passed = 0, failed = 0;
    backend = getenv("PGQRS_TEST_BACKEND");
    if (!backend || !*backend)
        backend = "sqlite";
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
            only = argv[++i];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pgqrs-test.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    atexit(cleanup_tmp);
    if (th_is_pgbouncer() && !getenv("PGQRS_TEST_PGBOUNCER_DIR")) {
        fprintf(stderr, "%s: PGQRS_TEST_PGBOUNCER_DIR is not set (run through scripts/with-pgbouncer.sh)\n", suite);
        return 2;
    }
    if (th_is_postgres()) {
        const char *base = getenv("PGQRS_TEST_PG_DSN");
        if (!base) {
            fprintf(stderr, "%s: PGQRS_TEST_PG_DSN is not set (run through scripts/with-postgres.sh)\n", suite);
            return 2;
        }
        admin = PQconnectdb(base);
        if (PQstatus(admin) != CONNECTION_OK) {
            fprintf(stderr, "%s: cannot connect: %s", suite, PQerrorMessage(admin));
            return 2;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, tests[i].name) != 0)
            continue;
        th_failed_now = 0;
        tests[i].fn();
        if (th_failed_now) {
            failed++;
            fprintf(stderr, "  FAIL %s[%s] %s\n", suite, backend, tests[i].name);
        } else {
            passed++;
            if (getenv("PGQRS_TEST_VERBOSE"))
                fprintf(stderr, "  ok   %s[%s] %s\n", suite, backend, tests[i].name);
        }
    }
    if (admin)
        PQfinish(admin);
    printf("%s[%s]: %d passed, %d failed\n", suite, backend, passed, failed);
    return failed ? 1 : 0;
}
