/* log.c: the log callback, the PGQRS_LOG stderr logger, and counters. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "queue/store.h"

static const char *level_name(int level)
{
    return level >= PGQRS_LOG_ERROR ? "error" : level >= PGQRS_LOG_WARN ? "warn"
         : level >= PGQRS_LOG_INFO ? "info" : "debug";
}

static void stderr_log(int level, const char *event, const char *message, void *user)
{
    (void)user;
    fprintf(stderr, "pgqrs[%d] %s %s: %s\n", (int)getpid(), level_name(level), event, message);
}

void pgqrs__log_init(pgqrs_store *s)
{
    const char *env = getenv("PGQRS_LOG");
    int min = PGQRS_LOG_OFF;
    if (env && *env) {
        min = strcasecmp(env, "debug") == 0 ? PGQRS_LOG_DEBUG : strcasecmp(env, "info") == 0 ? PGQRS_LOG_INFO
            : strcasecmp(env, "warn") == 0 ? PGQRS_LOG_WARN : strcasecmp(env, "error") == 0 ? PGQRS_LOG_ERROR
            : PGQRS_LOG_INFO;
        s->log_fn = stderr_log;
    }
    atomic_store(&s->log_min, min);
}

PGQRS_EXTERN void pgqrs_set_log_callback(pgqrs_store *s, pgqrs_log_fn fn, void *user, int min_level)
{
    if (!s || s->h.magic != PGQRS__MAGIC_STORE)
        return;
    pthread_mutex_lock(&s->mu);
    s->log_fn = fn;
    s->log_user = user;
    atomic_store(&s->log_min, fn ? min_level : PGQRS_LOG_OFF);
    pthread_mutex_unlock(&s->mu);
}

void pgqrs__log(pgqrs_store *s, int level, const char *event, const char *fmt, ...)
{
    char msg[PGQRS__MSG_LEN];
    va_list ap;
    pgqrs_log_fn fn;
    void *user;
    if (!s || level < atomic_load(&s->log_min))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&s->mu);
    fn = s->log_fn;
    user = s->log_user;
    pthread_mutex_unlock(&s->mu);
    if (fn)
        fn(level, event, msg, user);
}

void pgqrs__count_error(struct pgqrs_store *s, pgqrs_status st)
{
    if (s && st < 0 && -st < 16)
        atomic_fetch_add(&s->n_errors[-st], 1);
}

PGQRS_EXTERN pgqrs_status pgqrs_store_counters(const pgqrs_store *s, pgqrs_counters *out)
{
    pgqrs_status st = pgqrs__check_handle(s, PGQRS__MAGIC_STORE, "store");
    pgqrs_store *m = (pgqrs_store *)s;   /* atomics are read, not changed */
    if (st != PGQRS_OK)
        return st;
    if (!out)
        return pgqrs__fail(m, PGQRS_EMISUSE, "out is NULL");
    if (out->version != PGQRS_COUNTERS_VERSION)
        return pgqrs__fail(m, PGQRS_EINVAL, "counters: version %u is not %d", out->version, PGQRS_COUNTERS_VERSION);
    out->enqueued = atomic_load(&m->n_enqueued);
    out->dequeued = atomic_load(&m->n_dequeued);
    out->archived = atomic_load(&m->n_archived);
    out->deleted = atomic_load(&m->n_deleted);
    out->released = atomic_load(&m->n_released);
    out->replayed = atomic_load(&m->n_replayed);
    out->retried = atomic_load(&m->n_retried);
    for (int i = 0; i < 16; i++)
        out->errors[i] = atomic_load(&m->n_errors[i]);
    out->dead_lettered = atomic_load(&m->n_dead_lettered);
    return PGQRS_OK;
}
