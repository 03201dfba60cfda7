/* sqlite_codec.c: SQLite statement cache, binders, error mapping and codecs. */
#include "drivers/sqlite.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

pgqrs_status pgqrs__sq_fail(pgqrs_conn *c, int rc, const char *name)
{
    pgqrs_status st;
    switch (rc) {
    case SQLITE_BUSY: case SQLITE_LOCKED: case SQLITE_BUSY_SNAPSHOT: case SQLITE_BUSY_RECOVERY:
    case SQLITE_LOCKED_SHAREDCACHE:
        st = PGQRS_EBUSY; break;
    case SQLITE_CONSTRAINT_UNIQUE: case SQLITE_CONSTRAINT_PRIMARYKEY:
        st = PGQRS_EEXISTS; break;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        st = PGQRS_ENOTFOUND; break;   /* a referenced queue, worker or run is gone */
    case SQLITE_NOMEM:
        st = PGQRS_ENOMEM; break;
    case SQLITE_CANTOPEN:
        st = PGQRS_ECONN; break;
    case SQLITE_INTERRUPT:
        st = PGQRS_ETIMEOUT; break;
    default:
        st = (rc & 0xff) == SQLITE_CONSTRAINT || rc == SQLITE_MISMATCH || rc == SQLITE_TOOBIG ? PGQRS_EINVAL
           : (rc & 0xff) == SQLITE_BUSY ? PGQRS_EBUSY : PGQRS_ERROR;
    }
    return pgqrs__conn_fail(c, st, "%s: %s (%s)", name, sqlite3_errmsg(pgqrs__sq(c)->db), sqlite3_errstr(rc));
}

pgqrs_status pgqrs__sq_stmt(sqlite3_stmt **out, pgqrs_conn *c, int slot, const char *sql, const char *name)
{
    pgqrs__sq_conn *q = pgqrs__sq(c);
    int rc;
    *out = q->stmts[slot];
    if (*out)
        return PGQRS_OK;
    rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->stmts[slot], NULL);
    if (rc != SQLITE_OK) {
        q->stmts[slot] = NULL;
        return pgqrs__sq_fail(c, rc, name);
    }
    *out = q->stmts[slot];
    return PGQRS_OK;
}

void pgqrs__sq_release(sqlite3_stmt *stmt)
{
    if (!stmt)
        return;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

static pgqrs_status bind_rc(pgqrs_conn *c, int rc, int idx)
{
    if (rc == SQLITE_OK)
        return PGQRS_OK;
    return pgqrs__conn_fail(c, rc == SQLITE_NOMEM ? PGQRS_ENOMEM : PGQRS_ERROR, "binding parameter %d: %s", idx,
                            sqlite3_errstr(rc));
}

pgqrs_status pgqrs__sq_bind_i64(pgqrs_conn *c, sqlite3_stmt *s, int idx, int64_t v)
{
    return bind_rc(c, sqlite3_bind_int64(s, idx, v), idx);
}

pgqrs_status pgqrs__sq_bind_f64(pgqrs_conn *c, sqlite3_stmt *s, int idx, double v)
{
    return bind_rc(c, sqlite3_bind_double(s, idx, v), idx);
}

pgqrs_status pgqrs__sq_bind_text(pgqrs_conn *c, sqlite3_stmt *s, int idx, const char *v)
{
    return bind_rc(c, v ? sqlite3_bind_text(s, idx, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, idx), idx);
}

pgqrs_status pgqrs__sq_bind_null(pgqrs_conn *c, sqlite3_stmt *s, int idx)
{
    return bind_rc(c, sqlite3_bind_null(s, idx), idx);
}

pgqrs_status pgqrs__sq_bind_enum(pgqrs_conn *c, sqlite3_stmt *s, int idx, const pgqrs__enum_desc *d, int v)
{
    const char *name = pgqrs__enum_str(d, v);
    if (!name)
        return pgqrs__conn_fail(c, PGQRS_EINVAL, "parameter %d: %d is not a %s", idx, v, d->name);
    return bind_rc(c, sqlite3_bind_text(s, idx, name, -1, SQLITE_STATIC), idx);
}

pgqrs_status pgqrs__sq_step_done(pgqrs_conn *c, sqlite3_stmt *s, const char *name)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        ;
    return rc == SQLITE_DONE ? PGQRS_OK : pgqrs__sq_fail(c, rc, name);
}

int64_t pgqrs__sq_changes(pgqrs_conn *c) { return (int64_t)sqlite3_changes64(pgqrs__sq(c)->db); }

pgqrs_status pgqrs__sq_write_begin(pgqrs_conn *c, bool *own)
{
    pgqrs_status st;
    *own = false;
    if (!sqlite3_get_autocommit(pgqrs__sq(c)->db))
        return PGQRS_OK;
    st = c->q->tx_begin(c);
    *own = st == PGQRS_OK;
    return st;
}

pgqrs_status pgqrs__sq_write_end(pgqrs_conn *c, bool own, pgqrs_status st)
{
    if (!own)
        return st;
    if (st == PGQRS_OK) {
        st = c->q->tx_commit(c);
        if (st == PGQRS_OK)
            return st;
    }
    if (!sqlite3_get_autocommit(pgqrs__sq(c)->db))
        pgqrs__conn_rollback_keep(c, st);   /* the failure that got us here, not the rollback's */
    return st;
}

pgqrs_status pgqrs__sq_exec_script(pgqrs_conn *c, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(pgqrs__sq(c)->db, sql, NULL, NULL, &err);
    pgqrs_status st = PGQRS_OK;
    if (rc != SQLITE_OK) {
        st = pgqrs__sq_fail(c, sqlite3_extended_errcode(pgqrs__sq(c)->db), "migration");
        if (err)
            pgqrs__conn_fail(c, st, "migration: %s", err);
    }
    sqlite3_free(err);
    return st;
}

static int null_or(bool *has, pgqrs_conn *c, sqlite3_stmt *s, int col, pgqrs_status *st)
{
    if (sqlite3_column_type(s, col) != SQLITE_NULL) {
        if (has)
            *has = true;
        return 1;
    }
    if (has) {
        *has = false;
        return 0;
    }
    *st = pgqrs__conn_fail(c, PGQRS_ERROR, "column %s is NULL", sqlite3_column_name(s, col));
    return -1;
}

pgqrs_status pgqrs__sq_get_i64(int64_t *out, bool *has, pgqrs_conn *c, sqlite3_stmt *s, int col)
{
    pgqrs_status st = PGQRS_OK;
    int k = null_or(has, c, s, col, &st);
    *out = 0;
    if (k <= 0)
        return st;
    if (sqlite3_column_type(s, col) != SQLITE_INTEGER)
        return pgqrs__conn_fail(c, PGQRS_ERROR, "column %s is not an integer", sqlite3_column_name(s, col));
    *out = sqlite3_column_int64(s, col);
    return PGQRS_OK;
}

pgqrs_status pgqrs__sq_get_i32(int32_t *out, bool *has, pgqrs_conn *c, sqlite3_stmt *s, int col)
{
    int64_t v = 0;
    pgqrs_status st = pgqrs__sq_get_i64(&v, has, c, s, col);
    if (st == PGQRS_OK && (v < INT32_MIN || v > INT32_MAX))
        st = pgqrs__conn_fail(c, PGQRS_ERROR, "column %s: %" PRId64 " does not fit in 32 bits",
                              sqlite3_column_name(s, col), v);
    *out = st == PGQRS_OK ? (int32_t)v : 0;
    return st;
}

pgqrs_status pgqrs__sq_get_f64(double *out, bool *has, pgqrs_conn *c, sqlite3_stmt *s, int col)
{
    pgqrs_status st = PGQRS_OK;
    int k = null_or(has, c, s, col, &st);
    int t;
    *out = 0;
    if (k <= 0)
        return st;
    /* a REAL column keeps what it was given; an integral value may come back as INTEGER */
    t = sqlite3_column_type(s, col);
    if (t != SQLITE_FLOAT && t != SQLITE_INTEGER)
        return pgqrs__conn_fail(c, PGQRS_ERROR, "column %s is not a number", sqlite3_column_name(s, col));
    *out = sqlite3_column_double(s, col);
    return PGQRS_OK;
}

pgqrs_status pgqrs__sq_get_bool(bool *out, bool *has, pgqrs_conn *c, sqlite3_stmt *s, int col)
{
    int64_t v = 0;
    pgqrs_status st = pgqrs__sq_get_i64(&v, has, c, s, col);
    *out = v != 0;
    return st;
}

pgqrs_status pgqrs__sq_get_ts(int64_t *out, bool *has, pgqrs_conn *c, sqlite3_stmt *s, int col)
{
    return pgqrs__sq_get_i64(out, has, c, s, col);
}

pgqrs_status pgqrs__sq_get_text(char **out, bool nullable, pgqrs_conn *c, sqlite3_stmt *s, int col)
{
    const unsigned char *p;
    *out = NULL;
    if (sqlite3_column_type(s, col) == SQLITE_NULL) {
        if (nullable)
            return PGQRS_OK;
        return pgqrs__conn_fail(c, PGQRS_ERROR, "column %s is NULL", sqlite3_column_name(s, col));
    }
    p = sqlite3_column_text(s, col);
    if (!p)
        return pgqrs__conn_oom(c);
    *out = pgqrs__strndup((const char *)p, (size_t)sqlite3_column_bytes(s, col));
    return *out ? PGQRS_OK : pgqrs__conn_oom(c);
}

pgqrs_status pgqrs__sq_get_json(char **out, bool nullable, pgqrs_conn *c, sqlite3_stmt *s, int col)
{
    return pgqrs__sq_get_text(out, nullable, c, s, col);
}

pgqrs_status pgqrs__sq_get_enum(int *out, const pgqrs__enum_desc *d, pgqrs_conn *c, sqlite3_stmt *s, int col)
{
    const unsigned char *p = sqlite3_column_text(s, col);
    *out = 0;
    if (!p)
        return pgqrs__conn_fail(c, PGQRS_ERROR, "column %s is NULL", sqlite3_column_name(s, col));
    *out = pgqrs__enum_parse(d, (const char *)p);
    if (*out < 0) {
        *out = 0;
        return pgqrs__conn_fail(c, PGQRS_ERROR, "column %s: '%s' is not a %s", sqlite3_column_name(s, col),
                                (const char *)p, d->name);
    }
    return PGQRS_OK;
}
