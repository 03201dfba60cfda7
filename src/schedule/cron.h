/* cron.h: cron expressions and their fire times (docs/schedules.md, "Cron
 * semantics"). Five fields (minute hour day-of-month month day-of-week) with
 * numbers, names, ranges, steps and lists; @hourly, @daily, @midnight,
 * @weekly, @monthly, @yearly, @annually; @every DURATION. Checked against
 * python3-croniter (tests/python/test_cron_oracle.py). */
#ifndef PGQRS_CRON_H
#define PGQRS_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgqrs.h"
#include "schedule/tz.h"

typedef struct pgqrs__cron {
    uint64_t minutes;    /* bit m: minute m matches (0..59) */
    uint32_t hours;      /* bit h (0..23) */
    uint32_t dom;        /* bit d (1..31) */
    uint16_t months;     /* bit m (1..12) */
    uint8_t dow;         /* bit d (0 = Sunday .. 6) */
    bool dom_all, dow_all;   /* the field matches every value: then the day rule is AND, else OR */
    int64_t every_s;     /* @every: the period in seconds (> 0); the fields are unused */
} pgqrs__cron;

/* Parses expr. PGQRS_EINVAL with one line in err naming the problem. */
pgqrs_status pgqrs__cron_parse(pgqrs__cron *out, const char *expr, char *err, size_t errlen);

/* The first fire time strictly after after_us (UTC microseconds) in zone z, in
 * microseconds: false when there is none within 10 years (an expression such
 * as "0 0 30 2 *"). */
bool pgqrs__cron_next(const pgqrs__cron *c, const pgqrs__tz *z, int64_t after_us, int64_t *out_us);
/* The last fire time at or before at_us; false when none within 10 years. */
bool pgqrs__cron_prev(const pgqrs__cron *c, const pgqrs__tz *z, int64_t at_us, int64_t *out_us);

#endif
