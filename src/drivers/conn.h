/* conn.h: one database connection of either backend, with its statement cache
 * and the message of its last failure. Used by one thread at a time. */
#ifndef PGQRS_CONN_H
#define PGQRS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgqrs.h"
#include "pgqrs_queries.h"

#define PGQRS__MSG_LEN 512

struct pg_conn;
struct sqlite3;
struct sqlite3_stmt;
struct pgqrs__hrana;

typedef enum pgqrs__backend {
    PGQRS__BACKEND_POSTGRES,
    PGQRS__BACKEND_SQLITE,
    PGQRS__BACKEND_TURSO               /* Hrana over HTTP (driver_turso.c) */
} pgqrs__backend;

struct pgqrs_conn {
    const pgqrs_queries *q;
    pgqrs__backend backend;
    struct pg_conn *pg;
    unsigned char *pg_prepared;        /* per slot: named statement exists on this session */
    bool pg_unnamed;                   /* PgBouncer transaction mode: no named statements */
    struct sqlite3 *db;
    struct sqlite3_stmt **stmts;       /* per slot, prepared on first use */
    int busy_timeout_ms;
    int64_t busy_started_us;           /* start of the current busy wait */
    uint64_t rng;                      /* jitter for busy waits */
    struct pgqrs__hrana *tu;           /* Turso: the HTTP client and server traits */
    bool reconnected;                  /* set by pgqrs__conn_ensure, cleared by the store after logging */
    bool relaxed_durability;           /* session_relaxed_durability runs after session_setup */
    pgqrs_status last;
    char msg[PGQRS__MSG_LEN];
};

typedef struct pgqrs__pg_options {
    const char *uri;           /* libpq URI or keyword string, without pgqrs parameters */
    const char *schema;        /* NULL: the server's default search_path */
    bool unnamed_statements;   /* PgBouncer transaction pooling */
    int connect_timeout_s;     /* 0: libpq's default */
    bool relaxed_durability;   /* synchronous_commit=off for this session */
} pgqrs__pg_options;

typedef struct pgqrs__sqlite_options {
    const char *path;          /* file path or ":memory:" */
    int busy_timeout_ms;       /* total time a write may wait for the lock */
    bool relaxed_durability;   /* WAL + synchronous=NORMAL instead of FULL */
} pgqrs__sqlite_options;

/* Which backends this library is built with: make WITH_POSTGRES=0|1 ... sets
 * them; a backend left out is neither compiled nor linked. */
#ifndef PGQRS_WITH_POSTGRES
#define PGQRS_WITH_POSTGRES 1
#endif
#ifndef PGQRS_WITH_SQLITE
#define PGQRS_WITH_SQLITE 1
#endif
#ifndef PGQRS_WITH_TURSO
#define PGQRS_WITH_TURSO 1
#endif

/* turso:///path.db: a Turso-format file is a SQLite file in WAL mode and opens
 * through the SQLite backend; an MVCC-mode file is refused (ENOTSUPPORTED). */
pgqrs_status pgqrs__conn_open_turso_file(pgqrs_conn **out, const pgqrs__sqlite_options *o, char *err, size_t errlen);

/* Shared by the backends' openers (conn_open.c). */
/* Session setup for a new or re-established session: session_setup, then the
 * opt-in session settings. */
pgqrs_status pgqrs__conn_session_init(pgqrs_conn *c);
pgqrs_conn *pgqrs__conn_new(const pgqrs_queries *q, pgqrs__backend be);
void pgqrs__first_line(char *err, size_t errlen, const char *prefix, const char *msg);
/* The backends' own parts of pgqrs__conn_ensure and pgqrs__conn_close. */
pgqrs_status pgqrs__pg_ensure(pgqrs_conn *c);
void pgqrs__pg_close(pgqrs_conn *c);
void pgqrs__sq_close(pgqrs_conn *c);

/* Open a connection. On failure *out is NULL and err holds one redacted line. */
pgqrs_status pgqrs__conn_open_postgres(pgqrs_conn **out, const pgqrs__pg_options *o, char *err, size_t errlen);
pgqrs_status pgqrs__conn_open_sqlite(pgqrs_conn **out, const pgqrs__sqlite_options *o, char *err, size_t errlen);
void pgqrs__conn_close(pgqrs_conn *c);   /* NULL: no-op */

/* Checks the connection is usable, reconnecting a broken PostgreSQL session once. */
pgqrs_status pgqrs__conn_ensure(pgqrs_conn *c);

/* PostgreSQL LISTEN sessions: waits up to timeout_ms for a notification whose
 * payload is `payload`, consuming the others. 1: it arrived; 0: timed out;
 * -1: the session failed (message on c). */
int pgqrs__pg_wait_notify(pgqrs_conn *c, const char *payload, int64_t timeout_ms);

/* Record a failure on c and return st. The message is one line. */
pgqrs_status pgqrs__conn_fail(pgqrs_conn *c, pgqrs_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
pgqrs_status pgqrs__conn_not_found(pgqrs_conn *c, const char *what);
pgqrs_status pgqrs__conn_oom(pgqrs_conn *c);
/* Rolls back the open transaction and returns st, keeping st and its message as
 * the connection's error (not the rollback's). */
pgqrs_status pgqrs__conn_rollback_keep(pgqrs_conn *c, pgqrs_status st);

/* Microseconds since the Unix epoch, from CLOCK_REALTIME. */
int64_t pgqrs__now_us(void);
/* Sleep for ms milliseconds / us microseconds (interrupted sleeps resume). */
void pgqrs__sleep_ms(int64_t ms);
void pgqrs__sleep_us(int64_t us);
/* Capped exponential backoff with jitter: a delay in [d/2, d] where
 * d = min(cap_ms, base_ms * 2^attempt), computed without overflow. */
int64_t pgqrs__backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng);
uint64_t pgqrs__rng_next(uint64_t *state);
uint64_t pgqrs__rng_seed(const void *salt);

#endif
