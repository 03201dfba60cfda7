/* tz.c: the system's TZif files (RFC 8536) and their POSIX TZ footers. */
#include "schedule/tz.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

enum { TZ_MAX_FILE = 1 << 20, TZ_LAST_YEAR = 2400, TZ_MAX_NAME = 200 };

struct pgqrs__tz {
    char *name;
    size_t n;            /* transitions */
    int64_t *t;          /* UTC instant of transition i, increasing */
    int32_t *off;        /* offset in effect from t[i] on */
    int64_t *wall0;      /* t[i] + max(offset before, offset after): where fold=0 local times switch */
    int32_t off0;        /* before the first transition */
};

/* ---- civil calendar (H. Hinnant's algorithms) ---- */

int64_t pgqrs__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void pgqrs__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* ---- POSIX TZ strings: "CET-1CEST,M3.5.0,M10.5.0/3" ---- */

typedef struct tz_rule {
    char kind;           /* 'J' (1..365, no Feb 29), 'D' (0..365), 'M' (month.week.day) */
    int day, week, month;
    int32_t secs;        /* local time of the change */
} tz_rule;

typedef struct posix_tz {
    int32_t std_off, dst_off;   /* seconds east */
    bool has_dst;
    tz_rule start, end;
} posix_tz;

static const char *parse_name(const char *p)
{
    if (*p == '<') {
        const char *q = strchr(p, '>');
        return q && q > p + 1 ? q + 1 : NULL;
    }
    const char *q = p;
    while ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))
        q++;
    return q - p >= 3 ? q : NULL;
}

/* [+-]hh[:mm[:ss]], hours up to max_h; sets *secs (the sign applied). */
static const char *parse_hms(const char *p, int max_h, int32_t *secs)
{
    int sign = 1, h = 0, m = 0, s = 0, n = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    while (*p >= '0' && *p <= '9' && n < 3)
        h = h * 10 + (*p++ - '0'), n++;
    if (n == 0 || h > max_h)
        return NULL;
    if (*p == ':') {
        p++;
        if (!(p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9'))
            return NULL;
        m = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == ':') {
            p++;
            if (!(p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9'))
                return NULL;
            s = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
    }
    *secs = sign * (h * 3600 + m * 60 + s);
    return p;
}

static const char *parse_int(const char *p, int lo, int hi, int *out)
{
    int v = 0, n = 0;
    while (*p >= '0' && *p <= '9' && n < 4)
        v = v * 10 + (*p++ - '0'), n++;
    if (n == 0 || v < lo || v > hi)
        return NULL;
    *out = v;
    return p;
}

static const char *parse_rule(const char *p, tz_rule *r)
{
    memset(r, 0, sizeof *r);
    if (*p == 'J') {
        r->kind = 'J';
        p = parse_int(p + 1, 1, 365, &r->day);
    } else if (*p == 'M') {
        r->kind = 'M';
        p = parse_int(p + 1, 1, 12, &r->month);
        if (p && *p == '.')
            p = parse_int(p + 1, 1, 5, &r->week);
        else
            p = NULL;
        if (p && *p == '.')
            p = parse_int(p + 1, 0, 6, &r->day);
        else
            p = NULL;
    } else {
        r->kind = 'D';
        p = parse_int(p, 0, 365, &r->day);
    }
    if (!p)
        return NULL;
    r->secs = 7200;
    if (*p == '/')
        p = parse_hms(p + 1, 167, &r->secs);
    return p;
}

/* An empty footer means "no rule": the caller keeps the last type. */
static bool parse_posix(const char *s, posix_tz *out)
{
    const char *p = parse_name(s);
    int32_t off;
    memset(out, 0, sizeof *out);
    if (!p || !(p = parse_hms(p, 24, &off)))
        return false;
    out->std_off = -off;
    if (!*p)
        return true;
    if (!(p = parse_name(p)))
        return false;
    out->has_dst = true;
    out->dst_off = out->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = parse_hms(p, 24, &off)))
            return false;
        out->dst_off = -off;
    }
    if (!*p) {   /* no rule: POSIX leaves it to the implementation; the US rule, as glibc */
        out->start = (tz_rule){ 'M', 0, 2, 3, 7200 };
        out->end = (tz_rule){ 'M', 0, 1, 11, 7200 };
        return true;
    }
    if (*p != ',' || !(p = parse_rule(p + 1, &out->start)) || *p != ',' || !(p = parse_rule(p + 1, &out->end)))
        return false;
    return *p == '\0';
}

/* The day (days since the epoch) a rule names in year y. */
static int64_t rule_day(const tz_rule *r, int64_t y)
{
    int64_t jan1 = pgqrs__days_from_civil(y, 1, 1);
    if (r->kind == 'J')
        return jan1 + r->day - 1 + (is_leap(y) && r->day >= 60 ? 1 : 0);
    if (r->kind == 'D')
        return jan1 + r->day;
    int64_t first = pgqrs__days_from_civil(y, (unsigned)r->month, 1);
    int dow_first = (int)(((first + 4) % 7 + 7) % 7);
    int64_t day = 1 + (r->day - dow_first + 7) % 7 + (int64_t)(r->week - 1) * 7;
    while (day > (int64_t)month_days(y, (unsigned)r->month))
        day -= 7;
    return first + day - 1;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

typedef struct tz_build {
    int64_t *t;
    int32_t *off;
    size_t n, cap;
} tz_build;

static bool push(tz_build *b, int64_t t, int32_t off)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        int64_t *nt = pgqrs__realloc(b->t, cap * sizeof *nt);
        if (!nt)
            return false;
        b->t = nt;
        int32_t *no = pgqrs__realloc(b->off, cap * sizeof *no);
        if (!no)
            return false;
        b->off = no;
        b->cap = cap;
    }
    b->t[b->n] = t;
    b->off[b->n++] = off;
    return true;
}

static void tz_free(pgqrs__tz *z)
{
    if (!z)
        return;
    pgqrs__free(z->name);
    pgqrs__free(z->t);
    pgqrs__free(z->off);
    pgqrs__free(z->wall0);
    pgqrs__free(z);
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); st = PGQRS_EINVAL; goto done; } while (0)

static pgqrs_status parse_tzif(pgqrs__tz *z, const unsigned char *buf, size_t len, char *err, size_t errlen)
{
    pgqrs_status st = PGQRS_OK;
    tz_build b = { NULL, NULL, 0, 0 };
    const unsigned char *p = buf, *end = buf + len;
    uint32_t cnt[6];
    int tsize = 4;
    size_t need;
    int32_t *types = NULL;
    posix_tz ptz;
    bool have_footer = false;
    if (len < 44 || memcmp(buf, "TZif", 4) != 0)
        BAD("not a TZif file");
    for (int i = 0; i < 6; i++)
        cnt[i] = be32(buf + 20 + (size_t)4 * i);
    need = (size_t)cnt[3] * 5 + (size_t)cnt[4] * 6 + cnt[5] + (size_t)cnt[2] * 8 + cnt[1] + cnt[0];
    p = buf + 44;
    if (need > (size_t)(end - p))
        BAD("truncated TZif file");
    if (buf[4] >= '2') {   /* skip the 32-bit block: the 64-bit one follows */
        p += need;
        if ((size_t)(end - p) < 44 || memcmp(p, "TZif", 4) != 0)
            BAD("truncated TZif file");
        for (int i = 0; i < 6; i++)
            cnt[i] = be32(p + 20 + (size_t)4 * i);
        p += 44;
        tsize = 8;
        need = (size_t)cnt[3] * 9 + (size_t)cnt[4] * 6 + cnt[5] + (size_t)cnt[2] * 12 + cnt[1] + cnt[0];
        if (need > (size_t)(end - p))
            BAD("truncated TZif file");
    }
    uint32_t timecnt = cnt[3], typecnt = cnt[4];
    if (typecnt == 0 || typecnt > 256)
        BAD("TZif file has %u time types", typecnt);
    const unsigned char *times = p, *idx = p + (size_t)timecnt * tsize, *tt = idx + timecnt;
    types = pgqrs__malloc(typecnt * sizeof *types);
    if (!types) {
        st = PGQRS_ENOMEM;
        goto done;
    }
    for (uint32_t i = 0; i < typecnt; i++) {
        int32_t o = (int32_t)be32(tt + (size_t)6 * i);
        if (o < -26 * 3600 || o > 26 * 3600)
            BAD("TZif file has an offset of %d s", (int)o);
        types[i] = o;
    }
    z->off0 = types[0];
    for (uint32_t i = 0; i < timecnt; i++) {
        int64_t t = tsize == 8 ? be64(times + (size_t)8 * i) : (int64_t)(int32_t)be32(times + (size_t)4 * i);
        if (idx[i] >= typecnt)
            BAD("TZif file has a bad type index");
        if (b.n && t <= b.t[b.n - 1])
            BAD("TZif transitions are not in order");
        if (!push(&b, t, types[idx[i]])) {
            st = PGQRS_ENOMEM;
            goto done;
        }
    }
    if (tsize == 8) {
        const unsigned char *f = p + need, *nl;
        if (f < end && *f == '\n' && (nl = memchr(f + 1, '\n', (size_t)(end - f - 1))) != NULL) {
            char footer[128];
            size_t fl = (size_t)(nl - f - 1);
            if (fl >= sizeof footer)
                BAD("TZif footer too long");
            memcpy(footer, f + 1, fl);
            footer[fl] = '\0';
            if (fl > 0) {
                if (!parse_posix(footer, &ptz))
                    BAD("cannot read the TZ rule '%s'", footer);
                have_footer = true;
            }
        }
    }
    if (have_footer) {
        int64_t last = b.n ? b.t[b.n - 1] : INT64_MIN;
        int32_t cur = b.n ? b.off[b.n - 1] : z->off0;
        int64_t y0 = 1970, y;
        unsigned m, d;
        if (b.n) {
            pgqrs__civil_from_days((b.t[b.n - 1] >= 0 ? b.t[b.n - 1] : b.t[b.n - 1] - 86399) / 86400, &y, &m, &d);
            y0 = y > 1800 ? y : 1800;
        }
        if (!ptz.has_dst) {
            if (!b.n)
                z->off0 = ptz.std_off;
            else if (cur != ptz.std_off && !push(&b, last + 1, ptz.std_off)) {
                st = PGQRS_ENOMEM;
                goto done;
            }
        }
        for (y = y0; ptz.has_dst && y <= TZ_LAST_YEAR; y++) {
            int64_t s = rule_day(&ptz.start, y) * 86400 + ptz.start.secs - ptz.std_off;
            int64_t e = rule_day(&ptz.end, y) * 86400 + ptz.end.secs - ptz.dst_off;
            int64_t at[2] = { s < e ? s : e, s < e ? e : s };
            int32_t to[2] = { s < e ? ptz.dst_off : ptz.std_off, s < e ? ptz.std_off : ptz.dst_off };
            for (int k = 0; k < 2; k++) {
                if (at[k] <= last || to[k] == cur)
                    continue;
                if (!push(&b, at[k], to[k])) {
                    st = PGQRS_ENOMEM;
                    goto done;
                }
                last = at[k];
                cur = to[k];
            }
        }
    }
    z->wall0 = b.n ? pgqrs__malloc(b.n * sizeof *z->wall0) : NULL;
    if (b.n && !z->wall0) {
        st = PGQRS_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < b.n; i++) {
        int32_t before = i ? b.off[i - 1] : z->off0, after = b.off[i];
        z->wall0[i] = b.t[i] + (before > after ? before : after);
    }
    z->n = b.n;
    z->t = b.t;
    z->off = b.off;
    b.t = NULL;
    b.off = NULL;
done:
    pgqrs__free(b.t);
    pgqrs__free(b.off);
    pgqrs__free(types);
    return st;
}

static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TZ_MAX_NAME || name[0] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                  ch == '-' || ch == '+' || ch == '/' || ch == '.';
        if (!ok || (ch == '.' && (i == 0 || name[i - 1] == '/')) || (ch == '/' && name[i + 1] == '/'))
            return false;
    }
    return name[n - 1] != '/';
}

static pgqrs_status load(pgqrs__tz **out, const char *name, char *err, size_t errlen)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    unsigned char *buf = NULL;
    size_t len = 0;
    FILE *f;
    pgqrs__tz *z = NULL;
    pgqrs_status st = PGQRS_OK;
    *out = NULL;
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    if (!(f = fopen(path, "rb")))
        BAD("unknown time zone '%s' (not in the system tz database)", name);
    buf = pgqrs__malloc(TZ_MAX_FILE);
    if (!buf) {
        st = PGQRS_ENOMEM;
        fclose(f);
        goto done;
    }
    len = fread(buf, 1, TZ_MAX_FILE, f);
    fclose(f);
    z = pgqrs__calloc(1, sizeof *z);
    if (!z || !(z->name = pgqrs__strdup(name))) {
        st = PGQRS_ENOMEM;
        goto done;
    }
    st = parse_tzif(z, buf, len, err, errlen);
    if (st == PGQRS_EINVAL) {
        char why[160];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "time zone '%s': %s", name, why);
    }
done:
    pgqrs__free(buf);
    if (st == PGQRS_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (st == PGQRS_OK)
        *out = z;
    else
        tz_free(z);
    return st;
}

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static pgqrs__tz **cache;
static size_t n_cache, cap_cache;

pgqrs_status pgqrs__tz_get(const pgqrs__tz **out, const char *name, char *err, size_t errlen)
{
    pgqrs__tz *z = NULL;
    pgqrs_status st = PGQRS_OK;
    *out = NULL;
    if (!valid_name(name)) {
        snprintf(err, errlen, "'%.*s' is not a time zone name (an IANA name such as Europe/Berlin)", TZ_MAX_NAME,
                 name);
        return PGQRS_EINVAL;
    }
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < n_cache; i++)
        if (strcmp(cache[i]->name, name) == 0) {
            *out = cache[i];
            pthread_mutex_unlock(&cache_mu);
            return PGQRS_OK;
        }
    st = load(&z, name, err, errlen);
    if (st == PGQRS_OK && n_cache == cap_cache) {
        size_t cap = cap_cache ? cap_cache * 2 : 16;
        pgqrs__tz **c = pgqrs__realloc(cache, cap * sizeof *c);
        if (!c) {
            snprintf(err, errlen, "out of memory");
            st = PGQRS_ENOMEM;
        } else {
            cache = c;
            cap_cache = cap;
        }
    }
    if (st == PGQRS_OK) {
        cache[n_cache++] = z;
        *out = z;
    } else {
        tz_free(z);
    }
    pthread_mutex_unlock(&cache_mu);
    return st;
}

/* The last i with a[i] <= x, or -1. */
static long last_le(const int64_t *a, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

int32_t pgqrs__tz_offset_at(const pgqrs__tz *z, int64_t t)
{
    long i = last_le(z->t, z->n, t);
    return i < 0 ? z->off0 : z->off[i];
}

int64_t pgqrs__tz_local_to_utc(const pgqrs__tz *z, int64_t w)
{
    long i = last_le(z->wall0, z->n, w);
    return w - (i < 0 ? z->off0 : z->off[i]);
}
