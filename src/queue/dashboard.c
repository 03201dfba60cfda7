/* dashboard.c: the store calls behind `pgqrs serve` that the public API lacks
 * (queue/dashboard.h). */
#include <string.h>

#include "base/alloc.h"
#include "pgqrs_public.h"
#include "queue/dashboard.h"
#include "queue/worker_handle.h"

const char *const pgqrs__dash_run_statuses[PGQRS__DASH_N_RUN_STATUSES] = {
    "PENDING", "RUNNING", "SUCCESS", "ERROR", "CANCELLING", "CANCELLED"
};
const char *const pgqrs__dash_worker_statuses[PGQRS__DASH_N_WORKER_STATUSES] = { "ready", "suspended", "stopped" };

pgqrs_status pgqrs__dash_message_list(pgqrs_batch **out, pgqrs_store *s, const char *queue, const char *state,
                                      int64_t after_id, int limit)
{
    pgqrs_status st;
    int live;
    pgqrs_db_archive_reason reason = PGQRS_DB_ARCHIVE_REASON_ARCHIVED;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    if (!state)
        return pgqrs__fail(s, PGQRS_EMISUSE, "state is NULL");
    if (after_id < 0)
        return pgqrs__fail(s, PGQRS_EINVAL, "after_id must be >= 0, got %lld", (long long)after_id);
    if ((st = pgqrs__check_range(s, "limit", limit, 1, PGQRS_MAX_BATCH_LIMIT)) != PGQRS_OK)
        return st;
    if (!strcmp(state, "pending") || !strcmp(state, "delayed") || !strcmp(state, "in_flight"))
        live = 1;
    else if (pgqrs__archive_reason_parse(state, &reason) == 0)
        live = 0;
    else
        return pgqrs__fail(s, PGQRS_EINVAL, "unknown message state");
    pgqrs_message_row *mrows = NULL;
    pgqrs_archived_row *arows = NULL;
    size_t n = 0;
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        st = pgqrs__queue_lookup(c, queue, &q);
        if (st == PGQRS_OK && live) {
            pgqrs_dash_message_list_params p = { q.id, state, after_id, limit };
            st = c->q->dash_message_list(&mrows, &n, c, &p);
        } else if (st == PGQRS_OK) {
            pgqrs_archive_list_params p = { q.id, reason, after_id, limit };
            st = c->q->archive_list(&arows, &n, c, &p);
        }
        pgqrs__queue_row_clear(&q);
    });
    if (st == PGQRS_OK) {
        *out = live ? pgqrs__batch_from_message_rows(mrows, n) : pgqrs__batch_from_archived_rows(arows, n);
        if (!*out)
            st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    }
    return st;
}

/* ENOTFOUND or ESTATE for message id that an action did not touch: ESTATE when it
 * is still live (then it is in flight). */
static pgqrs_status untouched(pgqrs_store *s, pgqrs_conn *c, int64_t queue_id, int64_t id, const char *what)
{
    pgqrs_message_row m = { 0 };
    pgqrs_status st = c->q->message_get(&m, c, id);
    int live = st == PGQRS_OK && m.queue_id == queue_id;
    pgqrs__message_row_clear(&m);
    if (st != PGQRS_OK && st != PGQRS_ENOTFOUND)
        return st;
    if (live)
        return pgqrs__fail(s, PGQRS_ESTATE, "message %lld is in flight: not %s", (long long)id, what);
    return pgqrs__fail(s, PGQRS_ENOTFOUND, "no message %lld in that queue", (long long)id);
}

pgqrs_status pgqrs__dash_message_remove(pgqrs_store *s, const char *queue, int64_t id)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        int64_t n = 0;
        st = pgqrs__queue_lookup(c, queue, &q);
        if (st == PGQRS_OK) {
            pgqrs_dash_message_remove_params p = { q.id, id };
            st = c->q->dash_message_remove(&n, c, &p);
        }
        if (st == PGQRS_OK && n == 0) {
            pgqrs_dash_archive_remove_params p = { q.id, id };
            st = c->q->dash_archive_remove(&n, c, &p);
        }
        if (st == PGQRS_OK && n == 0)
            st = untouched(s, c, q.id, id, "deleted");
        if (st == PGQRS_OK) {
            atomic_fetch_add(&s->n_deleted, 1);
            pgqrs__log(s, PGQRS_LOG_INFO, "message.delete", "message %lld of queue %lld deleted by an operator",
                       (long long)id, (long long)q.id);
        }
        pgqrs__queue_row_clear(&q);
    });
    return st;
}

pgqrs_status pgqrs__dash_message_requeue(pgqrs_store *s, const char *queue, int64_t id)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        int64_t *ids = NULL;
        size_t n = 0;
        st = pgqrs__queue_lookup(c, queue, &q);
        if (st == PGQRS_OK) {
            pgqrs_dash_message_requeue_params p = { q.id, id };
            st = c->q->dash_message_requeue(&ids, &n, c, &p);
        }
        pgqrs__free(ids);
        if (st == PGQRS_OK && n == 0)
            st = pgqrs__fail(s, PGQRS_ENOTFOUND, "no cancelled message %lld in that queue", (long long)id);
        if (st == PGQRS_OK)
            pgqrs__log(s, PGQRS_LOG_INFO, "message.requeue", "cancelled message %lld of queue %lld requeued by an operator",
                       (long long)id, (long long)q.id);
        pgqrs__queue_row_clear(&q);
    });
    return st;
}

pgqrs_status pgqrs__dash_run_children(pgqrs_runs **out, pgqrs_store *s, int64_t run_id)
{
    pgqrs_status st;
    pgqrs_run_row *runs = NULL;
    size_t nr = 0;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_child_row *kids = NULL;
        size_t nk = 0;
        st = c->q->child_list(&kids, &nk, c, run_id);
        if (st == PGQRS_OK && nk && !(runs = pgqrs__calloc(nk, sizeof *runs)))
            st = pgqrs__conn_oom(c);
        for (size_t i = 0; st == PGQRS_OK && i < nk; i++) {
            pgqrs_status rs = c->q->run_get(&runs[nr], c, kids[i].child_run_id);
            if (rs == PGQRS_OK)
                nr++;
            else if (rs != PGQRS_ENOTFOUND)
                st = rs;
        }
        pgqrs__child_rows_free(kids, nk);
    });
    if (st != PGQRS_OK) {
        pgqrs__run_rows_free(runs, nr);
        return st;
    }
    if (!(*out = pgqrs__runs_from_run_rows(runs, nr)))
        return pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return PGQRS_OK;
}

pgqrs_status pgqrs__dash_run_counts(int64_t counts_out[PGQRS__DASH_N_RUN_STATUSES], pgqrs_store *s)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    memset(counts_out, 0, PGQRS__DASH_N_RUN_STATUSES * sizeof *counts_out);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_dash_run_counts_row *rows = NULL;
        size_t n = 0;
        st = c->q->dash_run_counts(&rows, &n, c);
        for (size_t i = 0; st == PGQRS_OK && i < n; i++) {
            const char *name = pgqrs__run_status_str(rows[i].status);
            for (int k = 0; k < PGQRS__DASH_N_RUN_STATUSES; k++)
                if (!strcmp(name, pgqrs__dash_run_statuses[k]))
                    counts_out[k] = rows[i].n;
        }
        pgqrs__dash_run_counts_rows_free(rows, n);
    });
    return st;
}

pgqrs_status pgqrs__dash_worker_counts(int64_t counts_out[PGQRS__DASH_N_WORKER_STATUSES], pgqrs_store *s)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    memset(counts_out, 0, PGQRS__DASH_N_WORKER_STATUSES * sizeof *counts_out);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_dash_worker_counts_row *rows = NULL;
        size_t n = 0;
        st = c->q->dash_worker_counts(&rows, &n, c);
        for (size_t i = 0; st == PGQRS_OK && i < n; i++) {
            const char *name = pgqrs__worker_status_str(rows[i].status);
            for (int k = 0; k < PGQRS__DASH_N_WORKER_STATUSES; k++)
                if (!strcmp(name, pgqrs__dash_worker_statuses[k]))
                    counts_out[k] = rows[i].n;
        }
        pgqrs__dash_worker_counts_rows_free(rows, n);
    });
    return st;
}
