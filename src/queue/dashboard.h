/* dashboard.h: what `pgqrs serve` (src/server/) needs beyond the public API:
 * messages listed by state, an operator's delete and cancel of one message, a
 * run's children, and counts by status for /metrics. Internal (pgqrs__), so the
 * public header does not grow for the dashboard; every call checks its store and
 * records failures on it like a public call. */
#ifndef PGQRS_DASHBOARD_H
#define PGQRS_DASHBOARD_H

#include <stdint.h>

#include "pgqrs.h"

/* Messages of queue in one state: "pending", "delayed", "in_flight" (live),
 * "archived", "dead_letter", "cancelled" (the archive), in id order after after_id,
 * at most limit (1..10000). *out is freed with pgqrs_batch_free.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such queue), PGQRS_EINVAL (state, limit, name) */
pgqrs_status pgqrs__dash_message_list(pgqrs_batch **out, pgqrs_store *s, const char *queue, const char *state,
                                      int64_t after_id, int limit);
/* Deletes message id of queue: a live one no consumer holds under a live lease,
 * or an archived, dead-lettered or cancelled one.
 * @return PGQRS_OK, PGQRS_ENOTFOUND, PGQRS_ESTATE (in flight) */
pgqrs_status pgqrs__dash_message_remove(pgqrs_store *s, const char *queue, int64_t id);
/* Puts cancelled message id of queue back as a new pending message (read count
 * 0, visible now). @return PGQRS_OK, PGQRS_ENOTFOUND (no such cancelled message) */
pgqrs_status pgqrs__dash_message_requeue(pgqrs_store *s, const char *queue, int64_t id);
/* The child runs of run_id (pgqrs_run_start_child), by id; *out is freed with
 * pgqrs_runs_free. @return PGQRS_OK (none: an empty list) */
pgqrs_status pgqrs__dash_run_children(pgqrs_runs **out, pgqrs_store *s, int64_t run_id);

/* Runs by status: counts_out[i] belongs to pgqrs__dash_run_statuses[i]. */
#define PGQRS__DASH_N_RUN_STATUSES 6
extern const char *const pgqrs__dash_run_statuses[PGQRS__DASH_N_RUN_STATUSES];
pgqrs_status pgqrs__dash_run_counts(int64_t counts_out[PGQRS__DASH_N_RUN_STATUSES], pgqrs_store *s);
/* Workers by status: counts_out[i] belongs to pgqrs__dash_worker_statuses[i]. */
#define PGQRS__DASH_N_WORKER_STATUSES 3
extern const char *const pgqrs__dash_worker_statuses[PGQRS__DASH_N_WORKER_STATUSES];
pgqrs_status pgqrs__dash_worker_counts(int64_t counts_out[PGQRS__DASH_N_WORKER_STATUSES], pgqrs_store *s);

#endif
