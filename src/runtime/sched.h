/* sched.h: the runtime's scheduler thread (runtime.c owns one). */
#ifndef PGQRS_RUNTIME_SCHED_H
#define PGQRS_RUNTIME_SCHED_H

#include <pthread.h>
#include <stdbool.h>

#include "pgqrs.h"

typedef struct pgqrs__rt_sched {
    pgqrs_scheduler *sch;        /* NULL: no_scheduler */
    pthread_t thread;
    bool started;
} pgqrs__rt_sched;

/* Makes the scheduler opts asks for (none with no_scheduler); a failure (bad
 * scheduler options) is recorded on the store. */
pgqrs_status pgqrs__rt_sched_new(pgqrs__rt_sched *rs, pgqrs_store *s, const pgqrs_runtime_options *opts);
/* Starts pgqrs_scheduler_run on a thread; a failure is recorded on handle. */
pgqrs_status pgqrs__rt_sched_start(pgqrs__rt_sched *rs, void *handle);
/* True when there is no scheduler or its first round has ended (until_empty
 * waits for that: what was due when the runtime started is fired first). */
bool pgqrs__rt_sched_ready(const pgqrs__rt_sched *rs);
/* Asks it to stop (async-signal-safe) / waits for it to return. */
void pgqrs__rt_sched_stop(pgqrs__rt_sched *rs);
void pgqrs__rt_sched_join(pgqrs__rt_sched *rs);
/* After join; also when it never started. */
void pgqrs__rt_sched_free(pgqrs__rt_sched *rs);

#endif
