/* sqlite.h: the SQLite driver's connection, and what generated SQLite accessors
 * call: a per-connection cache of persistent prepared statements, binders,
 * extended-code mapping, one codec per logical type, and the write transaction a
 * generated writer opens for itself. */
#ifndef PGQRS_DRIVER_SQLITE_H
#define PGQRS_DRIVER_SQLITE_H

#include <stdbool.h>
#include <sqlite3.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/vec.h"
#include "drivers/conn.h"
#include "drivers/encode.h"

/* A SQLite connection: the common part, then the database handle. */
typedef struct pgqrs__sq_conn {
    pgqrs_conn base;
    sqlite3 *db;
    sqlite3_stmt **stmts;        /* per query slot, prepared on first use */
    int busy_timeout_ms;
    int64_t busy_started_us;     /* start of the current busy wait */
} pgqrs__sq_conn;

static inline pgqrs__sq_conn *pgqrs__sq(pgqrs_conn *c) { return (pgqrs__sq_conn *)c; }

/* The statement of `slot`, prepared on first use (SQLITE_PREPARE_PERSISTENT);
 * name is the query's, for messages. */
pgqrs_status pgqrs__sq_stmt(sqlite3_stmt **out, pgqrs_conn *c, int slot, const char *sql, const char *name);
/* sqlite3_reset + sqlite3_clear_bindings; NULL: no-op. */
void pgqrs__sq_release(sqlite3_stmt *stmt);

/* The driver's app_wrap / app_close slots (sqlite_app.c): the application's
 * sqlite3 handle; close finalizes every statement prepared on it. */
pgqrs_status pgqrs__sq_app_wrap(pgqrs_conn **out, void *db, const pgqrs__conn_env *env, char *err, size_t errlen);
void pgqrs__sq_app_close(pgqrs_conn *c);

/* Binders. Text is bound SQLITE_STATIC: it must outlive the step, which the
 * generated accessors guarantee (their arguments outlive the call). NULL text binds NULL. */
pgqrs_status pgqrs__sq_bind_i64(pgqrs_conn *c, sqlite3_stmt *s, int idx, int64_t v);
pgqrs_status pgqrs__sq_bind_f64(pgqrs_conn *c, sqlite3_stmt *s, int idx, double v);
pgqrs_status pgqrs__sq_bind_text(pgqrs_conn *c, sqlite3_stmt *s, int idx, const char *v);
pgqrs_status pgqrs__sq_bind_null(pgqrs_conn *c, sqlite3_stmt *s, int idx);
pgqrs_status pgqrs__sq_bind_enum(pgqrs_conn *c, sqlite3_stmt *s, int idx, const pgqrs__enum_desc *d, int v);

/* Steps until SQLITE_DONE, discarding rows. */
pgqrs_status pgqrs__sq_step_done(pgqrs_conn *c, sqlite3_stmt *s, const char *name);
/* Maps an SQLite result code to a status with "name: <sqlite message>" on c. */
pgqrs_status pgqrs__sq_fail(pgqrs_conn *c, int rc, const char *name);
int64_t pgqrs__sq_changes(pgqrs_conn *c);

/* Opens BEGIN IMMEDIATE when no transaction is open (*own = true). */
pgqrs_status pgqrs__sq_write_begin(pgqrs_conn *c, bool *own);
/* When own: COMMIT if st is PGQRS_OK, else ROLLBACK keeping st and its message. */
pgqrs_status pgqrs__sq_write_end(pgqrs_conn *c, bool own, pgqrs_status st);
pgqrs_status pgqrs__sq_exec_script(pgqrs_conn *c, const char *sql);

/* Codecs. `has` NULL means the column must not be NULL (a NULL is an error). */
pgqrs_status pgqrs__sq_get_i64(int64_t *out, bool *has, pgqrs_conn *c, sqlite3_stmt *s, int col);
pgqrs_status pgqrs__sq_get_i32(int32_t *out, bool *has, pgqrs_conn *c, sqlite3_stmt *s, int col);
pgqrs_status pgqrs__sq_get_f64(double *out, bool *has, pgqrs_conn *c, sqlite3_stmt *s, int col);
pgqrs_status pgqrs__sq_get_bool(bool *out, bool *has, pgqrs_conn *c, sqlite3_stmt *s, int col);
pgqrs_status pgqrs__sq_get_ts(int64_t *out, bool *has, pgqrs_conn *c, sqlite3_stmt *s, int col);
pgqrs_status pgqrs__sq_get_text(char **out, bool nullable, pgqrs_conn *c, sqlite3_stmt *s, int col);
pgqrs_status pgqrs__sq_get_json(char **out, bool nullable, pgqrs_conn *c, sqlite3_stmt *s, int col);
pgqrs_status pgqrs__sq_get_enum(int *out, const pgqrs__enum_desc *d, pgqrs_conn *c, sqlite3_stmt *s, int col);

#endif
