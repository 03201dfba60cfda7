/* cron.c: parsing cron expressions and finding their fire times on local wall
 * time. The rules follow croniter (the test oracle): a field that matches every
 * value counts as unrestricted whatever its spelling ("*", "0-59", "1,*"), and
 * when both day fields are restricted a day matches either of them (Vixie
 * cron's OR rule); day-of-week 7 is Sunday, a range may end on Sunday written
 * 0 ("fri-sun", "5-0"). */
#include "schedule/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { SEARCH_DAYS = 3660 + 3 };   /* ten years of days: the longest gap a valid expression can have is 8 years */

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static const char *const MONTHS[12] = { "jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const DAYS[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
static const char *const FIELD[5] = { "minute", "hour", "day-of-month", "month", "day-of-week" };
static const int LO[5] = { 0, 0, 1, 1, 0 }, HI[5] = { 59, 23, 31, 12, 7 };

/* A number, or a name in the month and day-of-week fields; -1 if neither. */
static int value_of(int field, const char *s, size_t n)
{
    int v = 0;
    if (n == 0)
        return -1;
    if (isdigit((unsigned char)s[0])) {
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)s[i]) || v > 100000)
                return -1;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    }
    if (n == 3 && (field == 3 || field == 4)) {
        const char *const *names = field == 3 ? MONTHS : DAYS;
        int count = field == 3 ? 12 : 7;
        for (int i = 0; i < count; i++)
            if (strncasecmp(s, names[i], 3) == 0)
                return field == 3 ? i + 1 : i;
    }
    return -1;
}

static bool set_bit(uint64_t *bits, int field, int v)
{
    if (field == 4 && v == 7)
        v = 0;
    if (v < LO[field] || v > (field == 4 ? 6 : HI[field]))
        return false;
    *bits |= (uint64_t)1 << v;
    return true;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return PGQRS_EINVAL; } while (0)

static pgqrs_status parse_field(uint64_t *bits, int field, const char *s, size_t n, char *err, size_t errlen)
{
    const char *f = FIELD[field];
    *bits = 0;
    while (n > 0) {
        size_t len = 0;
        while (len < n && s[len] != ',')
            len++;
        const char *item = s;
        const char *slash = memchr(item, '/', len);
        size_t body = slash ? (size_t)(slash - item) : len;
        int step = 1, lo, hi;
        if (len == 0)
            FAIL("%s field: empty list item", f);
        if (slash) {
            size_t sl = len - body - 1;
            if (sl == 0 || sl > 6)
                FAIL("%s field: bad step in '%.*s'", f, (int)len, item);
            step = 0;
            for (size_t i = 0; i < sl; i++) {
                if (!isdigit((unsigned char)slash[1 + i]))
                    FAIL("%s field: bad step in '%.*s'", f, (int)len, item);
                step = step * 10 + (slash[1 + i] - '0');
            }
            if (step < 1)
                FAIL("%s field: the step must be at least 1 in '%.*s'", f, (int)len, item);
        }
        if (body == 1 && item[0] == '*') {
            lo = LO[field];
            hi = HI[field];
        } else {
            const char *dash = memchr(item, '-', body);
            if (dash == item)
                FAIL("%s field: negative numbers are not allowed ('%.*s')", f, (int)len, item);
            if (dash) {
                lo = value_of(field, item, (size_t)(dash - item));
                hi = value_of(field, dash + 1, body - (size_t)(dash - item) - 1);
                if (lo < 0 || hi < 0)
                    FAIL("%s field: '%.*s' is not a value or range", f, (int)len, item);
                if (field == 4 && hi == 0 && lo > 0)
                    hi = 7;   /* "fri-sun" */
                if (lo > hi)
                    FAIL("%s field: range '%.*s' runs backwards", f, (int)len, item);
            } else {
                lo = value_of(field, item, body);
                if (lo < 0) {
                    if (body == 1 && (item[0] == 'L' || item[0] == 'l' || item[0] == '?'))
                        FAIL("%s field: '%c' is not supported", f, item[0]);
                    if (memchr(item, '#', body))
                        FAIL("%s field: '#' (nth weekday) is not supported", f);
                    FAIL("%s field: '%.*s' is not a value", f, (int)len, item);
                }
                hi = slash ? HI[field] : lo;   /* "10/5" is "10-59/5" */
                if (slash && lo > hi)
                    FAIL("%s field: '%.*s' starts after %d", f, (int)len, item, HI[field]);
            }
            if (hi > HI[field] || lo < LO[field])
                FAIL("%s field: '%.*s' is out of range %d-%d", f, (int)len, item, LO[field], HI[field]);
        }
        for (int v = lo; v <= hi; v += step)
            if (!set_bit(bits, field, v))
                FAIL("%s field: %d is out of range %d-%d", f, v, LO[field], HI[field]);
        s += len;
        n -= len;
        if (n > 0) {   /* the comma */
            s++;
            n--;
            if (n == 0)
                FAIL("%s field: empty list item", f);
        }
    }
    return PGQRS_OK;
}

static pgqrs_status parse_every(pgqrs__cron *out, const char *p, char *err, size_t errlen)
{
    int64_t total = 0;
    const char *start = p;
    if (!*p)
        FAIL("@every needs a duration such as 30s, 5m, 1h30m or 1d");
    while (*p) {
        int64_t v = 0;
        int digits = 0;
        while (isdigit((unsigned char)*p) && digits < 12)
            v = v * 10 + (*p++ - '0'), digits++;
        if (digits == 0 || isdigit((unsigned char)*p))
            FAIL("@every: '%s' is not a duration (30s, 5m, 1h30m, 1d)", start);
        switch (*p) {
        case 's': break;
        case 'm': v *= 60; break;
        case 'h': v *= 3600; break;
        case 'd': v *= 86400; break;
        default: FAIL("@every: '%s' is not a duration (units s, m, h, d)", start);
        }
        p++;
        total += v;
        if (total > INT64_C(3660) * 86400)
            FAIL("@every: '%s' is longer than 3660 days", start);
    }
    if (total < 1)
        FAIL("@every: the duration must be at least 1s");
    out->every_s = total;
    return PGQRS_OK;
}

pgqrs_status pgqrs__cron_parse(pgqrs__cron *out, const char *expr, char *err, size_t errlen)
{
    static const struct { const char *name, *expr; } aliases[] = {
        { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
        { "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
        { "@hourly", "0 * * * *" },
    };
    const char *p = expr, *fs[6];
    size_t fl[6];
    int nf = 0;
    uint64_t bits[5];
    memset(out, 0, sizeof *out);
    if (!expr)
        FAIL("the cron expression is NULL");
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '@') {
        size_t n = strcspn(p, " \t\r\n");
        const char *rest = p + n;
        while (isspace((unsigned char)*rest))
            rest++;
        if (n == 6 && strncasecmp(p, "@every", 6) == 0) {
            char d[64];
            size_t dl = strcspn(rest, " \t\r\n");
            if (dl >= sizeof d || rest[dl + strspn(rest + dl, " \t\r\n")] != '\0')
                FAIL("@every takes one duration, such as @every 30s");
            memcpy(d, rest, dl);
            d[dl] = '\0';
            return parse_every(out, d, err, errlen);
        }
        for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
            if (strlen(aliases[i].name) == n && strncasecmp(p, aliases[i].name, n) == 0) {
                if (*rest)
                    FAIL("%s takes no arguments", aliases[i].name);
                return pgqrs__cron_parse(out, aliases[i].expr, err, errlen);
            }
        FAIL("unknown cron alias '%.*s' (@hourly, @daily, @weekly, @monthly, @yearly, @every DURATION)", (int)n, p);
    }
    while (*p && nf < 6) {
        fs[nf] = p;
        fl[nf] = strcspn(p, " \t\r\n");
        p += fl[nf++];
        while (isspace((unsigned char)*p))
            p++;
    }
    if (nf != 5 || *p)
        FAIL("a cron expression has 5 fields (minute hour day-of-month month day-of-week), got %s",
             nf < 5 ? (nf == 0 ? "none" : "fewer") : "more");
    for (int i = 0; i < 5; i++) {
        pgqrs_status st = parse_field(&bits[i], i, fs[i], fl[i], err, errlen);
        if (st != PGQRS_OK)
            return st;
    }
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->dow = (uint8_t)bits[4];
    out->dom_all = out->dom == 0xFFFFFFFEu;
    out->dow_all = out->dow == 0x7F;
    return PGQRS_OK;
}

static bool day_matches(const pgqrs__cron *c, int64_t day, unsigned dom)
{
    unsigned dow = (unsigned)(((day + 4) % 7 + 7) % 7);
    bool dm = (c->dom >> dom) & 1, wm = (c->dow >> dow) & 1;
    return (!c->dom_all && !c->dow_all) ? (dm || wm) : (dm && wm);
}

/* The first day >= day whose month matches (the day itself, or the 1st of a later month). */
static int64_t month_skip(const pgqrs__cron *c, int64_t day, unsigned *dom)
{
    int64_t y;
    unsigned m, d;
    pgqrs__civil_from_days(day, &y, &m, &d);
    for (int k = 0; k < 13 && !((c->months >> m) & 1); k++) {
        if (++m == 13)
            m = 1, y++;
        d = 1;
    }
    *dom = d;
    return pgqrs__days_from_civil(y, m, d);
}

bool pgqrs__cron_next(const pgqrs__cron *c, const pgqrs__tz *z, int64_t after_us, int64_t *out_us)
{
    if (c->every_s > 0) {
        int64_t p = c->every_s * 1000000;
        int64_t q = floordiv(after_us, p);
        if (q >= INT64_MAX / p - 1)
            return false;
        *out_us = (q + 1) * p;
        return true;
    }
    int64_t t = floordiv(after_us, 1000000);
    int64_t w0 = floordiv(t + pgqrs__tz_offset_at(z, t), 60) * 60;
    int64_t day = floordiv(w0, 86400), first = day;
    int start = (int)((w0 - day * 86400) / 60) + 1;   /* minute of the day, strictly after */
    while (day - first <= SEARCH_DAYS) {
        unsigned dom;
        int64_t d2 = month_skip(c, day, &dom);
        if (d2 != day) {
            day = d2;
            start = 0;
            continue;
        }
        if (day_matches(c, day, dom)) {
            for (int mod = start; mod < 1440; mod++) {
                int h = mod / 60, mi = mod % 60;
                if (!((c->hours >> h) & 1)) {
                    mod = h * 60 + 59;
                    continue;
                }
                if (!((c->minutes >> mi) & 1))
                    continue;
                int64_t u = pgqrs__tz_local_to_utc(z, day * 86400 + (int64_t)mod * 60);
                if (u > INT64_MAX / 1000000 - 1)
                    return false;
                if (u * 1000000 > after_us) {
                    *out_us = u * 1000000;
                    return true;
                }
            }
        }
        day++;
        start = 0;
    }
    return false;
}

bool pgqrs__cron_prev(const pgqrs__cron *c, const pgqrs__tz *z, int64_t at_us, int64_t *out_us)
{
    if (c->every_s > 0) {
        int64_t p = c->every_s * 1000000;
        *out_us = floordiv(at_us, p) * p;
        return true;
    }
    int64_t t = floordiv(at_us, 1000000);
    int64_t first = floordiv(t + pgqrs__tz_offset_at(z, t), 86400) + 1;
    for (int64_t day = first; first - day <= SEARCH_DAYS; day--) {
        int64_t y;
        unsigned m, dom;
        pgqrs__civil_from_days(day, &y, &m, &dom);
        if (!((c->months >> m) & 1)) {
            day = pgqrs__days_from_civil(y, m, 1);   /* the loop steps to the month before */
            continue;
        }
        if (!day_matches(c, day, dom))
            continue;
        for (int mod = 1439; mod >= 0; mod--) {
            int h = mod / 60, mi = mod % 60;
            if (!((c->hours >> h) & 1)) {
                mod = h * 60;
                continue;
            }
            if (!((c->minutes >> mi) & 1))
                continue;
            int64_t u = pgqrs__tz_local_to_utc(z, day * 86400 + (int64_t)mod * 60);
            if (u < INT64_MIN / 1000000 + 1)
                return false;
            if (u * 1000000 <= at_us) {
                *out_us = u * 1000000;
                return true;
            }
        }
    }
    return false;
}
