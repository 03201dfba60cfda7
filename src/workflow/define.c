/* workflow_define.c: workflow definitions, retry policies and triggering runs. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "workflow/workflow.h"

#define WORKFLOW_QUEUE_PREFIX "workflow:"

void pgqrs__retry_resolve(pgqrs_retry_policy *p)
{
    if (p->max_attempts <= 0)
        p->max_attempts = 3;
    if (p->initial_delay_ms <= 0)
        p->initial_delay_ms = 1000;
    if (p->multiplier == 0)
        p->multiplier = 2.0;
    if (p->multiplier < 1.0)
        p->multiplier = 1.0;
    if (p->max_delay_ms <= 0)
        p->max_delay_ms = 300000;
    if (p->max_delay_ms > PGQRS_MAX_RETRY_DELAY_MS)
        p->max_delay_ms = PGQRS_MAX_RETRY_DELAY_MS;
    if (p->initial_delay_ms > p->max_delay_ms)
        p->initial_delay_ms = p->max_delay_ms;
    if (p->max_delay_ms < p->initial_delay_ms)
        p->max_delay_ms = p->initial_delay_ms;
    if (p->jitter == 0)
        p->jitter = 0.25;
    if (p->jitter > 1.0)
        p->jitter = 1.0;
}

PGQRS_EXTERN int64_t pgqrs_retry_delay_ms(const pgqrs_retry_policy *policy, int retry)
{
    static _Thread_local uint64_t rng;
    pgqrs_retry_policy p = { 0, 0, 0, 0, 0 };
    double d;
    if (policy)
        p = *policy;
    pgqrs__retry_resolve(&p);
    d = (double)p.initial_delay_ms;
    /* multiply up to the cap and stop: no overflow, whatever `retry` is */
    for (int i = 1; i < retry && p.multiplier > 1.0 && d < (double)p.max_delay_ms; i++)
        d *= p.multiplier;
    if (d > (double)p.max_delay_ms)
        d = (double)p.max_delay_ms;
    if (p.jitter > 0) {
        if (!rng)
            rng = pgqrs__rng_seed(&rng);
        d -= d * p.jitter * ((double)(pgqrs__rng_next(&rng) >> 11) / 9007199254740992.0);
    }
    return d < 1 ? 1 : (int64_t)d;
}

char *pgqrs__error_json(pgqrs_status st, const char *message)
{
    json_t *o = json_pack("{s:s, s:s, s:i}", "message", message ? message : "", "status", pgqrs_errstr(st), "code",
                          (int)st);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *out = pgqrs__strdup(s);
    free(s);   /* jansson's allocator */
    json_decref(o);
    return out;
}

static char *policy_json(const pgqrs_retry_policy *p)
{
    json_t *o = json_pack("{s:i, s:I, s:f, s:I, s:f}", "max_attempts", p->max_attempts, "initial_delay_ms",
                          (json_int_t)p->initial_delay_ms, "multiplier", p->multiplier, "max_delay_ms",
                          (json_int_t)p->max_delay_ms, "jitter", p->jitter);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *out = pgqrs__strdup(s);
    free(s);
    json_decref(o);
    return out;
}

static void def_free(pgqrs__wf_def *d)
{
    if (!d)
        return;
    pgqrs__free(d->name);
    pgqrs__free(d->queue_name);
    pgqrs__free(d);
}

void pgqrs__workflow_defs_free(pgqrs_store *s)
{
    for (size_t i = 0; i < s->n_wf_defs; i++)
        def_free(s->wf_defs[i]);
    pgqrs__free(s->wf_defs);
    s->wf_defs = NULL;
    s->n_wf_defs = 0;
}

void pgqrs__workflow_def_snapshot(pgqrs_workflow_worker *w, pgqrs__wf_def *out)
{
    pgqrs_store *s = w->consumer.w.store;
    pthread_mutex_lock(&s->mu);
    *out = *w->def;
    pthread_mutex_unlock(&s->mu);
}

pgqrs__wf_def *pgqrs__workflow_def_find(pgqrs_store *s, const char *name)
{
    pgqrs__wf_def *found = NULL;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_wf_defs && !found; i++)
        if (strcmp(s->wf_defs[i]->name, name) == 0)
            found = s->wf_defs[i];
    pthread_mutex_unlock(&s->mu);
    return found;
}

static pgqrs_status check_workflow_name(pgqrs_store *s, const char *name)
{
    pgqrs_status st = pgqrs__check_name(s, "workflow", name);
    if (st == PGQRS_OK && strlen(name) + strlen(WORKFLOW_QUEUE_PREFIX) > PGQRS_MAX_NAME_BYTES)
        st = pgqrs__fail(s, PGQRS_EINVAL, "workflow name must be at most %d bytes",
                         (int)(PGQRS_MAX_NAME_BYTES - strlen(WORKFLOW_QUEUE_PREFIX)));
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_workflow_options_init(pgqrs_workflow_options *opts, unsigned int version)
{
    return pgqrs__struct_init(opts, sizeof *opts, version, PGQRS_WORKFLOW_OPTIONS_VERSION, "workflow options");
}

PGQRS_EXTERN pgqrs_status pgqrs_trigger_options_init(pgqrs_trigger_options *opts, unsigned int version)
{
    return pgqrs__struct_init(opts, sizeof *opts, version, PGQRS_TRIGGER_OPTIONS_VERSION, "trigger options");
}

PGQRS_EXTERN pgqrs_status pgqrs_workflow_define(pgqrs_store *s, const char *name, pgqrs_workflow_fn handler,
                                                void *user, const pgqrs_workflow_options *opts)
{
    pgqrs_status st = pgqrs__check_handle(s, PGQRS__MAGIC_STORE, "store");
    pgqrs__wf_def *d = NULL, *existing;
    char *policy = NULL;
    if (st != PGQRS_OK)
        return st;
    if ((st = check_workflow_name(s, name)) != PGQRS_OK)
        return st;
    if (!handler)
        return pgqrs__fail(s, PGQRS_EMISUSE, "handler is NULL");
    if (opts && (st = pgqrs__check_version(s, "workflow options", opts->version, PGQRS_WORKFLOW_OPTIONS_VERSION)) != PGQRS_OK)
        return st;
    d = pgqrs__calloc(1, sizeof *d);
    if (!d)
        return pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    if (opts)
        d->opts = *opts;
    d->opts.version = PGQRS_WORKFLOW_OPTIONS_VERSION;
    pgqrs__retry_resolve(&d->opts.retry);
    if (d->opts.max_deliveries <= 0)
        d->opts.max_deliveries = 10;
    if (d->opts.vt_seconds <= 0)
        d->opts.vt_seconds = 300;
    if (d->opts.vt_seconds > PGQRS_MAX_VT_SECONDS)
        d->opts.vt_seconds = PGQRS_MAX_VT_SECONDS;
    if (d->opts.step_lease_ms <= 0)
        d->opts.step_lease_ms = 600000;
    d->fn = handler;
    d->user = user;
    d->name = pgqrs__strdup(name);
    d->queue_name = pgqrs__malloc(strlen(name) + sizeof WORKFLOW_QUEUE_PREFIX);
    policy = policy_json(&d->opts.retry);
    if (!d->name || !d->queue_name || !policy) {
        def_free(d);
        pgqrs__free(policy);
        return pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    }
    sprintf(d->queue_name, "%s%s", WORKFLOW_QUEUE_PREFIX, name);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_workflow_row row = { 0 };
        pgqrs_workflow_upsert_params p = { name, d->queue_name, policy };
        st = c->q->workflow_upsert(&row, c, &p);
        d->id = row.id;
        d->queue_id = row.queue_id;
        pgqrs__workflow_row_clear(&row);
    });
    pgqrs__free(policy);
    if (st != PGQRS_OK) {
        def_free(d);
        return st;
    }
    pthread_mutex_lock(&s->mu);
    existing = NULL;
    for (size_t i = 0; i < s->n_wf_defs && !existing; i++)
        if (strcmp(s->wf_defs[i]->name, name) == 0)
            existing = s->wf_defs[i];
    if (existing) {
        /* redefined in this store: the latest handler and options win; workers
         * already running keep a pointer to the same slot */
        existing->fn = d->fn;
        existing->user = d->user;
        existing->opts = d->opts;
        def_free(d);
    } else {
        pgqrs__wf_def **defs = pgqrs__realloc(s->wf_defs, (s->n_wf_defs + 1) * sizeof *defs);
        if (!defs) {
            st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
            def_free(d);
        } else {
            s->wf_defs = defs;
            s->wf_defs[s->n_wf_defs++] = d;
            s->free_wf_defs = pgqrs__workflow_defs_free;   /* the store frees them, not knowing what they are */
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (st == PGQRS_OK)
        pgqrs__log(s, PGQRS_LOG_INFO, "workflow.define", "workflow '%.128s' defined (queue '" WORKFLOW_QUEUE_PREFIX "%.119s')", name,
                   name);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_workflow_trigger(int64_t *run_id_out, int *created_out, pgqrs_store *s, const char *name, const char *input_json, const pgqrs_trigger_options *opts)
{
    pgqrs_status st;
    pgqrs_run_trigger_row out = { 0, false };
    if (run_id_out)
        *run_id_out = 0;
    if (created_out)
        *created_out = 0;
    if ((st = pgqrs__check_handle(s, PGQRS__MAGIC_STORE, "store")) != PGQRS_OK)
        return st;
    if ((st = check_workflow_name(s, name)) != PGQRS_OK)
        return st;
    if (opts && (st = pgqrs__check_version(s, "trigger options", opts->version, PGQRS_TRIGGER_OPTIONS_VERSION)) != PGQRS_OK)
        return st;
    if (input_json && (st = pgqrs__check_json(s, "input", input_json)) != PGQRS_OK)
        return st;
    if (opts && opts->idempotency_key && (st = pgqrs__check_name(s, "idempotency key", opts->idempotency_key)) != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(s, s, {
        pgqrs_workflow_row wf = { 0 };
        st = c->q->workflow_get_by_name(&wf, c, name);
        if (st == PGQRS_ENOTFOUND)
            pgqrs__fail(s, st, "workflow '%.128s' does not exist", name);
        if (st == PGQRS_OK) {
            pgqrs_run_trigger_params p = { wf.id, wf.queue_id, input_json, opts ? opts->idempotency_key : NULL };
            st = c->q->run_trigger(&out, c, &p);
            if (st == PGQRS_ENOTFOUND && p.idempotency_key) {
                /* a concurrent trigger with the same key committed after this
                 * statement's snapshot: the run exists now */
                pgqrs_run_row r = { 0 };
                pgqrs_run_get_by_key_params k = { wf.id, p.idempotency_key };
                st = c->q->run_get_by_key(&r, c, &k);
                out.run_id = r.id;
                out.created = false;
                pgqrs__run_row_clear(&r);
            }
        }
        pgqrs__workflow_row_clear(&wf);
    });
    if (st == PGQRS_OK) {
        pgqrs__log(s, PGQRS_LOG_INFO, "run.trigger", "run %lld of '%.128s' %s", (long long)out.run_id, name,
                   out.created ? "created" : "already existed for this idempotency key");
        if (run_id_out)
            *run_id_out = out.run_id;
        if (created_out)
            *created_out = out.created;
    }
    return st;
}

PGQRS_EXTERN char *pgqrs_strdup(const char *s) { return pgqrs__strdup(s); }

PGQRS_EXTERN void pgqrs_free(void *p) { pgqrs__free(p); }
