/* store.h: the store handle: parsed DSN, resolved options, a small connection
 * pool (mutex + condition variable), the time override and the heartbeat thread. */
#ifndef PGQRS_STORE_H
#define PGQRS_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "drivers/dsn.h"
#include "base/handle.h"

struct pgqrs_store {
    pgqrs__handle h;
    pgqrs__dsn dsn;
    pgqrs_connect_options opts;      /* resolved: no zeros left */
    pthread_mutex_t mu;
    pthread_cond_t cv;               /* a pooled connection became free */
    pgqrs_conn **conns;              /* pool_size slots, opened on demand */
    bool *busy;
    int n_conns;
    _Atomic int64_t time_override_us;
    /* heartbeat thread: refreshes the live workers registered through this store */
    pthread_t hb_thread;
    bool hb_started;
    bool hb_stop;
    pthread_cond_t hb_cv;
    int64_t *workers;
    size_t n_workers, cap_workers;
    /* workflows defined through this store (pointers stay valid until free) */
    struct pgqrs__wf_def **wf_defs;
    size_t n_wf_defs;
    /* logging: set once at connect or by pgqrs_set_log_callback */
    pgqrs_log_fn log_fn;
    void *log_user;
    _Atomic int log_min;
    /* counters (pgqrs_store_counters) */
    _Atomic int64_t n_enqueued, n_dequeued, n_archived, n_deleted, n_released, n_replayed, n_retried, n_dead_lettered;
    _Atomic int64_t n_errors[16];
};

/* Logs an event when level >= the store's minimum; cheap when it is not. */
void pgqrs__log(pgqrs_store *s, int level, const char *event, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Sets up PGQRS_LOG from the environment for a new store. */
void pgqrs__log_init(pgqrs_store *s);

/* Checks out a connection (opening one if the pool has room, else waiting up to
 * pool_wait_ms). A broken PostgreSQL session is reconnected once here. On failure
 * the store's (thread's) message says why. */
pgqrs_status pgqrs__store_acquire(pgqrs_store *s, pgqrs_conn **out);
void pgqrs__store_release(pgqrs_store *s, pgqrs_conn *c);

/* The `now` parameter for queries: the override when set; on SQLite the local
 * clock (the same machine's clock as the file); on PostgreSQL none (the server's). */
bool pgqrs__store_now(pgqrs_store *s, int64_t *now_us);
/* The clock thresholds are computed from: the override, else the local clock. */
int64_t pgqrs__store_clock(pgqrs_store *s);

/* A connection outside the pool (e.g. a LISTEN session), opened like the pooled
 * ones; the caller closes it with pgqrs__conn_close. */
pgqrs_status pgqrs__store_open_conn(pgqrs_store *s, pgqrs_conn **out);

/* Heartbeat bookkeeping for workers this store registered. */
pgqrs_status pgqrs__store_track_worker(pgqrs_store *s, int64_t id);
void pgqrs__store_untrack_worker(pgqrs_store *s, int64_t id);

/* Looks a queue up by name with a validated name; ENOTFOUND says which. */
pgqrs_status pgqrs__queue_lookup(pgqrs_store *s, pgqrs_conn *c, const char *name, pgqrs_queue_row *out);
/* true when s is well-formed UTF-8 (no overlongs, no surrogates). */
bool pgqrs__utf8_valid(const char *s);
/* PGQRS_OK when name is 1..PGQRS_MAX_NAME_BYTES bytes of UTF-8; else EINVAL. */
pgqrs_status pgqrs__check_name(void *handle, const char *what, const char *name);

/* Registers a worker row and tracks it for heartbeats. */
pgqrs_status pgqrs__worker_register(pgqrs_store *s, pgqrs_conn *c, const int64_t *queue_id,
                                    pgqrs_db_worker_kind kind, int64_t *id_out);

/* Runs the statements after `h` with a checked-out connection named `c`, then
 * returns it to the pool. A failure to get a connection is reported on handle h
 * (the store itself or a handle built on it); the statements set `st`. */
#define PGQRS__WITH_CONN(s, h, ...)                                           \
    do {                                                                      \
        pgqrs_conn *c = NULL;                                                 \
        st = pgqrs__check_handle(s, PGQRS__MAGIC_STORE, "store");             \
        if (st == PGQRS_OK)                                                   \
            st = pgqrs__store_acquire(s, &c);                                 \
        if (st != PGQRS_OK && (const void *)(h) != (const void *)(s))         \
            pgqrs__copy_err(h, s, st);                                        \
        if (st == PGQRS_OK) {                                                 \
            __VA_ARGS__;                                                      \
            pgqrs__store_release(s, c);                                       \
        }                                                                     \
    } while (0)

#endif
