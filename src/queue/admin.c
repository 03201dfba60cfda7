/* admin.c: schema install/verify, queue management, metrics and retention. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "base/alloc.h"
#include "pgqrs_public.h"
#include "queue/migrate.h"
#include "queue/store.h"

PGQRS_EXTERN pgqrs_status pgqrs_schema_install(pgqrs_store *s)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        st = pgqrs__migrate(c, NULL);
    });
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_schema_verify(pgqrs_store *s)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        st = pgqrs__verify_schema(c);
    });
    return st;
}

/* Version 1 of pgqrs_queue_options ended before the retry policy, version 2
 * before the limits. */
#define QUEUE_OPTIONS_V1_SIZE offsetof(pgqrs_queue_options, retry_initial_delay_ms)
#define QUEUE_OPTIONS_V2_SIZE offsetof(pgqrs_queue_options, concurrency_limit)

enum { DEFAULT_MAX_ATTEMPTS = 5, MAX_MAX_ATTEMPTS = 1000000 };
#define DEFAULT_RETRY_INITIAL_MS INT64_C(1000)
#define DEFAULT_RETRY_MULTIPLIER 2.0
#define DEFAULT_RETRY_MAX_MS INT64_C(300000)
#define DEFAULT_RETRY_JITTER 0.25
#define MAX_RETRY_MULTIPLIER 1000.0

PGQRS_EXTERN pgqrs_status pgqrs_queue_options_init(pgqrs_queue_options *opts, unsigned int version)
{
    if (version == 1)
        return pgqrs__struct_init(opts, QUEUE_OPTIONS_V1_SIZE, 1, 1, "queue options");
    if (version == 2)
        return pgqrs__struct_init(opts, QUEUE_OPTIONS_V2_SIZE, 2, 2, "queue options");
    return pgqrs__struct_init(opts, sizeof *opts, version, PGQRS_QUEUE_OPTIONS_VERSION, "queue options");
}

/* The policy fields of opts, or all zeros for version 1 (nothing past its end is read). */
static pgqrs_queue_options policy_of(const pgqrs_queue_options *opts)
{
    pgqrs_queue_options o;
    memset(&o, 0, sizeof o);
    if (opts) {
        memcpy(&o, opts, opts->version == 1   ? QUEUE_OPTIONS_V1_SIZE
                         : opts->version == 2 ? QUEUE_OPTIONS_V2_SIZE
                                              : sizeof o);
        o.version = PGQRS_QUEUE_OPTIONS_VERSION;
    }
    return o;
}

static pgqrs_status check_queue_options(pgqrs_store *s, const pgqrs_queue_options *opts)
{
    if (!opts)
        return PGQRS_OK;
    if (opts->version == 1 || opts->version == 2)
        return PGQRS_OK;
    return pgqrs__check_version(s, "queue options", opts->version, PGQRS_QUEUE_OPTIONS_VERSION);
}

/* The policy a queue ends up with: `base` (the queue's current one, or the
 * defaults) with every non-zero field of o applied, checked. */
static pgqrs_status resolve_policy(pgqrs_store *s, const pgqrs_queue_options *o, pgqrs_queue_row *base)
{
    if (o->max_attempts != 0)
        base->max_attempts = o->max_attempts;
    if (o->retry_initial_delay_ms != 0)
        base->retry_initial_delay_ms = o->retry_initial_delay_ms;
    if (o->retry_multiplier != 0)
        base->retry_multiplier = o->retry_multiplier;
    if (o->retry_max_delay_ms != 0)
        base->retry_max_delay_ms = o->retry_max_delay_ms;
    else if (base->retry_max_delay_ms < base->retry_initial_delay_ms)
        base->retry_max_delay_ms = base->retry_initial_delay_ms;   /* a cap not given follows the first delay up */
    if (o->retry_jitter != 0)
        base->retry_jitter = o->retry_jitter < 0 ? 0.0 : o->retry_jitter;
    if (base->max_attempts < 1 || base->max_attempts > MAX_MAX_ATTEMPTS)
        return pgqrs__fail(s, PGQRS_EINVAL, "max_attempts must be 1..%d, got %d", MAX_MAX_ATTEMPTS,
                           (int)base->max_attempts);
    if (base->retry_initial_delay_ms < 1 || base->retry_initial_delay_ms > PGQRS_MAX_RETRY_DELAY_MS)
        return pgqrs__fail(s, PGQRS_EINVAL, "retry_initial_delay_ms must be 1..%lld, got %lld",
                           (long long)PGQRS_MAX_RETRY_DELAY_MS, (long long)base->retry_initial_delay_ms);
    /* written so that NaN fails too */
    if (!(base->retry_multiplier >= 1.0 && base->retry_multiplier <= MAX_RETRY_MULTIPLIER))
        return pgqrs__fail(s, PGQRS_EINVAL, "retry_multiplier must be 1.0..%.1f, got %g", MAX_RETRY_MULTIPLIER,
                           base->retry_multiplier);
    if (base->retry_max_delay_ms < base->retry_initial_delay_ms || base->retry_max_delay_ms > PGQRS_MAX_RETRY_DELAY_MS)
        return pgqrs__fail(s, PGQRS_EINVAL, "retry_max_delay_ms must be retry_initial_delay_ms (%lld)..%lld, got %lld",
                           (long long)base->retry_initial_delay_ms, (long long)PGQRS_MAX_RETRY_DELAY_MS,
                           (long long)base->retry_max_delay_ms);
    if (!(base->retry_jitter >= 0.0 && base->retry_jitter <= 1.0))
        return pgqrs__fail(s, PGQRS_EINVAL, "retry_jitter must be 0.0..1.0 (< 0: none), got %g", base->retry_jitter);
    return PGQRS_OK;
}

/* The limits a queue ends up with: base's with o's applied (0 unchanged, -1
 * removed), checked; set_* say which of the two limits changed. A limit set on a
 * backend that cannot enforce it exactly (no transactions) is refused. */
static pgqrs_status resolve_limits(pgqrs_store *s, const pgqrs_queue_options *o, pgqrs_queue_row *base,
                                   bool *set_conc, bool *set_rate)
{
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    *set_conc = *set_rate = false;
    if (o->concurrency_limit < -1 || o->concurrency_limit > PGQRS_MAX_CONCURRENCY_LIMIT)
        return pgqrs__fail(s, PGQRS_EINVAL, "concurrency_limit must be 1..%d (0: unchanged, -1: none), got %d",
                           PGQRS_MAX_CONCURRENCY_LIMIT, o->concurrency_limit);
    if (o->rate_limit < -1 || o->rate_limit > PGQRS_MAX_RATE_LIMIT)
        return pgqrs__fail(s, PGQRS_EINVAL, "rate_limit must be 1..%d (0: unchanged, -1: none), got %d",
                           PGQRS_MAX_RATE_LIMIT, o->rate_limit);
    if (o->rate_period_ms < -1 || o->rate_period_ms > PGQRS_MAX_RATE_PERIOD_MS)
        return pgqrs__fail(s, PGQRS_EINVAL, "rate_period_ms must be 1..%lld (0: unchanged, -1: none), got %lld",
                           (long long)PGQRS_MAX_RATE_PERIOD_MS, (long long)o->rate_period_ms);
    if (o->concurrency_limit != 0) {
        *set_conc = true;
        base->has_concurrency_limit = o->concurrency_limit > 0;
        base->concurrency_limit = o->concurrency_limit > 0 ? o->concurrency_limit : 0;
    }
    if (o->rate_limit == -1 || o->rate_period_ms == -1) {
        if (o->rate_limit > 0 || o->rate_period_ms > 0)
            return pgqrs__fail(s, PGQRS_EINVAL, "rate_limit %d with rate_period_ms %lld: -1 removes the rate limit, "
                               "the other must then be 0 or -1", o->rate_limit, (long long)o->rate_period_ms);
        *set_rate = true;
        base->has_rate_limit = base->has_rate_period_ms = false;
        base->rate_limit = 0;
        base->rate_period_ms = 0;
    } else if (o->rate_limit > 0 || o->rate_period_ms > 0) {
        *set_rate = true;
        if (o->rate_limit > 0)
            base->has_rate_limit = true, base->rate_limit = o->rate_limit;
        if (o->rate_period_ms > 0)
            base->has_rate_period_ms = true, base->rate_period_ms = o->rate_period_ms;
        if (!base->has_rate_limit || !base->has_rate_period_ms)
            return pgqrs__fail(s, PGQRS_EINVAL, "a rate limit needs both rate_limit and rate_period_ms (got %d and %lld)",
                               o->rate_limit, (long long)o->rate_period_ms);
    }
    pgqrs__store_caps(s, &caps);
    if (!caps.transactions && ((*set_conc && base->has_concurrency_limit) || (*set_rate && base->has_rate_limit)))
        return pgqrs__fail(s, PGQRS_ENOTSUPPORTED, "per-queue limits need transactions, which the %s backend does not "
                           "have across calls: they could not be enforced exactly", pgqrs_store_backend(s));
    return PGQRS_OK;
}

static pgqrs_status info_out(pgqrs_store *s, pgqrs_queue_info **out, pgqrs_queue_row *row)
{
    if (!out)
        return PGQRS_OK;
    *out = pgqrs__queue_info_from_queue_row(row);
    return *out ? PGQRS_OK : pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
}

PGQRS_EXTERN pgqrs_status pgqrs_queue_create(pgqrs_queue_info **out, pgqrs_store *s, const char *name, const pgqrs_queue_options *opts)
{
    pgqrs_status st;
    pgqrs_queue_row row = { 0 };
    pgqrs_queue_row want = { 0 };
    pgqrs_queue_options o;
    bool set_conc, set_rate;
    if (out)
        *out = NULL;
    st = pgqrs__check_handle(s, PGQRS__MAGIC_STORE, "store");
    if (st != PGQRS_OK)
        return st;
    if ((st = check_queue_options(s, opts)) != PGQRS_OK)
        return st;
    o = policy_of(opts);
    want.max_attempts = DEFAULT_MAX_ATTEMPTS;
    want.retry_initial_delay_ms = DEFAULT_RETRY_INITIAL_MS;
    want.retry_multiplier = DEFAULT_RETRY_MULTIPLIER;
    want.retry_max_delay_ms = DEFAULT_RETRY_MAX_MS;
    want.retry_jitter = DEFAULT_RETRY_JITTER;
    if ((st = resolve_policy(s, &o, &want)) != PGQRS_OK)
        return st;
    if ((st = resolve_limits(s, &o, &want, &set_conc, &set_rate)) != PGQRS_OK)
        return st;
    st = pgqrs__check_name(s, "queue", name);
    if (st != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_create_params p = { name, want.max_attempts, want.retry_initial_delay_ms, want.retry_multiplier,
                                        want.retry_max_delay_ms, want.retry_jitter,
                                        want.has_concurrency_limit, want.concurrency_limit,
                                        want.has_rate_limit, want.rate_limit, want.has_rate_period_ms,
                                        want.rate_period_ms };
        st = c->q->queue_create(&row, c, &p);
        if (st == PGQRS_ENOTFOUND) {
            /* ON CONFLICT DO NOTHING gave no row: the name is taken */
            if (opts && opts->exist_ok)
                st = pgqrs__queue_lookup(c, name, &row);
            else
                st = pgqrs__fail(s, PGQRS_EEXISTS, "queue '%.128s' already exists", name);
        }
    });
    if (st == PGQRS_OK)
        st = info_out(s, out, &row);
    pgqrs__queue_row_clear(&row);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_queue_update(pgqrs_queue_info **out, pgqrs_store *s, const char *name,
                                             const pgqrs_queue_options *opts)
{
    pgqrs_status st;
    pgqrs_queue_row row = { 0 };
    pgqrs_queue_options o;
    bool set_conc = false, set_rate = false;
    if (out)
        *out = NULL;
    PGQRS__CHECK_STORE(s);
    if ((st = check_queue_options(s, opts)) != PGQRS_OK)
        return st;
    o = policy_of(opts);
    PGQRS__WITH_CONN(s, s, {
        st = pgqrs__queue_lookup(c, name, &row);
        if (st == PGQRS_OK)
            st = resolve_policy(s, &o, &row);   /* the result is checked; only what changes is written */
        if (st == PGQRS_OK)
            st = resolve_limits(s, &o, &row, &set_conc, &set_rate);
        if (st == PGQRS_OK) {
            pgqrs_queue_update_params p = { row.id,
                                            o.max_attempts != 0, row.max_attempts,
                                            o.retry_initial_delay_ms != 0, row.retry_initial_delay_ms,
                                            o.retry_multiplier != 0, row.retry_multiplier,
                                            o.retry_max_delay_ms != 0 || o.retry_initial_delay_ms != 0,
                                            row.retry_max_delay_ms,
                                            o.retry_jitter != 0, row.retry_jitter,
                                            set_conc, row.has_concurrency_limit, row.concurrency_limit,
                                            set_rate, row.has_rate_limit, row.rate_limit,
                                            row.has_rate_period_ms, row.rate_period_ms };
            pgqrs__queue_row_clear(&row);
            st = c->q->queue_update(&row, c, &p);
            if (st == PGQRS_ENOTFOUND)
                st = pgqrs__fail(s, st, "queue '%.128s' does not exist", name);
        }
    });
    if (st == PGQRS_OK) {
        pgqrs__log(s, PGQRS_LOG_INFO, "queue.update",
                   "queue '%.128s': max_attempts %d, retry %lld ms x %g up to %lld ms, jitter %g, "
                   "concurrency limit %d, rate limit %d per %lld ms (0: none)", name,
                   (int)row.max_attempts, (long long)row.retry_initial_delay_ms, row.retry_multiplier,
                   (long long)row.retry_max_delay_ms, row.retry_jitter,
                   row.has_concurrency_limit ? (int)row.concurrency_limit : 0,
                   row.has_rate_limit ? (int)row.rate_limit : 0,
                   row.has_rate_period_ms ? (long long)row.rate_period_ms : 0LL);
        st = info_out(s, out, &row);
    }
    pgqrs__queue_row_clear(&row);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_queue_get(pgqrs_queue_info **out, pgqrs_store *s, const char *name)
{
    pgqrs_status st;
    pgqrs_queue_row row = { 0 };
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, st = pgqrs__queue_lookup(c, name, &row));
    if (st == PGQRS_OK) {
        *out = pgqrs__queue_info_from_queue_row(&row);
        if (!*out)
            st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    }
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_queue_list(pgqrs_queues **out, pgqrs_store *s)
{
    pgqrs_status st;
    pgqrs_queue_row *rows = NULL;
    size_t n = 0;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        st = c->q->queue_list(&rows, &n, c);
    });
    if (st == PGQRS_OK && !(*out = pgqrs__queues_from_queue_rows(rows, n)))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_queue_delete(pgqrs_store *s, const char *name, int force)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        pgqrs_workflow_row *wfs = NULL;
        size_t nwf = 0;
        st = pgqrs__queue_lookup(c, name, &q);
        if (st == PGQRS_OK)
            st = c->q->workflow_list(&wfs, &nwf, c);
        for (size_t i = 0; st == PGQRS_OK && i < nwf; i++)
            if (wfs[i].queue_id == q.id)
                st = pgqrs__fail(s, PGQRS_ESTATE, "queue '%.128s' belongs to workflow '%.128s'; delete the workflow "
                                 "instead (pgqrs_workflow_delete, `pgqrs workflow delete %.128s`)", name, wfs[i].name,
                                 wfs[i].name);
        pgqrs__workflow_rows_free(wfs, nwf);
        if (st == PGQRS_OK) {
            pgqrs_schedule_row sc = { 0 };
            st = c->q->schedule_of_queue(&sc, c, q.id);
            if (st == PGQRS_OK)
                st = pgqrs__fail(s, PGQRS_ESTATE, "queue '%.128s' is the target of schedule '%.128s'; delete the "
                                 "schedule first", name, sc.name);
            else if (st == PGQRS_ENOTFOUND)
                st = PGQRS_OK;
            pgqrs__schedule_row_clear(&sc);
        }
        if (st == PGQRS_OK) {
            int64_t *deleted = NULL;
            size_t n = 0;
            pgqrs_queue_delete_params p = { q.id, force != 0 };
            st = c->q->queue_delete(&deleted, &n, c, &p);
            pgqrs__free(deleted);
            if (st == PGQRS_ENOTFOUND)   /* a foreign key still points here: a workflow's queue */
                st = pgqrs__fail(s, PGQRS_ESTATE, "queue '%.128s' is used by a workflow; delete the workflow instead "
                                 "(pgqrs_workflow_delete, `pgqrs workflow delete NAME`)", name);
            else if (st == PGQRS_EBUSY)
                st = pgqrs__fail(s, PGQRS_EBUSY, "queue '%.128s' was not deleted: transactions writing messages did not "
                                 "end within 5 s (an open application transaction?); try again", name);
            else if (st == PGQRS_OK && n == 0)
                st = pgqrs__fail(s, PGQRS_ESTATE, "queue '%.128s' still has live messages; purge it or force the delete",
                                 name);
        }
        pgqrs__queue_row_clear(&q);
    });
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_queue_purge(int64_t *purged_out, pgqrs_store *s, const char *name)
{
    pgqrs_status st;
    int64_t affected = 0;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        st = pgqrs__queue_lookup(c, name, &q);
        if (st == PGQRS_OK)
            st = c->q->message_purge(&affected, c, q.id);
        pgqrs__queue_row_clear(&q);
    });
    if (purged_out)
        *purged_out = st == PGQRS_OK ? affected : 0;
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_archive_purge(int64_t *purged_out, pgqrs_store *s, const char *name, int64_t older_than_s)
{
    pgqrs_status st;
    int64_t affected = 0;
    if (purged_out)
        *purged_out = 0;
    PGQRS__CHECK_STORE(s);
    if (older_than_s < 0)
        return pgqrs__fail(s, PGQRS_EINVAL, "older_than_s must be >= 0, got %lld", (long long)older_than_s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        pgqrs_archive_purge_params p = { false, 0, 0 };
        st = PGQRS_OK;
        if (name) {
            st = pgqrs__queue_lookup(c, name, &q);
            p.has_queue_id = true;
            p.queue_id = q.id;
        }
        p.before_us = pgqrs__store_clock(s) - older_than_s * 1000000;
        if (st == PGQRS_OK)
            st = c->q->archive_purge(&affected, c, &p);
        pgqrs__queue_row_clear(&q);
    });
    if (purged_out && st == PGQRS_OK)
        *purged_out = affected;
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_metrics_list(pgqrs_metrics **out, pgqrs_store *s, const char *name)
{
    pgqrs_status st;
    pgqrs_queue_metrics_row *rows = NULL;
    size_t n = 0;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        pgqrs_queue_metrics_params p = { false, 0 };
        st = PGQRS_OK;
        if (name) {
            st = pgqrs__queue_lookup(c, name, &q);
            p.has_queue_id = true;
            p.queue_id = q.id;
        }
        if (st == PGQRS_OK)
            st = c->q->queue_metrics(&rows, &n, c, &p);
        pgqrs__queue_row_clear(&q);
    });
    if (st == PGQRS_OK && !(*out = pgqrs__metrics_from_queue_metrics_rows(rows, n, pgqrs__store_clock(s))))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}
