/* store.c: connect, the connection pool, capabilities, time, heartbeats. */
#include "queue/store.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/text.h"

enum { DEFAULT_POOL = 4, DEFAULT_BUSY_MS = 5000, DEFAULT_BATCH = 1000, DEFAULT_VT = 30, DEFAULT_CONNECT_S = 10,
       DEFAULT_HEARTBEAT_S = 10, DEFAULT_ZOMBIE_S = 300, DEFAULT_POOL_WAIT_MS = 30000 };

PGQRS_EXTERN pgqrs_status pgqrs_connect_options_init(pgqrs_connect_options *opts, unsigned int version)
{
    return pgqrs__struct_init(opts, sizeof *opts, version, PGQRS_CONNECT_OPTIONS_VERSION, "connect options");
}

PGQRS_EXTERN pgqrs_status pgqrs_capabilities_init(pgqrs_capabilities *caps, unsigned int version)
{
    if (version == 1)   /* the fields before version 2's app_transactions */
        return pgqrs__struct_init(caps, offsetof(pgqrs_capabilities, app_transactions), 1, 1, "capabilities");
    return pgqrs__struct_init(caps, sizeof *caps, version, PGQRS_CAPABILITIES_VERSION, "capabilities");
}

static pgqrs_status resolve_options(pgqrs_connect_options *o, const pgqrs_connect_options *in)
{
    if (in) {
        pgqrs_status st = pgqrs__check_version(NULL, "connect options", in->version, PGQRS_CONNECT_OPTIONS_VERSION);
        if (st != PGQRS_OK)
            return st;
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
    if (o->schema && !pgqrs__is_identifier(o->schema))
        return pgqrs__fail(NULL, PGQRS_EINVAL, "connect options: schema must be an identifier");
    return PGQRS_OK;
}

static void store_destroy(pgqrs_store *s)
{
    for (int i = 0; s->conns && i < s->n_conns; i++)
        pgqrs__conn_close(s->conns[i]);
    pgqrs__free(s->conns);
    pgqrs__free(s->busy);
    pgqrs__free(s->workers);
    if (s->free_wf_defs)
        s->free_wf_defs(s);
    pgqrs__free((char *)s->open_opts.schema);
    pgqrs__dsn_clear(&s->dsn);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->hb_cv);
    pgqrs__logger_destroy(&s->logger);
    s->h.magic = PGQRS__MAGIC_FREED;
    pgqrs__free(s);
}

static pgqrs_status open_conn(pgqrs_store *s, void *owner, pgqrs_conn **out)
{
    char err[PGQRS__ERR_LEN], red[PGQRS__ERR_LEN];
    pgqrs__conn_env env = { &s->clock, &s->logger };
    pgqrs_status st = s->drv->open(out, &s->dsn, &s->open_opts, &env, err, sizeof err);
    if (st != PGQRS_OK) {
        /* libpq's messages name host and user, never the password; redact anyway
         * in case a server echoes a conninfo string */
        pgqrs__redact_text(err, red, sizeof red);
        return pgqrs__fail(owner, st, "%s", red);
    }
    (*out)->owner = owner;
    return PGQRS_OK;
}

pgqrs_status pgqrs__store_open_conn(pgqrs_store *s, void *owner, pgqrs_conn **out)
{
    *out = NULL;
    return open_conn(s, owner, out);
}

PGQRS_EXTERN pgqrs_status pgqrs_connect(pgqrs_store **out, const char *dsn, const pgqrs_connect_options *opts)
{
    char err[PGQRS__ERR_LEN];
    pgqrs_store *s;
    pgqrs_conn *first = NULL;
    pgqrs_status st;
    int limit;
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
    pgqrs__logger_init(&s->logger);
    s->h.magic = PGQRS__MAGIC_STORE;
    s->h.errs = &s->errs;
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
    s->drv = s->dsn.driver;
    if (!s->drv) {
        store_destroy(s);
        return pgqrs__fail(NULL, PGQRS_ENOTSUPPORTED, "this libpgqrs was built without %s (make %s)",
                           s->dsn.backend, s->dsn.build_flag);
    }
    s->open_opts.busy_timeout_ms = s->opts.busy_timeout_ms;
    s->open_opts.connect_timeout_s = s->opts.connect_timeout_s;
    s->open_opts.relaxed_durability = s->opts.relaxed_durability != 0;
    s->open_opts.schema = s->opts.schema;
    st = s->drv->check(&s->dsn, &s->open_opts, err, sizeof err);
    s->open_opts.schema = NULL;
    if (st != PGQRS_OK) {
        store_destroy(s);
        return pgqrs__fail(NULL, st, "%s", err);
    }
    /* the caller's strings need not outlive this call */
    s->opts.schema = NULL;
    if (opts && opts->schema && !(s->open_opts.schema = pgqrs__strdup(opts->schema))) {
        store_destroy(s);
        return pgqrs__fail(NULL, PGQRS_ENOMEM, "out of memory");
    }
    limit = s->drv->pool_limit(&s->dsn);
    if (limit > 0 && s->opts.pool_size > limit)
        s->opts.pool_size = limit;
    s->conns = pgqrs__calloc((size_t)s->opts.pool_size, sizeof *s->conns);
    s->busy = pgqrs__calloc((size_t)s->opts.pool_size, sizeof *s->busy);
    if (!s->conns || !s->busy) {
        store_destroy(s);
        return pgqrs__fail(NULL, PGQRS_ENOMEM, "out of memory");
    }
    /* connect once now, so a bad DSN or an unreachable server fails here */
    st = open_conn(s, NULL, &first);
    if (st != PGQRS_OK) {
        store_destroy(s);
        return st;   /* the message is already in the thread's buffer */
    }
    first->owner = NULL;
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

PGQRS_EXTERN const char *pgqrs_store_backend(const pgqrs_store *s)
{
    if (!s || s->h.magic != PGQRS__MAGIC_STORE)
        return "invalid";
    return s->drv->name;
}

void pgqrs__store_caps(const pgqrs_store *s, pgqrs_capabilities *out)
{
    memset(out, 0, sizeof *out);   /* a field a driver does not set is 0 */
    out->version = PGQRS_CAPABILITIES_VERSION;
    s->drv->capabilities(&s->dsn, out);
}

PGQRS_EXTERN pgqrs_status pgqrs_store_capabilities(pgqrs_capabilities *out, const pgqrs_store *s)
{
    pgqrs_status st = pgqrs__check_handle(s, PGQRS__MAGIC_STORE, "store");
    if (st != PGQRS_OK)
        return st;
    if (!out)
        return pgqrs__fail((void *)s, PGQRS_EMISUSE, "out is NULL");
    if (out->version != 1 &&
        (st = pgqrs__check_version((void *)s, "capabilities", out->version, PGQRS_CAPABILITIES_VERSION)) != PGQRS_OK)
        return st;
    if (out->version == 1) {   /* a version-1 struct ends before app_transactions */
        pgqrs_capabilities all;
        memset(&all, 0, sizeof all);
        pgqrs__store_caps(s, &all);
        memcpy(out, &all, offsetof(pgqrs_capabilities, app_transactions));
        out->version = 1;
        return PGQRS_OK;
    }
    pgqrs__store_caps(s, out);
    return PGQRS_OK;
}

PGQRS_EXTERN void pgqrs_store_set_time(pgqrs_store *s, int64_t now_us)
{
    if (s && s->h.magic == PGQRS__MAGIC_STORE)
        atomic_store(&s->clock.override_us, now_us);
}

int64_t pgqrs__store_clock(pgqrs_store *s) { return pgqrs__clock_now(&s->clock); }

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

static void free_slot(pgqrs_store *s, int slot)
{
    pthread_mutex_lock(&s->mu);
    s->busy[slot] = false;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

pgqrs_status pgqrs__store_acquire(pgqrs_store *s, void *owner, pgqrs_conn **out)
{
    struct timespec deadline;
    int slot = -1;
    pgqrs_status st = PGQRS_OK;
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
            return pgqrs__fail(owner, PGQRS_ETIMEOUT, "no free connection in the pool after %d ms (pool_size %d)",
                               s->opts.pool_wait_ms, s->opts.pool_size);
        }
    }
    s->busy[slot] = true;
    pthread_mutex_unlock(&s->mu);
    if (!s->conns[slot]) {
        st = open_conn(s, owner, &s->conns[slot]);
    } else {
        s->conns[slot]->owner = owner;
        if (s->drv->ensure)
            st = s->drv->ensure(s->conns[slot]);
    }
    if (st != PGQRS_OK) {
        if (s->conns[slot])
            s->conns[slot]->owner = NULL;
        free_slot(s, slot);
        return st;
    }
    *out = s->conns[slot];
    return PGQRS_OK;
}

void pgqrs__store_release(pgqrs_store *s, pgqrs_conn *c)
{
    if (!c)
        return;
    c->owner = NULL;
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
            /* no handle owns this: a failure is logged, and retried at the next
             * interval (the zombie threshold spans several) */
            if (pgqrs__store_acquire(s, NULL, &c) == PGQRS_OK) {
                int64_t affected = 0;
                /* c is set whenever acquire returns PGQRS_OK; the analyzer, not seeing that
                 * pgqrs__fail returns its status argument, assumes its timeout path may be OK */
                /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
                if (c->q->worker_heartbeat(&affected, c, ids, n) != PGQRS_OK)
                    pgqrs__log(s, PGQRS_LOG_WARN, "worker.heartbeat", "background heartbeat of %zu worker(s) failed: %s",
                               n, c->msg);
                pgqrs__store_release(s, c);
            } else {
                pgqrs__log(s, PGQRS_LOG_WARN, "worker.heartbeat", "background heartbeat: %s", pgqrs_errmsg(NULL));
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

pgqrs_status pgqrs__queue_lookup(pgqrs_conn *c, const char *name, pgqrs_queue_row *out)
{
    pgqrs_status st = pgqrs__check_name(c->owner, "queue", name);
    if (st != PGQRS_OK)
        return st;
    st = c->q->queue_get_by_name(out, c, name);
    if (st == PGQRS_ENOTFOUND)
        return pgqrs__fail(c->owner, st, "queue '%.128s' does not exist", name);
    return st;
}

pgqrs_status pgqrs__worker_register(pgqrs_store *s, pgqrs_conn *c, const int64_t *queue_id,
                                    pgqrs_db_worker_kind kind, int64_t *id_out)
{
    char host[256] = "unknown";
    pgqrs_worker_row w = { 0 };
    pgqrs_worker_register_params p = { queue_id != NULL, queue_id ? *queue_id : 0, host, (int32_t)getpid(), kind };
    pgqrs_status st;
    if (gethostname(host, sizeof host - 1) != 0)
        strcpy(host, "unknown");
    host[sizeof host - 1] = '\0';
    st = c->q->worker_register(&w, c, &p);
    if (st != PGQRS_OK)
        return st;
    *id_out = w.id;
    pgqrs__log(s, PGQRS_LOG_INFO, "worker.register", "worker %lld registered: %s on %s pid %d",
               (long long)w.id, pgqrs__worker_kind_str(kind), host, (int)p.pid);
    pgqrs__worker_row_clear(&w);
    return pgqrs__store_track_worker(s, *id_out);
}
