/* retention.c: retention policies and the purge that applies them in bounded
 * batches. Every delete is one short statement of at most batch_size rows in its
 * own transaction; none touches pgqrs_messages, so a claim never waits for one
 * (on PostgreSQL none takes the SHARE lock on pgqrs_messages that deletions of
 * queues and workers take: nothing can name an archived message or a finished
 * run, so deleting one orphans nothing). */
#include <string.h>

#include "base/alloc.h"
#include "schedule/schedule.h"

enum { DEFAULT_BATCH = 1000, MAX_BATCH = 100000 };
#define DEFAULT_TICK_AGE_S (INT64_C(7) * 86400)
#define SEC INT64_C(1000000)

PGQRS_EXTERN pgqrs_status pgqrs_retention_policy_init(pgqrs_retention_policy *p, unsigned int version)
{
    return pgqrs__struct_init(p, sizeof *p, version, PGQRS_RETENTION_POLICY_VERSION, "retention policy");
}

PGQRS_EXTERN pgqrs_status pgqrs_retention_options_init(pgqrs_retention_options *o, unsigned int version)
{
    return pgqrs__struct_init(o, sizeof *o, version, PGQRS_RETENTION_OPTIONS_VERSION, "retention options");
}

PGQRS_EXTERN pgqrs_status pgqrs_retention_report_init(pgqrs_retention_report *r, unsigned int version)
{
    return pgqrs__struct_init(r, sizeof *r, version, PGQRS_RETENTION_REPORT_VERSION, "retention report");
}

/* A limit as it applies: a field not set takes the default's; -1 and 0 keep. */
static int64_t effective(int64_t own, int64_t dflt)
{
    int64_t v = own != 0 ? own : dflt;
    return v > 0 ? v : 0;
}

static void from_default(pgqrs_retention_policy *p, const pgqrs_retention_default_row *d)
{
    p->archive_max_age_s = d->archive_max_age_s;
    p->archive_max_rows = d->archive_max_rows;
    p->dlq_max_age_s = d->dlq_max_age_s;
    p->dlq_max_rows = d->dlq_max_rows;
    p->run_max_age_s = d->run_max_age_s;
}

static void from_queue(pgqrs_retention_policy *p, const pgqrs_retention_row *r)
{
    p->archive_max_age_s = r->archive_max_age_s;
    p->archive_max_rows = r->archive_max_rows;
    p->dlq_max_age_s = r->dlq_max_age_s;
    p->dlq_max_rows = r->dlq_max_rows;
    p->run_max_age_s = r->run_max_age_s;
}

static void resolve(pgqrs_retention_policy *p, const pgqrs_retention_policy *own, const pgqrs_retention_policy *d)
{
    p->archive_max_age_s = effective(own->archive_max_age_s, d->archive_max_age_s);
    p->archive_max_rows = effective(own->archive_max_rows, d->archive_max_rows);
    p->dlq_max_age_s = effective(own->dlq_max_age_s, d->dlq_max_age_s);
    p->dlq_max_rows = effective(own->dlq_max_rows, d->dlq_max_rows);
    p->run_max_age_s = effective(own->run_max_age_s, d->run_max_age_s);
}

/* The default policy (zeros when none was stored). */
static pgqrs_status load_default(pgqrs_conn *c, pgqrs_retention_policy *out)
{
    pgqrs_retention_default_row d = { 0 };
    pgqrs_status st = c->q->retention_default_get(&d, c);
    memset(out, 0, sizeof *out);
    out->version = PGQRS_RETENTION_POLICY_VERSION;
    if (st == PGQRS_OK)
        from_default(out, &d);
    return st == PGQRS_ENOTFOUND ? PGQRS_OK : st;
}

PGQRS_EXTERN pgqrs_status pgqrs_retention_set(pgqrs_store *s, const char *queue, const pgqrs_retention_policy *p)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    if (!p)
        return pgqrs__fail(s, PGQRS_EMISUSE, "policy is NULL");
    if ((st = pgqrs__check_version(s, "retention policy", p->version, PGQRS_RETENTION_POLICY_VERSION)) != PGQRS_OK)
        return st;
    {
        const struct { const char *name; int64_t v; } f[] = {
            { "archive_max_age_s", p->archive_max_age_s }, { "archive_max_rows", p->archive_max_rows },
            { "dlq_max_age_s", p->dlq_max_age_s }, { "dlq_max_rows", p->dlq_max_rows },
            { "run_max_age_s", p->run_max_age_s },
        };
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            if (f[i].v < -1 || f[i].v > INT64_MAX / SEC / 2)
                return pgqrs__fail(s, PGQRS_EINVAL, "retention policy: %s must be -1 (keep), 0 (not set) or a "
                                   "positive limit, got %lld", f[i].name, (long long)f[i].v);
    }
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        if (!queue) {
            pgqrs_retention_default_set_params d = { p->archive_max_age_s, p->archive_max_rows, p->dlq_max_age_s,
                                                     p->dlq_max_rows, p->run_max_age_s };
            st = c->q->retention_default_set(c, &d);
        } else if ((st = pgqrs__queue_lookup(c, queue, &q)) == PGQRS_OK) {
            pgqrs_retention_queue_set_params r = { q.id, p->archive_max_age_s, p->archive_max_rows, p->dlq_max_age_s,
                                                   p->dlq_max_rows, p->run_max_age_s };
            st = c->q->retention_queue_set(c, &r);
        }
        pgqrs__queue_row_clear(&q);
    });
    if (st == PGQRS_OK)
        pgqrs__log(s, PGQRS_LOG_INFO, "retention.set",
                   "retention of %s%.128s%s: archive %lld s / %lld rows, dead letters %lld s / %lld rows, runs %lld s",
                   queue ? "queue '" : "", queue ? queue : "every queue (default)", queue ? "'" : "",
                   (long long)p->archive_max_age_s, (long long)p->archive_max_rows, (long long)p->dlq_max_age_s,
                   (long long)p->dlq_max_rows, (long long)p->run_max_age_s);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_retention_get(pgqrs_retention_policy *out, pgqrs_store *s, const char *queue,
                                              int effective_)
{
    pgqrs_status st;
    unsigned int version;
    PGQRS__CHECK_STORE(s);
    if (!out)
        return pgqrs__fail(s, PGQRS_EMISUSE, "out is NULL");
    if ((st = pgqrs__check_version(s, "retention policy", out->version, PGQRS_RETENTION_POLICY_VERSION)) != PGQRS_OK)
        return st;
    version = out->version;
    PGQRS__WITH_CONN(s, s, {
        pgqrs_retention_policy d, own;
        pgqrs_queue_row q = { 0 };
        pgqrs_retention_row r = { 0 };
        memset(&own, 0, sizeof own);
        st = load_default(c, &d);
        if (st == PGQRS_OK && queue && (st = pgqrs__queue_lookup(c, queue, &q)) == PGQRS_OK) {
            st = c->q->retention_queue_get(&r, c, q.id);
            if (st == PGQRS_OK)
                from_queue(&own, &r);
            else if (st == PGQRS_ENOTFOUND)
                st = PGQRS_OK;
        }
        if (st == PGQRS_OK) {
            if (!queue)
                own = d;
            if (effective_) {
                pgqrs_retention_policy none;
                memset(&none, 0, sizeof none);
                resolve(out, &own, queue ? &d : &none);
            } else {
                *out = own;
            }
            out->version = version;
        }
        pgqrs__queue_row_clear(&q);
    });
    return st;
}

/* Runs one bounded delete statement (EXPR sets affected) until it deletes fewer
 * than a batch, the budget is spent or the caller asked to stop. */
#define BUDGET_LEFT()                                                                                   \
    ((max_rows == 0 || rep_->archived + rep_->dead_letters + rep_->runs + rep_->ticks < max_rows) &&  \
     !(stop && atomic_load(stop)))
#define PURGE_LOOP(counter, EXPR)                                   \
    do {                                                            \
        int64_t affected = batch;                                   \
        while (st == PGQRS_OK && affected >= batch) {               \
            if (!BUDGET_LEFT()) {                                   \
                rep_->complete = 0;                                 \
                break;                                              \
            }                                                       \
            affected = 0;                                           \
            st = (EXPR);                                            \
            rep_->statements++;                                     \
            (counter) += affected;                                  \
        }                                                           \
    } while (0)

/* The pass itself, on one connection; each statement commits on its own. */
static pgqrs_status purge(pgqrs_store *s, pgqrs_conn *c, pgqrs_retention_report *rep_, int batch, int64_t max_rows,
                          int64_t tick_age, const atomic_int *stop)
{
    pgqrs_retention_policy d;
    pgqrs_queue_row *queues = NULL;
    pgqrs_retention_row *pols = NULL;
    pgqrs_workflow_row *wfs = NULL;
    size_t nq = 0, np = 0, nw = 0;
    int64_t now_us = 0;
    pgqrs_status st = pgqrs__schedule_now(c, &now_us);
    if (st == PGQRS_OK)
        st = load_default(c, &d);
    if (st == PGQRS_OK)
        st = c->q->queue_list(&queues, &nq, c);
    if (st == PGQRS_OK)
        st = c->q->retention_queue_list(&pols, &np, c);
    if (st == PGQRS_OK)
        st = c->q->workflow_list(&wfs, &nw, c);
    for (size_t i = 0; st == PGQRS_OK && i < nq; i++) {
        pgqrs_retention_policy own, eff;
        int64_t before_a = rep_->archived, before_d = rep_->dead_letters;
        memset(&own, 0, sizeof own);
        for (size_t k = 0; k < np; k++)
            if (pols[k].queue_id == queues[i].id)
                from_queue(&own, &pols[k]);
        resolve(&eff, &own, &d);
        for (int kind = 0; kind < 2 && st == PGQRS_OK; kind++) {
            pgqrs_db_archive_reason reason = kind ? PGQRS_DB_ARCHIVE_REASON_DEAD_LETTER : PGQRS_DB_ARCHIVE_REASON_ARCHIVED;
            int64_t age = kind ? eff.dlq_max_age_s : eff.archive_max_age_s;
            int64_t rows = kind ? eff.dlq_max_rows : eff.archive_max_rows;
            int64_t *counter = kind ? &rep_->dead_letters : &rep_->archived;
            if (age > 0) {
                pgqrs_archive_purge_older_params p = { queues[i].id, reason, now_us - age * SEC, batch };
                PURGE_LOOP(*counter, c->q->archive_purge_older(&affected, c, &p));
            }
            if (rows > 0 && st == PGQRS_OK) {
                /* the cutoff once, then ranges from the oldest: each batch is an
                 * index range, not a scan past the rows kept */
                pgqrs_archive_keep_cutoff_row cut = { 0, 0 };
                pgqrs_archive_keep_cutoff_params kp = { queues[i].id, reason, rows };
                st = c->q->archive_keep_cutoff(&cut, c, &kp);
                if (st == PGQRS_ENOTFOUND) {
                    st = PGQRS_OK;
                } else if (st == PGQRS_OK) {
                    pgqrs_archive_purge_through_params p = { queues[i].id, reason, cut.archived_at_us, cut.id, batch };
                    PURGE_LOOP(*counter, c->q->archive_purge_through(&affected, c, &p));
                }
            }
        }
        if (rep_->archived > before_a || rep_->dead_letters > before_d)
            pgqrs__log(s, PGQRS_LOG_INFO, "retention.purge",
                       "queue '%.128s': deleted %lld archived message(s) and %lld dead letter(s)", queues[i].name,
                       (long long)(rep_->archived - before_a), (long long)(rep_->dead_letters - before_d));
    }
    for (size_t i = 0; st == PGQRS_OK && i < nw; i++) {
        pgqrs_retention_policy own, eff;
        int64_t before_r = rep_->runs;
        memset(&own, 0, sizeof own);
        for (size_t k = 0; k < np; k++)
            if (pols[k].queue_id == wfs[i].queue_id)
                from_queue(&own, &pols[k]);
        resolve(&eff, &own, &d);
        if (eff.run_max_age_s <= 0)
            continue;
        pgqrs_run_purge_candidates_params p = { wfs[i].id, now_us - eff.run_max_age_s * SEC, batch };
        for (;;) {
            int64_t *ids = NULL;
            size_t n = 0;
            int64_t affected = 0;
            if (!BUDGET_LEFT()) {
                rep_->complete = 0;
                break;
            }
            st = c->q->run_purge_candidates(&ids, &n, c, &p);
            if (st == PGQRS_OK && n > 0) {
                st = c->q->run_purge(&affected, c, ids, n);
                rep_->statements++;
                rep_->runs += affected;
            }
            pgqrs__free(ids);
            if (st != PGQRS_OK || n < (size_t)batch || affected == 0)
                break;
        }
        if (rep_->runs > before_r)
            pgqrs__log(s, PGQRS_LOG_INFO, "retention.purge", "workflow '%.128s': deleted %lld finished run(s)",
                       wfs[i].name, (long long)(rep_->runs - before_r));
    }
    if (st == PGQRS_OK && tick_age > 0) {
        pgqrs_tick_purge_params p = { now_us - tick_age * SEC, batch };
        PURGE_LOOP(rep_->ticks, c->q->tick_purge(&affected, c, &p));
    }
    pgqrs__queue_rows_free(queues, nq);
    pgqrs__retention_rows_free(pols, np);
    pgqrs__workflow_rows_free(wfs, nw);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_retention_run(pgqrs_retention_report *report_out, pgqrs_store *s,
                                              const pgqrs_retention_options *opts)
{
    return pgqrs__retention_run(report_out, s, opts, NULL);
}

pgqrs_status pgqrs__retention_run(pgqrs_retention_report *report_out, pgqrs_store *s,
                                  const pgqrs_retention_options *opts, const atomic_int *stop)
{
    pgqrs_status st;
    pgqrs_retention_report rep;
    int batch = DEFAULT_BATCH;
    int64_t max_rows = 0, tick_age = DEFAULT_TICK_AGE_S;
    PGQRS__CHECK_STORE(s);
    if (report_out &&
        (st = pgqrs__check_version(s, "retention report", report_out->version, PGQRS_RETENTION_REPORT_VERSION)) !=
            PGQRS_OK)
        return st;
    if (opts) {
        if ((st = pgqrs__check_version(s, "retention options", opts->version, PGQRS_RETENTION_OPTIONS_VERSION)) !=
            PGQRS_OK)
            return st;
        if (opts->batch_size < 0 || opts->batch_size > MAX_BATCH || opts->max_rows < 0 || opts->tick_max_age_s < -1)
            return pgqrs__fail(s, PGQRS_EINVAL, "retention options: batch_size must be 0..%d, max_rows >= 0, "
                               "tick_max_age_s >= -1", MAX_BATCH);
        batch = opts->batch_size ? opts->batch_size : DEFAULT_BATCH;
        max_rows = opts->max_rows;
        tick_age = opts->tick_max_age_s == 0 ? DEFAULT_TICK_AGE_S : opts->tick_max_age_s;
    }
    memset(&rep, 0, sizeof rep);
    rep.version = PGQRS_RETENTION_REPORT_VERSION;
    rep.complete = 1;
    PGQRS__WITH_CONN(s, s, st = purge(s, c, &rep, batch, max_rows, tick_age, stop));
    atomic_fetch_add(&s->n_purged_archived, rep.archived);
    atomic_fetch_add(&s->n_purged_dead_letters, rep.dead_letters);
    atomic_fetch_add(&s->n_purged_runs, rep.runs);
    if (st != PGQRS_OK)
        rep.complete = 0;
    if (report_out)
        *report_out = rep;
    return st;
}
