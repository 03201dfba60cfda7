/* workflow_engine.c: the workflow worker: dequeue a run, execute its handler
 * with checkpointed steps, and record the outcome. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "queue/lists.h"
#include "queue/settle.h"
#include "workflow/workflow.h"

PGQRS_EXTERN pgqrs_status pgqrs_workflow_worker_new(pgqrs_workflow_worker **out, pgqrs_store *s, const char *name)
{
    pgqrs_workflow_worker *w;
    pgqrs__wf_def *def;
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    if ((st = pgqrs__check_handle(s, PGQRS__MAGIC_STORE, "store")) != PGQRS_OK)
        return st;
    if ((st = pgqrs__check_name(s, "workflow", name)) != PGQRS_OK)
        return st;
    def = pgqrs__workflow_def_find(s, name);
    if (!def)
        return pgqrs__fail(s, PGQRS_ENOTFOUND, "workflow '%.128s' is not defined in this store (pgqrs_workflow_define)",
                           name);
    w = pgqrs__calloc(1, sizeof *w);
    if (!w)
        return pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    w->h.magic = PGQRS__MAGIC_WF_WORKER;
    w->h.errs = &s->errs;
    w->def = def;
    atomic_init(&w->interrupted, 0);
    st = pgqrs__worker_handle_init(&w->consumer.w, PGQRS__MAGIC_CONSUMER, s, def->queue_name,
                                   PGQRS_DB_WORKER_KIND_WORKFLOW);
    if (st != PGQRS_OK) {
        pgqrs__worker_handle_close(&w->consumer.w, false);
        pgqrs__free(w);
        return st;
    }
    *out = w;
    return PGQRS_OK;
}

PGQRS_EXTERN void pgqrs_workflow_worker_free(pgqrs_workflow_worker *w)
{
    if (!w || w->h.magic != PGQRS__MAGIC_WF_WORKER)
        return;
    pgqrs__conn_close(w->consumer.listener);   /* the idle wait's LISTEN session, if any */
    w->consumer.listener = NULL;
    pgqrs__worker_handle_close(&w->consumer.w, true);
    w->h.magic = PGQRS__MAGIC_FREED;
    pgqrs__free(w);
}

PGQRS_EXTERN int64_t pgqrs_workflow_worker_id(const pgqrs_workflow_worker *w)
{
    return w && w->h.magic == PGQRS__MAGIC_WF_WORKER ? w->consumer.w.worker_id : 0;
}

PGQRS_EXTERN void pgqrs_workflow_worker_interrupt(pgqrs_workflow_worker *w)
{
    if (w)
        atomic_store(&w->interrupted, 1);
}

PGQRS_EXTERN int64_t pgqrs_run_id(const pgqrs_run *run)
{
    return run && run->h.magic == PGQRS__MAGIC_RUN ? run->id : 0;
}

PGQRS_EXTERN int32_t pgqrs_run_attempt(const pgqrs_run *run)
{
    return run && run->h.magic == PGQRS__MAGIC_RUN ? run->attempt : 0;
}

static pgqrs_store *store_of(pgqrs_run *run) { return run->w->consumer.w.store; }
static int64_t worker_of(pgqrs_run *run) { return run->w->consumer.w.worker_id; }
pgqrs_store *pgqrs__run_store(pgqrs_run *run) { return store_of(run); }
int64_t pgqrs__run_worker_id(pgqrs_run *run) { return worker_of(run); }

void pgqrs__run_set_error(pgqrs_run *run, pgqrs_status st, const char *message)
{
    if (run->error_json)
        return;   /* the first failure recorded is the one that explains the attempt */
    run->error_json = pgqrs__error_json(st, message);
}

PGQRS_EXTERN pgqrs_status pgqrs_run_fail(pgqrs_run *run, const char *error_json, int retryable)
{
    pgqrs_status st = pgqrs__check_handle(run, PGQRS__MAGIC_RUN, "run");
    if (st != PGQRS_OK)
        return st;
    if (error_json && (st = pgqrs__check_json(run, "error", error_json)) != PGQRS_OK)
        return st;
    pgqrs__free(run->error_json);
    run->error_json = error_json ? pgqrs__strdup(error_json) : pgqrs__error_json(PGQRS_ERROR, "handler failed");
    if (!run->error_json)
        return pgqrs__fail(run, PGQRS_ENOMEM, "out of memory");
    run->fatal = !retryable;
    return PGQRS_OK;
}

/* Keeps the run's message leased while a long handler works: renewed at step
 * boundaries once half of the lease has passed. */
static void renew_lease(pgqrs_run *run)
{
    pgqrs_store *s = store_of(run);
    int64_t now = pgqrs__store_clock(s), vt_us = (int64_t)run->def.opts.vt_seconds * 1000000;
    if (now - run->lease_at_us < vt_us / 2)
        return;
    if (pgqrs_extend_vt(NULL, &run->w->consumer, run->message_id, run->def.opts.vt_seconds) == PGQRS_OK)
        run->lease_at_us = now;
}

/* The step could not be acquired: it succeeded before (replay), the run is
 * being cancelled, or another live worker holds it. */
/* Reads step_id's stored row into step; *succeeded: it is a SUCCESS to replay.
 * A step not stored yet is PGQRS_OK with *succeeded false. */
pgqrs_status pgqrs__run_read_step(pgqrs_run *run, pgqrs_conn *c, const char *step_id, pgqrs_step_row *step,
                                  bool *succeeded)
{
    pgqrs_step_get_params g = { run->id, step_id };
    pgqrs_status st = c->q->step_get(step, c, &g);
    *succeeded = st == PGQRS_OK && step->status == PGQRS_DB_STEP_STATUS_SUCCESS;
    if (st == PGQRS_ENOTFOUND)
        return PGQRS_OK;
    return st;
}

static pgqrs_status step_not_acquired(pgqrs_run *run, pgqrs_conn *c, const char *step_id, pgqrs_step_row *step)
{
    pgqrs_run_row r = { 0 };
    bool succeeded;
    pgqrs_status st = pgqrs__run_read_step(run, c, step_id, step, &succeeded);
    if (st != PGQRS_OK || succeeded)
        return st;
    st = c->q->run_get(&r, c, run->id);
    if (st == PGQRS_OK && r.status == PGQRS_DB_RUN_STATUS_CANCELLING) {
        run->cancelled = true;
        st = pgqrs__fail(run, PGQRS_ECANCELLED, "run %lld is being cancelled; step '%.256s' not started",
                         (long long)run->id, step_id);
    } else if (st == PGQRS_OK && r.status == PGQRS_DB_RUN_STATUS_RUNNING) {
        run->abandoned = true;
        st = pgqrs__fail(run, PGQRS_EBUSY, "step '%.256s' of run %lld is being executed by worker %lld", step_id,
                         (long long)run->id, (long long)(step->has_worker_id ? step->worker_id : 0));
    } else if (st == PGQRS_OK) {
        run->abandoned = true;
        st = pgqrs__fail(run, PGQRS_ESTATE, "run %lld is %s; step '%.256s' not started", (long long)run->id,
                         pgqrs__run_status_str(r.status), step_id);
    }
    pgqrs__run_row_clear(&r);
    return st;
}

/* Acquires step_id for this worker. *acquired true: the caller executes it;
 * false with PGQRS_OK: `step` holds the stored SUCCESS row. */
static pgqrs_status acquire_step(pgqrs_run *run, const char *step_id, pgqrs_step_row *step, bool *acquired)
{
    pgqrs_store *s = store_of(run);
    pgqrs_status st;
    *acquired = false;
    PGQRS__WITH_CONN(s, run, {
        bool replayed = false;
        /* a retried or resumed run: its completed steps replay from a read,
         * not from the acquire's write (on PostgreSQL that write is a row
         * lock, a WAL record and a commit to flush) */
        st = run->attempt > 1 ? pgqrs__run_read_step(run, c, step_id, step, &replayed) : PGQRS_OK;
        if (!replayed)
            pgqrs__step_row_clear(step);
        if (st == PGQRS_OK && !replayed) {
            pgqrs_step_acquire_params p = { run->id, step_id, worker_of(run), run->def.opts.step_lease_ms };
            st = c->q->step_acquire(step, c, &p);
            if (st == PGQRS_OK)
                *acquired = true;
            else if (st == PGQRS_ENOTFOUND)
                st = step_not_acquired(run, c, step_id, step);
        }
    });
    return st;
}

pgqrs_status pgqrs__run_check_step(pgqrs_run *run, const char *step_id)
{
    pgqrs_status st = pgqrs__check_handle(run, PGQRS__MAGIC_RUN, "run");
    if (st != PGQRS_OK)
        return st;
    if (!step_id)
        return pgqrs__fail(run, PGQRS_EMISUSE, "step_id is NULL");
    if (!*step_id || strlen(step_id) > 256)
        return pgqrs__fail(run, PGQRS_EINVAL, "step_id must be 1 to 256 bytes");
    if (run->cancelled)
        return pgqrs__fail(run, PGQRS_ECANCELLED, "run %lld is being cancelled", (long long)run->id);
    if (run->wake_at_us || run->abandoned)
        return pgqrs__fail(run, PGQRS_ESTATE, "run %lld is suspended or taken over; no further step starts",
                           (long long)run->id);
    return PGQRS_OK;
}

/* Records the failed attempt of an acquired step; reschedules or ends the run. */
static pgqrs_status step_failed(pgqrs_run *run, const char *step_id, const pgqrs_step_row *step,
                                const pgqrs_retry_policy *policy, pgqrs_status rc)
{
    pgqrs_store *s = store_of(run);
    pgqrs_status st;
    char msg[160];
    char *err;
    bool retry = !run->fatal && step->attempts < policy->max_attempts;
    int64_t retry_at = retry ? pgqrs__store_clock(s) + pgqrs_retry_delay_ms(policy, step->attempts) * 1000 : 0;
    snprintf(msg, sizeof msg, "step '%.100s' failed (attempt %d of %d)", step_id, (int)step->attempts,
             policy->max_attempts);
    err = run->error_json ? pgqrs__strdup(run->error_json) : pgqrs__error_json(rc, msg);
    if (!err)
        return pgqrs__fail(run, PGQRS_ENOMEM, "out of memory");
    PGQRS__WITH_CONN(s, run, {
        int64_t affected = 0;
        pgqrs_step_fail_params p = { run->id, step_id, worker_of(run), err, retry, retry_at };
        st = c->q->step_fail(&affected, c, &p);
    });
    if (retry)
        run->retry_at_us = retry_at;
    else
        run->fatal = true;
    pgqrs__log(s, PGQRS_LOG_WARN, "step.error", "run %lld %s%s", (long long)run->id, msg,
               retry ? "; the run will retry it" : "; no retries left");
    pgqrs__run_set_error(run, rc, msg);
    pgqrs__free(err);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_step_options_init(pgqrs_step_options *opts, unsigned int version)
{
    return pgqrs__struct_init(opts, sizeof *opts, version, PGQRS_STEP_OPTIONS_VERSION, "step options");
}

PGQRS_EXTERN pgqrs_status pgqrs_poll_options_init(pgqrs_poll_options *opts, unsigned int version)
{
    return pgqrs__struct_init(opts, sizeof *opts, version, PGQRS_POLL_OPTIONS_VERSION, "poll options");
}

PGQRS_EXTERN pgqrs_status pgqrs_run_step(char **output_json, pgqrs_run *run, const char *step_id, pgqrs_step_fn fn, void *user, const pgqrs_step_options *opts)
{
    pgqrs_step_row step = { 0 };
    pgqrs_retry_policy policy = { 0, 0, 0, 0, 0 };
    pgqrs_status st, rc;
    bool acquired = false;
    char *out = NULL;
    if (output_json)
        *output_json = NULL;
    if ((st = pgqrs__run_check_step(run, step_id)) != PGQRS_OK)
        return st;
    if (!fn)
        return pgqrs__fail(run, PGQRS_EMISUSE, "step function is NULL");
    if (opts && (st = pgqrs__check_version(run, "step options", opts->version, PGQRS_STEP_OPTIONS_VERSION)) != PGQRS_OK)
        return st;
    if (opts)
        policy = opts->retry;
    pgqrs__retry_resolve(&policy);
    renew_lease(run);
    st = acquire_step(run, step_id, &step, &acquired);
    if (st == PGQRS_OK && !acquired) {
        /* replay: the step succeeded in an earlier execution of this run */
        pgqrs__log(store_of(run), PGQRS_LOG_DEBUG, "step.replay", "run %lld step '%.256s': stored output reused",
                   (long long)run->id, step_id);
        if (output_json && !(*output_json = pgqrs__strdup(step.output ? step.output : "null")))
            st = pgqrs__fail(run, PGQRS_ENOMEM, "out of memory");
        pgqrs__step_row_clear(&step);
        return st;
    }
    if (st != PGQRS_OK) {
        pgqrs__step_row_clear(&step);
        return st;
    }
    pgqrs__log(store_of(run), PGQRS_LOG_DEBUG, "step.start", "run %lld step '%.256s' attempt %d",
               (long long)run->id, step_id, (int)step.attempts);
    rc = fn(run, &out, user);
    if (rc == PGQRS_OK && out && pgqrs__check_json(run, "step output", out) != PGQRS_OK)
        rc = PGQRS_EINVAL;
    if (rc != PGQRS_OK) {
        if (rc != PGQRS_EINVAL || !out)
            pgqrs__fail(run, rc, "step '%.256s' failed: %s", step_id, pgqrs_errstr(rc));
        pgqrs_free(out);
        st = step_failed(run, step_id, &step, &policy, rc);
        pgqrs__step_row_clear(&step);
        return st == PGQRS_OK ? rc : st;
    }
    PGQRS__WITH_CONN(store_of(run), run, {
        int64_t affected = 0;
        pgqrs_step_complete_params p = { run->id, step_id, worker_of(run), out ? out : "null" };
        st = c->q->step_complete(&affected, c, &p);
        if (st == PGQRS_OK && affected == 0) {
            /* another worker took the step over (our lease ran out): its result stands */
            run->abandoned = true;
            st = pgqrs__fail(run, PGQRS_ESTATE, "step '%.256s' of run %lld was taken over by another worker",
                             step_id, (long long)run->id);
        }
    });
    if (st == PGQRS_OK && output_json && !(*output_json = pgqrs__strdup(out ? out : "null")))
        st = pgqrs__fail(run, PGQRS_ENOMEM, "out of memory");
    pgqrs_free(out);
    pgqrs__step_row_clear(&step);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_run_sleep(pgqrs_run *run, const char *step_id, int64_t seconds)
{
    pgqrs_step_row step = { 0 };
    pgqrs_status st;
    bool acquired = false;
    int64_t wake = 0, now;
    if ((st = pgqrs__run_check_step(run, step_id)) != PGQRS_OK)
        return st;
    if ((st = pgqrs__check_range(run, "seconds", seconds, 0, PGQRS_MAX_DELAY_SECONDS)) != PGQRS_OK)
        return st;
    now = pgqrs__store_clock(store_of(run));
    st = acquire_step(run, step_id, &step, &acquired);
    if (st == PGQRS_OK && acquired) {
        char out[64];
        wake = now + seconds * 1000000;
        snprintf(out, sizeof out, "{\"wake_at_us\":%lld}", (long long)wake);
        PGQRS__WITH_CONN(store_of(run), run, {
            int64_t affected = 0;
            pgqrs_step_complete_params p = { run->id, step_id, worker_of(run), out };
            st = c->q->step_complete(&affected, c, &p);
        });
    } else if (st == PGQRS_OK) {
        json_t *j = json_loads(step.output ? step.output : "", 0, NULL);
        json_t *v = j ? json_object_get(j, "wake_at_us") : NULL;
        if (!json_is_integer(v))
            st = pgqrs__fail(run, PGQRS_ESTATE, "step '%.256s' of run %lld is not a sleep", step_id, (long long)run->id);
        else
            wake = (int64_t)json_integer_value(v);
        json_decref(j);
    }
    pgqrs__step_row_clear(&step);
    if (st != PGQRS_OK)
        return st;
    if (wake <= now)
        return PGQRS_OK;
    run->wake_at_us = wake;
    return pgqrs__fail(run, PGQRS_ESUSPENDED, "run %lld sleeps until %lld", (long long)run->id, (long long)wake);
}

/* ---- executing one run ---- */

static pgqrs_status finish(pgqrs_run *run, pgqrs_db_run_status status, const char *output, const char *error)
{
    pgqrs_store *s = store_of(run);
    pgqrs_status st;
    PGQRS__WITH_CONN(s, run, {
        int64_t id = 0;
        pgqrs_run_finish_params p = { run->id, run->message_id, worker_of(run), status, output, error };
        st = c->q->run_finish(&id, c, &p);
        if (st == PGQRS_ENOTFOUND && status != PGQRS_DB_RUN_STATUS_CANCELLED) {
            /* cancelled meanwhile: the run ends CANCELLED whatever the handler did */
            p.status = PGQRS_DB_RUN_STATUS_CANCELLED;
            st = c->q->run_finish(&id, c, &p);
        }
        if (st == PGQRS_OK && p.status == PGQRS_DB_RUN_STATUS_CANCELLED)
            st = pgqrs__cancel_children(s, c, run->id);   /* children it started after the cancel request */
        if (st == PGQRS_OK)
            pgqrs__log(s, p.status == PGQRS_DB_RUN_STATUS_SUCCESS ? PGQRS_LOG_INFO : PGQRS_LOG_WARN, "run.finish",
                       "run %lld of '%.128s' ended %s after %d attempt(s)", (long long)run->id, run->def.name,
                       pgqrs__run_status_str(p.status), (int)run->attempt);
    });
    return st;
}

static pgqrs_status reschedule(pgqrs_run *run, int64_t at_us, const char *error)
{
    pgqrs_store *s = store_of(run);
    pgqrs_status st;
    PGQRS__WITH_CONN(s, run, {
        int64_t id = 0;
        pgqrs_run_reschedule_params p = { run->id, run->message_id, worker_of(run), at_us, error };
        st = c->q->run_reschedule(&id, c, &p);
    });
    if (st == PGQRS_OK && run->waiting) {
        /* what the run waits for may have become ready while this worker still
         * held its message (a send then leaves the message alone): look again now
         * that it is released (docs/workflows.md, "How a wait is woken") */
        PGQRS__WITH_CONN(s, run, {
            int64_t woke = 0;
            st = c->q->run_wake(&woke, c, run->id);
        });
        if (st != PGQRS_OK)
            st = PGQRS_OK;   /* the wait still ends at its deadline */
    }
    if (st == PGQRS_OK && error) {
        atomic_fetch_add(&s->n_retried, 1);
        pgqrs__log(s, PGQRS_LOG_WARN, "run.retry", "run %lld of '%.128s' failed attempt %d; retry in %lld ms",
                   (long long)run->id, run->def.name, (int)run->attempt,
                   (long long)((at_us - pgqrs__store_clock(s)) / 1000));
    } else if (st == PGQRS_OK) {
        pgqrs__log(s, PGQRS_LOG_INFO, run->waiting ? "run.wait" : "run.sleep",
                   "run %lld of '%.128s' %s for at most %lld ms", (long long)run->id, run->def.name,
                   run->waiting ? "waits" : "sleeps", (long long)((at_us - pgqrs__store_clock(s)) / 1000));
    }
    if (st == PGQRS_ENOTFOUND)   /* cancelled while it worked: finalise instead */
        st = finish(run, PGQRS_DB_RUN_STATUS_CANCELLED, NULL, error);
    return st;
}

/* Records the outcome of one handler call. Handler failures end or reschedule
 * the run; only database failures come back from here. */
static pgqrs_status record_outcome(pgqrs_run *run, const pgqrs_run_row *row, pgqrs_status rc, char *output)
{
    const pgqrs_retry_policy *policy = &run->def.opts.retry;
    if (run->abandoned)
        return PGQRS_OK;   /* another worker owns this run now; it records the outcome */
    if (rc == PGQRS_OK) {
        if (output && pgqrs__check_json(run, "workflow output", output) != PGQRS_OK) {
            pgqrs__run_set_error(run, PGQRS_EINVAL, pgqrs_errmsg(run));
            return finish(run, PGQRS_DB_RUN_STATUS_ERROR, NULL, run->error_json);
        }
        return finish(run, PGQRS_DB_RUN_STATUS_SUCCESS, output ? output : "null", NULL);
    }
    if (run->cancelled || rc == PGQRS_ECANCELLED)
        return finish(run, PGQRS_DB_RUN_STATUS_CANCELLED, NULL, NULL);
    if (run->wake_at_us)
        return reschedule(run, run->wake_at_us, NULL);
    pgqrs__run_set_error(run, rc, pgqrs_errmsg(run));
    if (run->fatal)
        return finish(run, PGQRS_DB_RUN_STATUS_ERROR, NULL, run->error_json);
    if (run->retry_at_us)
        return reschedule(run, run->retry_at_us, run->error_json);
    if (row->attempts < policy->max_attempts)
        return reschedule(run, pgqrs__store_clock(store_of(run)) + pgqrs_retry_delay_ms(policy, row->attempts) * 1000,
                          run->error_json);
    return finish(run, PGQRS_DB_RUN_STATUS_ERROR, NULL, run->error_json);
}

/* The message is not runnable: its run is gone, finished, or cancelling. */
static pgqrs_status settle_unstartable(pgqrs_run *run)
{
    pgqrs_store *s = store_of(run);
    pgqrs_run_row r = { 0 };
    pgqrs_status st;
    PGQRS__WITH_CONN(s, run, {
        st = c->q->run_get(&r, c, run->id);
    });
    if (st == PGQRS_OK && r.status == PGQRS_DB_RUN_STATUS_CANCELLING)
        st = finish(run, PGQRS_DB_RUN_STATUS_CANCELLED, NULL, NULL);
    else if (st == PGQRS_OK || st == PGQRS_ENOTFOUND)
        st = pgqrs_archive(&run->w->consumer, run->message_id);   /* nothing left to do for it */
    pgqrs__run_row_clear(&r);
    return st == PGQRS_ENOTOWNED || st == PGQRS_ENOTFOUND ? PGQRS_OK : st;
}

static int64_t run_id_of(const char *payload)
{
    json_t *j = json_loads(payload, 0, NULL);
    json_t *v = j ? json_object_get(j, "run_id") : NULL;
    int64_t id = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
    json_decref(j);
    return id;
}

/* Executes one run message; *ran is set when the handler was called (a message
 * for a finished, cancelled or unknown run is only settled). */
static pgqrs_status execute(pgqrs_workflow_worker *w, const pgqrs_message *m, bool *ran)
{
    pgqrs_store *s = w->consumer.w.store;
    pgqrs_run run;
    pgqrs_run_row row = { 0 };
    pgqrs_status st, rc;
    char *output = NULL;
    memset(&run, 0, sizeof run);
    run.h.magic = PGQRS__MAGIC_RUN;
    run.h.errs = &s->errs;
    run.w = w;
    pgqrs__workflow_def_snapshot(w, &run.def);
    *ran = false;
    run.message_id = m->id;
    run.lease_at_us = pgqrs__store_clock(s);
    run.id = run_id_of(m->payload);
    if (run.id <= 0)
        return pgqrs_archive(&w->consumer, m->id);   /* not a run message: drop it from the queue */
    if (m->read_count > run.def.opts.max_deliveries) {
        char msg[128];
        snprintf(msg, sizeof msg, "run was delivered %d times without finishing (crash loop?)", (int)m->read_count);
        run.error_json = pgqrs__error_json(PGQRS_ERROR, msg);
        /* only a RUNNING run can end in ERROR: a run whose deliveries all died
         * before it started is PENDING, so start it first (counting the attempt) */
        PGQRS__WITH_CONN(s, w, {
            pgqrs_run_start_params p = { run.id, w->consumer.w.worker_id };
            st = c->q->run_start(&row, c, &p);
        });
        pgqrs__run_row_clear(&row);
        if (st == PGQRS_OK)
            st = finish(&run, PGQRS_DB_RUN_STATUS_ERROR, NULL, run.error_json);
        if (st == PGQRS_ENOTFOUND)
            st = settle_unstartable(&run);
        pgqrs__free(run.error_json);
        return st;
    }
    PGQRS__WITH_CONN(s, w, {
        pgqrs_run_start_params p = { run.id, w->consumer.w.worker_id };
        st = c->q->run_start(&row, c, &p);
    });
    if (st == PGQRS_ENOTFOUND)
        st = settle_unstartable(&run);
    else if (st == PGQRS_OK) {
        run.attempt = row.attempts;
        *ran = true;
        /* attempt 1 is the run's first execution; a later one resumes it after a
         * retry, a durable sleep or a crash, replaying its completed steps */
        pgqrs__log(s, PGQRS_LOG_INFO, run.attempt == 1 ? "run.start" : "run.resume",
                   "run %lld of '%.128s' %s on worker %lld (attempt %d)", (long long)run.id, run.def.name,
                   run.attempt == 1 ? "started" : "resumed", (long long)w->consumer.w.worker_id, (int)run.attempt);
        rc = run.def.fn(&run, row.input, &output, run.def.user);
        st = record_outcome(&run, &row, rc, output);
        if (st == PGQRS_OK && pgqrs__is_child_key(row.idempotency_key))
            pgqrs__wake_parent(s, w, run.id);   /* a child's end makes its awaiting parent runnable */
        if (st == PGQRS_ENOTFOUND) {
            /* the run is gone (its workflow was deleted with force): nothing to record */
            pgqrs__log(s, PGQRS_LOG_WARN, "run.gone", "run %lld of '%.128s' no longer exists", (long long)run.id,
                       run.def.name);
            st = PGQRS_OK;
        }
        if (st != PGQRS_OK)
            pgqrs__copy_err(w, &run, st);
    }
    pgqrs_free(output);
    pgqrs__free(run.error_json);
    pgqrs__run_row_clear(&row);
    run.h.magic = PGQRS__MAGIC_FREED;
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_workflow_worker_run_once(int *executed_out, pgqrs_workflow_worker *w)
{
    pgqrs_batch *b = NULL;
    pgqrs_status st = pgqrs__check_handle(w, PGQRS__MAGIC_WF_WORKER, "workflow worker");
    if (executed_out)
        *executed_out = 0;
    if (st != PGQRS_OK)
        return st;
    pgqrs__wf_def def;
    pgqrs__workflow_def_snapshot(w, &def);
    st = pgqrs_dequeue(&b, &w->consumer, 1, def.opts.vt_seconds);
    if (st != PGQRS_OK)
        return pgqrs__copy_err(w, &w->consumer, st);
    for (size_t i = 0; st == PGQRS_OK && i < pgqrs_batch_count(b); i++) {
        bool ran = false;
        st = execute(w, pgqrs_batch_at(b, i), &ran);
        if (executed_out && ran)
            (*executed_out)++;
    }
    pgqrs_batch_free(b);
    return st;
}

static bool transient(pgqrs_status st)
{
    return st == PGQRS_ECONN || st == PGQRS_EBUSY || st == PGQRS_ETIMEOUT;
}

/* Sleeps ms in slices, returning early when interrupted. */
static void idle_wait(pgqrs_workflow_worker *w, int64_t ms)
{
    while (ms > 0 && !atomic_load(&w->interrupted)) {
        int64_t slice = ms < 20 ? ms : 20;
        pgqrs__sleep_ms(slice);
        ms -= slice;
    }
}

PGQRS_EXTERN pgqrs_status pgqrs_workflow_worker_poll(int64_t *executed_out, pgqrs_workflow_worker *w, const pgqrs_poll_options *opts)
{
    pgqrs_poll_options o = PGQRS_POLL_OPTIONS_INIT;
    pgqrs_status st = pgqrs__check_handle(w, PGQRS__MAGIC_WF_WORKER, "workflow worker");
    int64_t executed = 0, idle_since = 0;
    int idle_round = 0, fail_round = 0;
    uint64_t rng = pgqrs__rng_seed(w);
    if (executed_out)
        *executed_out = 0;
    if (st != PGQRS_OK)
        return st;
    if (opts) {
        if ((st = pgqrs__check_version(w, "poll options", opts->version, PGQRS_POLL_OPTIONS_VERSION)) != PGQRS_OK)
            return st;
        o = *opts;
    }
    if (o.poll_interval_ms <= 0)
        o.poll_interval_ms = 50;
    idle_since = pgqrs__now_us();
    while (!atomic_load(&w->interrupted)) {
        int n = 0;
        st = pgqrs_workflow_worker_run_once(&n, w);
        if (st != PGQRS_OK && !transient(st))
            break;
        if (st != PGQRS_OK) {
            /* the database is unreachable or locked: back off, capped and jittered */
            idle_wait(w, pgqrs__backoff_ms(fail_round++, 100, 5000, &rng));
            st = PGQRS_OK;
            continue;
        }
        fail_round = 0;
        executed += n;
        if (o.max_runs > 0 && executed >= o.max_runs)
            break;
        if (n > 0) {
            idle_round = 0;
            idle_since = pgqrs__now_us();
            continue;
        }
        if (o.idle_timeout_ms > 0 && pgqrs__now_us() - idle_since >= o.idle_timeout_ms * 1000)
            break;
        /* woken by LISTEN/NOTIFY where the backend notifies, else a backoff poll */
        pgqrs__consumer_idle_wait(&w->consumer, pgqrs__backoff_ms(idle_round++, o.poll_interval_ms, 1000, &rng),
                                  &w->interrupted);
    }
    /* the interrupt is consumed: a later poll runs again until interrupted anew */
    atomic_store(&w->interrupted, 0);
    if (executed_out)
        *executed_out = executed;
    return st;
}
