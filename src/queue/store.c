/* store.c: connect, the connection pool, capabilities, time, heartbeats. */
#include "queue/store.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "drivers/turso.h"
#include "workflow/workflow.h"

enum { DEFAULT_POOL = 4, DEFAULT_BUSY_MS = 5000, DEFAULT_BATCH = 1000, DEFAULT_VT = 30, DEFAULT_CONNECT_S = 10,
       DEFAULT_HEARTBEAT_S = 10, DEFAULT_ZOMBIE_S = 300, DEFAULT_POOL_WAIT_MS = 30000 };

PGQRS_EXTERN pgqrs_status pgqrs_connect_options_init(pgqrs_connect_options *opts, unsigned int version)
{
    if (!opts)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "options is NULL");
    if (version != PGQRS_CONNECT_OPTIONS_VERSION)
        return pgqrs__fail(NULL, PGQRS_EINVAL, "unknown connect options version %u", version);
    memset(opts, 0, sizeof *opts);
    opts->version = version;
    return PGQRS_OK;
}

static pgqrs_status resolve_options(pgqrs_connect_options *o, const pgqrs_connect_options *in)
{
    if (in) {
        if (in->version != PGQRS_CONNECT_OPTIONS_VERSION)
            return pgqrs__fail(NULL, PGQRS_EINVAL, "connect options: version %u is not %d (use PGQRS_CONNECT_OPTIONS_INIT)",
                               in->version, PGQRS_CONNECT_OPTIONS_VERSION);
        *o = *in;
    } else {
        memset(o, 0, sizeof *o);
        o->version = PGQRS_CONNECT_OPTIONS_VERSION;
    }
#define DEFAULT(field, dflt, lo, hi)                                                                      \
    do {                                                                                                  \
        if (o->field == 0)                                                                                \
            o->field = (dflt);                                                                            \
        else if (o->field < (lo) || o->field > (hi))                                                      \
            return pgqrs__fail(NULL, PGQRS_EINVAL, "connect options: " #field " %d is out of range %d..%d", \
                               (int)o->field, (int)(lo), (int)(hi));                                      \
    } while (0)
    DEFAULT(pool_size, DEFAULT_POOL, 1, 256);
    DEFAULT(busy_timeout_ms, DEFAULT_BUSY_MS, 1, 3600000);
    DEFAULT(max_batch_size, DEFAULT_BATCH, 1, PGQRS_MAX_BATCH_LIMIT);
    DEFAULT(default_vt_seconds, DEFAULT_VT, 1, PGQRS_MAX_VT_SECONDS);
    DEFAULT(connect_timeout_s, DEFAULT_CONNECT_S, 1, 3600);
    DEFAULT(heartbeat_interval_s, DEFAULT_HEARTBEAT_S, -1, 86400);
    DEFAULT(zombie_after_s, DEFAULT_ZOMBIE_S, 1, 30 * 86400);
    DEFAULT(pool_wait_ms, DEFAULT_POOL_WAIT_MS, 1, 3600000);
    if (o->relaxed_durability != 0 && o->relaxed_durability != 1)
        return pgqrs__fail(NULL, PGQRS_EINVAL, "connect options: relaxed_durability must be 0 or 1, got %d",
                           o->relaxed_durability);
#undef DEFAULT
    if (o->heartbeat_interval_s > 0 && o->zombie_after_s <= 2 * o->heartbeat_interval_s)
        return pgqrs__fail(NULL, PGQRS_EINVAL,
                           "connect options: zombie_after_s (%d) must exceed two heartbeat intervals (%d s each)",
                           o->zombie_after_s, o->heartbeat_interval_s);
    return PGQRS_OK;
}

static void store_destroy(pgqrs_store *s)
{
    for (int i = 0; s->conns && i < s->n_conns; i++)
        pgqrs__conn_close(s->conns[i]);
    pgqrs__free(s->conns);
    pgqrs__free(s->busy);
    pgqrs__free(s->workers);
    pgqrs__workflow_defs_free(s);
    pgqrs__dsn_clear(&s->dsn);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->hb_cv);
    s->h.magic = PGQRS__MAGIC_FREED;
    pgqrs__free(s);
}

static pgqrs_status open_conn(pgqrs_store *s, pgqrs_conn **out)
{
    char err[PGQRS__ERR_LEN];
    pgqrs_status st;
    if (s->dsn.backend == PGQRS__BACKEND_POSTGRES) {
#if PGQRS_WITH_POSTGRES
        pgqrs__pg_options o = { s->dsn.uri, s->opts.schema ? s->opts.schema : s->dsn.schema, s->dsn.pgbouncer,
                                s->opts.connect_timeout_s, s->opts.relaxed_durability != 0 };
        st = pgqrs__conn_open_postgres(out, &o, err, sizeof err);
#else
        return pgqrs__fail(s, PGQRS_ENOTSUPPORTED, "this libpgqrs was built without PostgreSQL (make WITH_POSTGRES=1)");
#endif
    } else if (s->dsn.backend == PGQRS__BACKEND_TURSO) {
#if PGQRS_WITH_TURSO
        pgqrs__turso_options o = { s->dsn.url, s->dsn.auth_token,
                                   s->dsn.connect_timeout_ms ? s->dsn.connect_timeout_ms : s->opts.connect_timeout_s * 1000,
                                   s->dsn.request_timeout_ms, s->opts.busy_timeout_ms, 0 };
        st = pgqrs__conn_open_turso(out, &o, err, sizeof err);
#else
        return pgqrs__fail(s, PGQRS_ENOTSUPPORTED, "this libpgqrs was built without Turso (make WITH_TURSO=1)");
#endif
    } else {
#if PGQRS_WITH_SQLITE
        pgqrs__sqlite_options o = { s->dsn.path, s->opts.busy_timeout_ms, s->opts.relaxed_durability != 0 };
        st = s->dsn.turso_local ? pgqrs__conn_open_turso_file(out, &o, err, sizeof err)
                                : pgqrs__conn_open_sqlite(out, &o, err, sizeof err);
#else
        return pgqrs__fail(s, PGQRS_ENOTSUPPORTED, "this libpgqrs was built without SQLite (make WITH_SQLITE=1)%s",
                           s->dsn.turso_local ? "; turso:/// files are opened through SQLite" : "");
#endif
    }
    if (st != PGQRS_OK) {
        /* libpq's messages name host and user, never the password; redact anyway
         * in case a server echoes a conninfo string */
        char red[PGQRS__ERR_LEN];
        pgqrs__dsn_redact(err, red, sizeof red);
        return pgqrs__fail(s, st, "%s", red);
    }
    return PGQRS_OK;
}

pgqrs_status pgqrs__store_open_conn(pgqrs_store *s, pgqrs_conn **out)
{
    *out = NULL;
    return open_conn(s, out);
}

PGQRS_EXTERN pgqrs_status pgqrs_connect(pgqrs_store **out, const char *dsn, const pgqrs_connect_options *opts)
{
    char err[PGQRS__ERR_LEN];
    pgqrs_store *s;
    pgqrs_conn *first = NULL;
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    if (!dsn)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "dsn is NULL");
    s = pgqrs__calloc(1, sizeof *s);
    if (!s)
        return pgqrs__fail(NULL, PGQRS_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->hb_cv, NULL);
    s->h.magic = PGQRS__MAGIC_STORE;
    s->h.store = s;
    pgqrs__log_init(s);
    st = resolve_options(&s->opts, opts);
    if (st != PGQRS_OK) {
        store_destroy(s);
        return st;
    }
    st = pgqrs__dsn_parse(&s->dsn, dsn, err, sizeof err);
    if (st != PGQRS_OK) {
        store_destroy(s);
        return pgqrs__fail(NULL, st, "%s", err);
    }
    if (s->opts.schema && !pgqrs__is_identifier(s->opts.schema)) {
        store_destroy(s);
        return pgqrs__fail(NULL, PGQRS_EINVAL, "connect options: schema must be an identifier");
    }
    if (s->opts.relaxed_durability && s->dsn.pgbouncer) {
        store_destroy(s);
        return pgqrs__fail(NULL, PGQRS_EINVAL, "connect options: relaxed_durability is a session setting, which "
                                               "cannot pass through PgBouncer (?pgbouncer=true)");
    }
    if (s->opts.relaxed_durability && s->dsn.backend == PGQRS__BACKEND_TURSO) {
        store_destroy(s);
        return pgqrs__fail(NULL, PGQRS_ENOTSUPPORTED, "connect options: relaxed_durability is not available on "
                                                      "Turso (the server decides its durability)");
    }
    if (s->opts.schema && s->dsn.pgbouncer) {
        store_destroy(s);
        return pgqrs__fail(NULL, PGQRS_EINVAL, "connect options: schema cannot pass through PgBouncer "
                                               "(?pgbouncer=true); set search_path on the role or database instead");
    }
    s->opts.schema = NULL;   /* the caller's string need not outlive this call */
    if (opts && opts->schema) {
        pgqrs__free(s->dsn.schema);
        s->dsn.schema = pgqrs__strdup(opts->schema);
    }
    if (s->dsn.backend == PGQRS__BACKEND_SQLITE && strcmp(s->dsn.path, ":memory:") == 0)
        s->opts.pool_size = 1;   /* every connection to :memory: is a separate database */
    s->conns = pgqrs__calloc((size_t)s->opts.pool_size, sizeof *s->conns);
    s->busy = pgqrs__calloc((size_t)s->opts.pool_size, sizeof *s->busy);
    if (!s->conns || !s->busy || (opts && opts->schema && !s->dsn.schema)) {
        store_destroy(s);
        return pgqrs__fail(NULL, PGQRS_ENOMEM, "out of memory");
    }
    /* connect once now, so a bad DSN or an unreachable server fails here */
    st = open_conn(s, &first);
    if (st != PGQRS_OK) {
        store_destroy(s);
        return st;   /* the message is already in the thread's buffer */
    }
    s->conns[0] = first;
    s->n_conns = 1;
    *out = s;
    return PGQRS_OK;
}

PGQRS_EXTERN void pgqrs_store_free(pgqrs_store *s)
{
    if (!s || s->h.magic != PGQRS__MAGIC_STORE)
        return;
    pthread_mutex_lock(&s->mu);
    s->hb_stop = true;
    pthread_cond_broadcast(&s->hb_cv);
    pthread_mutex_unlock(&s->mu);
    if (s->hb_started)
        pthread_join(s->hb_thread, NULL);
    store_destroy(s);
}

PGQRS_EXTERN const char *pgqrs_backend_name(const pgqrs_store *s)
{
    if (!s || s->h.magic != PGQRS__MAGIC_STORE)
        return "invalid";
    return s->dsn.backend == PGQRS__BACKEND_POSTGRES                    ? "postgres"
         : s->dsn.backend == PGQRS__BACKEND_TURSO || s->dsn.turso_local ? "turso"
                                                                        : "sqlite";
}

PGQRS_EXTERN pgqrs_status pgqrs_store_capabilities(const pgqrs_store *s, pgqrs_capabilities *out)
{
    bool pg;
    pgqrs_status st = pgqrs__check_handle(s, PGQRS__MAGIC_STORE, "store");
    if (st != PGQRS_OK)
        return st;
    if (!out)
        return pgqrs__fail((void *)s, PGQRS_EMISUSE, "out is NULL");
    pg = s->dsn.backend == PGQRS__BACKEND_POSTGRES;
    out->skip_locked = pg;
    out->multi_process = pg;
    out->transactions = s->dsn.backend != PGQRS__BACKEND_TURSO;   /* Turso over HTTP: each call is one batch */
    out->database_clock = pg || s->dsn.backend == PGQRS__BACKEND_TURSO;
    out->concurrency_model = pg ? "multi-process" : s->dsn.backend == PGQRS__BACKEND_TURSO ? "single-writer" : "single-process";
    return PGQRS_OK;
}

PGQRS_EXTERN void pgqrs_store_set_time(pgqrs_store *s, int64_t now_us)
{
    if (s && s->h.magic == PGQRS__MAGIC_STORE)
        atomic_store(&s->time_override_us, now_us);
}

bool pgqrs__store_now(pgqrs_store *s, int64_t *now_us)
{
    int64_t o = atomic_load(&s->time_override_us);
    if (o) {
        *now_us = o;
        return true;
    }
    if (s->dsn.backend == PGQRS__BACKEND_SQLITE) {
        *now_us = pgqrs__now_us();
        return true;
    }
    *now_us = 0;
    return false;
}

int64_t pgqrs__store_clock(pgqrs_store *s)
{
    int64_t o = atomic_load(&s->time_override_us);
    return o ? o : pgqrs__now_us();
}

static void deadline_after_ms(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

pgqrs_status pgqrs__store_acquire(pgqrs_store *s, pgqrs_conn **out)
{
    struct timespec deadline;
    int slot = -1;
    pgqrs_status st;
    *out = NULL;
    deadline_after_ms(&deadline, s->opts.pool_wait_ms);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (int i = 0; i < s->n_conns && slot < 0; i++)
            if (!s->busy[i])
                slot = i;
        if (slot < 0 && s->n_conns < s->opts.pool_size)
            slot = s->n_conns++;   /* reserve a new slot; open it outside the lock */
        if (slot >= 0)
            break;
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&s->mu);
            return pgqrs__fail(s, PGQRS_ETIMEOUT, "no free connection in the pool after %d ms (pool_size %d)",
                               s->opts.pool_wait_ms, s->opts.pool_size);
        }
    }
    s->busy[slot] = true;
    pthread_mutex_unlock(&s->mu);
    if (!s->conns[slot]) {
        st = open_conn(s, &s->conns[slot]);
        if (st != PGQRS_OK) {
            pthread_mutex_lock(&s->mu);
            s->busy[slot] = false;
            pthread_cond_signal(&s->cv);
            pthread_mutex_unlock(&s->mu);
            return st;
        }
    } else {
        st = pgqrs__conn_ensure(s->conns[slot]);
        if (s->conns[slot]->reconnected) {
            s->conns[slot]->reconnected = false;
            pgqrs__log(s, PGQRS_LOG_WARN, "connection.reconnect", "%s",
                       st == PGQRS_OK ? "lost PostgreSQL session re-established" : s->conns[slot]->msg);
        }
        if (st != PGQRS_OK) {
            pgqrs__fail(s, st, "%s", s->conns[slot]->msg);
            pgqrs__store_release(s, s->conns[slot]);
            return st;
        }
    }
    *out = s->conns[slot];
    return PGQRS_OK;
}

void pgqrs__store_release(pgqrs_store *s, pgqrs_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_conns; i++)
        if (s->conns[i] == c)
            s->busy[i] = false;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- heartbeats ---- */

static void *heartbeat_main(void *arg)
{
    pgqrs_store *s = arg;
    struct timespec deadline;
    pthread_mutex_lock(&s->mu);
    while (!s->hb_stop) {
        deadline_after_ms(&deadline, (int64_t)s->opts.heartbeat_interval_s * 1000);
        while (!s->hb_stop && pthread_cond_timedwait(&s->hb_cv, &s->mu, &deadline) != ETIMEDOUT)
            ;
        if (s->hb_stop || s->n_workers == 0)
            continue;
        {
            size_t n = s->n_workers;
            int64_t *ids = pgqrs__malloc(n * sizeof *ids);
            pgqrs_conn *c = NULL;
            if (!ids)
                continue;
            memcpy(ids, s->workers, n * sizeof *ids);
            pthread_mutex_unlock(&s->mu);
            if (pgqrs__store_acquire(s, &c) == PGQRS_OK && c) {
                int64_t affected = 0;
                pgqrs_worker_heartbeat_params p = { ids, n, false, 0 };
                p.has_now = pgqrs__store_now(s, &p.now_us);
                /* a failed heartbeat is retried at the next interval; the zombie
                 * threshold spans several intervals */
                c->q->worker_heartbeat(&affected, c, &p);
                pgqrs__store_release(s, c);
            }
            pgqrs__free(ids);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

pgqrs_status pgqrs__store_track_worker(pgqrs_store *s, int64_t id)
{
    pgqrs_status st = PGQRS_OK;
    if (s->opts.heartbeat_interval_s < 0)
        return PGQRS_OK;
    pthread_mutex_lock(&s->mu);
    if (s->n_workers == s->cap_workers) {
        size_t cap = s->cap_workers ? s->cap_workers * 2 : 8;
        int64_t *w = pgqrs__realloc(s->workers, cap * sizeof *w);
        if (!w)
            st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
        else
            s->workers = w, s->cap_workers = cap;
    }
    if (st == PGQRS_OK)
        s->workers[s->n_workers++] = id;
    if (st == PGQRS_OK && !s->hb_started) {
        if (pthread_create(&s->hb_thread, NULL, heartbeat_main, s) == 0)
            s->hb_started = true;
        else
            st = pgqrs__fail(s, PGQRS_ERROR, "cannot start the heartbeat thread");
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

void pgqrs__store_untrack_worker(pgqrs_store *s, int64_t id)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_workers; i++)
        if (s->workers[i] == id) {
            s->workers[i] = s->workers[--s->n_workers];
            break;
        }
    pthread_mutex_unlock(&s->mu);
}

bool pgqrs__utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        uint32_t cp;
        if (!len || (len == 2 && *p < 0xc2) || (len == 4 && *p > 0xf4))
            return false;
        cp = len == 1 ? *p : *p & (0x7f >> len);
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;   /* also stops at the terminating NUL */
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff))
            return false;   /* overlong or surrogate */
        p += len;
    }
    return true;
}

pgqrs_status pgqrs__check_name(void *handle, const char *what, const char *name)
{
    size_t n;
    if (!name)
        return pgqrs__fail(handle, PGQRS_EMISUSE, "%s name is NULL", what);
    n = strlen(name);
    if (n == 0 || n > PGQRS_MAX_NAME_BYTES)
        return pgqrs__fail(handle, PGQRS_EINVAL, "%s name must be 1 to %d bytes, got %zu", what,
                           PGQRS_MAX_NAME_BYTES, n);
    if (!pgqrs__utf8_valid(name))
        return pgqrs__fail(handle, PGQRS_EINVAL, "%s name is not valid UTF-8", what);
    return PGQRS_OK;
}

pgqrs_status pgqrs__queue_lookup(pgqrs_store *s, pgqrs_conn *c, const char *name, pgqrs_queue_row *out)
{
    pgqrs_status st = pgqrs__check_name(s, "queue", name);
    if (st != PGQRS_OK)
        return st;
    st = c->q->queue_get_by_name(out, c, name);
    if (st == PGQRS_ENOTFOUND)
        return pgqrs__fail(s, st, "queue '%.128s' does not exist", name);
    return st == PGQRS_OK ? st : pgqrs__fail_conn(s, c, st);
}

pgqrs_status pgqrs__worker_register(pgqrs_store *s, pgqrs_conn *c, const int64_t *queue_id,
                                    pgqrs_db_worker_kind kind, int64_t *id_out)
{
    char host[256] = "unknown";
    pgqrs_worker_row w = { 0 };
    pgqrs_worker_register_params p = { queue_id != NULL, queue_id ? *queue_id : 0, host, (int32_t)getpid(), kind,
                                       false, 0 };
    pgqrs_status st;
    if (gethostname(host, sizeof host - 1) != 0)
        strcpy(host, "unknown");
    host[sizeof host - 1] = '\0';
    p.has_now = pgqrs__store_now(s, &p.now_us);
    st = c->q->worker_register(&w, c, &p);
    if (st != PGQRS_OK)
        return pgqrs__fail_conn(s, c, st);
    *id_out = w.id;
    pgqrs__log(s, PGQRS_LOG_INFO, "worker.register", "worker %lld registered: %s on %s pid %d",
               (long long)w.id, pgqrs__worker_kind_str(kind), host, (int)p.pid);
    pgqrs__worker_row_clear(&w);
    return pgqrs__store_track_worker(s, *id_out);
}
