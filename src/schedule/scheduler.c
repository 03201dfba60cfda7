/* scheduler.c: the object that fires due ticks (one round, or a loop) and runs
 * retention every so often. Every tick is one schedule_fire statement whose
 * guard (next_at still at the tick the scheduler read) and the tick's primary
 * key make the database the judge of which scheduler fires it. */
#include <string.h>

#include "base/alloc.h"
#include "schedule/schedule.h"

#define SEC INT64_C(1000000)
/* 9999-12-31: the next tick of an expression that fires no more within ten years */
#define NEVER_US (INT64_C(253402300799) * SEC)

enum { DEFAULT_SCHEDULES = 100, DEFAULT_TICKS = 100, DEFAULT_POLL_MS = 1000, DEFAULT_RETENTION_S = 60 };

PGQRS_EXTERN pgqrs_status pgqrs_scheduler_options_init(pgqrs_scheduler_options *o, unsigned int version)
{
    return pgqrs__struct_init(o, sizeof *o, version, PGQRS_SCHEDULER_OPTIONS_VERSION, "scheduler options");
}

PGQRS_EXTERN pgqrs_status pgqrs_scheduler_stats_init(pgqrs_scheduler_stats *st, unsigned int version)
{
    return pgqrs__struct_init(st, sizeof *st, version, PGQRS_SCHEDULER_STATS_VERSION, "scheduler stats");
}

PGQRS_EXTERN pgqrs_status pgqrs_scheduler_new(pgqrs_scheduler **out, pgqrs_store *s, const pgqrs_scheduler_options *opts)
{
    pgqrs_status st;
    pgqrs_scheduler *sch;
    pgqrs_scheduler_options o;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    memset(&o, 0, sizeof o);
    if (opts) {
        if ((st = pgqrs__check_version(s, "scheduler options", opts->version, PGQRS_SCHEDULER_OPTIONS_VERSION)) !=
            PGQRS_OK)
            return st;
        o = *opts;
    }
    o.version = PGQRS_SCHEDULER_OPTIONS_VERSION;
    if (o.max_schedules < 0 || o.max_schedules > 100000 || o.max_ticks < 0 || o.max_ticks > 100000 ||
        o.poll_interval_ms < 0 || o.poll_interval_ms > 3600000 || o.retention_interval_s < -1 ||
        o.retention.batch_size < 0 || o.retention.batch_size > 100000 || o.retention.max_rows < 0 ||
        o.retention.tick_max_age_s < -1)
        return pgqrs__fail(s, PGQRS_EINVAL, "scheduler options out of range (max_schedules and max_ticks 0..100000, "
                           "poll_interval_ms 0..3600000, retention_interval_s >= -1, retention fields as documented)");
    o.max_schedules = o.max_schedules ? o.max_schedules : DEFAULT_SCHEDULES;
    o.max_ticks = o.max_ticks ? o.max_ticks : DEFAULT_TICKS;
    o.poll_interval_ms = o.poll_interval_ms ? o.poll_interval_ms : DEFAULT_POLL_MS;
    o.retention_interval_s = o.retention_interval_s ? o.retention_interval_s : DEFAULT_RETENTION_S;
    o.retention.version = PGQRS_RETENTION_OPTIONS_VERSION;
    sch = pgqrs__calloc(1, sizeof *sch);
    if (!sch)
        return pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    sch->h.magic = PGQRS__MAGIC_SCHEDULER;
    sch->h.errs = &s->errs;
    sch->store = s;
    sch->opts = o;
    sch->rng = pgqrs__rng_seed(sch);
    *out = sch;
    return PGQRS_OK;
}

PGQRS_EXTERN void pgqrs_scheduler_free(pgqrs_scheduler *sch)
{
    if (!sch || sch->h.magic != PGQRS__MAGIC_SCHEDULER)
        return;
    sch->h.magic = PGQRS__MAGIC_FREED;
    pgqrs__free(sch);
}

PGQRS_EXTERN void pgqrs_scheduler_stop(pgqrs_scheduler *sch)
{
    if (sch && sch->h.magic == PGQRS__MAGIC_SCHEDULER)
        atomic_store(&sch->stop, 1);
}

PGQRS_EXTERN pgqrs_status pgqrs_scheduler_stats_get(pgqrs_scheduler_stats *out, const pgqrs_scheduler *sch)
{
    pgqrs_status st = pgqrs__check_handle(sch, PGQRS__MAGIC_SCHEDULER, "scheduler");
    pgqrs_scheduler *m = (pgqrs_scheduler *)sch;   /* atomics are read, not changed */
    if (st != PGQRS_OK)
        return st;
    if (!out)
        return pgqrs__fail(m, PGQRS_EMISUSE, "out is NULL");
    if ((st = pgqrs__check_version(m, "scheduler stats", out->version, PGQRS_SCHEDULER_STATS_VERSION)) != PGQRS_OK)
        return st;
    out->rounds = atomic_load(&m->rounds);
    out->fired = atomic_load(&m->fired);
    out->skipped_overlap = atomic_load(&m->skipped_overlap);
    out->missed = atomic_load(&m->missed);
    out->lost = atomic_load(&m->lost);
    out->errors = atomic_load(&m->errors);
    out->retention_runs = atomic_load(&m->retention_runs);
    out->purged = atomic_load(&m->purged);
    return PGQRS_OK;
}

static int64_t next_or_never(const pgqrs__cron *cron, const pgqrs__tz *z, int64_t after)
{
    int64_t t;
    return pgqrs__cron_next(cron, z, after, &t) ? t : NEVER_US;
}

/* Fires tick at of r (guarded by expected), moving next_at to next. *done: stop
 * with this schedule (another scheduler moved it, or it was paused or deleted). */
static pgqrs_status fire(pgqrs_scheduler *sch, pgqrs_conn *c, const pgqrs_schedule_row *r, int64_t expected,
                         int64_t at, int64_t next, bool *done)
{
    pgqrs_store *s = sch->store;
    pgqrs_schedule_fire_row out = { 0, false, 0, false, 0 };
    pgqrs_schedule_fire_params p = { r->id, expected, at, next };
    pgqrs_status st = c->q->schedule_fire(&out, c, &p);
    *done = false;
    if (st == PGQRS_ENOTFOUND || st == PGQRS_EEXISTS) {
        /* no row: next_at had moved on (another scheduler's round, a pause);
         * EEXISTS: the tick's row was there (the key's second line of defence) */
        atomic_fetch_add(&sch->lost, 1);   /* counted, not logged: it is how schedulers share the work */
        *done = true;
        return PGQRS_OK;
    }
    if (st != PGQRS_OK)
        return st;
    if (out.outcome == PGQRS_DB_TICK_OUTCOME_FIRED) {
        atomic_fetch_add(&sch->fired, 1);
        pgqrs__log(s, PGQRS_LOG_DEBUG, "schedule.fire", "schedule '%.128s': tick %lld fired: message %lld%s%lld",
                   r->name, (long long)at, (long long)out.message_id, out.has_run_id ? ", run " : "",
                   (long long)(out.has_run_id ? out.run_id : 0));
    } else {
        atomic_fetch_add(&sch->skipped_overlap, 1);
        pgqrs__log(s, PGQRS_LOG_INFO, "schedule.skip",
                   "schedule '%.128s': tick %lld skipped: the previous tick's job is still pending or running",
                   r->name, (long long)at);
    }
    return PGQRS_OK;
}

static pgqrs_status run_schedule(pgqrs_scheduler *sch, pgqrs_conn *c, const pgqrs_schedule_row *r, int64_t now,
                                 bool *behind)
{
    pgqrs_store *s = sch->store;
    pgqrs__cron cron;
    const pgqrs__tz *z = NULL;
    pgqrs_status st = pgqrs__schedule_load(sch, r->cron, r->timezone, &cron, &z);
    int64_t t = r->next_at_us, grace = r->misfire_grace_s * SEC;
    bool done = false;
    if (st != PGQRS_OK) {
        pgqrs__log(s, PGQRS_LOG_WARN, "schedule.error", "schedule '%.128s' skipped: %s", r->name, pgqrs_errmsg(sch));
        return PGQRS_OK;
    }
    if (t < now - grace) {   /* downtime: the ticks before now - grace are misfires */
        if (r->misfire == PGQRS_DB_SCHEDULE_MISFIRE_LATEST) {
            int64_t latest;
            if (!pgqrs__cron_prev(&cron, z, now, &latest) || latest < t)
                latest = t;
            atomic_fetch_add(&sch->missed, 1);
            pgqrs__log(s, PGQRS_LOG_WARN, "schedule.misfire",
                       "schedule '%.128s': ticks from %lld missed by more than %lld s; firing the latest (%lld) once",
                       r->name, (long long)t, (long long)r->misfire_grace_s, (long long)latest);
            return fire(sch, c, r, t, latest, next_or_never(&cron, z, latest), &done);
        }
        int64_t resume = next_or_never(&cron, z, now - grace - 1);
        int64_t n = 0;
        pgqrs_schedule_advance_params p = { r->id, t, resume };
        if ((st = c->q->schedule_advance(&n, c, &p)) != PGQRS_OK)
            return st;
        if (n == 0) {
            atomic_fetch_add(&sch->lost, 1);
            return PGQRS_OK;
        }
        atomic_fetch_add(&sch->missed, 1);
        pgqrs__log(s, PGQRS_LOG_WARN, "schedule.misfire",
                   "schedule '%.128s': ticks from %lld to before %lld missed by more than %lld s; skipped", r->name,
                   (long long)t, (long long)resume, (long long)r->misfire_grace_s);
        t = resume;
    }
    for (int k = 0; k < sch->opts.max_ticks && !done; k++) {
        int64_t next;
        if (t > now)
            return PGQRS_OK;
        next = next_or_never(&cron, z, t);
        if ((st = fire(sch, c, r, t, t, next, &done)) != PGQRS_OK)
            return st;
        t = next;
    }
    if (!done && t <= now)
        *behind = true;
    return PGQRS_OK;
}

static pgqrs_status round_once(pgqrs_scheduler *sch, int64_t now_us, int64_t *now_out, int64_t *next_out)
{
    pgqrs_store *s = sch->store;
    pgqrs_status st;
    PGQRS__WITH_CONN(s, sch, {
        pgqrs_schedule_row *rows = NULL;
        pgqrs_schedule_next_due_row nd = { false, 0 };
        size_t n = 0;
        bool behind = false;
        int64_t now = now_us;
        st = now ? PGQRS_OK : pgqrs__schedule_now(c, &now);
        if (st == PGQRS_OK) {
            pgqrs_schedule_due_params p = { sch->opts.max_schedules, now };
            st = c->q->schedule_due(&rows, &n, c, &p);
        }
        for (size_t i = 0; st == PGQRS_OK && i < n; i++)
            st = run_schedule(sch, c, &rows[i], now, &behind);
        if (st == PGQRS_OK)
            st = c->q->schedule_next_due(&nd, c);
        *now_out = now;
        *next_out = st != PGQRS_OK || !nd.has_next_at ? 0 : behind && nd.next_at_us > now ? now : nd.next_at_us;
        pgqrs__schedule_rows_free(rows, n);
    });
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_scheduler_run_once(int64_t *next_due_us_out, pgqrs_scheduler *sch, int64_t now_us)
{
    pgqrs_status st = pgqrs__check_handle(sch, PGQRS__MAGIC_SCHEDULER, "scheduler");
    int64_t now = 0, next = 0;
    if (next_due_us_out)
        *next_due_us_out = 0;
    if (st != PGQRS_OK)
        return st;
    if (now_us < 0)
        return pgqrs__fail(sch, PGQRS_EINVAL, "now_us must be >= 0, got %lld", (long long)now_us);
    atomic_fetch_add(&sch->rounds, 1);
    st = round_once(sch, now_us, &now, &next);
    if (st == PGQRS_OK && sch->opts.retention_interval_s > 0 &&
        (sch->last_retention_us == 0 || now - sch->last_retention_us >= sch->opts.retention_interval_s * SEC ||
         now < sch->last_retention_us)) {
        pgqrs_retention_report rep = PGQRS_RETENTION_REPORT_INIT;
        sch->last_retention_us = now;
        /* the store's call: a connection of its own, after the round gave its back */
        st = pgqrs__retention_run(&rep, sch->store, &sch->opts.retention, &sch->stop);
        atomic_fetch_add(&sch->retention_runs, 1);
        atomic_fetch_add(&sch->purged, rep.archived + rep.dead_letters + rep.runs + rep.ticks);
        if (st != PGQRS_OK)
            pgqrs__copy_err(sch, sch->store, st);
        else if (!rep.complete)
            sch->last_retention_us = 0;   /* cut short (max_rows): the next round goes on with it */
    }
    if (st != PGQRS_OK) {
        atomic_fetch_add(&sch->errors, 1);
        pgqrs__log(sch->store, PGQRS_LOG_WARN, "schedule.error", "scheduler round failed: %s", pgqrs_errmsg(sch));
    } else if (next_due_us_out)
        *next_due_us_out = next;
    atomic_fetch_add(&sch->rounds_ended, 1);
    return st;
}

/* Sleeps ms in slices, returning early when stopped. */
static void nap(pgqrs_scheduler *sch, int64_t ms)
{
    while (ms > 0 && !atomic_load(&sch->stop)) {
        int64_t slice = ms < 50 ? ms : 50;
        pgqrs__sleep_ms(slice);
        ms -= slice;
    }
}

PGQRS_EXTERN pgqrs_status pgqrs_scheduler_run(pgqrs_scheduler *sch)
{
    pgqrs_status st = pgqrs__check_handle(sch, PGQRS__MAGIC_SCHEDULER, "scheduler");
    int failures = 0;
    if (st != PGQRS_OK)
        return st;
    while (!atomic_load(&sch->stop)) {
        int64_t next = 0;
        st = pgqrs_scheduler_run_once(&next, sch, 0);
        if (st != PGQRS_OK) {
            /* the round logged schedule.error */
            nap(sch, pgqrs__backoff_ms(failures++, 100, 5000, &sch->rng));
            continue;
        }
        failures = 0;
        {
            /* next is on the round's clock (the database's); a skew with the local one
             * costs at most poll_interval_ms */
            int64_t wait = sch->opts.poll_interval_ms;
            int64_t now = pgqrs__clock_now(&sch->store->clock);
            if (next > 0 && (next - now) / 1000 < wait)
                wait = (next - now) / 1000 + 1;
            nap(sch, wait);
        }
    }
    return PGQRS_OK;
}
