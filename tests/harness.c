/* harness.c: backend selection, fresh databases, reporting. */
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int db_seq;   /* the number of the current fresh database */

#if PGQRS_WITH_POSTGRES
#include <libpq-fe.h>
static PGconn *admin;   /* PostgreSQL: creates a schema (or database) per fresh database */

/* Runs one DDL statement on the server as the harness's admin connection. */
static void admin_exec(const char *sql)
{
    PGresult *res = PQexec(admin, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(admin));
        exit(2);
    }
    PQclear(res);
}

bool th_pg_exec(const char *sql)
{
    char full[8192];
    PGresult *res;
    bool ok;
    if (!admin || !th_is_postgres() || th_is_pgbouncer())
        return false;
    /* the current test's schema first on the path, then back to the default */
    snprintf(full, sizeof full, "SET search_path TO t%d_%d; %s; RESET search_path", (int)getpid(), db_seq, sql);
    res = PQexec(admin, full);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(admin));
    PQclear(res);
    return ok;
}

int th_pg_terminate_sessions(void)
{
    PGresult *res;
    int n = -1;
    if (!admin)
        return -1;
    res = PQexec(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = 'pgqrs' AND pid <> pg_backend_pid()");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}
#else
static void admin_exec(const char *sql)
{
    fprintf(stderr, "harness: %s: this build has no PostgreSQL (WITH_POSTGRES=0)\n", sql);
    exit(2);
}

int th_pg_terminate_sessions(void) { return -1; }
bool th_pg_exec(const char *sql)
{
    (void)sql;
    return false;
}
#endif

int th_failed_now;
int th_skipped_now;
static char skip_reason[512];
static const char *backend;
static char tmpdir[256];
static char dsn[1024];

const char *th_backend(void) { return backend; }
bool th_is_postgres(void) { return strcmp(backend, "postgres") == 0 || th_is_pgbouncer(); }
bool th_is_pgbouncer(void) { return strcmp(backend, "pgbouncer") == 0; }
bool th_is_memory(void) { return strcmp(backend, "sqlite-memory") == 0; }
bool th_under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}
const char *th_tmpdir(void) { return tmpdir; }
const char *th_current_dsn(void) { return dsn; }
bool th_is_turso(void) { return strcmp(backend, "turso") == 0; }

/* ---- turso: a tursodb --sync-server per fresh database ---- */
enum { MAX_TURSO = 32 };
static struct { pid_t pid; int port; char path[300]; } turso[MAX_TURSO];
static int n_turso;

static const char *tursodb_bin(void)
{
    const char *b = getenv("PGQRS_TURSODB");
    return b && *b ? b : ".tools/turso/node_modules/@tursodatabase/cli-linux-x64-gnu/tursodb";
}

static int free_port(void)
{
    struct sockaddr_in a = { 0 };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool port_open(int port)
{
    struct sockaddr_in a = { 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static bool turso_spawn(int i)
{
    char addr[32], log[320];
    pid_t pid;
    snprintf(addr, sizeof addr, "127.0.0.1:%d", turso[i].port);
    snprintf(log, sizeof log, "%s.log", turso[i].path);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(tursodb_bin(), tursodb_bin(), turso[i].path, "--sync-server", addr, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return false;
    turso[i].pid = pid;
    for (int t = 0; t < 1000; t++) {   /* up to ~10 s */
        struct timespec ts = { 0, 10000000L };
        if (port_open(turso[i].port))
            return true;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            turso[i].pid = 0;
            return false;
        }
        nanosleep(&ts, NULL);
    }
    return false;
}

static void turso_stop(int i, int sig)
{
    if (turso[i].pid > 0) {
        kill(turso[i].pid, sig);
        waitpid(turso[i].pid, NULL, 0);
        turso[i].pid = 0;
    }
}

static pid_t turso_owner;   /* forked test processes must not stop the servers */

static void turso_stop_all(void)
{
    if (getpid() != turso_owner)
        return;
    for (int i = 0; i < n_turso; i++)
        turso_stop(i, SIGTERM);
    n_turso = 0;
}

void th_turso_kill(void)
{
    if (n_turso > 0)
        turso_stop(n_turso - 1, SIGKILL);
}

bool th_turso_restart(void)
{
    if (n_turso == 0)
        return false;
    turso_stop(n_turso - 1, SIGKILL);
    for (int attempt = 0; attempt < 50; attempt++) {   /* the port may linger a moment */
        struct timespec ts = { 0, 20000000L };
        if (turso_spawn(n_turso - 1))
            return true;
        nanosleep(&ts, NULL);
    }
    return false;
}

static void turso_fresh(void)
{
    int i;
    if (n_turso == MAX_TURSO) {
        fprintf(stderr, "harness: more than %d turso databases in one test\n", MAX_TURSO);
        exit(2);
    }
    i = n_turso++;
    snprintf(turso[i].path, sizeof turso[i].path, "%s/db%d.turso", tmpdir, db_seq);
    for (int attempt = 0; attempt < 5; attempt++) {
        turso[i].port = free_port();
        if (turso[i].port > 0 && turso_spawn(i)) {
            snprintf(dsn, sizeof dsn, "http://127.0.0.1:%d", turso[i].port);
            return;
        }
    }
    fprintf(stderr, "harness: cannot start %s (set PGQRS_TURSODB, or run through scripts/with-turso.sh)\n",
            tursodb_bin());
    exit(2);
}

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

void th_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(skip_reason, sizeof skip_reason, fmt, ap);
    va_end(ap);
    th_skipped_now = 1;
}

const char *th_fresh_dsn(void)
{
    db_seq++;
    if (th_is_memory()) {
        snprintf(dsn, sizeof dsn, "sqlite::memory:");
    } else if (th_is_turso()) {
        turso_fresh();
    } else if (!th_is_postgres()) {
        snprintf(dsn, sizeof dsn, "sqlite://%s/db%d.sqlite", tmpdir, db_seq);
    } else if (th_is_pgbouncer()) {
        /* PgBouncer cannot carry ?schema= (startup options), so each test gets a
         * fresh database, created directly on the server */
        char sql[128];
        snprintf(sql, sizeof sql, "CREATE DATABASE t%d_%d", (int)getpid(), db_seq);
        admin_exec(sql);
        snprintf(dsn, sizeof dsn, "postgresql://postgres@/t%d_%d?host=%s&port=%s&pgbouncer=true", (int)getpid(),
                 db_seq, getenv("PGQRS_TEST_PGBOUNCER_DIR"), getenv("PGQRS_TEST_PGBOUNCER_PORT"));
    } else {
        char sql[128];
        const char *base = getenv("PGQRS_TEST_PG_DSN");
        snprintf(sql, sizeof sql, "CREATE SCHEMA t%d_%d", (int)getpid(), db_seq);
        admin_exec(sql);
        snprintf(dsn, sizeof dsn, "%s%sschema=t%d_%d", base, strchr(base, '?') ? "&" : "?", (int)getpid(), db_seq);
    }
    return dsn;
}

static void cleanup_tmp(void)
{
    char cmd[300];
    turso_stop_all();
    if (tmpdir[0] && !getenv("PGQRS_TEST_KEEP")) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "harness: could not remove %s\n", tmpdir);
    }
}

int th_main(int argc, char **argv, const char *suite, const th_test *tests, size_t n)
{
    const char *only = NULL;
    int passed = 0, failed = 0, skipped = 0;
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
    turso_owner = getpid();
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
#if PGQRS_WITH_POSTGRES
        admin = PQconnectdb(base);
        if (PQstatus(admin) != CONNECTION_OK) {
            fprintf(stderr, "%s: cannot connect: %s", suite, PQerrorMessage(admin));
            return 2;
        }
#else
        fprintf(stderr, "%s: this build has no PostgreSQL (WITH_POSTGRES=0)\n", suite);
        return 2;
#endif
    }
    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, tests[i].name) != 0)
            continue;
        th_failed_now = 0;
        th_skipped_now = 0;
        skip_reason[0] = 0;
        tests[i].fn();
        turso_stop_all();
        if (th_failed_now) {
            failed++;
            fprintf(stderr, "  FAIL %s[%s] %s\n", suite, backend, tests[i].name);
        } else if (th_skipped_now) {
            skipped++;
            fflush(stderr);
            printf("  SKIP %s[%s] %s: %s\n", suite, backend, tests[i].name, skip_reason[0] ? skip_reason : "(no reason)");
            fflush(stdout);
        } else {
            passed++;
            if (getenv("PGQRS_TEST_VERBOSE"))
                fprintf(stderr, "  ok   %s[%s] %s\n", suite, backend, tests[i].name);
        }
    }
#if PGQRS_WITH_POSTGRES
    if (admin)
        PQfinish(admin);
#endif
    if (only && passed + failed + skipped == 0) {
        fprintf(stderr, "%s: no test named %s\n", suite, only);
        failed++;
    }
    printf("%s[%s]: %d passed, %d failed, %d skipped\n", suite, backend, passed, failed, skipped);
    return failed ? 1 : 0;
}
