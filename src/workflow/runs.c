/* workflow_runs.c: runs seen from outside: get, wait, cancel, and listings. */
#include <string.h>

#include "base/alloc.h"
#include "base/text.h"
#include "queue/lists.h"
#include "workflow/workflow.h"

#define TAKE(dst, src) ((dst) = (src), (src) = NULL)
#define TS(row, f) ((row)->has_##f ? (row)->f##_us : 0)

static void run_info_fill(pgqrs_run_info *i, pgqrs_run_row *r)
{
    i->id = r->id;
    i->workflow_id = r->workflow_id;
    i->status = pgqrs__run_status_str(r->status);
    TAKE(i->input, r->input);
    TAKE(i->output, r->output);
    TAKE(i->error, r->error);
    TAKE(i->idempotency_key, r->idempotency_key);
    i->attempts = r->attempts;
    i->created_at_us = r->created_at_us;
    i->started_at_us = TS(r, started_at);
    i->completed_at_us = TS(r, completed_at);
    i->cancelled_at_us = TS(r, cancelled_at);
    i->retry_at_us = TS(r, retry_at);
    TAKE(i->cancel_reason, r->cancel_reason);
    i->updated_at_us = r->updated_at_us;
}

static void run_info_clear(pgqrs_run_info *i)
{
    pgqrs__free((char *)i->input);
    pgqrs__free((char *)i->output);
    pgqrs__free((char *)i->error);
    pgqrs__free((char *)i->idempotency_key);
    pgqrs__free((char *)i->cancel_reason);
}

PGQRS_EXTERN void pgqrs_run_info_free(pgqrs_run_info *r)
{
    if (!r)
        return;
    run_info_clear(r);
    pgqrs__free(r);
}

static pgqrs_status run_get(pgqrs_store *s, int64_t run_id, pgqrs_run_row *row)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        st = c->q->run_get(row, c, run_id);
        if (st == PGQRS_ENOTFOUND)
            pgqrs__fail(s, st, "run %lld does not exist", (long long)run_id);
    });
    return st;
}

static pgqrs_status to_info(pgqrs_store *s, pgqrs_run_row *row, pgqrs_run_info **out)
{
    *out = pgqrs__calloc(1, sizeof **out);
    if (*out)
        run_info_fill(*out, row);
    pgqrs__run_row_clear(row);
    return *out ? PGQRS_OK : pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
}

PGQRS_EXTERN pgqrs_status pgqrs_run_get(pgqrs_run_info **out, pgqrs_store *s, int64_t run_id)
{
    pgqrs_run_row row = { 0 };
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    st = run_get(s, run_id, &row);
    return st == PGQRS_OK ? to_info(s, &row, out) : st;
}

static bool terminal(pgqrs_db_run_status st)
{
    return st == PGQRS_DB_RUN_STATUS_SUCCESS || st == PGQRS_DB_RUN_STATUS_ERROR || st == PGQRS_DB_RUN_STATUS_CANCELLED;
}

PGQRS_EXTERN pgqrs_status pgqrs_run_wait(pgqrs_run_info **out, pgqrs_store *s, int64_t run_id, int64_t timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? 0 : pgqrs__now_us() + timeout_ms * 1000, delay = 10;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    for (;;) {
        pgqrs_run_row row = { 0 };
        pgqrs_status st = run_get(s, run_id, &row);
        int64_t left;
        if (st != PGQRS_OK)
            return st;
        if (terminal(row.status))
            return to_info(s, &row, out);
        pgqrs__run_row_clear(&row);
        left = deadline ? (deadline - pgqrs__now_us()) / 1000 : delay;
        if (left <= 0)
            return pgqrs__fail(s, PGQRS_ETIMEOUT, "run %lld did not finish within %lld ms", (long long)run_id,
                               (long long)timeout_ms);
        pgqrs__sleep_ms(delay < left ? delay : left);
        delay = delay * 2 > 250 ? 250 : delay * 2;
    }
}

PGQRS_EXTERN pgqrs_status pgqrs_run_cancel(pgqrs_store *s, int64_t run_id, const char *reason)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    if (reason && !pgqrs__utf8_valid(reason))
        return pgqrs__fail(s, PGQRS_EINVAL, "reason is not valid UTF-8");
    PGQRS__WITH_CONN(s, s, {
        pgqrs_run_row row = { 0 };
        pgqrs_run_cancel_params p = { run_id, reason, false, 0 };
        p.has_now = pgqrs__store_now(s, &p.now_us);
        st = c->q->run_cancel(&row, c, &p);
        if (st == PGQRS_OK)
            pgqrs__log(s, PGQRS_LOG_INFO, "run.cancel", "run %lld: cancel requested%s%.200s%s; it is %s", (long long)run_id,
                       reason ? " (" : "", reason ? reason : "", reason ? ")" : "", pgqrs__run_status_str(row.status));
        if (st == PGQRS_ENOTFOUND) {
            /* no transition from here: unknown, finished, or already cancelling */
            st = c->q->run_get(&row, c, run_id);
            if (st == PGQRS_ENOTFOUND)
                pgqrs__fail(s, st, "run %lld does not exist", (long long)run_id);
            else if (st == PGQRS_OK)
                st = pgqrs__fail(s, PGQRS_ESTATE, "run %lld is %s; only PENDING or RUNNING runs can be cancelled",
                                 (long long)run_id, pgqrs__run_status_str(row.status));
        }
        pgqrs__run_row_clear(&row);
    });
    return st;
}

static void run_info_clear_item(void *item) { run_info_clear(item); }

static void step_info_clear(void *item)
{
    pgqrs_step_info *si = item;
    pgqrs__free((char *)si->step_id);
    pgqrs__free((char *)si->output);
    pgqrs__free((char *)si->error);
}

static void workflow_info_clear(void *item)
{
    pgqrs_workflow_info *wi = item;
    pgqrs__free((char *)wi->name);
    pgqrs__free((char *)wi->retry_policy);
}

PGQRS_EXTERN pgqrs_status pgqrs_run_filter_init(pgqrs_run_filter *filter, unsigned int version)
{
    return pgqrs__struct_init(filter, sizeof *filter, version, PGQRS_RUN_FILTER_VERSION, "run filter");
}

PGQRS_EXTERN pgqrs_status pgqrs_run_list(pgqrs_runs **out, pgqrs_store *s, const pgqrs_run_filter *f)
{
    pgqrs_run_filter flt = PGQRS_RUN_FILTER_INIT;
    pgqrs_run_row *rows = NULL;
    size_t n = 0;
    pgqrs_status st;
    pgqrs_db_run_status status = PGQRS_DB_RUN_STATUS_PENDING;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    if (f) {
        if ((st = pgqrs__check_version(s, "run filter", f->version, PGQRS_RUN_FILTER_VERSION)) != PGQRS_OK)
            return st;
        flt = *f;
    }
    if (flt.limit == 0)
        flt.limit = 100;
    if ((st = pgqrs__check_range(s, "limit", flt.limit, 1, PGQRS_MAX_BATCH_LIMIT)) != PGQRS_OK)
        return st;
    if (flt.status && pgqrs__run_status_parse(flt.status, &status) != 0)
        return pgqrs__fail(s, PGQRS_EINVAL, "'%.32s' is not a run status", flt.status);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_workflow_row wf = { 0 };
        pgqrs_run_list_params p = { false, 0, flt.status != NULL, status, flt.since_us != 0, flt.since_us, flt.limit };
        st = PGQRS_OK;
        if (flt.workflow) {
            st = c->q->workflow_get_by_name(&wf, c, flt.workflow);
            if (st == PGQRS_ENOTFOUND)
                pgqrs__fail(s, st, "workflow '%.128s' does not exist", flt.workflow);
            p.has_workflow_id = true;
            p.workflow_id = wf.id;
        }
        if (st == PGQRS_OK)
            st = c->q->run_list(&rows, &n, c, &p);
        pgqrs__workflow_row_clear(&wf);
    });
    if (st == PGQRS_OK) {
        pgqrs_runs *l = pgqrs__list_new(n, sizeof(pgqrs_run_info), run_info_clear_item);
        if (l) {
            for (size_t i = 0; i < n; i++)
                run_info_fill((pgqrs_run_info *)l->l.items + i, &rows[i]);
        } else {
            st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
        }
        *out = l;
    }
    pgqrs__run_rows_free(rows, n);
    return st;
}

PGQRS_EXTERN size_t pgqrs_runs_count(const pgqrs_runs *l) { return pgqrs__list_count(l); }

PGQRS_EXTERN const pgqrs_run_info *pgqrs_runs_at(const pgqrs_runs *l, size_t i) { return pgqrs__list_at(l, i); }

PGQRS_EXTERN void pgqrs_runs_free(pgqrs_runs *l) { pgqrs__list_free(l); }

PGQRS_EXTERN pgqrs_status pgqrs_step_list(pgqrs_steps **out, pgqrs_store *s, int64_t run_id)
{
    pgqrs_step_row *rows = NULL;
    size_t n = 0;
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        st = c->q->step_list(&rows, &n, c, run_id);
    });
    if (st == PGQRS_OK) {
        pgqrs_steps *l = pgqrs__list_new(n, sizeof(pgqrs_step_info), step_info_clear);
        if (l) {
            for (size_t i = 0; i < n; i++) {
                pgqrs_step_info *si = (pgqrs_step_info *)l->l.items + i;
                pgqrs_step_row *r = &rows[i];
                si->run_id = r->run_id;
                TAKE(si->step_id, r->step_id);
                si->status = pgqrs__step_status_str(r->status);
                TAKE(si->output, r->output);
                TAKE(si->error, r->error);
                si->attempts = r->attempts;
                si->started_at_us = r->started_at_us;
                si->completed_at_us = TS(r, completed_at);
                si->retry_at_us = TS(r, retry_at);
            }
        } else {
            st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
        }
        *out = l;
    }
    pgqrs__step_rows_free(rows, n);
    return st;
}

PGQRS_EXTERN size_t pgqrs_steps_count(const pgqrs_steps *l) { return pgqrs__list_count(l); }

PGQRS_EXTERN const pgqrs_step_info *pgqrs_steps_at(const pgqrs_steps *l, size_t i) { return pgqrs__list_at(l, i); }

PGQRS_EXTERN void pgqrs_steps_free(pgqrs_steps *l) { pgqrs__list_free(l); }

PGQRS_EXTERN pgqrs_status pgqrs_workflow_list(pgqrs_workflows **out, pgqrs_store *s)
{
    pgqrs_workflow_row *rows = NULL;
    size_t n = 0;
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        st = c->q->workflow_list(&rows, &n, c);
    });
    if (st == PGQRS_OK) {
        pgqrs_workflows *l = pgqrs__list_new(n, sizeof(pgqrs_workflow_info), workflow_info_clear);
        if (l) {
            for (size_t i = 0; i < n; i++) {
                pgqrs_workflow_info *wi = (pgqrs_workflow_info *)l->l.items + i;
                wi->id = rows[i].id;
                TAKE(wi->name, rows[i].name);
                wi->queue_id = rows[i].queue_id;
                TAKE(wi->retry_policy, rows[i].retry_policy);
                wi->created_at_us = rows[i].created_at_us;
            }
        } else {
            st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
        }
        *out = l;
    }
    pgqrs__workflow_rows_free(rows, n);
    return st;
}

PGQRS_EXTERN size_t pgqrs_workflows_count(const pgqrs_workflows *l) { return pgqrs__list_count(l); }

PGQRS_EXTERN const pgqrs_workflow_info *pgqrs_workflows_at(const pgqrs_workflows *l, size_t i) { return pgqrs__list_at(l, i); }

PGQRS_EXTERN void pgqrs_workflows_free(pgqrs_workflows *l) { pgqrs__list_free(l); }
