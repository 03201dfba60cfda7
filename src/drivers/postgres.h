/* postgres.h: the PostgreSQL driver's connection, and what generated PostgreSQL
 * accessors call: execution with per-connection prepared statements, SQLSTATE
 * mapping, and one codec per logical type. Results come back in binary format, so
 * decoding does not depend on DateStyle, TimeZone or extra_float_digits. */
#ifndef PGQRS_DRIVER_PG_H
#define PGQRS_DRIVER_PG_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/vec.h"
#include "drivers/conn.h"
#include "drivers/encode.h"

/* A PostgreSQL connection: the common part, then libpq's session. */
typedef struct pgqrs__pg_conn {
    pgqrs_conn base;
    PGconn *pg;
    unsigned char *prepared;     /* per query slot: its named statement exists on this session */
    bool unnamed;                /* PgBouncer transaction mode: no named statements */
    bool relaxed_durability;     /* re-applied after a reconnect */
} pgqrs__pg_conn;

static inline pgqrs__pg_conn *pgqrs__pg(pgqrs_conn *c) { return (pgqrs__pg_conn *)c; }

#define PGQRS__PG_INT_LEN 24
#define PGQRS__PG_TS_LEN 48
#define PGQRS__PG_F64_LEN 32

/* Runs slot's statement: prepared once per session under `name`, or unnamed
 * (PQexecParams) in PgBouncer mode. Text parameters, binary results. */
PGresult *pgqrs__pg_exec(pgqrs_conn *c, int slot, const char *name, const char *sql, int n,
                         const char *const *values);
/* PGQRS_OK when res has status want (COMMAND_OK also accepts TUPLES_OK);
 * otherwise the mapped status with "name: <server message>" on c. NULL res: failure. */
pgqrs_status pgqrs__pg_expect(pgqrs_conn *c, const PGresult *res, ExecStatusType want, const char *name);
pgqrs_status pgqrs__pg_exec_script(pgqrs_conn *c, const char *sql);

/* The driver's app_wrap / app_close slots (postgres_app.c): the application's
 * PGconn, with unnamed statements only (nothing outlives the call). */
pgqrs_status pgqrs__pg_app_wrap(pgqrs_conn **out, void *pgconn, const pgqrs__conn_env *env, char *err,
                                size_t errlen);
void pgqrs__pg_app_close(pgqrs_conn *c);

const char *pgqrs__pg_int(char *buf, int64_t v);     /* buf: PGQRS__PG_INT_LEN */
const char *pgqrs__pg_ts(char *buf, int64_t us);     /* buf: PGQRS__PG_TS_LEN, ISO 8601 UTC */
const char *pgqrs__pg_f64(char *buf, double v);      /* buf: PGQRS__PG_F64_LEN, round-trips exactly */
int64_t pgqrs__pg_affected(const PGresult *res);

/* Codecs. `has` NULL means the column must not be NULL (a NULL is an error). */
pgqrs_status pgqrs__pg_get_i64(int64_t *out, bool *has, pgqrs_conn *c, const PGresult *res, int r, int col);
pgqrs_status pgqrs__pg_get_i32(int32_t *out, bool *has, pgqrs_conn *c, const PGresult *res, int r, int col);
pgqrs_status pgqrs__pg_get_f64(double *out, bool *has, pgqrs_conn *c, const PGresult *res, int r, int col);
pgqrs_status pgqrs__pg_get_bool(bool *out, bool *has, pgqrs_conn *c, const PGresult *res, int r, int col);
pgqrs_status pgqrs__pg_get_ts(int64_t *out, bool *has, pgqrs_conn *c, const PGresult *res, int r, int col);
pgqrs_status pgqrs__pg_get_text(char **out, bool nullable, pgqrs_conn *c, const PGresult *res, int r, int col);
pgqrs_status pgqrs__pg_get_json(char **out, bool nullable, pgqrs_conn *c, const PGresult *res, int r, int col);
pgqrs_status pgqrs__pg_get_enum(int *out, const pgqrs__enum_desc *d, pgqrs_conn *c, const PGresult *res, int r, int col);

#endif
