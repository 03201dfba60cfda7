/* harness.h: a minimal test runner. One binary per suite; the same source runs
 * against every backend, chosen by PGQRS_TEST_BACKEND (postgres, sqlite,
 * sqlite-memory, pgbouncer). Each test gets a fresh database: a new schema on PostgreSQL,
 * a new file on SQLite. Prints "SUITE[BACKEND]: N passed, N failed, N skipped" last
 * and exits non-zero on failure.
 *   build/test_store              all tests
 *   build/test_store -s NAME      one test (libgit2's convention)
 * A test that does not apply to the backend under test says so with SKIP("why"):
 * it is counted as skipped, not passed, and "SKIP SUITE[BACKEND] NAME: why" is
 * printed. A backend difference the library documents (pgqrs_store_capabilities,
 * a refused option) is asserted instead, where that is cheap.
 */
#ifndef PGQRS_TEST_HARNESS_H
#define PGQRS_TEST_HARNESS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pgqrs.h"

/* The backends this build has (make WITH_POSTGRES=0 ... sets them; all by default). */
#ifndef PGQRS_WITH_POSTGRES
#define PGQRS_WITH_POSTGRES 1
#endif
#ifndef PGQRS_WITH_SQLITE
#define PGQRS_WITH_SQLITE 1
#endif
#ifndef PGQRS_WITH_TURSO
#define PGQRS_WITH_TURSO 1
#endif

typedef struct th_test {
    const char *name;
    void (*fn)(void);
} th_test;

int th_main(int argc, char **argv, const char *suite, const th_test *tests, size_t n);

/* The backend under test: "postgres" or "sqlite". */
const char *th_backend(void);
bool th_is_postgres(void);    /* also true through PgBouncer */
bool th_is_pgbouncer(void);   /* PostgreSQL through PgBouncer transaction pooling */
bool th_is_memory(void);
/* Running under valgrind (its preload library is in LD_PRELOAD): every thread
 * is about 50 times slower and they run one at a time, so the races that loop
 * a fixed number of rounds use fewer (the checks stay the same). */
bool th_under_valgrind(void);
/* A DSN for a fresh, empty database for the current test (owned by the harness,
 * valid until the test ends). Each call makes another fresh database. */
const char *th_fresh_dsn(void);
/* The DSN of the last th_fresh_dsn(), to open the same database again. */
const char *th_current_dsn(void);
/* A scratch directory that lives until the suite ends. */
const char *th_tmpdir(void);
/* turso: each fresh database is a new tursodb server (its own file, a free
 * loopback port), stopped when the test ends. These stop (SIGKILL) and restart
 * the current one on the same file and port. */
bool th_is_turso(void);
/* PostgreSQL: terminates every session the library opened (application_name
 * "pgqrs"), as a server restart or a DBA would; the count, or -1 elsewhere. */
int th_pg_terminate_sessions(void);
/* PostgreSQL (not through PgBouncer): runs sql as the harness's admin in the
 * current test's schema, to inject faults (a trigger that sleeps, ...). false
 * elsewhere or on failure (printed). */
bool th_pg_exec(const char *sql);
void th_turso_kill(void);
bool th_turso_restart(void);

void th_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
extern int th_failed_now;

/* Marks the current test skipped with a reason (printf format). A failure
 * already recorded wins over the skip. */
void th_skip(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
extern int th_skipped_now;

/* SKIP returns from the test function: call it from the test's own body (a
 * helper that calls it must return at once too; th_skipped_now says so). */
#define SKIP(...) do { th_skip(__VA_ARGS__); return; } while (0)

/* Each CHECK returns from the test function on failure. */
#define CHECK(cond) do { if (!(cond)) { th_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); return; } } while (0)
#define CHECK_MSG(cond, ...) do { if (!(cond)) { th_fail(__FILE__, __LINE__, __VA_ARGS__); return; } } while (0)
#define CHECK_ST(want, expr, handle) do { pgqrs_status st_ = (expr); if (st_ != (want)) { \
    th_fail(__FILE__, __LINE__, "%s: got %d (%s), want %d (%s): %s", #expr, (int)st_, pgqrs_errstr(st_), \
            (int)(want), pgqrs_errstr(want), th_errmsg(handle)); return; } } while (0)
#define CHECK_OK(expr, handle) CHECK_ST(PGQRS_OK, expr, handle)
#define CHECK_I64(want, got) do { int64_t w_ = (int64_t)(want), g_ = (int64_t)(got); if (w_ != g_) { \
    th_fail(__FILE__, __LINE__, "%s: got %" PRId64 ", want %" PRId64, #got, g_, w_); return; } } while (0)
#define CHECK_STR(want, got) do { const char *w_ = (want), *g_ = (got); if (!g_ || strcmp(w_, g_) != 0) { \
    th_fail(__FILE__, __LINE__, "%s: got \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)", w_); return; } } while (0)

/* The message of a handle for failure output; tests supply it per handle type. */
const char *th_errmsg(const void *handle);

#endif
