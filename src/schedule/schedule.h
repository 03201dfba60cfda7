/* schedule.h: what the schedule layer's files share. */
#ifndef PGQRS_SCHEDULE_H
#define PGQRS_SCHEDULE_H

#include <stdatomic.h>

#include "queue/store.h"
#include "schedule/cron.h"

/* Parses a stored schedule's expression and loads its zone; the failure is
 * recorded on handle. */
pgqrs_status pgqrs__schedule_load(void *handle, const char *cron, const char *zone, pgqrs__cron *c_out,
                                  const pgqrs__tz **z_out);

/* The round's time: the store's override when set, else the database's clock
 * (the local one on SQLite), through c. */
pgqrs_status pgqrs__schedule_now(pgqrs_conn *c, int64_t *now_us);

/* pgqrs_retention_run that also ends, incomplete, after the batch during which
 * *stop (may be NULL) became non-zero. */
pgqrs_status pgqrs__retention_run(pgqrs_retention_report *report_out, pgqrs_store *s,
                                  const pgqrs_retention_options *opts, const atomic_int *stop);

struct pgqrs_scheduler {
    pgqrs__handle h;
    pgqrs_store *store;
    pgqrs_scheduler_options opts;    /* resolved */
    atomic_int stop;
    int64_t last_retention_us;       /* 0: not yet */
    uint64_t rng;
    _Atomic int64_t rounds, fired, skipped_overlap, missed, lost, errors, retention_runs, purged;
    _Atomic int64_t rounds_ended;    /* rounds that returned, failed ones included */
};

#endif
