/* pgqrs.h: durable queues and workflows on PostgreSQL, SQLite and Turso.
 *
 * The rules every declaration in this header follows (bindings rely on them):
 *  1. Names are pgqrs_<object>_<verb>: pgqrs_queue_create, pgqrs_worker_get,
 *     pgqrs_run_cancel. A call that returns a list is pgqrs_<object>_list; the
 *     list it returns has the plural type (pgqrs_queues) with _count, _at and
 *     _free. The message verbs every program calls are named by the verb alone
 *     and act on the handle that does them: pgqrs_enqueue and pgqrs_enqueue_batch
 *     on a producer; pgqrs_dequeue, pgqrs_archive, pgqrs_delete, pgqrs_release,
 *     pgqrs_extend_vt and their _batch forms on a consumer. The few calls outside
 *     any object are pgqrs_connect, pgqrs_version*, pgqrs_errmsg, pgqrs_errstr,
 *     pgqrs_strdup, pgqrs_free and pgqrs_retry_delay_ms.
 *  2. Outputs come first: pgqrs_queue_get(&info, store, "emails"). An output is
 *     named out or <what>_out; each call says which outputs may be NULL.
 *  3. Every call returns a pgqrs_status, zero on success, except field getters
 *     (pgqrs_run_id, pgqrs_producer_worker_id, ...), _count and _at (0 / NULL for
 *     a bad handle) and _free (void; NULL is a no-op). Each call lists the
 *     statuses it returns; PGQRS_EMISUSE (a NULL or freed handle or a NULL
 *     required argument) and PGQRS_ENOMEM are possible everywhere and not repeated.
 *     A call that needs the database can also return PGQRS_ECONN (the database
 *     could not be reached), PGQRS_ETIMEOUT (no pooled connection became free in
 *     time) and PGQRS_EBUSY (still locked after bounded, jittered retries).
 *  4. What comes back through an `out` pointer is the caller's, with its own
 *     _free (strings: pgqrs_free); a returned const pointer is borrowed from its
 *     parent handle and lives as long as it.
 *  5. Every struct the caller fills in or provides starts with
 *     `unsigned int version`: options, filters, and the outputs the caller
 *     allocates (pgqrs_capabilities, pgqrs_counters, pgqrs_worker_health).
 *     Initialise it with its PGQRS_X_INIT macro, which sets only the version, or
 *     with pgqrs_x_init(&x, PGQRS_X_VERSION) from a binding. Zero means "the
 *     default" in every other field. A struct whose version this library does not
 *     know is refused with PGQRS_EINVAL and nothing happens. Fields are only ever
 *     appended, with a version bump.
 *  6. Structs the library hands out (pgqrs_message, pgqrs_queue_info, ...) are
 *     reached through pointers only, so appending a field breaks nobody.
 *
 * Threads: a pgqrs_store may be shared between threads; every other handle is
 * used by one thread at a time.
 * Errors: zero is success. Each handle keeps the message of its last failure
 * (pgqrs_errmsg); a failure before any handle exists is read with
 * pgqrs_errmsg(NULL). No message ever holds a password or token. Test the
 * status, never the message text; a message may be stale after a success. */
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

#define PGQRS_VERSION "0.2.0"
#define PGQRS_VERSION_NUMBER 2000   /* major * 1000000 + minor * 1000 + patch */

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
    PGQRS_EMISUSE = -12,       /* NULL, freed or foreign handle or argument */
    PGQRS_ECANCELLED = -13,    /* the workflow run was cancelled: return it from the handler */
    PGQRS_ESUSPENDED = -14     /* the run sleeps or waits for a retry: return it from the handler */
} pgqrs_status;

/* The library's version string, e.g. "0.2.0". Static. */
PGQRS_EXTERN const char *pgqrs_version(void);
/* PGQRS_VERSION_NUMBER of the library actually loaded. */
PGQRS_EXTERN int pgqrs_version_number(void);
/* A short static description of a status code, e.g. "not found". Never NULL. */
PGQRS_EXTERN const char *pgqrs_errstr(pgqrs_status st);

/* PGQRS_X_INIT: a versioned struct with only its version set (rule 5). In C a
 * designated initializer; in C++ (no designated initializers before C++20) a
 * value-initialised copy. */
#ifdef __cplusplus
#define PGQRS__INIT(type, ver) (pgqrs__init_##type())
#define PGQRS__DEFINE_INIT(type, ver) \
    static inline type pgqrs__init_##type(void) { type o = type(); o.version = (ver); return o; }
#else
#define PGQRS__INIT(type, ver) { .version = (ver) }
#define PGQRS__DEFINE_INIT(type, ver)
#endif

/* ---- Handles -------------------------------------------------------------------
 * Every handle starts with a common header, so pgqrs_errmsg() takes any of them and
 * a NULL, freed or foreign pointer yields PGQRS_EMISUSE rather than a crash where
 * that can be detected. */
typedef struct pgqrs_store pgqrs_store;         /* a database and its connection pool */
typedef struct pgqrs_producer pgqrs_producer;   /* a registered worker that enqueues */
typedef struct pgqrs_consumer pgqrs_consumer;   /* a registered worker that dequeues */
typedef struct pgqrs_batch pgqrs_batch;         /* messages; owns them */
typedef struct pgqrs_queues pgqrs_queues;       /* pgqrs_queue_info items */
typedef struct pgqrs_metrics pgqrs_metrics;     /* pgqrs_queue_metrics items */
typedef struct pgqrs_workers pgqrs_workers;     /* pgqrs_worker_info items */

/* The message of the handle's last failure; for a store, of the calling thread's
 * last failure on it; NULL: the calling thread's last failure before any handle
 * existed (pgqrs_connect, pgqrs_x_init). Never NULL; valid until the next call on
 * that handle (or thread). Never holds a password or token. */
PGQRS_EXTERN const char *pgqrs_errmsg(const void *handle);

/* ---- Store --------------------------------------------------------------------- */
typedef struct pgqrs_connect_options {
    unsigned int version;        /* PGQRS_CONNECT_OPTIONS_VERSION */
    int pool_size;               /* connections; 0 = 4 (SQLite ":memory:" is always 1) */
    int busy_timeout_ms;         /* SQLite, Turso: longest wait for the write lock; 0 = 5000 */
    const char *schema;          /* PostgreSQL schema; NULL = the DSN's ?schema= or the server's search_path */
    int max_batch_size;          /* largest batch for enqueue/dequeue/archive/delete; 0 = 1000, at most 10000 */
    int default_vt_seconds;      /* visibility timeout when a call passes 0; 0 = 30 */
    int connect_timeout_s;       /* PostgreSQL and Turso connect timeout; 0 = 10 */
    int heartbeat_interval_s;    /* background heartbeat of this store's workers; 0 = 10, -1 = off */
    int zombie_after_s;          /* a worker silent this long is a zombie; 0 = 300 (must exceed 2 heartbeats) */
    int pool_wait_ms;            /* longest wait for a free pooled connection; 0 = 30000 */
    int relaxed_durability;      /* 1: commits are not flushed one by one (SQLite synchronous=NORMAL,
                                  * PostgreSQL synchronous_commit=off): faster, and a crash of the
                                  * machine (SQLite) or server (PostgreSQL) can lose the last commits,
                                  * never corrupt; not through PgBouncer, not on Turso. 0 = full durability */
} pgqrs_connect_options;
#define PGQRS_CONNECT_OPTIONS_VERSION 1
#define PGQRS_CONNECT_OPTIONS_INIT PGQRS__INIT(pgqrs_connect_options, PGQRS_CONNECT_OPTIONS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_connect_options, PGQRS_CONNECT_OPTIONS_VERSION)
/* Zeroes opts and sets its version, as the macro does; for bindings.
 * @return PGQRS_OK, PGQRS_EINVAL (a version this library does not know) */
PGQRS_EXTERN pgqrs_status pgqrs_connect_options_init(pgqrs_connect_options *opts, unsigned int version);

/* Opens a store. The backend comes from the DSN:
 *   postgres://user:pass@host:port/db?schema=name  (also postgresql://, any libpq URI parameter;
 *                                                   ?pgbouncer=true: no named prepared statements)
 *   sqlite:///absolute/path.db, sqlite://relative/path.db, sqlite::memory:
 *   libsql://host[:port][?tls=0], http://host:port, https://host[:port]
 *                               Turso / libSQL over Hrana (HTTP): ?authToken=TOKEN or the
 *                               PGQRS_TURSO_AUTH_TOKEN environment variable (sent only as
 *                               "Authorization: Bearer", redacted from every message);
 *                               ?connect_timeout=S (default: connect_timeout_s) and
 *                               ?timeout=S (each request, default 30). Every call is one
 *                               atomic request; busy/locked and HTTP 429/503 are retried
 *                               within busy_timeout_ms, a write whose outcome is unknown
 *                               (timeout, lost connection) is reported, never replayed.
 *   turso:///absolute/path.db   a local Turso-format file (WAL mode) through SQLite; a
 *                               file in Turso's MVCC mode is refused (PGQRS_ENOTSUPPORTED)
 * SQLite connections run in WAL mode with foreign keys enforced (checked) and a busy
 * handler with capped, jittered backoff. Does not install the schema (pgqrs_schema_install).
 * opts may be NULL. On failure *out is NULL and pgqrs_errmsg(NULL) says why, with
 * secrets redacted.
 * @return PGQRS_OK, PGQRS_EINVAL (malformed DSN or options), PGQRS_ECONN, PGQRS_EBUSY,
 *         PGQRS_ENOTSUPPORTED (backend not built in, or an option it cannot honour) */
PGQRS_EXTERN pgqrs_status pgqrs_connect(pgqrs_store **out, const char *dsn, const pgqrs_connect_options *opts);
/* Stops the heartbeat thread and closes every connection. Producers, consumers
 * and workflow workers must be freed first. NULL: no-op. */
PGQRS_EXTERN void pgqrs_store_free(pgqrs_store *store);
/* "postgres", "sqlite" or "turso" (libsql://, http(s)://, turso://); "invalid"
 * for a bad handle. Static. */
PGQRS_EXTERN const char *pgqrs_store_backend(const pgqrs_store *store);

typedef struct pgqrs_capabilities {
    unsigned int version;        /* PGQRS_CAPABILITIES_VERSION, set by the caller */
    int skip_locked;             /* dequeue skips rows other consumers lock (PostgreSQL) */
    int multi_process;           /* consumers in many processes/machines claim concurrently without blocking */
    int transactions;            /* multi-statement transactions across calls */
    int database_clock;          /* times come from the database server's clock */
    const char *concurrency_model;   /* "multi-process", "single-process" or "single-writer"; static */
    int notifications;           /* waiting consumers are woken by the database (PostgreSQL LISTEN/NOTIFY,
                                  * not through PgBouncer); 0: they poll with backoff */
    /* version 2 */
    int app_transactions;        /* pgqrs_tx_*: enqueue on the application's own connection inside its own
                                  * transaction (PostgreSQL PGconn, SQLite sqlite3); 0 on Turso */
} pgqrs_capabilities;
#define PGQRS_CAPABILITIES_VERSION 2   /* 1 (without app_transactions) is still accepted */
#define PGQRS_CAPABILITIES_INIT PGQRS__INIT(pgqrs_capabilities, PGQRS_CAPABILITIES_VERSION)
PGQRS__DEFINE_INIT(pgqrs_capabilities, PGQRS_CAPABILITIES_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_capabilities_init(pgqrs_capabilities *caps, unsigned int version);
/* What this backend guarantees. SQLite reports single-process: several processes on
 * one file are safe (each claim is one BEGIN IMMEDIATE transaction) but serialised.
 * Turso (remote) reports single-writer, no skip-locked, no transactions across calls
 * (each call is one Hrana batch), and the database server's clock.
 * @return PGQRS_OK, PGQRS_EINVAL (out->version unknown) */
PGQRS_EXTERN pgqrs_status pgqrs_store_capabilities(pgqrs_capabilities *out, const pgqrs_store *store);

/* Testing aid: when now_us is non-zero every time the library reads or writes
 * (visibility, delays, heartbeats, zombie and retention thresholds) is now_us,
 * so tests move time instead of sleeping. 0 restores the real clock. A bad
 * handle is ignored. */
PGQRS_EXTERN void pgqrs_store_set_time(pgqrs_store *store, int64_t now_us);

/* ---- Schema --------------------------------------------------------------------- */
/* Applies the embedded migrations not yet applied, each in its own transaction,
 * and records them with their checksums. Safe to run again and from several
 * processes at once. @return PGQRS_OK, PGQRS_ESTATE (an applied migration differs
 * from this library's, or the database is newer), PGQRS_ERROR (a migration failed) */
PGQRS_EXTERN pgqrs_status pgqrs_schema_install(pgqrs_store *store);
/* PGQRS_OK when every table exists, the applied migrations are exactly this
 * library's, no message or archived message names a queue or worker that does
 * not exist and no workflow step a run that does not exist (it scans the
 * messages, the archive and the steps).
 * @return PGQRS_OK, PGQRS_ESTATE (the first problem found: a missing table or
 * schema, a missing or changed migration, orphans) */
PGQRS_EXTERN pgqrs_status pgqrs_schema_verify(pgqrs_store *store);

/* ---- Queues --------------------------------------------------------------------- */
typedef struct pgqrs_queue_info {   /* read-only; fields are only ever appended */
    int64_t id;
    const char *name;
    int32_t max_attempts;           /* deliveries before a message is dead-lettered */
    int64_t created_at_us;          /* UTC microseconds since the Unix epoch */
    /* The retry policy (the runtime's retries, pgqrs_runtime_new): a retry waits
     * retry_initial_delay_ms, times retry_multiplier per retry after the first,
     * capped at retry_max_delay_ms, shortened by a random fraction of at most
     * retry_jitter (0 = exact). As stored: no zeros meaning "default". */
    int64_t retry_initial_delay_ms;
    double retry_multiplier;
    int64_t retry_max_delay_ms;
    double retry_jitter;
    /* per-queue limits (pgqrs_queue_options version 3): 0 = no limit */
    int32_t concurrency_limit;      /* at most this many of the queue's messages in flight */
    int32_t rate_limit;             /* at most this many claims ... */
    int64_t rate_period_ms;         /* ... per this many milliseconds */
} pgqrs_queue_info;

typedef struct pgqrs_queue_options {
    unsigned int version;        /* PGQRS_QUEUE_OPTIONS_VERSION */
    int max_attempts;            /* 0 = 5; 1..1000000 */
    int exist_ok;                /* non-zero: an existing queue of that name is not an error */
    /* version 2: the retry policy (pgqrs_queue_info; pgqrs_retry_delay_ms's rules) */
    int64_t retry_initial_delay_ms;  /* 0 = 1000; 1..PGQRS_MAX_RETRY_DELAY_MS */
    double retry_multiplier;         /* 0 = 2.0; 1.0..1000.0 */
    int64_t retry_max_delay_ms;      /* 0 = 300000, or retry_initial_delay_ms when that is larger;
                                      * retry_initial_delay_ms..PGQRS_MAX_RETRY_DELAY_MS */
    double retry_jitter;             /* 0 = 0.25; < 0 = none (exact delays); at most 1.0 */
    /* version 3: per-queue limits (pgqrs_queue_info; docs/design.md, "Per-queue limits").
     * 0 = no limit at create, unchanged at update; -1 = no limit (update: remove it).
     * They need capabilities.transactions: elsewhere (Turso over HTTP) setting one
     * is PGQRS_ENOTSUPPORTED. */
    int concurrency_limit;           /* 1..PGQRS_MAX_CONCURRENCY_LIMIT messages in flight at once */
    int rate_limit;                  /* 1..PGQRS_MAX_RATE_LIMIT claims per rate_period_ms; -1 removes both */
    int64_t rate_period_ms;          /* 1..PGQRS_MAX_RATE_PERIOD_MS; needed with a new rate_limit
                                      * (update: either may change alone while the other is set) */
} pgqrs_queue_options;
#define PGQRS_MAX_CONCURRENCY_LIMIT 1000000
#define PGQRS_MAX_RATE_LIMIT 1000000000
#define PGQRS_MAX_RATE_PERIOD_MS INT64_C(31622400000)   /* 366 days */
#define PGQRS_LIMITS_REFRESH_MS 1000   /* a consumer rereads its queue's limits at least this often */
#define PGQRS_QUEUE_OPTIONS_VERSION 3   /* 1 (max_attempts, exist_ok) and 2 (+ retry policy) are still accepted */
#define PGQRS_QUEUE_OPTIONS_INIT PGQRS__INIT(pgqrs_queue_options, PGQRS_QUEUE_OPTIONS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_queue_options, PGQRS_QUEUE_OPTIONS_VERSION)
/* Zeroes the fields of that version (1, 2 or 3) and sets it.
 * @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_queue_options_init(pgqrs_queue_options *opts, unsigned int version);

/* Queue names are 1 to 128 bytes of UTF-8 (any characters; they are bound, never
 * spliced into SQL). */

/* Creates a queue atomically (one statement: two concurrent creates cannot both
 * succeed) with opts' max_attempts, retry policy and limits. out may be NULL; else it gets
 * the queue (the existing one, unchanged, with exist_ok), freed with
 * pgqrs_queue_info_free. opts may be NULL.
 * @return PGQRS_OK, PGQRS_EEXISTS (unless exist_ok), PGQRS_EINVAL (bad name or options),
 *         PGQRS_ENOTSUPPORTED (a limit on a backend without transactions) */
PGQRS_EXTERN pgqrs_status pgqrs_queue_create(pgqrs_queue_info **out, pgqrs_store *store, const char *name,
                                             const pgqrs_queue_options *opts);
/* Changes an existing queue's max_attempts, retry policy and limits in one statement. A
 * field left 0 keeps the queue's current value (here 0 means "unchanged", not
 * "the default"), except that a cap left 0 below a new first delay is raised to
 * it; retry_jitter < 0 sets no jitter; exist_ok is ignored. Running
 * runtimes use the new policy from their next retry on; a message already waiting
 * for its retry keeps the visible time it was given. The result must still be
 * consistent (retry_max_delay_ms >= retry_initial_delay_ms). A limit field -1
 * removes that limit (rate_limit -1 or rate_period_ms -1: the rate limit). Running
 * consumers and runtimes see a changed limit within 1 s (PGQRS_LIMITS_REFRESH_MS);
 * messages already in flight are not recalled. out may be NULL; else
 * it gets the updated queue (pgqrs_queue_info_free).
 * @return PGQRS_OK, PGQRS_ENOTFOUND, PGQRS_EINVAL (bad name, options, or an inconsistent result),
 *         PGQRS_ENOTSUPPORTED (setting a limit on a backend without transactions) */
PGQRS_EXTERN pgqrs_status pgqrs_queue_update(pgqrs_queue_info **out, pgqrs_store *store, const char *name,
                                             const pgqrs_queue_options *opts);
/* *out is freed with pgqrs_queue_info_free.
 * @return PGQRS_OK, PGQRS_ENOTFOUND, PGQRS_EINVAL (bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_queue_get(pgqrs_queue_info **out, pgqrs_store *store, const char *name);
PGQRS_EXTERN void pgqrs_queue_info_free(pgqrs_queue_info *q);   /* NULL: no-op */
/* All queues by name. @return PGQRS_OK */
PGQRS_EXTERN pgqrs_status pgqrs_queue_list(pgqrs_queues **out, pgqrs_store *store);
PGQRS_EXTERN size_t pgqrs_queues_count(const pgqrs_queues *l);
/* Borrowed from l; NULL when i is out of range. */
PGQRS_EXTERN const pgqrs_queue_info *pgqrs_queues_at(const pgqrs_queues *l, size_t i);
PGQRS_EXTERN void pgqrs_queues_free(pgqrs_queues *l);
/* Deletes the queue with its archive, dead letters and retention policy. Refused
 * while it holds live messages, unless force; always refused while a workflow
 * uses it or a schedule targets it.
 * @return PGQRS_OK, PGQRS_ENOTFOUND, PGQRS_ESTATE (live messages, a workflow's queue,
 *         a schedule's target),
 *         PGQRS_EINVAL (bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_queue_delete(pgqrs_store *store, const char *name, int force);
/* Deletes every live message of the queue; purged_out (may be NULL) gets how many.
 * @return PGQRS_OK, PGQRS_ENOTFOUND, PGQRS_EINVAL (bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_queue_purge(int64_t *purged_out, pgqrs_store *store, const char *name);
/* Retention: deletes archived (not dead-lettered) messages archived more than
 * older_than_s seconds ago, of one queue or (name NULL) of all. purged_out may be NULL.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (named queue missing), PGQRS_EINVAL (older_than_s < 0) */
PGQRS_EXTERN pgqrs_status pgqrs_archive_purge(int64_t *purged_out, pgqrs_store *store, const char *name,
                                              int64_t older_than_s);

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
 * @return PGQRS_OK, PGQRS_ENOTFOUND (named queue missing), PGQRS_EINVAL (bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_metrics_list(pgqrs_metrics **out, pgqrs_store *store, const char *name);
PGQRS_EXTERN size_t pgqrs_metrics_count(const pgqrs_metrics *l);
/* Borrowed from l; NULL when i is out of range. */
PGQRS_EXTERN const pgqrs_queue_metrics *pgqrs_metrics_at(const pgqrs_metrics *l, size_t i);
PGQRS_EXTERN void pgqrs_metrics_free(pgqrs_metrics *l);

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
    const char *state;           /* "live", "archived", "dead_letter" or "cancelled"; static */
    const char *result;          /* archive and dead letters: the JSON a runtime handler set
                                  * (pgqrs_job_set_result), or NULL; live messages: NULL */
    int32_t priority;            /* higher is claimed first; 0 = the default */
    const char *unique_key;      /* NULL = none */
    const char *progress;        /* the last JSON progress value its worker stored, or NULL */
    int64_t cancel_requested_at_us;  /* live messages: when a cancel was requested; else 0 */
} pgqrs_message;
PGQRS_EXTERN size_t pgqrs_batch_count(const pgqrs_batch *b);
/* Borrowed from b; NULL when i is out of range. */
PGQRS_EXTERN const pgqrs_message *pgqrs_batch_at(const pgqrs_batch *b, size_t i);
PGQRS_EXTERN void pgqrs_batch_free(pgqrs_batch *b);   /* NULL: no-op */

/* ---- Producer ------------------------------------------------------------------- */
/* Registers a producer worker (hostname, pid) for the queue.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such queue), PGQRS_EINVAL (bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_producer_new(pgqrs_producer **out, pgqrs_store *store, const char *queue);
/* Marks the worker stopped and frees the handle. NULL: no-op. */
PGQRS_EXTERN void pgqrs_producer_free(pgqrs_producer *p);
PGQRS_EXTERN int64_t pgqrs_producer_worker_id(const pgqrs_producer *p);   /* 0 for a bad handle */
/* Enqueues one JSON payload (any JSON value, validated first: invalid JSON is
 * PGQRS_EINVAL and nothing is written), visible after delay_seconds (0 = now).
 * Strings holding \u0000 are refused on every backend: PostgreSQL's jsonb cannot
 * store them. Duplicate object keys are kept on SQLite and collapsed (last wins)
 * by PostgreSQL's jsonb. id_out may be NULL.
 * @return PGQRS_OK, PGQRS_EINVAL (payload or delay), PGQRS_ENOTFOUND (queue deleted),
 *         PGQRS_ESTATE (the producer is suspended or stopped) */
PGQRS_EXTERN pgqrs_status pgqrs_enqueue(int64_t *id_out, pgqrs_producer *p, const char *payload_json,
                                        int delay_seconds);
/* Enqueues n payloads in one statement: all or none (one invalid payload: nothing
 * written). n must be 1..max_batch_size. ids_out (may be NULL) gets n ids in input
 * order. @return as pgqrs_enqueue */
PGQRS_EXTERN pgqrs_status pgqrs_enqueue_batch(int64_t *ids_out, pgqrs_producer *p, const char *const *payloads,
                                              size_t n, int delay_seconds);

/* ---- Enqueue with options: priority, unique key, delay (issue 17) ---------------- */
/* Priority: PGQRS_PRIORITY_MIN..PGQRS_PRIORITY_MAX, higher is claimed first; within
 * one priority the claim is FIFO (by visibility time, then id). 0 = the default
 * (pgqrs_enqueue). A delayed message is not claimed before it is visible, whatever
 * its priority. Unique key: at most one LIVE message (pending, delayed or in
 * flight) of a queue holds a key; once it is archived, dead-lettered or deleted
 * the key can be used again. */
#define PGQRS_PRIORITY_MIN (-32768)
#define PGQRS_PRIORITY_MAX 32767
#define PGQRS_MAX_UNIQUE_KEY_BYTES 512
typedef struct pgqrs_enqueue_options {
    unsigned int version;        /* PGQRS_ENQUEUE_OPTIONS_VERSION */
    int32_t priority;            /* PGQRS_PRIORITY_MIN..PGQRS_PRIORITY_MAX; 0 = the default */
    const char *unique_key;      /* NULL = none; else 1..PGQRS_MAX_UNIQUE_KEY_BYTES bytes of UTF-8 */
    int64_t delay_ms;            /* visible after this long; 0..PGQRS_MAX_DELAY_SECONDS * 1000; 0 = now */
} pgqrs_enqueue_options;
#define PGQRS_ENQUEUE_OPTIONS_VERSION 1
#define PGQRS_ENQUEUE_OPTIONS_INIT PGQRS__INIT(pgqrs_enqueue_options, PGQRS_ENQUEUE_OPTIONS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_enqueue_options, PGQRS_ENQUEUE_OPTIONS_VERSION)
/* Enqueues one JSON payload with options (opts NULL = the defaults: priority 0, no
 * key, no delay). When opts->unique_key is live in the queue nothing is written:
 * *id_out gets the live message's id and *created_out 0; otherwise the new id and
 * 1. Safe against concurrent producers in any number of processes: one creates,
 * the others get its id. id_out and created_out may be NULL.
 * @return PGQRS_OK, PGQRS_EINVAL (payload, priority, key or delay out of range:
 *         nothing written), PGQRS_ENOTFOUND (queue deleted), PGQRS_EMISUSE (bad
 *         handle or options version) */
PGQRS_EXTERN pgqrs_status pgqrs_enqueue_with(int64_t *id_out, int *created_out, pgqrs_producer *p,
                                             const char *payload_json, const pgqrs_enqueue_options *opts);
/* Enqueues n payloads (1..max_batch_size), opts[i] for payloads[i] (opts NULL = the
 * defaults for every message), all or none: any bad input is PGQRS_EINVAL before
 * anything is written. ids_out (may be NULL) gets payloads[i]'s id at i;
 * created_out (may be NULL) gets 1 at i when that message was written, 0 when its
 * key was live. Unique keys, per row: a key live before the call yields the live
 * message's id with created 0; a key that appears several times in one batch is
 * created by its first row and the later rows get that id with created 0.
 * Without keys the batch is one statement (ids ascend in input order). With keys
 * it is one transaction that takes the keys in sorted order (two racing batches
 * cannot deadlock), so keyed rows' ids need not ascend in input order. Turso over
 * HTTP has no transaction across calls: a batch with a key there is
 * PGQRS_ENOTSUPPORTED (enqueue keyed messages one by one with pgqrs_enqueue_with).
 * @return as pgqrs_enqueue_with, and PGQRS_ENOTSUPPORTED (above) */
PGQRS_EXTERN pgqrs_status pgqrs_enqueue_batch_with(int64_t *ids_out, int *created_out, pgqrs_producer *p,
                                                   const char *const *payloads, size_t n,
                                                   const pgqrs_enqueue_options *opts);
/* ---- end of enqueue with options ------------------------------------------------- */

/* ---- Consumer ------------------------------------------------------------------- */
/* Registers a consumer worker for the queue.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such queue), PGQRS_EINVAL (bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_consumer_new(pgqrs_consumer **out, pgqrs_store *store, const char *queue);
/* Releases the messages it still holds, marks the worker stopped, frees. NULL: no-op. */
PGQRS_EXTERN void pgqrs_consumer_free(pgqrs_consumer *c);
PGQRS_EXTERN int64_t pgqrs_consumer_worker_id(const pgqrs_consumer *c);   /* 0 for a bad handle */
/* Claims up to max visible messages (highest priority first, FIFO within one
 * priority; never one with a cancel request), each hidden from other consumers for
 * vt_seconds (0 = the store default) and its read count incremented. A message
 * already delivered max_attempts times is moved to the dead-letter queue instead.
 * An empty batch is PGQRS_OK with count 0.
 * @return PGQRS_OK, PGQRS_EINVAL (max or vt out of range), PGQRS_ESTATE (the
 *         consumer is suspended or stopped) */
PGQRS_EXTERN pgqrs_status pgqrs_dequeue(pgqrs_batch **out, pgqrs_consumer *c, int max, int vt_seconds);
/* Like pgqrs_dequeue, but when nothing is visible it waits up to timeout_ms for a
 * message and returns as soon as one can be claimed (an empty batch after the
 * timeout is PGQRS_OK). With capabilities.notifications (PostgreSQL, not through
 * PgBouncer) it is woken by LISTEN/NOTIFY on a dedicated connection this consumer
 * opens on first use (enqueues and releases notify); delayed messages wake it at
 * their due time. Otherwise it polls with capped, jittered backoff (10 ms doubling
 * to 250 ms), never past the next message's due time.
 * @return as pgqrs_dequeue, plus PGQRS_EINVAL for a negative timeout */
PGQRS_EXTERN pgqrs_status pgqrs_dequeue_wait(pgqrs_batch **out, pgqrs_consumer *c, int max, int vt_seconds,
                                             int64_t timeout_ms);
/* Makes a held message invisible for vt_seconds from now. vt_us_out (may be NULL)
 * gets the new visibility time.
 * @return PGQRS_OK, PGQRS_ENOTOWNED (held by another), PGQRS_ENOTFOUND, PGQRS_EINVAL (vt) */
PGQRS_EXTERN pgqrs_status pgqrs_extend_vt(int64_t *vt_us_out, pgqrs_consumer *c, int64_t id, int vt_seconds);
/* Single-message operations on a held message.
 * @return PGQRS_OK, PGQRS_ENOTOWNED (held by another worker), PGQRS_ENOTFOUND (no such live message) */
PGQRS_EXTERN pgqrs_status pgqrs_archive(pgqrs_consumer *c, int64_t id);
PGQRS_EXTERN pgqrs_status pgqrs_delete(pgqrs_consumer *c, int64_t id);
/* Back to pending, visible after delay_seconds (0 = now). Counts as a delivery.
 * @return as pgqrs_archive, plus PGQRS_EINVAL (delay out of range) */
PGQRS_EXTERN pgqrs_status pgqrs_release(pgqrs_consumer *c, int64_t id, int delay_seconds);
/* Batch forms: one statement each; only the messages this consumer holds are
 * touched. results_out (may be NULL) gets n statuses: PGQRS_OK, PGQRS_ENOTOWNED or
 * PGQRS_ENOTFOUND. Returns PGQRS_OK when all succeeded, else the first failure's
 * status (the others were still applied); PGQRS_EINVAL for n out of 1..max_batch_size. */
PGQRS_EXTERN pgqrs_status pgqrs_archive_batch(pgqrs_status *results_out, pgqrs_consumer *c, const int64_t *ids,
                                              size_t n);
PGQRS_EXTERN pgqrs_status pgqrs_delete_batch(pgqrs_status *results_out, pgqrs_consumer *c, const int64_t *ids,
                                             size_t n);
PGQRS_EXTERN pgqrs_status pgqrs_release_batch(pgqrs_status *results_out, pgqrs_consumer *c, const int64_t *ids,
                                              size_t n, int delay_seconds);
/* Archives the n messages of the last batch and claims the next one (as
 * pgqrs_dequeue) in one transaction: one commit per batch instead of two (it
 * pays where the commit bounds the consumer, e.g. SQLite at synchronous=FULL;
 * docs/operations.md). All or nothing:
 * when any id is not held by this consumer, nothing is archived or claimed,
 * results_out (may be NULL) says which, and *out stays NULL. n = 0 is a plain
 * dequeue. Without transactions (capabilities.transactions == 0: Turso) it is
 * pgqrs_archive_batch, then pgqrs_dequeue once that fully succeeded: an archive
 * can then commit while the claim after it fails.
 * @return PGQRS_OK, PGQRS_ENOTOWNED, PGQRS_ENOTFOUND, PGQRS_EINVAL, PGQRS_ESTATE */
PGQRS_EXTERN pgqrs_status pgqrs_archive_and_dequeue(pgqrs_batch **out, pgqrs_status *results_out, pgqrs_consumer *c,
                                                    const int64_t *ids, size_t n, int max, int vt_seconds);

/* ---- Dead letters and inspection --------------------------------------------------- */
/* Dead letters of a queue in id order, after after_id (0 = from the start), at most
 * limit (1..10000). @return PGQRS_OK, PGQRS_ENOTFOUND (no such queue), PGQRS_EINVAL */
PGQRS_EXTERN pgqrs_status pgqrs_dlq_list(pgqrs_batch **out, pgqrs_store *store, const char *queue, int64_t after_id,
                                         int limit);
/* @return PGQRS_OK, PGQRS_ENOTFOUND (no such queue), PGQRS_EINVAL (bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_dlq_count(int64_t *count_out, pgqrs_store *store, const char *queue);
/* Moves one dead letter back to the queue as a new pending message (read count 0).
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such queue, or no such dead letter in it) */
PGQRS_EXTERN pgqrs_status pgqrs_dlq_replay(pgqrs_store *store, const char *queue, int64_t id);
/* Moves every dead letter of the queue back (in chunks of max_batch_size);
 * replayed_out may be NULL. @return PGQRS_OK, PGQRS_ENOTFOUND (no such queue) */
PGQRS_EXTERN pgqrs_status pgqrs_dlq_replay_all(int64_t *replayed_out, pgqrs_store *store, const char *queue);
/* Live messages of a queue in id order without claiming them (after_id, limit as
 * above). @return as pgqrs_dlq_list */
PGQRS_EXTERN pgqrs_status pgqrs_message_list(pgqrs_batch **out, pgqrs_store *store, const char *queue,
                                             int64_t after_id, int limit);
/* Archived (not dead-lettered) messages, likewise. @return as pgqrs_dlq_list */
PGQRS_EXTERN pgqrs_status pgqrs_archive_list(pgqrs_batch **out, pgqrs_store *store, const char *queue,
                                             int64_t after_id, int limit);

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
 * PGQRS_ESTATE and changes nothing. @return PGQRS_OK, PGQRS_ESTATE */
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
/* The worker's current row. *out is freed with pgqrs_worker_info_free.
 * @return PGQRS_OK, PGQRS_ENOTFOUND */
PGQRS_EXTERN pgqrs_status pgqrs_worker_get(pgqrs_worker_info **out, pgqrs_store *store, int64_t id);
PGQRS_EXTERN void pgqrs_worker_info_free(pgqrs_worker_info *w);   /* NULL: no-op */
/* Workers of one queue (queue non-NULL) or all, newest first.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (named queue missing), PGQRS_EINVAL (bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_worker_list(pgqrs_workers **out, pgqrs_store *store, const char *queue);
PGQRS_EXTERN size_t pgqrs_workers_count(const pgqrs_workers *l);
/* Borrowed from l; NULL when i is out of range. */
PGQRS_EXTERN const pgqrs_worker_info *pgqrs_workers_at(const pgqrs_workers *l, size_t i);
PGQRS_EXTERN void pgqrs_workers_free(pgqrs_workers *l);

typedef struct pgqrs_worker_health {
    unsigned int version;        /* PGQRS_WORKER_HEALTH_VERSION, set by the caller */
    int64_t total, ready, suspended, stopped;
    int64_t stale;               /* not stopped, no heartbeat for stale_after_s */
} pgqrs_worker_health;
#define PGQRS_WORKER_HEALTH_VERSION 1
#define PGQRS_WORKER_HEALTH_INIT PGQRS__INIT(pgqrs_worker_health, PGQRS_WORKER_HEALTH_VERSION)
PGQRS__DEFINE_INIT(pgqrs_worker_health, PGQRS_WORKER_HEALTH_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_worker_health_init(pgqrs_worker_health *health, unsigned int version);
/* Counts of every worker row by status. stale_after_s 0 = the store's zombie_after_s.
 * @return PGQRS_OK, PGQRS_EINVAL (out->version unknown, stale_after_s < 0) */
PGQRS_EXTERN pgqrs_status pgqrs_worker_health_get(pgqrs_worker_health *out, pgqrs_store *store,
                                                  int64_t stale_after_s);
/* Zombie reclaim: every worker not stopped whose last heartbeat is older than
 * older_than_s (0 = zombie_after_s) is marked stopped and its messages become
 * pending now, atomically. reclaimed_out (may be NULL) gets the worker count.
 * @return PGQRS_OK, PGQRS_EINVAL (older_than_s < 0) */
PGQRS_EXTERN pgqrs_status pgqrs_worker_reclaim_zombies(int64_t *reclaimed_out, pgqrs_store *store,
                                                       int64_t older_than_s);
/* Deletes workers stopped (or silent) for more than older_than_s that hold no
 * messages. purged_out may be NULL. @return PGQRS_OK, PGQRS_EINVAL (older_than_s < 0) */
PGQRS_EXTERN pgqrs_status pgqrs_worker_purge_stale(int64_t *purged_out, pgqrs_store *store, int64_t older_than_s);


/* ---- Schedules --------------------------------------------------------------------
 * A schedule creates a job at every tick of its cron expression in its time zone:
 * a message in a queue (payload_json), or a run of a workflow (payload_json is its
 * input). Ticks are fired by schedulers (pgqrs_scheduler_new below; the worker
 * runtime runs one, `pgqrs schedule run` runs one on its own): any number of them,
 * in any number of processes and machines, create exactly one job per tick,
 * because the database refuses a tick's second row (docs/schedules.md).
 *
 * Cron expressions: five fields, minute (0-59) hour (0-23) day-of-month (1-31)
 * month (1-12 or jan-dec) day-of-week (0-7 or sun-sat, 0 and 7 are Sunday), each
 * "*", a value, a range "a-b", a stepped "*", range or value (every n-th: "*" then
 * "/n"; "a-b/n"; "a/n" runs to the field's end), or a list of those separated by
 * commas. A field matching every value is unrestricted whatever its
 * spelling; when both day fields are restricted a day matches either (the OR rule
 * of cron). Also @yearly (@annually), @monthly, @weekly, @daily (@midnight),
 * @hourly, and "@every DURATION" (30s, 5m, 1h30m, 2d; at least 1s), which fires at
 * every multiple of DURATION since the Unix epoch whatever the zone.
 * Time zones are IANA names read from the system tz database (/usr/share/zoneinfo,
 * or $TZDIR); "UTC" by default. A local time that does not exist (clocks set
 * forward) fires at the same offset from the change: 02:30 in a gap from 02:00 to
 * 03:00 fires at 03:30; one that exists twice (clocks set back) fires once, at its
 * first occurrence. The fire times are those of python3-croniter on zoneinfo
 * datetimes (the test suite's oracle), where croniter is right (docs/schedules.md). */
typedef struct pgqrs_schedules pgqrs_schedules;   /* pgqrs_schedule_info items */
typedef struct pgqrs_scheduler pgqrs_scheduler;   /* fires due ticks and applies retention */

typedef struct pgqrs_schedule_options {
    unsigned int version;        /* PGQRS_SCHEDULE_OPTIONS_VERSION */
    const char *cron;            /* required: the expression (at most 256 bytes) */
    const char *timezone;        /* NULL = "UTC" */
    const char *queue;           /* the target: a queue (then payload_json is the message, NULL = {}) */
    const char *workflow;        /* or a workflow (payload_json is each run's input, NULL = none); exactly one */
    const char *payload_json;
    const char *overlap;         /* "skip" (NULL): no job for a tick while the previous tick's job is
                                  * pending, in flight or its run unfinished; "allow": always */
    const char *misfire;         /* for ticks more than misfire_grace_s late (downtime): "skip" (NULL):
                                  * skip them; "latest": fire the latest of them once */
    int64_t misfire_grace_s;     /* a tick this late still fires normally; 0 = 60, -1 = 0 */
    int paused;                  /* non-zero: created paused */
} pgqrs_schedule_options;
#define PGQRS_SCHEDULE_OPTIONS_VERSION 1
#define PGQRS_SCHEDULE_OPTIONS_INIT PGQRS__INIT(pgqrs_schedule_options, PGQRS_SCHEDULE_OPTIONS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_schedule_options, PGQRS_SCHEDULE_OPTIONS_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_schedule_options_init(pgqrs_schedule_options *opts, unsigned int version);

typedef struct pgqrs_schedule_info {   /* read-only; fields are only ever appended */
    int64_t id;
    const char *name;
    const char *cron;
    const char *timezone;
    int64_t queue_id;            /* the target queue, or 0 */
    int64_t workflow_id;         /* the target workflow, or 0 */
    const char *target;          /* the queue's or the workflow's name */
    const char *payload;         /* JSON, or NULL (a workflow run without input) */
    const char *overlap;         /* "skip" or "allow"; static */
    const char *misfire;         /* "skip" or "latest"; static */
    int64_t misfire_grace_s;
    int paused;
    int64_t next_at_us;          /* the next tick (kept while paused; a resume recomputes it) */
    int64_t last_tick_at_us;     /* the last tick handled (fired or skipped); 0 = none */
    int64_t created_at_us;
    int64_t updated_at_us;
} pgqrs_schedule_info;

/* Schedule names follow queue names' rules. Checks everything first (the
 * expression, the zone, the payload, that the target exists and that the
 * expression fires within ten years) and writes nothing on a failure. The first
 * tick is the first fire time after now. out may be NULL (else freed with
 * pgqrs_schedule_info_free).
 * @return PGQRS_OK, PGQRS_EEXISTS (the name is taken), PGQRS_ENOTFOUND (no such
 *         queue or workflow), PGQRS_EINVAL (bad name, expression, zone, JSON or
 *         options; the message names which) */
PGQRS_EXTERN pgqrs_status pgqrs_schedule_create(pgqrs_schedule_info **out, pgqrs_store *store, const char *name,
                                                const pgqrs_schedule_options *opts);
/* @return PGQRS_OK, PGQRS_ENOTFOUND, PGQRS_EINVAL (bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_schedule_get(pgqrs_schedule_info **out, pgqrs_store *store, const char *name);
PGQRS_EXTERN void pgqrs_schedule_info_free(pgqrs_schedule_info *info);   /* NULL: no-op */
/* Every schedule by name, with its next fire time. @return PGQRS_OK */
PGQRS_EXTERN pgqrs_status pgqrs_schedule_list(pgqrs_schedules **out, pgqrs_store *store);
PGQRS_EXTERN size_t pgqrs_schedules_count(const pgqrs_schedules *l);
/* Borrowed from l; NULL when i is out of range. */
PGQRS_EXTERN const pgqrs_schedule_info *pgqrs_schedules_at(const pgqrs_schedules *l, size_t i);
PGQRS_EXTERN void pgqrs_schedules_free(pgqrs_schedules *l);
/* Pausing stops the ticks (a scheduler fires none while paused; pausing a paused
 * schedule is not an error). Resuming a paused schedule sets the next tick to the
 * first fire time after now: the ticks of the pause are not fired; resuming an
 * active one changes nothing.
 * @return PGQRS_OK, PGQRS_ENOTFOUND, PGQRS_EINVAL (bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_schedule_pause(pgqrs_store *store, const char *name);
PGQRS_EXTERN pgqrs_status pgqrs_schedule_resume(pgqrs_store *store, const char *name);
/* Deletes the schedule and its tick history; the jobs it created stay.
 * @return PGQRS_OK, PGQRS_ENOTFOUND, PGQRS_EINVAL (bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_schedule_delete(pgqrs_store *store, const char *name);
/* The fire times of expr in zone (NULL = "UTC") after after_us (UTC
 * microseconds): times_out gets up to n of them, increasing, and *count_out how
 * many (fewer than n only when the expression stops firing within ten years of
 * the last one). Needs no store; a failure is read with pgqrs_errmsg(NULL).
 * @return PGQRS_OK, PGQRS_EINVAL (bad expression or zone; n > 100000) */
PGQRS_EXTERN pgqrs_status pgqrs_cron_next(int64_t *times_out, size_t *count_out, const char *expr,
                                          const char *zone, int64_t after_us, size_t n);

/* ---- Retention ---------------------------------------------------------------------
 * What is deleted, in bounded batches of short statements (no long transaction;
 * on PostgreSQL none takes a lock that a claim waits for): archived and
 * dead-lettered messages past a queue's maximum age or beyond its maximum count
 * (the newest are kept), and finished workflow runs (SUCCESS, ERROR, CANCELLED,
 * with their steps) that completed more than run_max_age_s ago. A queue has its
 * own policy or follows the default (queue NULL); in a policy 0 means "not set"
 * (follow the default; in the default: keep), -1 "keep" and a positive number is
 * the limit. run_max_age_s of a workflow's queue ("workflow:NAME") applies to
 * that workflow's runs. Applied by pgqrs_retention_run, which schedulers call
 * every retention_interval_s. */
typedef struct pgqrs_retention_policy {
    unsigned int version;        /* PGQRS_RETENTION_POLICY_VERSION */
    int64_t archive_max_age_s;   /* archived messages */
    int64_t archive_max_rows;
    int64_t dlq_max_age_s;       /* dead letters */
    int64_t dlq_max_rows;
    int64_t run_max_age_s;       /* finished workflow runs, by completion time */
} pgqrs_retention_policy;
#define PGQRS_RETENTION_POLICY_VERSION 1
#define PGQRS_RETENTION_POLICY_INIT PGQRS__INIT(pgqrs_retention_policy, PGQRS_RETENTION_POLICY_VERSION)
PGQRS__DEFINE_INIT(pgqrs_retention_policy, PGQRS_RETENTION_POLICY_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_retention_policy_init(pgqrs_retention_policy *policy, unsigned int version);
/* Stores the policy of queue (NULL: the default policy).
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such queue), PGQRS_EINVAL (a field < -1, bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_retention_set(pgqrs_store *store, const char *queue,
                                              const pgqrs_retention_policy *policy);
/* The policy of queue (NULL: the default), as stored (effective = 0) or as it
 * applies (effective non-zero: a field not set takes the default's, and 0 then
 * means "keep"). out->version is set by the caller.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such queue), PGQRS_EINVAL (version, bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_retention_get(pgqrs_retention_policy *out, pgqrs_store *store, const char *queue,
                                              int effective);

typedef struct pgqrs_retention_options {
    unsigned int version;        /* PGQRS_RETENTION_OPTIONS_VERSION */
    int batch_size;              /* rows one statement deletes at most; 0 = 1000, at most 100000 */
    int64_t max_rows;            /* stop after deleting about this many rows; 0 = no limit */
    int64_t tick_max_age_s;      /* schedule ticks older than this go (each schedule's latest fired
                                  * tick stays: the overlap rule reads it); 0 = 7 days, -1 = keep */
} pgqrs_retention_options;
#define PGQRS_RETENTION_OPTIONS_VERSION 1
#define PGQRS_RETENTION_OPTIONS_INIT PGQRS__INIT(pgqrs_retention_options, PGQRS_RETENTION_OPTIONS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_retention_options, PGQRS_RETENTION_OPTIONS_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_retention_options_init(pgqrs_retention_options *opts, unsigned int version);

typedef struct pgqrs_retention_report {
    unsigned int version;        /* PGQRS_RETENTION_REPORT_VERSION, set by the caller */
    int64_t archived;            /* archived messages deleted */
    int64_t dead_letters;        /* dead letters deleted */
    int64_t runs;                /* finished runs deleted (with their steps) */
    int64_t ticks;               /* schedule ticks deleted */
    int64_t statements;          /* delete statements run */
    int complete;                /* 1: nothing more was due; 0: max_rows stopped it */
} pgqrs_retention_report;
#define PGQRS_RETENTION_REPORT_VERSION 1
#define PGQRS_RETENTION_REPORT_INIT PGQRS__INIT(pgqrs_retention_report, PGQRS_RETENTION_REPORT_VERSION)
PGQRS__DEFINE_INIT(pgqrs_retention_report, PGQRS_RETENTION_REPORT_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_retention_report_init(pgqrs_retention_report *report, unsigned int version);
/* One pass over every queue and workflow: deletes what the policies say is due,
 * each statement at most batch_size rows and its own transaction. Logs
 * retention.purge per queue that lost rows and adds to the store's counters
 * (purged_*). report_out (may be NULL; else its version set) gets what was
 * deleted, also on a failure part-way. opts may be NULL.
 * @return PGQRS_OK, PGQRS_EINVAL (options or report version) */
PGQRS_EXTERN pgqrs_status pgqrs_retention_run(pgqrs_retention_report *report_out, pgqrs_store *store,
                                              const pgqrs_retention_options *opts);

/* ---- Scheduler ------------------------------------------------------------------------
 * The object that fires due ticks. One round (pgqrs_scheduler_run_once) reads the
 * time (the database's clock, or the store's test override), takes the due
 * schedules and fires each due tick in its own short statement; every retention_
 * interval_s a round also runs pgqrs_retention_run. pgqrs_scheduler_run is the
 * loop of `pgqrs schedule run`, and the worker runtime runs it on a thread of
 * its own (pgqrs_runtime_options.no_scheduler turns that off).
 * Schedulers need no coordination: run as many as you like. A scheduler is used
 * by one thread at a time (pgqrs_scheduler_stop and _stats_get: any thread). */
typedef struct pgqrs_scheduler_options {
    unsigned int version;        /* PGQRS_SCHEDULER_OPTIONS_VERSION */
    int max_schedules;           /* due schedules one round takes; 0 = 100 */
    int max_ticks;               /* ticks one round fires per schedule (catching up); 0 = 100 */
    int64_t poll_interval_ms;    /* pgqrs_scheduler_run: longest sleep between rounds; 0 = 1000 */
    int64_t retention_interval_s;/* run retention every this often; 0 = 60, -1 = never. A pass that
                                  * retention.max_rows cut short goes on at the next round */
    pgqrs_retention_options retention;   /* for those runs; zeros = defaults (its version is not checked) */
} pgqrs_scheduler_options;
#define PGQRS_SCHEDULER_OPTIONS_VERSION 1
#define PGQRS_SCHEDULER_OPTIONS_INIT PGQRS__INIT(pgqrs_scheduler_options, PGQRS_SCHEDULER_OPTIONS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_scheduler_options, PGQRS_SCHEDULER_OPTIONS_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_scheduler_options_init(pgqrs_scheduler_options *opts, unsigned int version);
/* A scheduler on the store (which must outlive it); opts may be NULL.
 * @return PGQRS_OK, PGQRS_EINVAL (options out of range) */
PGQRS_EXTERN pgqrs_status pgqrs_scheduler_new(pgqrs_scheduler **out, pgqrs_store *store,
                                              const pgqrs_scheduler_options *opts);
/* One round at time now_us (0 = now: the database's clock or the store's test
 * override). next_due_us_out (may be NULL) gets when the next active schedule is
 * due (0: none is active; at most now when this round left ticks to catch up).
 * A tick another scheduler fired first is counted as lost, not an error; a
 * schedule whose expression or zone no longer loads (a zone file removed) is
 * logged (schedule.error) and skipped.
 * @return PGQRS_OK, or the database failure that ended the round */
PGQRS_EXTERN pgqrs_status pgqrs_scheduler_run_once(int64_t *next_due_us_out, pgqrs_scheduler *s, int64_t now_us);
/* Rounds until pgqrs_scheduler_stop: after each it sleeps until the next tick is
 * due, at most poll_interval_ms. Database failures are logged (schedule.error)
 * and retried with capped, jittered backoff; they never end the loop.
 * @return PGQRS_OK once stopped */
PGQRS_EXTERN pgqrs_status pgqrs_scheduler_run(pgqrs_scheduler *s);
/* Makes pgqrs_scheduler_run return after its current round; a retention pass in
 * that round stops after its current batch. Async-signal-safe (an atomic flag);
 * before run, run returns at once. A bad handle is ignored. */
PGQRS_EXTERN void pgqrs_scheduler_stop(pgqrs_scheduler *s);
PGQRS_EXTERN void pgqrs_scheduler_free(pgqrs_scheduler *s);   /* not while it runs; NULL: no-op */

typedef struct pgqrs_scheduler_stats {
    unsigned int version;        /* PGQRS_SCHEDULER_STATS_VERSION, set by the caller */
    int64_t rounds;
    int64_t fired;               /* ticks that created their job here */
    int64_t skipped_overlap;     /* ticks recorded as skipped: the previous job was still live */
    int64_t missed;              /* ticks skipped as misfires (more than misfire_grace_s late) */
    int64_t lost;                /* ticks another scheduler handled first */
    int64_t errors;              /* failed rounds */
    int64_t retention_runs;
    int64_t purged;              /* rows those runs deleted: messages, runs and ticks */
} pgqrs_scheduler_stats;
#define PGQRS_SCHEDULER_STATS_VERSION 1
#define PGQRS_SCHEDULER_STATS_INIT PGQRS__INIT(pgqrs_scheduler_stats, PGQRS_SCHEDULER_STATS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_scheduler_stats, PGQRS_SCHEDULER_STATS_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_scheduler_stats_init(pgqrs_scheduler_stats *stats, unsigned int version);
/* A snapshot, from any thread. @return PGQRS_OK, PGQRS_EINVAL (out->version unknown) */
PGQRS_EXTERN pgqrs_status pgqrs_scheduler_stats_get(pgqrs_scheduler_stats *out, const pgqrs_scheduler *s);

/* ---- Workflows -------------------------------------------------------------------
 * A workflow is a C handler run durably: each run is persisted (PENDING, RUNNING,
 * SUCCESS, ERROR, CANCELLING, CANCELLED) and its message sits in the workflow's own
 * queue. Inside the handler, pgqrs_run_step() checkpoints each step: a step that
 * succeeded is never executed again for that run; its stored output is returned.
 * After a crash the run is delivered again (visibility timeout or zombie reclaim)
 * and resumes from its last completed step. See docs/workflows.md for the exact
 * guarantees (a step running when its worker died is executed again). */
typedef struct pgqrs_run pgqrs_run;                       /* a run being executed; valid in the handler */
typedef struct pgqrs_workflow_worker pgqrs_workflow_worker;
typedef struct pgqrs_runs pgqrs_runs;                     /* pgqrs_run_info items */
typedef struct pgqrs_steps pgqrs_steps;                   /* pgqrs_step_info items */
typedef struct pgqrs_workflows pgqrs_workflows;           /* pgqrs_workflow_info items */

/* Memory the library frees (a handler's *output_json) must come from here; strings
 * the library hands out (step outputs) are freed with pgqrs_free. */
PGQRS_EXTERN char *pgqrs_strdup(const char *s);   /* NULL in or out of memory: NULL */
PGQRS_EXTERN void pgqrs_free(void *p);            /* NULL: no-op */

/* Not versioned on its own: it is a field of versioned options. */
typedef struct pgqrs_retry_policy {
    int max_attempts;            /* attempts in all, the first included; 0 = 3; 1 = never retry */
    int64_t initial_delay_ms;    /* delay before the first retry; 0 = 1000 */
    double multiplier;           /* growth per retry; 0 = 2.0 (at least 1.0) */
    int64_t max_delay_ms;        /* cap; 0 = 300000; at most PGQRS_MAX_RETRY_DELAY_MS */
    double jitter;               /* fraction of each delay randomised down; 0 = 0.25, < 0 = none */
} pgqrs_retry_policy;
/* The delay before retry number `retry` (1 = the first retry), capped and
 * jittered per the policy (NULL: defaults); never overflows. For tests and tools. */
PGQRS_EXTERN int64_t pgqrs_retry_delay_ms(const pgqrs_retry_policy *policy, int retry);

/* The handler: read input_json (NULL when the run has no input), do the work in
 * steps, and return PGQRS_OK with *output_json set to JSON text from pgqrs_strdup
 * (NULL means JSON null). Any other status fails this attempt, which is retried
 * per the workflow's retry policy unless pgqrs_run_fail(..., 0) said otherwise.
 * Return PGQRS_ECANCELLED / PGQRS_ESUSPENDED when a step call returned them. */
typedef pgqrs_status (*pgqrs_workflow_fn)(pgqrs_run *run, const char *input_json, char **output_json, void *user);

typedef struct pgqrs_workflow_options {
    unsigned int version;        /* PGQRS_WORKFLOW_OPTIONS_VERSION */
    pgqrs_retry_policy retry;    /* of the whole run; zeros = defaults */
    int max_deliveries;          /* a run delivered this often without finishing (crash loop) ends in ERROR; 0 = 10 */
    int vt_seconds;              /* lease on a run's message while executing, extended at step boundaries; 0 = 300 */
    int64_t step_lease_ms;       /* another worker may take over a step held this long by a live worker; 0 = 600000 */
} pgqrs_workflow_options;
#define PGQRS_WORKFLOW_OPTIONS_VERSION 1
#define PGQRS_WORKFLOW_OPTIONS_INIT PGQRS__INIT(pgqrs_workflow_options, PGQRS_WORKFLOW_OPTIONS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_workflow_options, PGQRS_WORKFLOW_OPTIONS_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_workflow_options_init(pgqrs_workflow_options *opts, unsigned int version);

/* Registers a workflow: creates it (and its queue) in the database if needed and
 * remembers handler and user in this store for pgqrs_workflow_worker_new. Defining
 * the same name again is idempotent (the stored retry policy is updated to opts').
 * Names follow queue names' rules (1 to 119 bytes). opts may be NULL.
 * @return PGQRS_OK, PGQRS_EINVAL (bad name or options) */
PGQRS_EXTERN pgqrs_status pgqrs_workflow_define(pgqrs_store *store, const char *name, pgqrs_workflow_fn handler,
                                                void *user, const pgqrs_workflow_options *opts);

typedef struct pgqrs_trigger_options {
    unsigned int version;        /* PGQRS_TRIGGER_OPTIONS_VERSION */
    const char *idempotency_key; /* a second trigger with the same key returns the first run */
} pgqrs_trigger_options;
#define PGQRS_TRIGGER_OPTIONS_VERSION 1
#define PGQRS_TRIGGER_OPTIONS_INIT PGQRS__INIT(pgqrs_trigger_options, PGQRS_TRIGGER_OPTIONS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_trigger_options, PGQRS_TRIGGER_OPTIONS_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_trigger_options_init(pgqrs_trigger_options *opts, unsigned int version);
/* Creates a PENDING run with input_json (NULL: no input; else validated JSON) and
 * enqueues it, atomically. Works from any process; the handler need not be
 * defined here, only the workflow must exist. created_out (may be NULL) is 0 when
 * the idempotency key returned an existing run; run_id_out may be NULL. opts may be NULL.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such workflow), PGQRS_EINVAL (name, input or key) */
PGQRS_EXTERN pgqrs_status pgqrs_workflow_trigger(int64_t *run_id_out, int *created_out, pgqrs_store *store,
                                                 const char *name, const char *input_json,
                                                 const pgqrs_trigger_options *opts);

/* A worker that executes runs of one workflow defined in this store.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (not defined in this store), PGQRS_EINVAL (bad name) */
PGQRS_EXTERN pgqrs_status pgqrs_workflow_worker_new(pgqrs_workflow_worker **out, pgqrs_store *store, const char *name);
/* Releases the run it holds, stops its worker row, frees. NULL: no-op. */
PGQRS_EXTERN void pgqrs_workflow_worker_free(pgqrs_workflow_worker *w);
PGQRS_EXTERN int64_t pgqrs_workflow_worker_id(const pgqrs_workflow_worker *w);   /* 0 for a bad handle */
/* Asks pgqrs_workflow_worker_poll to return after the run in progress. Safe from a
 * signal handler or another thread. Given while no poll runs, the next poll returns
 * at once; each poll that returns consumes it. A bad handle is ignored. */
PGQRS_EXTERN void pgqrs_workflow_worker_interrupt(pgqrs_workflow_worker *w);

typedef struct pgqrs_poll_options {
    unsigned int version;        /* PGQRS_POLL_OPTIONS_VERSION */
    int max_runs;                /* return after this many runs were executed; 0 = no limit */
    int64_t idle_timeout_ms;     /* return after this long with nothing to do; 0 = never */
    int poll_interval_ms;        /* first wait when idle, doubling to 1 s (jittered); 0 = 50 */
} pgqrs_poll_options;
#define PGQRS_POLL_OPTIONS_VERSION 1
#define PGQRS_POLL_OPTIONS_INIT PGQRS__INIT(pgqrs_poll_options, PGQRS_POLL_OPTIONS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_poll_options, PGQRS_POLL_OPTIONS_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_poll_options_init(pgqrs_poll_options *opts, unsigned int version);
/* The worker loop: dequeues run messages, runs the handler, records the outcome,
 * until interrupted, max_runs (handler executions), or idle_timeout_ms. A failing
 * handler ends its run (ERROR, or a scheduled retry), never the loop; connection
 * errors are retried with capped, jittered backoff while not interrupted.
 * executed_out and opts may be NULL.
 * @return PGQRS_OK, PGQRS_EINVAL (options), or the failure that stopped the loop */
PGQRS_EXTERN pgqrs_status pgqrs_workflow_worker_poll(int64_t *executed_out, pgqrs_workflow_worker *w,
                                                     const pgqrs_poll_options *opts);
/* One round: executes at most one due run. *executed_out (may be NULL): 1 when a
 * handler ran, 0 otherwise (also when a message of a finished or cancelled run was
 * only settled). @return PGQRS_OK, or the failure of the round */
PGQRS_EXTERN pgqrs_status pgqrs_workflow_worker_run_once(int *executed_out, pgqrs_workflow_worker *w);

/* ---- Inside a handler ---- */
typedef pgqrs_status (*pgqrs_step_fn)(pgqrs_run *run, char **output_json, void *user);
typedef struct pgqrs_step_options {
    unsigned int version;        /* PGQRS_STEP_OPTIONS_VERSION */
    pgqrs_retry_policy retry;    /* of this step: a failed attempt reschedules the run to its delay */
} pgqrs_step_options;
#define PGQRS_STEP_OPTIONS_VERSION 1
#define PGQRS_STEP_OPTIONS_INIT PGQRS__INIT(pgqrs_step_options, PGQRS_STEP_OPTIONS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_step_options, PGQRS_STEP_OPTIONS_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_step_options_init(pgqrs_step_options *opts, unsigned int version);
/* Runs fn once per run under step_id (1 to 256 bytes, unique within the run).
 * If the step already succeeded in this run, its stored output is returned and fn
 * is not called. Otherwise fn runs and its output (JSON from pgqrs_strdup; NULL =
 * null) is stored as SUCCESS in the statement that marks the step done.
 * output_out (may be NULL) gets a copy, freed with pgqrs_free. opts may be NULL.
 * When fn fails, the step is recorded ERROR and fn's status returned; with retries
 * left (opts' policy, default 3 attempts) the run is rescheduled when the handler
 * returns. @return fn's status, PGQRS_ECANCELLED (the run is being cancelled: no
 * further step starts), PGQRS_EBUSY (another live worker is executing this step),
 * PGQRS_ESTATE (this worker's lease on the step ran out and another worker took it
 * over: its result stands), PGQRS_EINVAL (bad step_id, options or output) */
PGQRS_EXTERN pgqrs_status pgqrs_run_step(char **output_out, pgqrs_run *run, const char *step_id, pgqrs_step_fn fn,
                                         void *user, const pgqrs_step_options *opts);
/* Durable sleep: the first call records the wake-up time under step_id and returns
 * PGQRS_ESUSPENDED, which the handler returns; the run is rescheduled and holds no
 * worker meanwhile, surviving restarts. When it runs again after the deadline the
 * same call returns PGQRS_OK.
 * @return PGQRS_OK, PGQRS_ESUSPENDED, PGQRS_ECANCELLED, PGQRS_EINVAL (step_id, seconds) */
PGQRS_EXTERN pgqrs_status pgqrs_run_sleep(pgqrs_run *run, const char *step_id, int64_t seconds);
/* Records why this attempt fails (error_json: JSON; NULL = a generic error) and
 * whether it may be retried; the handler then returns a failure status.
 * @return PGQRS_OK, PGQRS_EINVAL (error_json is not JSON) */
PGQRS_EXTERN pgqrs_status pgqrs_run_fail(pgqrs_run *run, const char *error_json, int retryable);
PGQRS_EXTERN int64_t pgqrs_run_id(const pgqrs_run *run);        /* 0 for a bad handle */
PGQRS_EXTERN int32_t pgqrs_run_attempt(const pgqrs_run *run);   /* 1 for the first attempt; 0 for a bad handle */

/* ---- Runs from outside ---- */
typedef struct pgqrs_run_info {   /* read-only; fields are only ever appended */
    int64_t id;
    int64_t workflow_id;
    const char *status;           /* "PENDING", "RUNNING", "SUCCESS", "ERROR", "CANCELLING", "CANCELLED"; static */
    const char *input;            /* JSON or NULL */
    const char *output;           /* JSON or NULL */
    const char *error;            /* JSON or NULL: the last failure */
    const char *idempotency_key;  /* or NULL */
    int32_t attempts;
    int64_t created_at_us;
    int64_t started_at_us;        /* 0 = not started */
    int64_t completed_at_us;      /* 0 = not finished */
    int64_t cancelled_at_us;      /* 0 = not cancelled */
    int64_t retry_at_us;          /* 0 = none: when a PENDING run is due again */
    const char *cancel_reason;    /* or NULL */
    int64_t updated_at_us;
} pgqrs_run_info;
/* *out is freed with pgqrs_run_info_free. @return PGQRS_OK, PGQRS_ENOTFOUND */
PGQRS_EXTERN pgqrs_status pgqrs_run_get(pgqrs_run_info **out, pgqrs_store *store, int64_t run_id);
/* Waits until the run is SUCCESS, ERROR or CANCELLED, at most timeout_ms (< 0: no
 * limit). On PostgreSQL it is woken by LISTEN/NOTIFY; elsewhere (and through
 * PgBouncer) it polls with backoff, 10 ms doubling to 250 ms. *out is the final run.
 * @return PGQRS_OK, PGQRS_ETIMEOUT (*out NULL), PGQRS_ENOTFOUND */
PGQRS_EXTERN pgqrs_status pgqrs_run_wait(pgqrs_run_info **out, pgqrs_store *store, int64_t run_id,
                                         int64_t timeout_ms);
PGQRS_EXTERN void pgqrs_run_info_free(pgqrs_run_info *r);   /* NULL: no-op */
/* A PENDING run becomes CANCELLED at once; a RUNNING one CANCELLING, and its
 * worker finalises it as CANCELLED at the next step boundary (the step in progress
 * finishes; no further step starts). Its child runs (pgqrs_run_start_child) are
 * cancelled too, recursively. reason may be NULL.
 * @return PGQRS_OK, PGQRS_ENOTFOUND, PGQRS_ESTATE (already finished or cancelling) */
PGQRS_EXTERN pgqrs_status pgqrs_run_cancel(pgqrs_store *store, int64_t run_id, const char *reason);

typedef struct pgqrs_run_filter {
    unsigned int version;        /* PGQRS_RUN_FILTER_VERSION */
    const char *workflow;        /* NULL = every workflow */
    const char *status;          /* NULL = any, else one of the run states */
    int64_t since_us;            /* created at or after; 0 = any time */
    int limit;                   /* 0 = 100, at most 10000 */
} pgqrs_run_filter;
#define PGQRS_RUN_FILTER_VERSION 1
#define PGQRS_RUN_FILTER_INIT PGQRS__INIT(pgqrs_run_filter, PGQRS_RUN_FILTER_VERSION)
PGQRS__DEFINE_INIT(pgqrs_run_filter, PGQRS_RUN_FILTER_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_run_filter_init(pgqrs_run_filter *filter, unsigned int version);
/* Runs newest first. filter may be NULL.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (named workflow missing), PGQRS_EINVAL (filter) */
PGQRS_EXTERN pgqrs_status pgqrs_run_list(pgqrs_runs **out, pgqrs_store *store, const pgqrs_run_filter *filter);
PGQRS_EXTERN size_t pgqrs_runs_count(const pgqrs_runs *l);
/* Borrowed from l; NULL when i is out of range. */
PGQRS_EXTERN const pgqrs_run_info *pgqrs_runs_at(const pgqrs_runs *l, size_t i);
PGQRS_EXTERN void pgqrs_runs_free(pgqrs_runs *l);

typedef struct pgqrs_step_info {   /* read-only; fields are only ever appended */
    int64_t run_id;
    const char *step_id;
    const char *status;          /* "RUNNING", "SUCCESS", "ERROR"; static */
    const char *output;          /* JSON or NULL */
    const char *error;           /* JSON or NULL */
    int32_t attempts;
    int64_t started_at_us;
    int64_t completed_at_us;     /* 0 = not finished */
    int64_t retry_at_us;         /* 0 = none */
} pgqrs_step_info;
/* The run's steps, by the start time of their latest attempt, then step id.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such run) */
PGQRS_EXTERN pgqrs_status pgqrs_step_list(pgqrs_steps **out, pgqrs_store *store, int64_t run_id);
PGQRS_EXTERN size_t pgqrs_steps_count(const pgqrs_steps *l);
/* Borrowed from l; NULL when i is out of range. */
PGQRS_EXTERN const pgqrs_step_info *pgqrs_steps_at(const pgqrs_steps *l, size_t i);
PGQRS_EXTERN void pgqrs_steps_free(pgqrs_steps *l);

typedef struct pgqrs_workflow_info {   /* read-only; fields are only ever appended */
    int64_t id;
    const char *name;
    int64_t queue_id;
    const char *retry_policy;    /* JSON */
    int64_t created_at_us;
} pgqrs_workflow_info;
/* Every workflow in the database, by name. @return PGQRS_OK */
PGQRS_EXTERN pgqrs_status pgqrs_workflow_list(pgqrs_workflows **out, pgqrs_store *store);
PGQRS_EXTERN size_t pgqrs_workflows_count(const pgqrs_workflows *l);
/* Borrowed from l; NULL when i is out of range. */
PGQRS_EXTERN const pgqrs_workflow_info *pgqrs_workflows_at(const pgqrs_workflows *l, size_t i);
PGQRS_EXTERN void pgqrs_workflows_free(pgqrs_workflows *l);

/* Deletes a workflow with its runs, their steps, messages, events and children
 * links, and its queue with that queue's messages and archive. Refused while
 * runs are in flight (PENDING, RUNNING, CANCELLING) unless force; stop the
 * workflow's workers first. Waits at most 5 s for transactions writing messages
 * on PostgreSQL. A definition made in this store stays registered.
 * @return PGQRS_OK, PGQRS_ENOTFOUND, PGQRS_ESTATE (runs in flight), PGQRS_EBUSY, PGQRS_EINVAL (name) */
PGQRS_EXTERN pgqrs_status pgqrs_workflow_delete(pgqrs_store *store, const char *name, int force);

/* ---- Workflows that talk: messages, events, child runs ----------------------------
 * Messages (pgqrs_run_send / pgqrs_run_recv) and events are JSON of at most
 * PGQRS_MAX_SIGNAL_BYTES; topics and keys are 1 to 256 bytes of UTF-8. */
#define PGQRS_MAX_SIGNAL_BYTES 1048576   /* a message sent to a run, an event value */

/* Sends message_json to a PENDING or RUNNING run on topic, from any process; a
 * run suspended in pgqrs_run_recv on that topic is made runnable at once.
 * Messages on one topic are received in the order they were sent, each once.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such run), PGQRS_ESTATE (the run is
 * finished or cancelling: nothing written), PGQRS_EINVAL (topic, JSON, or larger
 * than PGQRS_MAX_SIGNAL_BYTES: nothing written) */
PGQRS_EXTERN pgqrs_status pgqrs_run_send(pgqrs_store *store, int64_t run_id, const char *topic,
                                         const char *message_json);
/* Inside a handler: receives the oldest message sent to this run on topic. A
 * durable wait: when none is there the call returns PGQRS_ESUSPENDED, which the
 * handler returns; the run is suspended (no worker held) until a message
 * arrives or timeout_ms (0..PGQRS_MAX_DELAY_SECONDS * 1000, counted from the
 * first call) passes, then runs again and the same call returns. The message is
 * consumed in the statement that records it under step_id (1 to 256 bytes,
 * unique within the run), so it is received exactly once and a replay returns
 * it again. *message_out (freed with pgqrs_free) is the message's JSON.
 * @return PGQRS_OK, PGQRS_ESUSPENDED, PGQRS_ETIMEOUT (no message in time;
 * recorded, so a replay times out too; *message_out NULL), PGQRS_ECANCELLED,
 * PGQRS_EINVAL (step_id, topic, timeout) */
PGQRS_EXTERN pgqrs_status pgqrs_run_recv(char **message_out, pgqrs_run *run, const char *step_id, const char *topic,
                                         int64_t timeout_ms);
/* Inside a handler: publishes value_json under key for this run; the last write
 * wins. Not a step: a replay writes the same values again in the same order.
 * @return PGQRS_OK, PGQRS_ESTATE (the run no longer runs on this worker),
 * PGQRS_EINVAL (key, JSON, or larger than PGQRS_MAX_SIGNAL_BYTES: nothing written) */
PGQRS_EXTERN pgqrs_status pgqrs_run_set_event(pgqrs_run *run, const char *key, const char *value_json);
/* Reads the event key of run run_id, waiting up to timeout_ms for it to be set
 * (0: do not wait; < 0: no limit). On PostgreSQL the wait is woken by
 * LISTEN/NOTIFY; elsewhere (and through PgBouncer) it polls with backoff,
 * 10 ms doubling to 250 ms. *value_out is freed with pgqrs_free.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such run, or not set and timeout_ms 0),
 * PGQRS_ETIMEOUT (not set in time), PGQRS_EINVAL (key) */
PGQRS_EXTERN pgqrs_status pgqrs_event_get(char **value_out, pgqrs_store *store, int64_t run_id, const char *key,
                                          int64_t timeout_ms);

typedef struct pgqrs_events pgqrs_events;   /* pgqrs_event_info items */
typedef struct pgqrs_event_info {   /* read-only; fields are only ever appended */
    int64_t run_id;
    const char *key;
    const char *value;            /* JSON */
    int64_t updated_at_us;
} pgqrs_event_info;
/* Every event of a run, by key. @return PGQRS_OK (none: an empty list) */
PGQRS_EXTERN pgqrs_status pgqrs_event_list(pgqrs_events **out, pgqrs_store *store, int64_t run_id);
PGQRS_EXTERN size_t pgqrs_events_count(const pgqrs_events *l);
/* Borrowed from l; NULL when i is out of range. */
PGQRS_EXTERN const pgqrs_event_info *pgqrs_events_at(const pgqrs_events *l, size_t i);
PGQRS_EXTERN void pgqrs_events_free(pgqrs_events *l);

/* Inside a handler: starts a run of workflow with input_json (NULL: none) as a
 * child of this run, under step_id: idempotent, so a replay (or a crash between
 * the child's creation and the step's record) returns the same child.
 * Cancelling this run cancels its children. *child_run_id_out may be NULL.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such workflow), PGQRS_ECANCELLED,
 * PGQRS_EINVAL (step_id, input) */
PGQRS_EXTERN pgqrs_status pgqrs_run_start_child(int64_t *child_run_id_out, pgqrs_run *run, const char *step_id,
                                                const char *workflow, const char *input_json);
/* Inside a handler: waits durably for child_run_id to end, like pgqrs_run_recv
 * (PGQRS_ESUSPENDED until it ends or timeout_ms passes; the outcome is recorded
 * under step_id). SUCCESS: PGQRS_OK with *output_out (may be NULL; freed with
 * pgqrs_free) the child's output. A child that ended ERROR or CANCELLED is this
 * step's failure: PGQRS_ERROR, with the child's error recorded as this attempt's
 * error, not retried. @return PGQRS_OK, PGQRS_ERROR, PGQRS_ESUSPENDED,
 * PGQRS_ETIMEOUT, PGQRS_ECANCELLED, PGQRS_ENOTFOUND (no such run), PGQRS_EINVAL */
PGQRS_EXTERN pgqrs_status pgqrs_run_await_child(char **output_out, pgqrs_run *run, const char *step_id,
                                                int64_t child_run_id, int64_t timeout_ms);


/* ---- Runtime: handlers run for you -------------------------------------------------
 * A runtime claims the messages of one or more queues and runs a handler for each
 * on its own threads (docs/worker.md). While a handler runs, its message's lease
 * is extended; what the handler returns decides the message's fate:
 *   PGQRS_JOB_DONE   archived, with the result the handler set (pgqrs_job_set_result),
 *                    readable afterwards as pgqrs_message.result (pgqrs_archive_list);
 *   PGQRS_JOB_RETRY  back to pending, visible after the queue's retry policy's next
 *                    delay (pgqrs_queue_info; pgqrs_retry_delay_ms's rules, retry n
 *                    after attempt n) or the handler's (pgqrs_job_set_retry_delay); the
 *                    visible time is written to the database, so a retry survives a
 *                    restart of every worker. With no attempt left (attempt >=
 *                    max_attempts) it is dead-lettered instead;
 *   PGQRS_JOB_FAIL   dead-lettered now, whatever attempts remain (with the result,
 *                    if one was set: e.g. why).
 * Finished messages are settled together: in the transaction that claims the next
 * batch (capabilities.transactions), else in one statement per kind, so a commit
 * serves many jobs. The price, after a crash: a job whose handler finished but
 * whose settle had not committed runs again (at-least-once; docs/worker.md says
 * exactly which). Threads: the caller's (pgqrs_runtime_run: claims and settles),
 * `concurrency` handler threads, one lease extender and (unless no_scheduler) a
 * scheduler; the store may be used by handlers too (it is thread-safe) but each
 * needs its own producer/consumer. */
typedef struct pgqrs_runtime pgqrs_runtime;   /* the object: queues, threads, options */
typedef struct pgqrs_job pgqrs_job;           /* a handler's message; valid until the handler returns */

typedef enum pgqrs_job_outcome {
    PGQRS_JOB_DONE = 0,
    PGQRS_JOB_RETRY = 1,         /* also any value that is not one of these three */
    PGQRS_JOB_FAIL = 2
} pgqrs_job_outcome;

/* Called on a handler thread, concurrently with itself (concurrency > 1) for
 * other jobs. Returns a pgqrs_job_outcome. */
typedef int (*pgqrs_job_fn)(pgqrs_job *job, void *user);

typedef struct pgqrs_runtime_options {
    unsigned int version;        /* PGQRS_RUNTIME_OPTIONS_VERSION */
    int concurrency;             /* handler threads; 0 = 1; at most 1024 */
    int batch_size;              /* most messages one claim takes; 0 = 10 (at most the store's max_batch_size).
                                  * At most concurrency + batch_size messages are held at once: the
                                  * ones not yet started wait in memory, their leases extended too */
    int vt_seconds;              /* lease of each held message, extended every vt_seconds / 3; 0 = the
                                  * store's default_vt_seconds (30); at least 1 */
    int idle_min_ms;             /* first wait when every queue was empty, doubling with jitter; 0 = 10 */
    int idle_max_ms;             /* longest wait between looks at an empty queue (polling), and of one
                                  * LISTEN wait (notifications); 0 = 1000 */
    int64_t shutdown_ms;         /* after pgqrs_runtime_stop, how long running handlers may take to finish;
                                  * 0 = 30000, < 0 = no limit */
    int64_t max_run_ms;          /* a handler running longer is reported (job.overrun) and its message let
                                  * go: released for another delivery, its outcome ignored when it returns
                                  * (C cannot stop the thread); 0 = no limit */
    int until_empty;             /* non-zero: pgqrs_runtime_run returns once no queue has a visible message
                                  * and nothing is running (messages delayed or waiting for a retry do not
                                  * keep it running, but a retry it made that is due within idle_min_ms
                                  * runs first); with a scheduler, not before its first round ended (the
                                  * ticks due at the start are fired and their jobs run) */
    /* version 2 */
    int no_scheduler;            /* 0: while pgqrs_runtime_run runs, a thread of its own runs a scheduler
                                  * (pgqrs_scheduler_run: fires every due schedule, applies retention);
                                  * it stops when the shutdown starts. Non-zero: no scheduler here */
    pgqrs_scheduler_options scheduler;   /* that scheduler's options; zeros = defaults (its version is
                                  * not checked) */
} pgqrs_runtime_options;
#define PGQRS_RUNTIME_OPTIONS_VERSION 2   /* version 1 (no scheduler fields) is still accepted */
#define PGQRS_RUNTIME_OPTIONS_INIT PGQRS__INIT(pgqrs_runtime_options, PGQRS_RUNTIME_OPTIONS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_runtime_options, PGQRS_RUNTIME_OPTIONS_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_runtime_options_init(pgqrs_runtime_options *opts, unsigned int version);

/* A runtime on the store (which must outlive it); opts may be NULL. Add queues
 * with pgqrs_runtime_add_queue, then pgqrs_runtime_run.
 * @return PGQRS_OK, PGQRS_EINVAL (options out of range, the scheduler's included) */
PGQRS_EXTERN pgqrs_status pgqrs_runtime_new(pgqrs_runtime **out, pgqrs_store *store,
                                            const pgqrs_runtime_options *opts);
/* Runs fn(job, user) for the messages of queue, through a consumer worker this
 * runtime registers now (kind "consumer"; freed with the runtime). Before
 * pgqrs_runtime_run only; a queue at most once.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such queue), PGQRS_EINVAL (bad name),
 *         PGQRS_EEXISTS (already added), PGQRS_ESTATE (the runtime has run) */
PGQRS_EXTERN pgqrs_status pgqrs_runtime_add_queue(pgqrs_runtime *rt, const char *queue, pgqrs_job_fn fn,
                                                  void *user);
/* Runs on the calling thread until pgqrs_runtime_stop (or until_empty): claims,
 * hands jobs to the handler threads, settles what they finished, extends leases.
 * Waits for messages with LISTEN/NOTIFY where capabilities.notifications, else
 * polls with capped, jittered backoff (idle_min_ms doubling to idle_max_ms, never
 * past a delayed message's due time). Database failures are retried with capped,
 * jittered backoff (runtime.retry) and never end the loop. After a stop: no new
 * claim; messages claimed and not started are given back at once (pending, the
 * delivery not counted); running handlers may finish until shutdown_ms, and what
 * they finish is settled; then it returns. Once per runtime.
 * @return PGQRS_OK; PGQRS_ETIMEOUT: shutdown_ms passed with handlers still running
 *         (their messages were released for another delivery; the threads are left
 *         to finish, their outcomes ignored); PGQRS_ESTATE (no queue added, or run
 *         before) */
PGQRS_EXTERN pgqrs_status pgqrs_runtime_run(pgqrs_runtime *rt);
/* Asks pgqrs_runtime_run to shut down as described there. Async-signal-safe (an
 * atomic flag and one write(2) to a pipe): call it from a SIGTERM/SIGINT handler
 * or another thread. Before run, run returns at once. A bad handle is ignored. */
PGQRS_EXTERN void pgqrs_runtime_stop(pgqrs_runtime *rt);
/* Frees the runtime and its consumers (their workers stopped, anything they still
 * hold released). Never waits: after a run that returned PGQRS_ETIMEOUT, the
 * handler threads still running keep their jobs until they return and the last
 * one frees the rest; `user` and the handler must stay valid until then. Not
 * while pgqrs_runtime_run runs. NULL: no-op. */
PGQRS_EXTERN void pgqrs_runtime_free(pgqrs_runtime *rt);

typedef struct pgqrs_runtime_stats {
    unsigned int version;        /* PGQRS_RUNTIME_STATS_VERSION, set by the caller */
    int64_t claimed;             /* messages claimed */
    int64_t done;                /* archived (PGQRS_JOB_DONE) */
    int64_t retried;             /* released for a retry */
    int64_t dead_lettered;       /* PGQRS_JOB_FAIL, or a retry with no attempt left */
    int64_t lost;                /* settled too late: the lease had run out and another worker took the
                                  * message (it runs there again) */
    int64_t overrun;             /* handlers past max_run_ms, their messages let go */
    int64_t given_back;          /* claimed, not started, given back at shutdown */
    int64_t running;             /* handlers running now */
    int64_t held;                /* messages held now: waiting, running, or finished and not yet settled */
    /* version 2 */
    int64_t cancelled;           /* archived as "cancelled": a cancel was requested while held */
} pgqrs_runtime_stats;
#define PGQRS_RUNTIME_STATS_VERSION 2   /* version 1 (no cancelled) is still accepted */
#define PGQRS_RUNTIME_STATS_INIT PGQRS__INIT(pgqrs_runtime_stats, PGQRS_RUNTIME_STATS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_runtime_stats, PGQRS_RUNTIME_STATS_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_runtime_stats_init(pgqrs_runtime_stats *stats, unsigned int version);
/* A snapshot of the counters, from any thread, while it runs or after.
 * @return PGQRS_OK, PGQRS_EINVAL (out->version unknown) */
PGQRS_EXTERN pgqrs_status pgqrs_runtime_stats_get(pgqrs_runtime_stats *out, const pgqrs_runtime *rt);
/* The runtime's scheduler, borrowed (valid until pgqrs_runtime_free), for
 * pgqrs_scheduler_stats_get and pgqrs_errmsg from any thread; NULL with
 * no_scheduler or a bad handle. */
PGQRS_EXTERN const pgqrs_scheduler *pgqrs_runtime_scheduler(const pgqrs_runtime *rt);

/* ---- Inside a job handler: the job's accessors ----
 * Strings are borrowed from the job and valid until the handler returns. A bad
 * handle gives 0 / NULL. */
PGQRS_EXTERN int64_t pgqrs_job_id(const pgqrs_job *job);
PGQRS_EXTERN const char *pgqrs_job_queue(const pgqrs_job *job);
PGQRS_EXTERN const char *pgqrs_job_payload(const pgqrs_job *job);    /* JSON text */
PGQRS_EXTERN int32_t pgqrs_job_attempt(const pgqrs_job *job);        /* deliveries so far: 1 = the first */
PGQRS_EXTERN int32_t pgqrs_job_max_attempts(const pgqrs_job *job);   /* the queue's, when it was claimed */
/* The message as claimed (pgqrs_message: enqueued_at_us, vt_us, ...). */
PGQRS_EXTERN const pgqrs_message *pgqrs_job_message(const pgqrs_job *job);
/* The JSON stored with the message when the handler returns PGQRS_JOB_DONE or
 * PGQRS_JOB_FAIL (copied; NULL: none). The last call wins.
 * @return PGQRS_OK, PGQRS_EINVAL (not JSON) */
PGQRS_EXTERN pgqrs_status pgqrs_job_set_result(pgqrs_job *job, const char *result_json);
/* The delay of this job's retry when the handler returns PGQRS_JOB_RETRY, instead
 * of the queue's policy (0 = visible at once).
 * @return PGQRS_OK, PGQRS_EINVAL (delay_ms out of 0..PGQRS_MAX_RETRY_DELAY_MS) */
PGQRS_EXTERN pgqrs_status pgqrs_job_set_retry_delay(pgqrs_job *job, int64_t delay_ms);

/* ---- Job control: cancellation, progress, a message by id (issue 17) ---------------
 * A message is in flight while a worker holds it and its lease runs; else it is
 * pending (visible) or delayed (visible later). Cancelling a message that is not
 * in flight removes it: it moves to the archive with the reason "cancelled", in
 * one statement or transaction. Cancelling one in flight records a request: claims
 * skip it, its holder sees it (pgqrs_message_heartbeat, pgqrs_job_cancel_requested),
 * stops extending its lease and settles it as cancelled (pgqrs_archive_cancelled;
 * the runtime does that itself when the handler returns). If the holder dies, the
 * message is archived as cancelled once its lease has run out (by the next claim
 * on its queue that comes back short). */
#define PGQRS_CANCEL_REMOVED 1     /* it was pending or delayed: archived as "cancelled" now */
#define PGQRS_CANCEL_REQUESTED 2   /* it is in flight: the request is recorded (again: no change) */
/* Largest progress value, serialized (bytes of JSON text). */
#define PGQRS_MAX_PROGRESS_BYTES 8192
/* Cancels live message id; queue NULL: whichever queue it is in, else it must be
 * in that queue. outcome_out (may be NULL) gets PGQRS_CANCEL_REMOVED or
 * PGQRS_CANCEL_REQUESTED. On an error nothing is changed.
 * @return PGQRS_OK, PGQRS_ESTATE (already archived, dead-lettered or cancelled),
 *         PGQRS_ENOTFOUND (no such message, or not in queue; no such queue) */
PGQRS_EXTERN pgqrs_status pgqrs_message_cancel(int *outcome_out, pgqrs_store *store, const char *queue,
                                               int64_t id);
/* Message id, live or archived, as a batch of one (pgqrs_batch_free). Its state is
 * finer than a listing's: "pending", "delayed", "in_flight" (live), "archived",
 * "dead_letter" or "cancelled"; read_count is the attempts so far; result the
 * stored result (archived rows), progress the last progress value.
 * @return PGQRS_OK, PGQRS_ENOTFOUND */
PGQRS_EXTERN pgqrs_status pgqrs_message_get(pgqrs_batch **out, pgqrs_store *store, int64_t id);
/* The holder's lease extension, as pgqrs_extend_vt, that also reports a cancel
 * request: *cancel_requested_out (may be NULL) is 1 when one was made, and then
 * the lease is not extended (vt_us_out gets the unchanged visibility time).
 * @return PGQRS_OK, PGQRS_EINVAL (vt_seconds), PGQRS_ENOTOWNED (held by another
 *         worker, or the lease ran out), PGQRS_ENOTFOUND (no such live message) */
PGQRS_EXTERN pgqrs_status pgqrs_message_heartbeat(int64_t *vt_us_out, int *cancel_requested_out, pgqrs_consumer *c,
                                                  int64_t id, int vt_seconds);
/* Settles a message this consumer holds as cancelled: archived with the reason
 * "cancelled" (its progress kept). Meant for a cancel-requested message, allowed
 * for any held one.
 * @return PGQRS_OK, PGQRS_ENOTOWNED, PGQRS_ENOTFOUND */
PGQRS_EXTERN pgqrs_status pgqrs_archive_cancelled(pgqrs_consumer *c, int64_t id);
/* Stores progress_json (valid JSON, at most PGQRS_MAX_PROGRESS_BYTES) on message
 * id, which this consumer must hold with a live lease; the last value wins and is
 * kept in the archive when the message is settled.
 * @return PGQRS_OK, PGQRS_EINVAL (not JSON, too large), PGQRS_ENOTOWNED (held by
 *         another worker, or not held: pending, delayed, lease run out),
 *         PGQRS_ESTATE (already archived), PGQRS_ENOTFOUND (no such message) */
PGQRS_EXTERN pgqrs_status pgqrs_message_set_progress(pgqrs_consumer *c, int64_t id, const char *progress_json);
/* Inside a handler: 1 when a cancel of this job was requested (refreshed at each
 * lease extension, every vt_seconds / 3), else 0 (also for a bad handle). Once
 * requested, the lease is no longer extended and the message is archived as
 * "cancelled" when the handler returns, whatever it returns (with its result). */
PGQRS_EXTERN int pgqrs_job_cancel_requested(const pgqrs_job *job);
/* Inside a handler: pgqrs_message_set_progress for this job's message.
 * @return as pgqrs_message_set_progress */
PGQRS_EXTERN pgqrs_status pgqrs_job_set_progress(pgqrs_job *job, const char *progress_json);
/* ---- end of job control ---- */

/* ---- Logging and counters --------------------------------------------------------- */
typedef enum pgqrs_log_level {
    PGQRS_LOG_DEBUG = 10,        /* includes payload sizes and ids; never payloads above this level */
    PGQRS_LOG_INFO = 20,         /* state transitions: workers, zombie reclaim, DLQ replay, runs, steps */
    PGQRS_LOG_WARN = 30,         /* retries with their delay, reconnects */
    PGQRS_LOG_ERROR = 40,
    PGQRS_LOG_OFF = 100
} pgqrs_log_level;
/* event is a stable dotted name ("worker.suspend", "run.retry", ...; the list is
 * in docs/operations.md); message one line of text. Neither ever holds a password,
 * token or payload. Called on the thread that caused the event (the heartbeat
 * thread for heartbeat failures). */
typedef void (*pgqrs_log_fn)(int level, const char *event, const char *message, void *user);
/* Sends events at or above min_level to fn (NULL: silence). Without a callback a
 * store logs to stderr when the environment has PGQRS_LOG=debug|info|warn|error.
 * A bad handle is ignored. */
PGQRS_EXTERN void pgqrs_store_set_log_callback(pgqrs_store *store, pgqrs_log_fn fn, void *user, int min_level);

typedef struct pgqrs_counters {
    unsigned int version;        /* PGQRS_COUNTERS_VERSION, set by the caller */
    int64_t enqueued;            /* messages written by producers of this store */
    int64_t dequeued;            /* messages delivered to consumers of this store */
    int64_t archived;
    int64_t deleted;
    int64_t released;
    int64_t replayed;            /* dead letters moved back */
    int64_t retried;             /* workflow runs rescheduled after a failure */
    int64_t errors[16];          /* failed calls by status: errors[-status], e.g. errors[-PGQRS_ECONN] */
    int64_t dead_lettered;       /* messages moved to the dead-letter queue by this store's consumers */
    /* version 2: what retention deleted through this store (pgqrs_retention_run) */
    int64_t purged_archived;     /* archived messages */
    int64_t purged_dead_letters;
    int64_t purged_runs;         /* finished workflow runs, with their steps */
} pgqrs_counters;
#define PGQRS_COUNTERS_VERSION 2   /* 1 (without the purged_* fields) is still accepted */
#define PGQRS_COUNTERS_INIT PGQRS__INIT(pgqrs_counters, PGQRS_COUNTERS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_counters, PGQRS_COUNTERS_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_counters_init(pgqrs_counters *counters, unsigned int version);
/* A snapshot of this store's counters since pgqrs_connect (process-local).
 * @return PGQRS_OK, PGQRS_EINVAL (out->version unknown) */
PGQRS_EXTERN pgqrs_status pgqrs_store_counters(pgqrs_counters *out, const pgqrs_store *store);

/* ---- Dashboard server: `pgqrs serve` (issue 20, docs/dashboard.md) ----------------
 * An HTTP server on libmicrohttpd over a store: HTML pages, a JSON API (/api/...)
 * and Prometheus metrics (/metrics), served on threads of its own. It listens on
 * loopback unless given a token; every action (POST) needs the token (or the
 * pages' form field), same-origin headers and no read_only. No page, header,
 * log line or error shows the DSN, a password or the token. */
typedef struct pgqrs_server pgqrs_server;
typedef struct pgqrs_server_options {
    unsigned int version;        /* PGQRS_SERVER_OPTIONS_VERSION */
    const char *listen;          /* "HOST:PORT" (IPv6 as "[::1]:PORT"); NULL = "127.0.0.1:8080"; port 0: any free */
    const char *token;           /* NULL or "": none, and then only a loopback address is accepted */
    int read_only;               /* non-zero: every action is refused (403) */
    int log_requests;            /* non-zero: one line per request on stderr: method, path (never the query), status */
} pgqrs_server_options;
#define PGQRS_SERVER_OPTIONS_VERSION 1
#define PGQRS_SERVER_OPTIONS_INIT PGQRS__INIT(pgqrs_server_options, PGQRS_SERVER_OPTIONS_VERSION)
PGQRS__DEFINE_INIT(pgqrs_server_options, PGQRS_SERVER_OPTIONS_VERSION)
/* @return PGQRS_OK, PGQRS_EINVAL (unknown version) */
PGQRS_EXTERN pgqrs_status pgqrs_server_options_init(pgqrs_server_options *opts, unsigned int version);
/* Binds the address and starts serving the store (which must outlive the
 * server). opts may be NULL. A failure is read with pgqrs_errmsg(NULL).
 * @return PGQRS_OK, PGQRS_EINVAL (malformed address, a token shorter than 16 bytes,
 *         a non-loopback address without a token), PGQRS_ECONN (cannot bind) */
PGQRS_EXTERN pgqrs_status pgqrs_server_new(pgqrs_server **out, pgqrs_store *store, const pgqrs_server_options *opts);
/* The TCP port it listens on (the chosen one for port 0); 0 for a bad handle. */
PGQRS_EXTERN int pgqrs_server_port(const pgqrs_server *srv);
/* Blocks until pgqrs_server_stop. @return PGQRS_OK */
PGQRS_EXTERN pgqrs_status pgqrs_server_wait(pgqrs_server *srv);
/* Makes pgqrs_server_wait return. Async-signal-safe. A bad handle is ignored. */
PGQRS_EXTERN void pgqrs_server_stop(pgqrs_server *srv);
/* Stops serving (requests in progress finish) and frees. NULL: no-op. */
PGQRS_EXTERN void pgqrs_server_free(pgqrs_server *srv);

/* ---- Transactional enqueue: on the application's own connection and transaction ----
 * A message (or a workflow run) enqueued through a pgqrs_tx exists if and only if
 * the application commits its transaction. The pgqrs_tx wraps the application's
 * open connection (a libpq PGconn * on PostgreSQL, a sqlite3 * on SQLite), passed
 * as void * so this header needs neither libpq's nor SQLite's. The library never
 * begins, commits, rolls back or closes it: each call checks that a transaction
 * is open (else PGQRS_ESTATE), runs its statements inside a savepoint named
 * pgqrs_tx, releases it on success and rolls back to it on failure, so a failed
 * call leaves nothing behind and the application's transaction usable (unless the
 * connection itself failed). On PostgreSQL every statement is unnamed
 * (PQexecParams) and nothing is SET, LISTENed or prepared: it works behind
 * PgBouncer transaction pooling. The connection must see pgqrs's tables (its
 * search_path must include the store's schema). A wake-up notification for
 * waiting consumers is delivered when the application commits. On SQLite the
 * statements prepared for a call are finalized before it returns, and SQLite
 * itself may roll back the whole transaction after some errors (SQLITE_FULL,
 * SQLITE_IOERR, SQLITE_NOMEM, SQLITE_BUSY): then the call fails with PGQRS_ESTATE
 * or the mapped status and the transaction is gone. The connection must be
 * linked against the same libsqlite3 as this library. Turso has no application
 * connection type: pgqrs_capabilities.app_transactions is 0 and wrapping returns
 * PGQRS_ENOTSUPPORTED.
 * A pgqrs_tx is used by one thread at a time, like the connection it wraps; the
 * store must outlive it. Its failures are read with pgqrs_errmsg(tx); a failure
 * of the wrap calls with pgqrs_errmsg(store). */
typedef struct pgqrs_tx pgqrs_tx;
/* Wraps a libpq `PGconn *` (open, on the store's database) for a PostgreSQL store.
 * @return PGQRS_OK, PGQRS_EINVAL (the store is not PostgreSQL), PGQRS_ENOTSUPPORTED (Turso) */
PGQRS_EXTERN pgqrs_status pgqrs_tx_wrap_pg(pgqrs_tx **out, pgqrs_store *store, void *pgconn);
/* Wraps a `sqlite3 *` (open on the store's database file) for a SQLite store.
 * @return PGQRS_OK, PGQRS_EINVAL (the store is not SQLite), PGQRS_ENOTSUPPORTED (Turso) */
PGQRS_EXTERN pgqrs_status pgqrs_tx_wrap_sqlite(pgqrs_tx **out, pgqrs_store *store, void *db);
/* Frees the wrapper, never the application's connection. NULL: no-op. */
PGQRS_EXTERN void pgqrs_tx_free(pgqrs_tx *tx);
/* Enqueues payload_json (validated JSON) into queue (0..PGQRS_MAX_DELAY_SECONDS
 * delay, counted from the enqueue). Consumers see it once the application's
 * transaction commits. id_out may be NULL.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such queue), PGQRS_EINVAL (name, payload
 *         or delay), PGQRS_ESTATE (no open transaction, or an aborted one) */
PGQRS_EXTERN pgqrs_status pgqrs_tx_enqueue(int64_t *id_out, pgqrs_tx *tx, const char *queue, const char *payload_json,
                                           int delay_seconds);
/* Enqueues n payloads (1..max_batch_size) into queue: all or none; ids_out (may
 * be NULL) receives n ids in input order.
 * @return as pgqrs_tx_enqueue */
PGQRS_EXTERN pgqrs_status pgqrs_tx_enqueue_batch(int64_t *ids_out, pgqrs_tx *tx, const char *queue,
                                                 const char *const *payloads, size_t n, int delay_seconds);
/* pgqrs_workflow_trigger inside the application's transaction: the run and its
 * message exist if and only if it commits.
 * @return PGQRS_OK, PGQRS_ENOTFOUND (no such workflow), PGQRS_EINVAL (name, input
 *         or key), PGQRS_ESTATE (no open transaction, or an aborted one) */
PGQRS_EXTERN pgqrs_status pgqrs_workflow_trigger_tx(int64_t *run_id_out, int *created_out, pgqrs_tx *tx,
                                                    const char *name, const char *input_json,
                                                    const pgqrs_trigger_options *opts);

/* Limits. */
#define PGQRS_MAX_BATCH_LIMIT 10000      /* max_batch_size can not be raised past this */
#define PGQRS_MAX_VT_SECONDS 604800      /* 7 days */
#define PGQRS_MAX_DELAY_SECONDS 31536000 /* 365 days */
#define PGQRS_MAX_NAME_BYTES 128
#define PGQRS_MAX_RETRY_DELAY_MS 31536000000LL  /* a retry delay is capped at 365 days */

#ifdef __cplusplus
}
#endif

#endif
