/* log.h: where a store's log events go (a callback, or stderr under PGQRS_LOG).
 * Drivers log through the same logger their connection was opened with. */
#ifndef PGQRS_LOG_H
#define PGQRS_LOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "pgqrs.h"

typedef struct pgqrs__logger {
    pthread_mutex_t mu;          /* guards fn and user */
    pgqrs_log_fn fn;
    void *user;
    _Atomic int min;             /* events below this level are dropped cheaply */
} pgqrs__logger;

/* Silent, or stderr when the environment has PGQRS_LOG=debug|info|warn|error. */
void pgqrs__logger_init(pgqrs__logger *l);
void pgqrs__logger_destroy(pgqrs__logger *l);
void pgqrs__logger_set(pgqrs__logger *l, pgqrs_log_fn fn, void *user, int min_level);
bool pgqrs__log_enabled(pgqrs__logger *l, int level);
/* Formats one line and hands it to the callback; NULL logger: no-op. */
void pgqrs__logf(pgqrs__logger *l, int level, const char *event, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
