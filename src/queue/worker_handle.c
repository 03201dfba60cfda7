/* worker_handle.c: registration and lifecycle of producer and consumer workers. */
#include "queue/worker_handle.h"

#include <string.h>

#include "base/alloc.h"

pgqrs_status pgqrs__worker_handle_init(pgqrs__worker_handle *w, uint32_t magic, pgqrs_store *s, const char *queue,
                                       pgqrs_db_worker_kind kind)
{
    pgqrs_status st;
    w->h.magic = magic;
    w->h.errs = &s->errs;
    w->store = s;
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        st = pgqrs__queue_lookup(c, queue, &q);
        if (st == PGQRS_OK) {
            w->queue_id = q.id;
            w->max_attempts = q.max_attempts;
            w->queue = q.name;
            q.name = NULL;
            st = pgqrs__worker_register(s, c, &w->queue_id, kind, &w->worker_id);
        }
        pgqrs__queue_row_clear(&q);
    });
    if (st != PGQRS_OK)
        pgqrs__copy_err(w, s, st);
    return st;
}

pgqrs_status pgqrs__worker_handle_new(void **out, size_t size, uint32_t magic, pgqrs_store *s, const char *queue,
                                      pgqrs_db_worker_kind kind)
{
    pgqrs__worker_handle *w;
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    if ((st = pgqrs__check_handle(s, PGQRS__MAGIC_STORE, "store")) != PGQRS_OK)
        return st;
    w = pgqrs__calloc(1, size);
    if (!w)
        return pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    st = pgqrs__worker_handle_init(w, magic, s, queue, kind);
    if (st != PGQRS_OK) {
        pgqrs__worker_handle_close(w, false);
        pgqrs__free(w);
        return st;   /* the store's message says why */
    }
    *out = w;
    return PGQRS_OK;
}

void pgqrs__worker_handle_close(pgqrs__worker_handle *w, bool release)
{
    pgqrs_status st;
    if (w->worker_id) {
        pgqrs__store_untrack_worker(w->store, w->worker_id);
        PGQRS__WITH_CONN(w->store, w, {
            pgqrs_worker_row row = { 0 };
            pgqrs_worker_shutdown_params p = { w->worker_id, release };
            /* no row: already stopped, or still holding messages (a producer
             * holds none); either way nothing more to do when freeing */
            st = c->q->worker_shutdown(&row, c, &p);
            if (st == PGQRS_OK)
                pgqrs__log(w->store, PGQRS_LOG_INFO, "worker.shutdown", "worker %lld stopped as its handle was freed%s",
                           (long long)w->worker_id, release ? " (its messages released)" : "");
            pgqrs__worker_row_clear(&row);
        });
    }
    pgqrs__free(w->queue);
    w->h.magic = PGQRS__MAGIC_FREED;
}

/* After a transition matched no row: ENOTFOUND, or ESTATE naming the status. */
static pgqrs_status explain_no_row(pgqrs__worker_handle *w, pgqrs_conn *c, const char *verb)
{
    pgqrs_worker_row row = { 0 };
    pgqrs_status st = c->q->worker_get(&row, c, w->worker_id);
    if (st == PGQRS_ENOTFOUND)
        st = pgqrs__fail(w, st, "worker %lld no longer exists", (long long)w->worker_id);
    else if (st == PGQRS_OK)
        st = pgqrs__fail(w, PGQRS_ESTATE, "cannot %s worker %lld: it is %s", verb, (long long)w->worker_id,
                         pgqrs__worker_status_str(row.status));
    pgqrs__worker_row_clear(&row);
    return st;
}

pgqrs_status pgqrs__worker_transition(pgqrs__worker_handle *w, pgqrs_db_worker_status from,
                                      pgqrs_db_worker_status to, const char *verb)
{
    pgqrs_status st;
    PGQRS__WITH_CONN(w->store, w, {
        pgqrs_worker_row row = { 0 };
        pgqrs_worker_transition_params p = { w->worker_id, from, to };
        st = c->q->worker_transition(&row, c, &p);
        if (st == PGQRS_OK)
            pgqrs__log(w->store, PGQRS_LOG_INFO, "worker.transition", "worker %lld: %s -> %s",
                       (long long)w->worker_id, pgqrs__worker_status_str(from), pgqrs__worker_status_str(to));
        if (st == PGQRS_ENOTFOUND)
            st = explain_no_row(w, c, verb);
        pgqrs__worker_row_clear(&row);
    });
    return st;
}

pgqrs_status pgqrs__worker_heartbeat(pgqrs__worker_handle *w)
{
    pgqrs_status st;
    PGQRS__WITH_CONN(w->store, w, {
        int64_t affected = 0;
        st = c->q->worker_heartbeat(&affected, c, &w->worker_id, 1);
        if (st == PGQRS_OK && affected == 0)
            st = explain_no_row(w, c, "heartbeat");
    });
    return st;
}

pgqrs_status pgqrs__worker_shutdown(pgqrs__worker_handle *w, bool release)
{
    pgqrs_status st;
    PGQRS__WITH_CONN(w->store, w, {
        pgqrs_worker_row row = { 0 };
        pgqrs_worker_shutdown_params p = { w->worker_id, release };
        st = c->q->worker_shutdown(&row, c, &p);
        if (st == PGQRS_ENOTFOUND) {
            int64_t held = 0;
            if (c->q->worker_held_count(&held, c, w->worker_id) == PGQRS_OK && held > 0)
                st = pgqrs__fail(w, PGQRS_ESTATE,
                                 "worker %lld still holds %lld message(s); release them or shut down with release",
                                 (long long)w->worker_id, (long long)held);
            else
                st = explain_no_row(w, c, "shut down");
        }
        pgqrs__worker_row_clear(&row);
    });
    if (st == PGQRS_OK) {
        pgqrs__store_untrack_worker(w->store, w->worker_id);
        pgqrs__log(w->store, PGQRS_LOG_INFO, "worker.shutdown", "worker %lld stopped%s", (long long)w->worker_id,
                   release ? " (its messages released)" : "");
    }
    return st;
}
