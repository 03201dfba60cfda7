/* workflow_runs.c: runs seen from outside: get, cancel, and listings (the wait is in signals.c). */
#include <string.h>

#include "base/alloc.h"
#include "base/text.h"
#include "pgqrs_public.h"
#include "workflow/workflow.h"

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
    *out = pgqrs__run_info_from_run_row(row);
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

PGQRS_EXTERN pgqrs_status pgqrs_run_cancel(pgqrs_store *s, int64_t run_id, const char *reason)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    if (reason && !pgqrs__utf8_valid(reason))
        return pgqrs__fail(s, PGQRS_EINVAL, "reason is not valid UTF-8");
    PGQRS__WITH_CONN(s, s, {
        pgqrs_run_row row = { 0 };
        pgqrs_run_cancel_params p = { run_id, reason };
        st = c->q->run_cancel(&row, c, &p);
        if (st == PGQRS_OK)
            pgqrs__log(s, PGQRS_LOG_INFO, "run.cancel", "run %lld: cancel requested%s%.200s%s; it is %s", (long long)run_id,
                       reason ? " (" : "", reason ? reason : "", reason ? ")" : "", pgqrs__run_status_str(row.status));
        if (st == PGQRS_OK)
            st = pgqrs__cancel_children(s, c, run_id);
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
    if (st == PGQRS_OK && !(*out = pgqrs__runs_from_run_rows(rows, n)))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}

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
    if (st == PGQRS_OK && !(*out = pgqrs__steps_from_step_rows(rows, n)))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}

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
    if (st == PGQRS_OK && !(*out = pgqrs__workflows_from_workflow_rows(rows, n)))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}
