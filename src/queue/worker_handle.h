/* worker_handle.h: what producers and consumers share: a store, a queue, and the
 * worker row registered for them. */
#ifndef PGQRS_WORKER_HANDLE_H
#define PGQRS_WORKER_HANDLE_H

#include "queue/store.h"

typedef struct pgqrs__worker_handle {
    pgqrs__handle h;
    pgqrs_store *store;
    int64_t queue_id;
    int32_t max_attempts;
    char *queue;
    int64_t worker_id;
} pgqrs__worker_handle;

struct pgqrs_producer {
    pgqrs__worker_handle w;
};

struct pgqrs_consumer {
    pgqrs__worker_handle w;
    pgqrs_conn *listener;      /* PostgreSQL LISTEN session of pgqrs_dequeue_wait, or NULL */
    bool no_listener;          /* LISTEN is unavailable here: poll instead */
    /* per-queue limits (limits.c) */
    bool limited;              /* the queue had a limit at the last look: claims take the limited path */
    int64_t limits_at_us;      /* store clock of that look; 0 = never */
    int64_t limit_wait_ms;     /* the last claim got nothing because of a limit: worth trying again
                                * after this long (0: it did not) */
    int limit_round;           /* consecutive claims held back by the concurrency limit (backoff) */
    uint64_t limit_rng;
};

/* Looks the queue up and registers a worker of `kind` for it. */
pgqrs_status pgqrs__worker_handle_init(pgqrs__worker_handle *w, uint32_t magic, pgqrs_store *s, const char *queue,
                                       pgqrs_db_worker_kind kind);
/* Allocates a handle of `size` bytes starting with a worker handle, looks the
 * queue up and registers the worker; the shared body of producer_new/consumer_new. */
pgqrs_status pgqrs__worker_handle_new(void **out, size_t size, uint32_t magic, pgqrs_store *s, const char *queue,
                                      pgqrs_db_worker_kind kind);
/* Stops the worker row (releasing held messages when release) and frees fields. */
void pgqrs__worker_handle_close(pgqrs__worker_handle *w, bool release);

/* Lifecycle transitions on the handle's worker, checked in SQL. */
pgqrs_status pgqrs__worker_transition(pgqrs__worker_handle *w, pgqrs_db_worker_status from,
                                      pgqrs_db_worker_status to, const char *verb);
pgqrs_status pgqrs__worker_heartbeat(pgqrs__worker_handle *w);
pgqrs_status pgqrs__worker_shutdown(pgqrs__worker_handle *w, bool release);

/* Validates a JSON payload with jansson; EINVAL on the handle when invalid. */
pgqrs_status pgqrs__check_json(void *handle, const char *what, const char *json);
/* Seconds in lo..hi, else EINVAL naming the argument. */
pgqrs_status pgqrs__check_range(void *handle, const char *what, int64_t v, int64_t lo, int64_t hi);

#endif
