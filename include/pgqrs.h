/* pgqrs.h: durable queues and workflows on PostgreSQL and SQLite.
 *
 * Threads: a pgqrs_store may be shared between threads; every other handle is
 * used by one thread at a time.
 * Errors: every call returns a pgqrs_status; zero is success. Each handle keeps
 * the message of its last failure (pgqrs_errmsg); a failure before any handle
 * exists is read with pgqrs_errmsg(NULL). No message ever holds a password or
 * token. Test the status, never the message text.
 * Ownership: what comes back through an `out` pointer is the caller's and has its
 * own _free; a returned `const` pointer is borrowed from its parent handle. */
#ifndef PGQRS_H
#define PGQRS_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define PGQRS_EXTERN __declspec(dllexport)
#elif defined(__GNUC__)
#define PGQRS_EXTERN __attribute__((visibility("default")))
#else
#define PGQRS_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define PGQRS_VERSION "0.1.0"
#define PGQRS_VERSION_NUMBER 1000   /* major * 1000000 + minor * 1000 + patch */

/* Status codes. Append only: bindings mirror the numbers. */
typedef enum pgqrs_status {
    PGQRS_OK = 0,
    PGQRS_ERROR = -1,          /* unexpected failure; read pgqrs_errmsg() */
    PGQRS_ENOTFOUND = -2,      /* no such queue, message, worker or run */
    PGQRS_EEXISTS = -3,        /* the name is taken */
    PGQRS_EINVAL = -4,         /* bad input; nothing was changed */
    PGQRS_EBUSY = -5,          /* still locked after bounded retries */
    PGQRS_ENOTOWNED = -6,      /* held by another worker */
    PGQRS_ESTATE = -7,         /* illegal state transition */
    PGQRS_ECONN = -8,          /* could not reach the database */
    PGQRS_ETIMEOUT = -9,
    PGQRS_ENOMEM = -10,
    PGQRS_ENOTSUPPORTED = -11, /* backend not built in, or not supported by it */
    PGQRS_EMISUSE = -12        /* NULL, freed or foreign handle or argument */
} pgqrs_status;

/* The library's version string, e.g. "0.1.0". Static. */
PGQRS_EXTERN const char *pgqrs_version(void);
/* PGQRS_VERSION_NUMBER of the library actually loaded. */
PGQRS_EXTERN int pgqrs_version_number(void);
/* A short static description of a status code, e.g. "not found". Never NULL. */
PGQRS_EXTERN const char *pgqrs_errstr(pgqrs_status st);

/* ---- Handles -------------------------------------------------------------------
 * Every handle starts with a common header, so pgqrs_errmsg() takes any of them and
 * a NULL, freed or foreign pointer yields PGQRS_EMISUSE rather than a crash where
 * that can be detected. */
typedef struct pgqrs_store pgqrs_store;         /* a database and its connection pool */
typedef struct pgqrs_producer pgqrs_producer;   /* a registered worker that enqueues */
typedef struct pgqrs_consumer pgqrs_consumer;   /* a registered worker that dequeues */
typedef struct pgqrs_batch pgqrs_batch;         /* messages; owns them */
typedef struct pgqrs_queue_list pgqrs_queue_list;
typedef struct pgqrs_metrics_list pgqrs_metrics_list;
typedef struct pgqrs_worker_list pgqrs_worker_list;

/* The message of the handle's last failure; for a store, of the calling thread's
 * last failure on it; NULL: the calling thread's last failure before any handle
 * existed (pgqrs_connect). Never NULL; valid until the next call on that handle
 * (or thread). Never holds a password or token. */
PGQRS_EXTERN const char *pgqrs_errmsg(const void *handle);

/* ---- Store --------------------------------------------------------------------- */
typedef struct pgqrs_connect_options {
    unsigned int version;        /* PGQRS_CONNECT_OPTIONS_VERSION */
    int pool_size;               /* connections; 0 = 4 (SQLite ":memory:" is always 1) */
    int busy_timeout_ms;         /* SQLite: longest wait for the write lock; 0 = 5000 */
    const char *schema;          /* PostgreSQL schema; NULL = the DSN's ?schema= or the server's search_path */
    int max_batch_size;          /* largest batch for enqueue/dequeue/archive/delete; 0 = 1000, at most 10000 */
    int default_vt_seconds;      /* visibility timeout when a call passes 0; 0 = 30 */
    int connect_timeout_s;       /* PostgreSQL connect timeout; 0 = 10 */
    int heartbeat_interval_s;    /* background heartbeat of this store's workers; 0 = 10, -1 = off */
    int zombie_after_s;          /* a worker silent this long is a zombie; 0 = 300 (must exceed 2 heartbeats) */
    int pool_wait_ms;            /* longest wait for a free pooled connection; 0 = 30000 */
} pgqrs_connect_options;
#define PGQRS_CONNECT_OPTIONS_VERSION 1
#define PGQRS_CONNECT_OPTIONS_INIT { PGQRS_CONNECT_OPTIONS_VERSION, 0, 0, NULL, 0, 0, 0, 0, 0, 0 }
/* Fills opts with defaults for `version`; for bindings that cannot use the macro.
 * @return PGQRS_OK, PGQRS_EINVAL (unknown version), PGQRS_EMISUSE (NULL) */
PGQRS_EXTERN pgqrs_status pgqrs_connect_options_init(pgqrs_connect_options *opts, unsigned int version);

/* Opens a store. The backend comes from the DSN:
 *   postgres://user:pass@host:port/db?schema=name  (also postgresql://, any libpq URI parameter;
 *                                                   ?pgbouncer=true: no named prepared statements)
 *   sqlite:///absolute/path.db, sqlite://relative/path.db, sqlite::memory:
 * SQLite connections run in WAL mode with foreign keys enforced (checked) and a busy
 * handler with capped, jittered backoff. Does not install the schema (pgqrs_install).
 * On failure *out is NULL and pgqrs_errmsg(NULL) says why, with secrets redacted.
 * @return PGQRS_OK, PGQRS_EINVAL (malformed DSN or options), PGQRS_ECONN, PGQRS_ENOMEM,
 *         PGQRS_ENOTSUPPORTED (backend not built in), PGQRS_EMISUSE (NULL out or dsn) */
PGQRS_EXTERN pgqrs_status pgqrs_connect(pgqrs_store **out, const char *dsn, const pgqrs_connect_options *opts);
/* Stops the heartbeat thread and closes every connection. Producers and consumers
 * must be freed first. NULL: no-op. */
PGQRS_EXTERN void pgqrs_store_free(pgqrs_store *store);
/* "postgres" or "sqlite". Static. */
PGQRS_EXTERN const char *pgqrs_backend_name(const pgqrs_store *store);

typedef struct pgqrs_capabilities {
    unsigned int version;        /* set by the caller: PGQRS_CAPABILITIES_VERSION */
    int skip_locked;             /* dequeue skips rows other consumers lock (PostgreSQL) */
    int multi_process;           /* consumers in many processes/machines claim concurrently without blocking */
    int transactions;            /* multi-statement transactions across calls */
    int database_clock;          /* times come from the database server's clock */
    const char *concurrency_model;   /* "multi-process" or "single-process"; static */
} pgqrs_capabilities;
#define PGQRS_CAPABILITIES_VERSION 1
/* What this backend guarantees. SQLite reports single-process: several processes on
 * one file are safe (each claim is one BEGIN IMMEDIATE transaction) but serialised.
 * @return PGQRS_OK, PGQRS_EMISUSE */
PGQRS_EXTERN pgqrs_status pgqrs_store_capabilities(const pgqrs_store *store, pgqrs_capabilities *out);

/* Testing aid: when now_us is non-zero every time the library reads or writes
 * (visibility, delays, heartbeats, zombie and retention thresholds) is now_us,
 * so tests move time instead of sleeping. 0 restores the real clock. */
PGQRS_EXTERN void pgqrs_store_set_time(pgqrs_store *store, int64_t now_us);

/* ---- Schema --------------------------------------------------------------------- */
/* Applies the embedded migrations not yet applied, each in its own transaction,
 * and records them with their checksums. Safe to run again and from several
 * processes at once. @return PGQRS_OK, PGQRS_ESTATE (an applied migration differs
 * from this library's, or the database is newer), PGQRS_ECONN, PGQRS_ERROR */
PGQRS_EXTERN pgqrs_status pgqrs_install(pgqrs_store *store);
/* PGQRS_OK when every table exists and the applied migrations are exactly this
 * library's; PGQRS_ESTATE with the first problem found otherwise. */
PGQRS_EXTERN pgqrs_status pgqrs_verify(pgqrs_store *store);

/* ---- Queues --------------------------------------------------------------------- */
typedef struct pgqrs_queue_info {   /* read-only; fields are only ever appended */
    int64_t id;
    const char *name;
    int32_t max_attempts;           /* deliveries before a message is dead-lettered */
    int64_t created_at_us;          /* UTC microseconds since the Unix epoch */
} pgqrs_queue_info;

typedef struct pgqrs_queue_options {
    unsigned int version;        /* PGQRS_QUEUE_OPTIONS_VERSION */
    int max_attempts;            /* 0 = 5 */
    int exist_ok;                /* non-zero: an existing queue of that name is not an error */
} pgqrs_queue_options;
#define PGQRS_QUEUE_OPTIONS_VERSION 1
#define PGQRS_QUEUE_OPTIONS_INIT { PGQRS_QUEUE_OPTIONS_VERSION, 0, 0 }

/* Queue names are 1 to 128 bytes of UTF-8 (any characters; they are bound, never
 * spliced into SQL). */

/* Creates a queue atomically (one statement: two concurrent creates cannot both
 * succeed). `opts` may be NULL. `out` may be NULL; else it gets the queue, freed
 * with pgqrs_queue_info_free. @return PGQRS_OK, PGQRS_EEXISTS (unless exist_ok),
 * PGQRS_EINVAL (bad name or options), PGQRS_EMISUSE */
PGQRS_EXTERN pgqrs_status pgqrs_queue_create(pgqrs_store *store, const char *name, const pgqrs_queue_options *opts,
                                             pgqrs_queue_info **out);
/* @return PGQRS_OK, PGQRS_ENOTFOUND */
PGQRS_EXTERN pgqrs_status pgqrs_queue_get(pgqrs_store *store, const char *name, pgqrs_queue_info **out);
PGQRS_EXTERN void pgqrs_queue_info_free(pgqrs_queue_info *q);   /* NULL: no-op */
/* All queues by name. */
PGQRS_EXTERN pgqrs_status pgqrs_list_queues(pgqrs_store *store, pgqrs_queue_list **out);
PGQRS_EXTERN size_t pgqrs_queue_list_count(const pgqrs_queue_list *l);
/* Borrowed from l; NULL when i is out of range. */
PGQRS_EXTERN const pgqrs_queue_info *pgqrs_queue_list_at(const pgqrs_queue_list *l, size_t i);
PGQRS_EXTERN void pgqrs_queue_list_free(pgqrs_queue_list *l);
/* Deletes the queue with its archive and dead letters. Refused with PGQRS_ESTATE
 * while it holds live messages, unless force; always refused while a workflow uses it.
 * @return PGQRS_OK, PGQRS_ENOTFOUND, PGQRS_ESTATE */
PGQRS_EXTERN pgqrs_status pgqrs_queue_delete(pgqrs_store *store, const char *name, int force);
/* Deletes every live message of the queue; *purged_out (may be NULL) gets how many. */
PGQRS_EXTERN pgqrs_status pgqrs_queue_purge(pgqrs_store *store, const char *name, int64_t *purged_out);
/* Retention: deletes archived (not dead-lettered) messages archived more than
 * older_than_s seconds ago, of one queue or (name NULL) of all. */
PGQRS_EXTERN pgqrs_status pgqrs_archive_purge(pgqrs_store *store, const char *name, int64_t older_than_s,
                                              int64_t *purged_out);

typedef struct pgqrs_queue_metrics {   /* read-only; fields are only ever appended */
    int64_t queue_id;
    const char *name;
    int64_t pending;             /* visible now */
    int64_t in_flight;           /* held by a consumer, lease not expired */
    int64_t delayed;             /* not yet visible, not held */
    int64_t archived;
    int64_t dead_lettered;
    int64_t oldest_pending_age_us;  /* age of the oldest pending message; 0 when none */
} pgqrs_queue_metrics;
/* Metrics of one queue (name) or of all (name NULL), by queue name.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (named queue missing) */
PGQRS_EXTERN pgqrs_status pgqrs_queue_metrics_get(pgqrs_store *store, const char *name, pgqrs_metrics_list **out);
PGQRS_EXTERN size_t pgqrs_metrics_list_count(const pgqrs_metrics_list *l);
PGQRS_EXTERN const pgqrs_queue_metrics *pgqrs_metrics_list_at(const pgqrs_metrics_list *l, size_t i);
PGQRS_EXTERN void pgqrs_metrics_list_free(pgqrs_metrics_list *l);

/* ---- Messages ------------------------------------------------------------------- */
typedef struct pgqrs_message {   /* read-only; fields are only ever appended */
    int64_t id;
    int64_t queue_id;
    const char *payload;         /* JSON text (PostgreSQL returns it normalised, as jsonb) */
    int32_t read_count;          /* deliveries so far */
    int64_t enqueued_at_us;
    int64_t vt_us;               /* visible again at (live messages) */
    int64_t dequeued_at_us;      /* last delivery; 0 = never */
    int64_t producer_worker_id;  /* 0 = none */
    int64_t consumer_worker_id;  /* 0 = none */
    int64_t archived_at_us;      /* archive and dead letters only; else 0 */
    const char *state;           /* "live", "archived" or "dead_letter"; static */
} pgqrs_message;
PGQRS_EXTERN size_t pgqrs_batch_count(const pgqrs_batch *b);
/* Borrowed from b; NULL when i is out of range. */
PGQRS_EXTERN const pgqrs_message *pgqrs_batch_at(const pgqrs_batch *b, size_t i);
PGQRS_EXTERN void pgqrs_batch_free(pgqrs_batch *b);   /* NULL: no-op */

/* ---- Producer ------------------------------------------------------------------- */
/* Registers a producer worker (hostname, pid) for the queue.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such queue), PGQRS_EINVAL, PGQRS_EMISUSE */
PGQRS_EXTERN pgqrs_status pgqrs_producer_new(pgqrs_producer **out, pgqrs_store *store, const char *queue);
/* Marks the worker stopped and frees the handle. NULL: no-op. */
PGQRS_EXTERN void pgqrs_producer_free(pgqrs_producer *p);
PGQRS_EXTERN int64_t pgqrs_producer_worker_id(const pgqrs_producer *p);
/* Enqueues one JSON payload (any JSON value, validated first: invalid JSON is
 * PGQRS_EINVAL and nothing is written), visible after delay_seconds (0 = now).
 * id_out may be NULL. @return PGQRS_OK, PGQRS_EINVAL, PGQRS_ENOTFOUND (queue deleted) */
PGQRS_EXTERN pgqrs_status pgqrs_enqueue(pgqrs_producer *p, const char *payload_json, int delay_seconds, int64_t *id_out);
/* Enqueues n payloads in one statement: all or none (one invalid payload: nothing
 * written). n must be 1..max_batch_size. ids_out (may be NULL) gets n ids in input order. */
PGQRS_EXTERN pgqrs_status pgqrs_enqueue_batch(pgqrs_producer *p, const char *const *payloads, size_t n, int delay_seconds,
                                              int64_t *ids_out);

/* ---- Consumer ------------------------------------------------------------------- */
/* Registers a consumer worker for the queue. @return PGQRS_OK, PGQRS_ENOTFOUND, PGQRS_EMISUSE */
PGQRS_EXTERN pgqrs_status pgqrs_consumer_new(pgqrs_consumer **out, pgqrs_store *store, const char *queue);
/* Releases the messages it still holds, marks the worker stopped, frees. NULL: no-op. */
PGQRS_EXTERN void pgqrs_consumer_free(pgqrs_consumer *c);
PGQRS_EXTERN int64_t pgqrs_consumer_worker_id(const pgqrs_consumer *c);
/* Claims up to max visible messages, each hidden from other consumers for
 * vt_seconds (0 = the store default) and its read count incremented. A message
 * already delivered max_attempts times is moved to the dead-letter queue instead.
 * An empty batch is PGQRS_OK with count 0. A suspended or stopped consumer gets
 * PGQRS_ESTATE. @return PGQRS_OK, PGQRS_EINVAL (max or vt out of range), PGQRS_ESTATE */
PGQRS_EXTERN pgqrs_status pgqrs_dequeue(pgqrs_batch **out, pgqrs_consumer *c, int max, int vt_seconds);
/* Makes a held message invisible for vt_seconds from now. *vt_us_out may be NULL.
 * @return PGQRS_OK, PGQRS_ENOTOWNED (held by another), PGQRS_ENOTFOUND */
PGQRS_EXTERN pgqrs_status pgqrs_extend_vt(pgqrs_consumer *c, int64_t id, int vt_seconds, int64_t *vt_us_out);
/* Single-message operations on a held message.
 * @return PGQRS_OK, PGQRS_ENOTOWNED (held by another worker), PGQRS_ENOTFOUND (no such live message) */
PGQRS_EXTERN pgqrs_status pgqrs_archive(pgqrs_consumer *c, int64_t id);
PGQRS_EXTERN pgqrs_status pgqrs_delete(pgqrs_consumer *c, int64_t id);
/* Back to pending, visible after delay_seconds (0 = now). Counts as a delivery. */
PGQRS_EXTERN pgqrs_status pgqrs_release(pgqrs_consumer *c, int64_t id, int delay_seconds);
/* Batch forms: one statement each; only the messages this consumer holds are
 * touched. results_out (may be NULL) gets n statuses: PGQRS_OK, PGQRS_ENOTOWNED or
 * PGQRS_ENOTFOUND. Returns PGQRS_OK when all succeeded, else the first failure's
 * status (the others were still applied). */
PGQRS_EXTERN pgqrs_status pgqrs_archive_batch(pgqrs_consumer *c, const int64_t *ids, size_t n, pgqrs_status *results_out);
PGQRS_EXTERN pgqrs_status pgqrs_delete_batch(pgqrs_consumer *c, const int64_t *ids, size_t n, pgqrs_status *results_out);
PGQRS_EXTERN pgqrs_status pgqrs_release_batch(pgqrs_consumer *c, const int64_t *ids, size_t n, int delay_seconds,
                                              pgqrs_status *results_out);

/* ---- Dead letters and inspection --------------------------------------------------- */
/* Dead letters of a queue in id order, after after_id (0 = from the start), at most limit (1..10000). */
PGQRS_EXTERN pgqrs_status pgqrs_dlq_list(pgqrs_store *store, const char *queue, int64_t after_id, int limit,
                                         pgqrs_batch **out);
PGQRS_EXTERN pgqrs_status pgqrs_dlq_count(pgqrs_store *store, const char *queue, int64_t *count_out);
/* Moves one dead letter back to the queue as a new pending message (read count 0).
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such dead letter in this queue) */
PGQRS_EXTERN pgqrs_status pgqrs_dlq_replay(pgqrs_store *store, const char *queue, int64_t id);
/* Moves every dead letter of the queue back (in chunks of max_batch_size). */
PGQRS_EXTERN pgqrs_status pgqrs_dlq_replay_all(pgqrs_store *store, const char *queue, int64_t *replayed_out);
/* Live messages of a queue in id order without claiming them (after_id, limit as above). */
PGQRS_EXTERN pgqrs_status pgqrs_message_list(pgqrs_store *store, const char *queue, int64_t after_id, int limit,
                                             pgqrs_batch **out);
/* Archived (not dead-lettered) messages, likewise. */
PGQRS_EXTERN pgqrs_status pgqrs_archive_list(pgqrs_store *store, const char *queue, int64_t after_id, int limit,
                                             pgqrs_batch **out);

/* ---- Workers -------------------------------------------------------------------- */
typedef struct pgqrs_worker_info {   /* read-only; fields are only ever appended */
    int64_t id;
    int64_t queue_id;            /* 0 = none */
    const char *hostname;
    int32_t pid;
    const char *kind;            /* "producer", "consumer", "admin", "workflow"; static */
    const char *status;          /* "ready", "suspended", "stopped"; static */
    int64_t started_at_us;
    int64_t heartbeat_at_us;
    int64_t stopped_at_us;       /* 0 = not stopped */
} pgqrs_worker_info;

/* Lifecycle of the worker behind a producer or consumer. Transitions are checked
 * in SQL: ready <-> suspended, ready/suspended -> stopped; anything else is
 * PGQRS_ESTATE and changes nothing. */
PGQRS_EXTERN pgqrs_status pgqrs_consumer_heartbeat(pgqrs_consumer *c);
PGQRS_EXTERN pgqrs_status pgqrs_consumer_suspend(pgqrs_consumer *c);
PGQRS_EXTERN pgqrs_status pgqrs_consumer_resume(pgqrs_consumer *c);
/* Stops the consumer's worker. While it holds messages this is refused with
 * PGQRS_ESTATE unless release is non-zero, which puts them back to pending. */
PGQRS_EXTERN pgqrs_status pgqrs_consumer_shutdown(pgqrs_consumer *c, int release);
PGQRS_EXTERN pgqrs_status pgqrs_producer_heartbeat(pgqrs_producer *p);
PGQRS_EXTERN pgqrs_status pgqrs_producer_suspend(pgqrs_producer *p);
PGQRS_EXTERN pgqrs_status pgqrs_producer_resume(pgqrs_producer *p);
PGQRS_EXTERN pgqrs_status pgqrs_producer_shutdown(pgqrs_producer *p);
/* The worker's current row. *out is freed with pgqrs_worker_info_free. */
PGQRS_EXTERN pgqrs_status pgqrs_worker_get(pgqrs_store *store, int64_t id, pgqrs_worker_info **out);
PGQRS_EXTERN void pgqrs_worker_info_free(pgqrs_worker_info *w);
/* Workers of one queue (queue non-NULL) or all, newest first. */
PGQRS_EXTERN pgqrs_status pgqrs_list_workers(pgqrs_store *store, const char *queue, pgqrs_worker_list **out);
PGQRS_EXTERN size_t pgqrs_worker_list_count(const pgqrs_worker_list *l);
PGQRS_EXTERN const pgqrs_worker_info *pgqrs_worker_list_at(const pgqrs_worker_list *l, size_t i);
PGQRS_EXTERN void pgqrs_worker_list_free(pgqrs_worker_list *l);

typedef struct pgqrs_worker_health {
    unsigned int version;        /* set by the caller: PGQRS_WORKER_HEALTH_VERSION */
    int64_t total, ready, suspended, stopped;
    int64_t stale;               /* not stopped, no heartbeat for stale_after_s */
} pgqrs_worker_health;
#define PGQRS_WORKER_HEALTH_VERSION 1
/* stale_after_s 0 = the store's zombie_after_s. */
PGQRS_EXTERN pgqrs_status pgqrs_worker_health_get(pgqrs_store *store, int64_t stale_after_s, pgqrs_worker_health *out);
/* Zombie reclaim: every worker not stopped whose last heartbeat is older than
 * older_than_s (0 = zombie_after_s) is marked stopped and its messages become
 * pending now, atomically. *reclaimed_out (may be NULL) gets the worker count. */
PGQRS_EXTERN pgqrs_status pgqrs_reclaim_zombies(pgqrs_store *store, int64_t older_than_s, int64_t *reclaimed_out);
/* Deletes workers stopped (or silent) for more than older_than_s that hold no messages. */
PGQRS_EXTERN pgqrs_status pgqrs_worker_purge_stale(pgqrs_store *store, int64_t older_than_s, int64_t *purged_out);

/* Limits. */
#define PGQRS_MAX_BATCH_LIMIT 10000      /* max_batch_size can not be raised past this */
#define PGQRS_MAX_VT_SECONDS 604800      /* 7 days */
#define PGQRS_MAX_DELAY_SECONDS 31536000 /* 365 days */
#define PGQRS_MAX_NAME_BYTES 128

#ifdef __cplusplus
}
#endif

#endif
