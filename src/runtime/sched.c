/* sched.c: the scheduler a runtime runs while it runs (schedules and retention,
 * src/schedule/): pgqrs_scheduler_run on a thread of its own, stopped when the
 * runtime's shutdown starts. The scheduler shares nothing with the claiming
 * loop but the store. */
#include "runtime/sched.h"

#include "base/handle.h"
#include "schedule/schedule.h"

pgqrs_status pgqrs__rt_sched_new(pgqrs__rt_sched *rs, pgqrs_store *s, const pgqrs_runtime_options *opts)
{
    pgqrs_scheduler_options so = opts->scheduler;
    rs->sch = NULL;
    rs->started = false;
    if (opts->no_scheduler)
        return PGQRS_OK;
    so.version = PGQRS_SCHEDULER_OPTIONS_VERSION;
    return pgqrs_scheduler_new(&rs->sch, s, &so);
}

static void *sched_main(void *arg)
{
    pgqrs_scheduler_run(arg);   /* returns PGQRS_OK once stopped; failures are logged and retried */
    return NULL;
}

pgqrs_status pgqrs__rt_sched_start(pgqrs__rt_sched *rs, void *handle)
{
    if (!rs->sch)
        return PGQRS_OK;
    if (pthread_create(&rs->thread, NULL, sched_main, rs->sch) != 0)
        return pgqrs__fail(handle, PGQRS_ERROR, "cannot start the scheduler thread");
    rs->started = true;
    return PGQRS_OK;
}

bool pgqrs__rt_sched_ready(const pgqrs__rt_sched *rs)
{
    return !rs->sch || atomic_load(&rs->sch->rounds_ended) > 0;
}

void pgqrs__rt_sched_stop(pgqrs__rt_sched *rs)
{
    if (rs->sch)
        pgqrs_scheduler_stop(rs->sch);
}

void pgqrs__rt_sched_join(pgqrs__rt_sched *rs)
{
    if (!rs->started)
        return;
    pgqrs_scheduler_stop(rs->sch);
    pthread_join(rs->thread, NULL);
    rs->started = false;
}

void pgqrs__rt_sched_free(pgqrs__rt_sched *rs)
{
    pgqrs_scheduler_free(rs->sch);
    rs->sch = NULL;
}
