/* jobs.h: job control's internal pieces (jobs.c): what a claim does with
 * cancel-requested messages, the runtime's cancel-aware lease extension and
 * settle, and the progress check. */
#ifndef PGQRS_QUEUE_JOBS_H
#define PGQRS_QUEUE_JOBS_H

#include "queue/worker_handle.h"

/* A short claim's sweep (before its dead-lettering): the queue's
 * cancel-requested messages whose lease ran out, among the next max visible
 * ones, are archived as cancelled. Failures on k. */
pgqrs_status pgqrs__cancel_sweep(pgqrs_consumer *k, pgqrs_conn *c, int max);
/* After a claim on c: claimed rows with a cancel request (a claim that does not
 * skip them) are archived as cancelled at once and removed from rows (*n is
 * updated). Failures on k. */
pgqrs_status pgqrs__cancel_claimed(pgqrs_consumer *k, pgqrs_conn *c, pgqrs_message_row *rows, size_t *n);

/* pgqrs__extend_held that leaves cancel-requested messages' leases alone and
 * returns their ids in *cancel_out (pgqrs__free; may be NULL when *n_cancel is 0).
 * Failures on owner. */
pgqrs_status pgqrs__extend_held_cancel(int64_t **cancel_out, size_t *n_cancel, void *owner, pgqrs_store *s,
                                       const int64_t *ids, size_t n_ids, const int64_t *worker_ids, size_t n_workers,
                                       int vt_seconds);

/* Archives the held messages ids (with results[i], "null" for none) as
 * cancelled, in one statement; *settled_out gets how many were still held.
 * Failures on owner. */
pgqrs_status pgqrs__consumer_settle_cancelled(size_t *settled_out, void *owner, pgqrs_consumer *k,
                                              const int64_t *ids, const char *const *results, size_t n);

/* EINVAL on handle unless json is valid JSON of at most PGQRS_MAX_PROGRESS_BYTES. */
pgqrs_status pgqrs__check_progress(void *handle, const char *json);

/* pgqrs_message_set_progress for worker_id, failures on owner (any handle). */
pgqrs_status pgqrs__set_progress(void *owner, pgqrs_store *s, int64_t worker_id, int64_t id, const char *json);

#endif
