/* store.h: the store handle: parsed DSN and its driver, resolved options, a small
 * connection pool (mutex + condition variable), the clock, the logger, the
 * counters and the heartbeat thread. */
#ifndef PGQRS_STORE_H
#define PGQRS_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "base/clock.h"
#include "base/handle.h"
#include "base/log.h"
#include "drivers/driver.h"
#include "drivers/dsn.h"

struct pgqrs__wf_def;

struct pgqrs_store {
    pgqrs__handle h;
    pgqrs__dsn dsn;
    const pgqrs__driver *drv;        /* from the DSN's scheme */
    pgqrs_connect_options opts;      /* resolved: no zeros left */
    pgqrs__open_opts open_opts;      /* what the driver needs of them */
    pgqrs__clock clock;
    pgqrs__logger logger;
    pgqrs__err_counts errs;
    pthread_mutex_t mu;
    pthread_cond_t cv;               /* a pooled connection became free */
    pgqrs_conn **conns;              /* pool_size slots, opened on demand */
    bool *busy;
    int n_conns;
    /* heartbeat thread: refreshes the live workers registered through this store */
    pthread_t hb_thread;
    bool hb_started;
    bool hb_stop;
    pthread_cond_t hb_cv;
    int64_t *workers;
    size_t n_workers, cap_workers;
    /* workflows defined through this store (pointers stay valid until free); the
     * workflow layer owns them and sets free_wf_defs, which the store calls last */
    struct pgqrs__wf_def **wf_defs;
    size_t n_wf_defs;
    void (*free_wf_defs)(struct pgqrs_store *s);
    /* counters (pgqrs_store_counters) */
    _Atomic int64_t n_enqueued, n_dequeued, n_archived, n_deleted, n_released, n_replayed, n_retried, n_dead_lettered;
    _Atomic int64_t n_purged_archived, n_purged_dead_letters, n_purged_runs;   /* retention (src/schedule/) */
};

/* Logs an event through the store's logger; cheap when the level is off. */
#define pgqrs__log(s, level, event, ...) pgqrs__logf(&(s)->logger, (level), (event), __VA_ARGS__)

/* Checks out a connection for a call on handle `owner` (the store itself or a
 * handle built on it): its failures are recorded on owner until it is released.
 * Opens one if the pool has room, else waits up to pool_wait_ms; a broken
 * PostgreSQL session is re-established once here. On failure owner's message says
 * why. The caller checked the handles. */
pgqrs_status pgqrs__store_acquire(pgqrs_store *s, void *owner, pgqrs_conn **out);
void pgqrs__store_release(pgqrs_store *s, pgqrs_conn *c);

/* The thresholds (zombies, staleness) are computed from: the override, else the local clock. */
int64_t pgqrs__store_clock(pgqrs_store *s);

/* A connection outside the pool (e.g. a LISTEN session) whose failures are
 * recorded on owner; the caller closes it with pgqrs__conn_close. */
pgqrs_status pgqrs__store_open_conn(pgqrs_store *s, void *owner, pgqrs_conn **out);

/* What the store's driver guarantees (pgqrs_store_capabilities without the checks). */
void pgqrs__store_caps(const pgqrs_store *s, pgqrs_capabilities *out);

/* Heartbeat bookkeeping for workers this store registered. */
pgqrs_status pgqrs__store_track_worker(pgqrs_store *s, int64_t id);
void pgqrs__store_untrack_worker(pgqrs_store *s, int64_t id);

/* Looks a queue up by name with a validated name; ENOTFOUND says which. Failures
 * are recorded on c's owner. */
pgqrs_status pgqrs__queue_lookup(pgqrs_conn *c, const char *name, pgqrs_queue_row *out);
/* PGQRS_OK when name is 1..PGQRS_MAX_NAME_BYTES bytes of UTF-8; else EINVAL. */
pgqrs_status pgqrs__check_name(void *handle, const char *what, const char *name);

/* Registers a worker row and tracks it for heartbeats. */
pgqrs_status pgqrs__worker_register(pgqrs_store *s, pgqrs_conn *c, const int64_t *queue_id,
                                    pgqrs_db_worker_kind kind, int64_t *id_out);

/* Runs the statements after `h` with a checked-out connection named `c` whose
 * failures land on handle h, counts the failure they end with (if any), then
 * returns the connection to the pool. The statements set `st`; the public call
 * checked s and h before (PGQRS__CHECK_STORE). */
#define PGQRS__WITH_CONN(s, h, ...)                                           \
    do {                                                                      \
        pgqrs_conn *c = NULL;                                                 \
        st = pgqrs__store_acquire(s, h, &c);                                  \
        if (st == PGQRS_OK) {                                                 \
            __VA_ARGS__;                                                      \
            pgqrs__count_failure(h, st);                                      \
            pgqrs__store_release(s, c);                                       \
        }                                                                     \
    } while (0)

/* The first statement of a public call on a store: returns EMISUSE for a bad handle. */
#define PGQRS__CHECK_STORE(s)                                                 \
    do {                                                                      \
        pgqrs_status chk_ = pgqrs__check_handle(s, PGQRS__MAGIC_STORE, "store"); \
        if (chk_ != PGQRS_OK)                                                 \
            return chk_;                                                      \
    } while (0)

#endif
