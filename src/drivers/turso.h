/* turso.h: what generated Turso accessors call. A query is one Hrana
 * pipeline request (POST /v2/pipeline, JSON, through libcurl): a plain `execute`
 * for a single read-only statement, else one `batch` whose steps are
 *   PRAGMA foreign_keys=ON; BEGIN IMMEDIATE; stmt 1..n; COMMIT; ROLLBACK
 * each step running only if the previous one succeeded (ROLLBACK only if BEGIN
 * succeeded and COMMIT did not), so a named query stays one atomic unit without
 * a server-side session. Parameters are Hrana values (integers as decimal
 * strings); rows come back as Hrana values and are decoded by
 * one codec per logical type, like the other drivers. */
#ifndef PGQRS_DRIVER_TURSO_H
#define PGQRS_DRIVER_TURSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "drivers/conn.h"
#include "drivers/encode.h"
#include "base/enum_desc.h"
#include "base/vec.h"

typedef struct pgqrs__tu_call {
    pgqrs_conn *c;
    const char *name;          /* the query's name, for messages */
    bool write;                /* a batch in BEGIN IMMEDIATE ... COMMIT; else one execute */
    struct json_t *stmts;      /* Hrana Stmt objects, in order */
    struct json_t *args;       /* args of the statement being built */
    struct json_t *resp;       /* the parsed response */
    struct json_t *rows;       /* rows of the last statement's result (borrowed from resp) */
    struct json_t *cols;
} pgqrs__tu_call;

/* Starts a call (cannot fail: allocation happens in pgqrs__tu_stmt). */
void pgqrs__tu_start(pgqrs__tu_call *call, pgqrs_conn *c, const char *name, bool write);
/* Adds a statement with nargs positional arguments (?1..?nargs), NULL until bound. */
pgqrs_status pgqrs__tu_stmt(pgqrs__tu_call *call, const char *sql, int nargs);
/* Binders for the last statement added; idx is 1-based. NULL text binds NULL. */
pgqrs_status pgqrs__tu_arg_i64(pgqrs__tu_call *call, int idx, int64_t v);
pgqrs_status pgqrs__tu_arg_f64(pgqrs__tu_call *call, int idx, double v);
pgqrs_status pgqrs__tu_arg_text(pgqrs__tu_call *call, int idx, const char *v);
pgqrs_status pgqrs__tu_arg_null(pgqrs__tu_call *call, int idx);
pgqrs_status pgqrs__tu_arg_enum(pgqrs__tu_call *call, int idx, const pgqrs__enum_desc *d, int v);
/* Sends the request (retrying busy/locked and HTTP 429/503 with capped, jittered
 * backoff within busy_timeout_ms, logged at WARN, and a stream the server refused
 * before running anything once; never a request whose outcome is unknown) and
 * keeps the last statement's rows. Failures are mapped to a status with
 * "name: message" on the connection, with no piece of the token in it. */
pgqrs_status pgqrs__tu_run(pgqrs__tu_call *call);
size_t pgqrs__tu_nrows(const pgqrs__tu_call *call);
void pgqrs__tu_end(pgqrs__tu_call *call);   /* frees everything the call holds */

/* Codecs. `has` NULL means the column must not be NULL (a NULL is an error). */
pgqrs_status pgqrs__tu_get_i64(int64_t *out, bool *has, pgqrs__tu_call *call, size_t r, int col);
pgqrs_status pgqrs__tu_get_i32(int32_t *out, bool *has, pgqrs__tu_call *call, size_t r, int col);
pgqrs_status pgqrs__tu_get_f64(double *out, bool *has, pgqrs__tu_call *call, size_t r, int col);
pgqrs_status pgqrs__tu_get_bool(bool *out, bool *has, pgqrs__tu_call *call, size_t r, int col);
pgqrs_status pgqrs__tu_get_ts(int64_t *out, bool *has, pgqrs__tu_call *call, size_t r, int col);
pgqrs_status pgqrs__tu_get_text(char **out, bool nullable, pgqrs__tu_call *call, size_t r, int col);
pgqrs_status pgqrs__tu_get_json(char **out, bool nullable, pgqrs__tu_call *call, size_t r, int col);
pgqrs_status pgqrs__tu_get_enum(int *out, const pgqrs__enum_desc *d, pgqrs__tu_call *call, size_t r, int col);

/* A migration script cannot be sent as a script (tursodb has no `sequence`):
 * migrations go through apply_migration, one batch each. Always ENOTSUPPORTED. */
pgqrs_status pgqrs__tu_exec_script(pgqrs_conn *c, const char *sql);

/* Generated from the SQLite dialect's queries (generated/queries_turso.c): the
 * statements around every write batch. */
extern const char pgqrs__turso_sql_begin[];
extern const char pgqrs__turso_sql_commit[];
extern const char pgqrs__turso_sql_rollback[];
extern const char pgqrs__turso_sql_foreign_keys[];

/* Test hook: requests sent by this process (attempts included). */
uint64_t pgqrs__turso_requests_sent(void);

#endif
