/* tz.h: IANA time zones read from the system's TZif files (RFC 8536), without
 * TZ/tzset (process-global, not thread-safe) or localtime_rz (not in glibc).
 * A zone is loaded once per process and kept (a small cache, thread-safe);
 * times after its last transition follow the file's POSIX TZ footer, expanded
 * to explicit transitions up to the year 2400. */
#ifndef PGQRS_TZ_H
#define PGQRS_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "pgqrs.h"

typedef struct pgqrs__tz pgqrs__tz;   /* immutable once loaded; never freed */

/* The zone called name ("UTC", "Europe/Berlin", ...) from $TZDIR or
 * /usr/share/zoneinfo. PGQRS_EINVAL with one line in err for a malformed or
 * unknown name or a file that is not TZif; PGQRS_ENOMEM. */
pgqrs_status pgqrs__tz_get(const pgqrs__tz **out, const char *name, char *err, size_t errlen);

/* The UTC offset (seconds east) in effect at the UTC instant t (seconds). */
int32_t pgqrs__tz_offset_at(const pgqrs__tz *z, int64_t t);

/* The UTC instant of the local wall time w (seconds since 1970-01-01 00:00
 * local, read as if it were UTC), as Python's zoneinfo does it with fold=0: a
 * wall time that exists twice (clocks set back) is its first occurrence, one
 * that does not exist (clocks set forward) is read with the offset before the
 * change, i.e. it is shifted forward by the length of the gap. */
int64_t pgqrs__tz_local_to_utc(const pgqrs__tz *z, int64_t w);

/* Civil calendar helpers (proleptic Gregorian). */
int64_t pgqrs__days_from_civil(int64_t y, unsigned m, unsigned d);
void pgqrs__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
