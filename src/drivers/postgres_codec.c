/* postgres_codec.c: libpq execution, error mapping and binary codecs. */
#include "drivers/postgres.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/text.h"

/* type OIDs from pg_type.dat; stable across server versions */
enum {
    OID_BOOL = 16, OID_FLOAT8 = 701, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25, OID_NAME = 19,
    OID_JSON = 114, OID_VARCHAR = 1043, OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_JSONB = 3802
};

/* PostgreSQL timestamps count microseconds from 2000-01-01 00:00:00 UTC. */
#define PG_EPOCH_US INT64_C(946684800000000)

static pgqrs_status map_sqlstate(const char *s, pgqrs_conn *c)
{
    PGconn *pg = pgqrs__pg(c)->pg;
    if (pg && PQstatus(pg) == CONNECTION_BAD)
        return PGQRS_ECONN;
    if (!s)
        return PGQRS_ERROR;
    if (strcmp(s, "23505") == 0)
        return PGQRS_EEXISTS;
    if (strcmp(s, "23503") == 0)
        return PGQRS_ENOTFOUND;   /* a referenced queue, worker or run is gone */
    if (strncmp(s, "23", 2) == 0 || strncmp(s, "22", 2) == 0)
        return PGQRS_EINVAL;      /* check, not-null, bad value */
    if (strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 || strcmp(s, "55P03") == 0)
        return PGQRS_EBUSY;
    if (strcmp(s, "57014") == 0)
        return PGQRS_ETIMEOUT;
    if (strncmp(s, "08", 2) == 0 || strncmp(s, "57P0", 4) == 0)
        return PGQRS_ECONN;
    return PGQRS_ERROR;
}

static pgqrs_status fail_from(pgqrs_conn *c, const PGresult *res, const char *name)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    pgqrs_status st = map_sqlstate(state, c);
    PGconn *pg = pgqrs__pg(c)->pg;
    if (!primary || !*primary) {
        /* no result or no server message: libpq's own, first line only */
        char line[PGQRS__MSG_LEN];
        const char *m = pg ? PQerrorMessage(pg) : "";
        pgqrs__first_line(line, sizeof line, "", *m ? m : "no result from server");
        return pgqrs__conn_fail(c, st == PGQRS_ERROR && pg && PQstatus(pg) == CONNECTION_BAD ? PGQRS_ECONN : st,
                                "%s: %s", name, line);
    }
    return pgqrs__conn_fail(c, st, "%s: %s", name, primary);
}

PGresult *pgqrs__pg_exec(pgqrs_conn *c, int slot, const char *name, const char *sql, int n,
                         const char *const *values)
{
    pgqrs__pg_conn *p = pgqrs__pg(c);
    if (p->unnamed)
        return PQexecParams(p->pg, sql, n, NULL, values, NULL, NULL, 1);
    if (!p->prepared[slot]) {
        PGresult *res = PQprepare(p->pg, name, sql, n, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            return res;   /* the caller's pgqrs__pg_expect reports it */
        PQclear(res);
        p->prepared[slot] = 1;
    }
    return PQexecPrepared(p->pg, name, n, values, NULL, NULL, 1);
}

pgqrs_status pgqrs__pg_expect(pgqrs_conn *c, const PGresult *res, ExecStatusType want, const char *name)
{
    ExecStatusType got = PQresultStatus(res);
    if (got == want || (want == PGRES_COMMAND_OK && got == PGRES_TUPLES_OK))
        return PGQRS_OK;
    return fail_from(c, res, name);
}

pgqrs_status pgqrs__pg_exec_script(pgqrs_conn *c, const char *sql)
{
    PGresult *res = PQexec(pgqrs__pg(c)->pg, sql);
    pgqrs_status st = pgqrs__pg_expect(c, res, PGRES_COMMAND_OK, "migration");
    PQclear(res);
    return st;
}

const char *pgqrs__pg_int(char *buf, int64_t v)
{
    snprintf(buf, PGQRS__PG_INT_LEN, "%" PRId64, v);
    return buf;
}

const char *pgqrs__pg_ts(char *buf, int64_t us)
{
    /* ISO 8601 with an explicit offset is read the same under every DateStyle */
    time_t secs = (time_t)(us / 1000000);
    int64_t frac = us % 1000000;
    struct tm tm;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    gmtime_r(&secs, &tm);
    snprintf(buf, PGQRS__PG_TS_LEN, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    return buf;
}

const char *pgqrs__pg_f64(char *buf, double v)
{
    /* 17 significant digits read back as the same double; the decimal point is
     * C's, whatever the process locale (the library never calls setlocale) */
    snprintf(buf, PGQRS__PG_F64_LEN, "%.17g", v);
    return buf;
}

int64_t pgqrs__pg_affected(const PGresult *res)
{
    const char *s = PQcmdTuples((PGresult *)res);
    return s && *s ? strtoll(s, NULL, 10) : 0;
}

static uint64_t be_u(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* NULL handling shared by the fixed-size codecs: 1 = has a value, 0 = NULL accepted, <0 = error */
static int null_check(bool *has, pgqrs_conn *c, const PGresult *res, int r, int col, pgqrs_status *st)
{
    if (!PQgetisnull(res, r, col)) {
        if (has)
            *has = true;
        return 1;
    }
    if (has) {
        *has = false;
        return 0;
    }
    *st = pgqrs__conn_fail(c, PGQRS_ERROR, "column %s is NULL", PQfname(res, col));
    return -1;
}

static pgqrs_status bad_type(pgqrs_conn *c, const PGresult *res, int col, const char *want)
{
    return pgqrs__conn_fail(c, PGQRS_ERROR, "column %s: type oid %u is not %s", PQfname(res, col),
                            (unsigned)PQftype(res, col), want);
}

static pgqrs_status get_int(int64_t *out, bool *has, pgqrs_conn *c, const PGresult *res, int r, int col)
{
    pgqrs_status st = PGQRS_OK;
    const unsigned char *p;
    int len;
    int k = null_check(has, c, res, r, col, &st);
    *out = 0;
    if (k <= 0)
        return st;
    p = (const unsigned char *)PQgetvalue(res, r, col);
    len = PQgetlength(res, r, col);
    switch (PQftype(res, col)) {
    case OID_INT8: if (len != 8) break; *out = (int64_t)be_u(p, 8); return PGQRS_OK;
    case OID_INT4: if (len != 4) break; *out = (int32_t)(uint32_t)be_u(p, 4); return PGQRS_OK;
    case OID_INT2: if (len != 2) break; *out = (int16_t)(uint16_t)be_u(p, 2); return PGQRS_OK;
    default: break;
    }
    return bad_type(c, res, col, "an integer");
}

pgqrs_status pgqrs__pg_get_i64(int64_t *out, bool *has, pgqrs_conn *c, const PGresult *res, int r, int col)
{
    return get_int(out, has, c, res, r, col);
}

pgqrs_status pgqrs__pg_get_i32(int32_t *out, bool *has, pgqrs_conn *c, const PGresult *res, int r, int col)
{
    int64_t v = 0;
    pgqrs_status st = get_int(&v, has, c, res, r, col);
    if (st == PGQRS_OK && (v < INT32_MIN || v > INT32_MAX))
        st = pgqrs__conn_fail(c, PGQRS_ERROR, "column %s: %" PRId64 " does not fit in 32 bits", PQfname(res, col), v);
    *out = st == PGQRS_OK ? (int32_t)v : 0;
    return st;
}

pgqrs_status pgqrs__pg_get_f64(double *out, bool *has, pgqrs_conn *c, const PGresult *res, int r, int col)
{
    pgqrs_status st = PGQRS_OK;
    uint64_t bits;
    int k = null_check(has, c, res, r, col, &st);
    *out = 0;
    if (k <= 0)
        return st;
    if (PQftype(res, col) != OID_FLOAT8 || PQgetlength(res, r, col) != 8)
        return bad_type(c, res, col, "double precision");
    bits = be_u((const unsigned char *)PQgetvalue(res, r, col), 8);   /* IEEE 754, big-endian */
    memcpy(out, &bits, sizeof *out);
    return PGQRS_OK;
}

pgqrs_status pgqrs__pg_get_bool(bool *out, bool *has, pgqrs_conn *c, const PGresult *res, int r, int col)
{
    pgqrs_status st = PGQRS_OK;
    int k = null_check(has, c, res, r, col, &st);
    *out = false;
    if (k <= 0)
        return st;
    if (PQftype(res, col) != OID_BOOL || PQgetlength(res, r, col) != 1)
        return bad_type(c, res, col, "boolean");
    *out = PQgetvalue(res, r, col)[0] != 0;
    return PGQRS_OK;
}

pgqrs_status pgqrs__pg_get_ts(int64_t *out, bool *has, pgqrs_conn *c, const PGresult *res, int r, int col)
{
    pgqrs_status st = PGQRS_OK;
    int64_t v;
    int k = null_check(has, c, res, r, col, &st);
    *out = 0;
    if (k <= 0)
        return st;
    if ((PQftype(res, col) != OID_TIMESTAMPTZ && PQftype(res, col) != OID_TIMESTAMP) || PQgetlength(res, r, col) != 8)
        return bad_type(c, res, col, "a timestamp");
    v = (int64_t)be_u((const unsigned char *)PQgetvalue(res, r, col), 8);
    /* +-infinity are INT64_MAX/MIN; keep them saturated instead of overflowing */
    *out = v == INT64_MAX || v == INT64_MIN ? v : v + PG_EPOCH_US;
    return PGQRS_OK;
}

static pgqrs_status get_bytes(char **out, bool nullable, pgqrs_conn *c, const PGresult *res, int r, int col, int skip)
{
    const char *p;
    int len;
    *out = NULL;
    if (PQgetisnull(res, r, col)) {
        if (nullable)
            return PGQRS_OK;
        return pgqrs__conn_fail(c, PGQRS_ERROR, "column %s is NULL", PQfname(res, col));
    }
    p = PQgetvalue(res, r, col);
    len = PQgetlength(res, r, col);
    if (len < skip)
        return bad_type(c, res, col, "well-formed");
    *out = pgqrs__strndup(p + skip, (size_t)(len - skip));
    return *out ? PGQRS_OK : pgqrs__conn_oom(c);
}

pgqrs_status pgqrs__pg_get_text(char **out, bool nullable, pgqrs_conn *c, const PGresult *res, int r, int col)
{
    Oid t = PQftype(res, col);
    if (t != OID_TEXT && t != OID_VARCHAR && t != OID_NAME) {
        *out = NULL;
        return bad_type(c, res, col, "text");
    }
    return get_bytes(out, nullable, c, res, r, col, 0);
}

pgqrs_status pgqrs__pg_get_json(char **out, bool nullable, pgqrs_conn *c, const PGresult *res, int r, int col)
{
    Oid t = PQftype(res, col);
    if (t == OID_JSONB) {
        /* binary jsonb: a version byte (1), then the text */
        if (!PQgetisnull(res, r, col) && (PQgetlength(res, r, col) < 1 || PQgetvalue(res, r, col)[0] != 1)) {
            *out = NULL;
            return bad_type(c, res, col, "jsonb version 1");
        }
        return get_bytes(out, nullable, c, res, r, col, PQgetisnull(res, r, col) ? 0 : 1);
    }
    if (t == OID_JSON || t == OID_TEXT)
        return get_bytes(out, nullable, c, res, r, col, 0);
    *out = NULL;
    return bad_type(c, res, col, "json");
}

pgqrs_status pgqrs__pg_get_enum(int *out, const pgqrs__enum_desc *d, pgqrs_conn *c, const PGresult *res, int r, int col)
{
    char *s = NULL;
    pgqrs_status st = pgqrs__pg_get_text(&s, false, c, res, r, col);
    *out = 0;
    if (st != PGQRS_OK)
        return st;
    *out = pgqrs__enum_parse(d, s);
    if (*out < 0) {
        st = pgqrs__conn_fail(c, PGQRS_ERROR, "column %s: '%s' is not a %s", PQfname(res, col), s, d->name);
        *out = 0;
    }
    pgqrs__free(s);
    return st;
}
