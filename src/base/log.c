/* log.c: the log sink: a callback, or the PGQRS_LOG stderr logger. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "base/handle.h"

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

void pgqrs__logger_init(pgqrs__logger *l)
{
    const char *env = getenv("PGQRS_LOG");
    int min = PGQRS_LOG_OFF;
    pthread_mutex_init(&l->mu, NULL);
    l->fn = NULL;
    l->user = NULL;
    if (env && *env) {
        min = strcasecmp(env, "debug") == 0 ? PGQRS_LOG_DEBUG : strcasecmp(env, "info") == 0 ? PGQRS_LOG_INFO
            : strcasecmp(env, "warn") == 0 ? PGQRS_LOG_WARN : strcasecmp(env, "error") == 0 ? PGQRS_LOG_ERROR
            : PGQRS_LOG_INFO;
        l->fn = stderr_log;
    }
    atomic_store(&l->min, min);
}

void pgqrs__logger_destroy(pgqrs__logger *l) { pthread_mutex_destroy(&l->mu); }

void pgqrs__logger_set(pgqrs__logger *l, pgqrs_log_fn fn, void *user, int min_level)
{
    pthread_mutex_lock(&l->mu);
    l->fn = fn;
    l->user = user;
    atomic_store(&l->min, fn ? min_level : PGQRS_LOG_OFF);
    pthread_mutex_unlock(&l->mu);
}

bool pgqrs__log_enabled(pgqrs__logger *l, int level) { return l && level >= atomic_load(&l->min); }

void pgqrs__logf(pgqrs__logger *l, int level, const char *event, const char *fmt, ...)
{
    char msg[PGQRS__MSG_LEN];
    va_list ap;
    pgqrs_log_fn fn;
    void *user;
    if (!pgqrs__log_enabled(l, level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&l->mu);
    fn = l->fn;
    user = l->user;
    pthread_mutex_unlock(&l->mu);
    if (fn)
        fn(level, event, msg, user);
}
