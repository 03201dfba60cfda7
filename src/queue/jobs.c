/* jobs.c: job control: cancel a message by id, read one by id (live or
 * archived), progress, and the holder's cancel-aware lease extension. */
#include <string.h>

#include "base/alloc.h"
#include "pgqrs_public.h"
#include "queue/jobs.h"

pgqrs_status pgqrs__check_progress(void *handle, const char *json)
{
    pgqrs_status st;
    size_t len;
    if (!json)
        return pgqrs__fail(handle, PGQRS_EMISUSE, "progress is NULL");
    len = strlen(json);
    if (len > PGQRS_MAX_PROGRESS_BYTES)
        return pgqrs__fail(handle, PGQRS_EINVAL, "progress is %zu bytes; at most %d", len, PGQRS_MAX_PROGRESS_BYTES);
    if ((st = pgqrs__check_json(handle, "progress", json)) != PGQRS_OK)
        return st;
    if (strstr(json, "\\u0000"))
        return pgqrs__fail(handle, PGQRS_EINVAL, "progress holds \\u0000, which PostgreSQL cannot store");
    return PGQRS_OK;
}

/* ---- cancel ---- */

/* Why a message that is not live cannot be cancelled (or had its progress
 * refused): ESTATE when the archive has it (in that queue), else ENOTFOUND. */
static pgqrs_status finished_or_unknown(void *h, pgqrs_conn *c, int64_t id, bool has_queue, int64_t queue_id,
                                        const char *verb)
{
    pgqrs_archived_row a = { 0 };
    pgqrs_status st = c->q->archive_get(&a, c, id);
    if (st == PGQRS_OK && (!has_queue || a.queue_id == queue_id))
        st = pgqrs__fail(h, PGQRS_ESTATE, "cannot %s message %lld: it is already %s", verb, (long long)id,
                         a.reason == PGQRS_DB_ARCHIVE_REASON_ARCHIVED      ? "archived"
                         : a.reason == PGQRS_DB_ARCHIVE_REASON_DEAD_LETTER ? "dead-lettered"
                                                                           : "cancelled");
    else if (st == PGQRS_OK || st == PGQRS_ENOTFOUND)
        st = pgqrs__fail(h, PGQRS_ENOTFOUND, "cannot %s message %lld: no such message%s", verb, (long long)id,
                         has_queue ? " in this queue" : "");
    pgqrs__archived_row_clear(&a);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_message_cancel(int *outcome_out, pgqrs_store *s, const char *queue, int64_t id)
{
    pgqrs_status st;
    int outcome = 0;
    PGQRS__CHECK_STORE(s);
    if (outcome_out)
        *outcome_out = 0;
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        bool has_q = queue != NULL;
        int64_t got = 0;
        st = has_q ? pgqrs__queue_lookup(c, queue, &q) : PGQRS_OK;
        if (st == PGQRS_OK) {
            pgqrs_message_cancel_remove_params p = { id, has_q, q.id };
            st = c->q->message_cancel_remove(&got, c, &p);
            if (st == PGQRS_OK)
                outcome = PGQRS_CANCEL_REMOVED;
        }
        if (st == PGQRS_ENOTFOUND && (!has_q || q.id)) {
            pgqrs_message_cancel_request_params p = { id, has_q, q.id };
            st = c->q->message_cancel_request(&got, c, &p);
            if (st == PGQRS_OK)
                outcome = PGQRS_CANCEL_REQUESTED;
            else if (st == PGQRS_ENOTFOUND)
                st = finished_or_unknown(s, c, id, has_q, q.id, "cancel");
        }
        pgqrs__queue_row_clear(&q);
    });
    if (st == PGQRS_OK) {
        pgqrs__log(s, PGQRS_LOG_INFO, "message.cancel",
                   outcome == PGQRS_CANCEL_REMOVED ? "message %lld cancelled: archived as cancelled"
                                                   : "message %lld is in flight: cancel requested",
                   (long long)id);
        if (outcome_out)
            *outcome_out = outcome;
    }
    return st;
}

/* ---- get ---- */

static const char *live_state(const pgqrs_message *m, int64_t now_us)
{
    if (m->vt_us <= now_us)
        return "pending";
    return m->consumer_worker_id ? "in_flight" : "delayed";
}

PGQRS_EXTERN pgqrs_status pgqrs_message_get(pgqrs_batch **out, pgqrs_store *s, int64_t id)
{
    pgqrs_status st;
    pgqrs_message_row *live = NULL;
    pgqrs_archived_row *arch = NULL;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    if (!(live = pgqrs__calloc(1, sizeof *live)) || !(arch = pgqrs__calloc(1, sizeof *arch))) {
        pgqrs__free(live);
        return pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    }
    PGQRS__WITH_CONN(s, s, {
        st = c->q->message_get(live, c, id);
        if (st == PGQRS_ENOTFOUND) {
            st = c->q->archive_get(arch, c, id);
            if (st == PGQRS_ENOTFOUND)
                st = pgqrs__fail(s, PGQRS_ENOTFOUND, "no message %lld", (long long)id);
            else if (st == PGQRS_OK) {
                pgqrs__message_rows_free(live, 1);
                live = NULL;
            }
        }
    });
    if (st != PGQRS_OK) {
        pgqrs__message_rows_free(live, 1);
        pgqrs__archived_rows_free(arch, 1);
        return st;
    }
    if (live) {
        pgqrs__archived_rows_free(arch, 1);
        *out = pgqrs__batch_from_message_rows(live, 1);
        if (*out) {
            pgqrs_message *m = (pgqrs_message *)pgqrs_batch_at(*out, 0);
            m->state = live_state(m, pgqrs__store_clock(s));
        }
    } else {
        *out = pgqrs__batch_from_archived_rows(arch, 1);
    }
    return *out ? PGQRS_OK : pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
}

/* ---- the holder: heartbeat, cancelled settle, progress ---- */

static pgqrs_status check_consumer(const pgqrs_consumer *k)
{
    return pgqrs__check_handle(k, PGQRS__MAGIC_CONSUMER, "consumer");
}

/* Why a holder's statement on message id touched nothing: ENOTOWNED when it is
 * live (held by another worker, or not held), else ESTATE/ENOTFOUND; on h. */
static pgqrs_status not_held_by(void *h, int64_t worker_id, pgqrs_conn *c, int64_t id, const char *verb)
{
    int64_t *live = NULL;
    size_t nlive = 0;
    pgqrs_status st = c->q->message_existing(&live, &nlive, c, &id, 1);
    if (st == PGQRS_OK && nlive)
        st = pgqrs__fail(h, PGQRS_ENOTOWNED, "cannot %s message %lld: worker %lld does not hold it", verb,
                         (long long)id, (long long)worker_id);
    else if (st == PGQRS_OK)
        st = finished_or_unknown(h, c, id, false, 0, verb);
    pgqrs__free(live);
    return st;
}

static pgqrs_status not_held(pgqrs_consumer *k, pgqrs_conn *c, int64_t id, const char *verb)
{
    return not_held_by(k, k->w.worker_id, c, id, verb);
}

PGQRS_EXTERN pgqrs_status pgqrs_message_heartbeat(int64_t *vt_us_out, int *cancel_requested_out, pgqrs_consumer *k,
                                                  int64_t id, int vt_seconds)
{
    pgqrs_status st;
    pgqrs_message_heartbeat_row row = { 0 };
    if (vt_us_out)
        *vt_us_out = 0;
    if (cancel_requested_out)
        *cancel_requested_out = 0;
    if ((st = check_consumer(k)) != PGQRS_OK ||
        (st = pgqrs__check_range(k, "vt_seconds", vt_seconds, 1, PGQRS_MAX_VT_SECONDS)) != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(k->w.store, k, {
        pgqrs_message_heartbeat_params p = { id, k->w.worker_id, (int64_t)vt_seconds * 1000 };
        st = c->q->message_heartbeat(&row, c, &p);
        if (st == PGQRS_ENOTFOUND)
            st = not_held(k, c, id, "extend");
    });
    if (st == PGQRS_OK) {
        if (vt_us_out)
            *vt_us_out = row.vt_us;
        if (cancel_requested_out)
            *cancel_requested_out = row.has_cancel_requested_at ? 1 : 0;
    }
    return st;
}

pgqrs_status pgqrs__consumer_settle_cancelled(size_t *settled_out, void *owner, pgqrs_consumer *k,
                                              const int64_t *ids, const char *const *results, size_t n)
{
    pgqrs_status st;
    int64_t *got = NULL;
    size_t ngot = 0;
    *settled_out = 0;
    if (n == 0)
        return PGQRS_OK;
    PGQRS__WITH_CONN(k->w.store, owner, {
        pgqrs_message_settle_params p = { ids, n, results, n, PGQRS_DB_ARCHIVE_REASON_CANCELLED, k->w.worker_id };
        st = c->q->message_settle(&got, &ngot, c, &p);
    });
    pgqrs__free(got);
    if (st == PGQRS_OK) {
        *settled_out = ngot;
        if (ngot)
            pgqrs__log(k->w.store, PGQRS_LOG_INFO, "message.cancelled", "%zu message(s) of '%.128s' archived as cancelled",
                       ngot, k->w.queue);
    }
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_archive_cancelled(pgqrs_consumer *k, int64_t id)
{
    pgqrs_status st;
    int64_t *got = NULL;
    size_t ngot = 0;
    static const char *const null_result[1] = { "null" };
    if ((st = check_consumer(k)) != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(k->w.store, k, {
        pgqrs_message_settle_params p = { &id, 1, null_result, 1, PGQRS_DB_ARCHIVE_REASON_CANCELLED, k->w.worker_id };
        st = c->q->message_settle(&got, &ngot, c, &p);
        if (st == PGQRS_OK && ngot == 0)
            st = not_held(k, c, id, "cancel");
    });
    pgqrs__free(got);
    if (st == PGQRS_OK)
        pgqrs__log(k->w.store, PGQRS_LOG_INFO, "message.cancelled", "message %lld of '%.128s' archived as cancelled",
                   (long long)id, k->w.queue);
    return st;
}

pgqrs_status pgqrs__set_progress(void *owner, pgqrs_store *s, int64_t worker_id, int64_t id, const char *json)
{
    pgqrs_status st;
    int64_t got = 0;
    if ((st = pgqrs__check_progress(owner, json)) != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(s, owner, {
        pgqrs_message_set_progress_params p = { id, worker_id, json };
        st = c->q->message_set_progress(&got, c, &p);
        if (st == PGQRS_ENOTFOUND)
            st = not_held_by(owner, worker_id, c, id, "set the progress of");
    });
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_message_set_progress(pgqrs_consumer *k, int64_t id, const char *progress_json)
{
    pgqrs_status st;
    if ((st = check_consumer(k)) != PGQRS_OK)
        return st;
    return pgqrs__set_progress(k, k->w.store, k->w.worker_id, id, progress_json);
}

/* ---- what claims and the runtime use ---- */

pgqrs_status pgqrs__cancel_sweep(pgqrs_consumer *k, pgqrs_conn *c, int max)
{
    int64_t swept = 0;
    pgqrs_message_cancel_sweep_params p = { k->w.queue_id, max };
    pgqrs_status st = c->q->message_cancel_sweep(&swept, c, &p);
    if (st == PGQRS_OK && swept > 0)
        pgqrs__log(k->w.store, PGQRS_LOG_INFO, "message.cancelled",
                   "%lld cancel-requested message(s) of '%.128s' whose lease ran out archived as cancelled",
                   (long long)swept, k->w.queue);
    return st;
}

pgqrs_status pgqrs__cancel_claimed(pgqrs_consumer *k, pgqrs_conn *c, pgqrs_message_row *rows, size_t *n)
{
    pgqrs_status st = PGQRS_OK;
    size_t ncancel = 0, kept = 0;
    for (size_t i = 0; i < *n; i++)
        ncancel += rows[i].has_cancel_requested_at;
    if (st != PGQRS_OK || ncancel == 0)
        return st;
    {
        int64_t *ids = pgqrs__malloc(ncancel * sizeof *ids), *got = NULL;
        const char **res = pgqrs__malloc(ncancel * sizeof *res);
        size_t m = 0, ngot = 0;
        if (!ids || !res) {
            pgqrs__free(ids);
            pgqrs__free(res);
            return pgqrs__conn_oom(c);
        }
        for (size_t i = 0; i < *n; i++)
            if (rows[i].has_cancel_requested_at) {
                ids[m] = rows[i].id;
                res[m++] = "null";
            }
        {
            pgqrs_message_settle_params p = { ids, m, res, m, PGQRS_DB_ARCHIVE_REASON_CANCELLED, k->w.worker_id };
            st = c->q->message_settle(&got, &ngot, c, &p);
        }
        pgqrs__free(ids);
        pgqrs__free(res);
        pgqrs__free(got);
        if (st != PGQRS_OK)
            return st;
    }
    for (size_t i = 0; i < *n; i++) {
        if (rows[i].has_cancel_requested_at)
            pgqrs__message_row_clear(&rows[i]);
        else
            rows[kept++] = rows[i];
    }
    *n = kept;
    pgqrs__log(k->w.store, PGQRS_LOG_INFO, "message.cancelled",
               "%zu cancel-requested message(s) of '%.128s' claimed again: archived as cancelled", ncancel, k->w.queue);
    return PGQRS_OK;
}

pgqrs_status pgqrs__extend_held_cancel(int64_t **cancel_out, size_t *n_cancel, void *owner, pgqrs_store *s,
                                       const int64_t *ids, size_t n_ids, const int64_t *worker_ids, size_t n_workers,
                                       int vt_seconds)
{
    pgqrs_status st;
    *cancel_out = NULL;
    *n_cancel = 0;
    if (n_ids == 0 || n_workers == 0)
        return PGQRS_OK;
    PGQRS__WITH_CONN(s, owner, {
        pgqrs_message_extend_held_cancel_params p = { ids, n_ids, worker_ids, n_workers, (int64_t)vt_seconds * 1000 };
        st = c->q->message_extend_held_cancel(cancel_out, n_cancel, c, &p);
    });
    return st;
}
