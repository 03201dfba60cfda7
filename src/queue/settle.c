/* settle.c: the queue-layer calls of the worker runtime: settle many finished
 * messages with the next claim, give back unstarted ones, extend every held
 * lease at once, and LISTEN for several queues (settle.h). */
#include "queue/settle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/vec.h"

void pgqrs__consumer_set_max_attempts(pgqrs_consumer *k, int32_t max_attempts)
{
    if (max_attempts >= 1)
        k->w.max_attempts = max_attempts;
}

void pgqrs__settled_clear(pgqrs__settled *s)
{
    pgqrs__free(s->lost);
    memset(s, 0, sizeof *s);
}

static bool contains(const int64_t *sorted, size_t n, int64_t id)
{
    return n && bsearch(&id, sorted, n, sizeof id, pgqrs__cmp_i64) != NULL;
}

/* Adds the ids of want that are not in got (the ids a statement touched) to out->lost. */
static pgqrs_status note_lost(pgqrs_conn *c, pgqrs__settled *out, const int64_t *want, size_t n, int64_t *got,
                              size_t ngot)
{
    int64_t *grown;
    if (ngot >= n)
        return PGQRS_OK;
    if (ngot)
        qsort(got, ngot, sizeof *got, pgqrs__cmp_i64);
    grown = pgqrs__realloc(out->lost, (out->n_lost + n - ngot) * sizeof *grown);
    if (!grown)
        return pgqrs__conn_oom(c);
    out->lost = grown;
    for (size_t i = 0; i < n; i++)
        if (!contains(got, ngot, want[i]))
            out->lost[out->n_lost++] = want[i];
    return PGQRS_OK;
}

enum part { PART_DONE, PART_DEAD, PART_RETRY };

/* One part of a settle on an acquired connection; records what it did in out. */
static pgqrs_status settle_part(pgqrs_conn *c, pgqrs_consumer *k, enum part part, const pgqrs__settle *s,
                                pgqrs__settled *out)
{
    int64_t *got = NULL;
    size_t ngot = 0;
    pgqrs_status st;
    const int64_t *ids = part == PART_DONE ? s->done_ids : part == PART_DEAD ? s->dead_ids : s->retry_ids;
    size_t n = part == PART_DONE ? s->n_done : part == PART_DEAD ? s->n_dead : s->n_retry;
    if (n == 0)
        return PGQRS_OK;
    if (part == PART_RETRY) {
        pgqrs_message_retry_params p = { ids, n, s->retry_delays_ms, n, k->w.worker_id };
        st = c->q->message_retry(&got, &ngot, c, &p);
    } else {
        pgqrs_message_settle_params p = { ids, n, part == PART_DONE ? s->done_results : s->dead_results, n,
                                          part == PART_DONE ? PGQRS_DB_ARCHIVE_REASON_ARCHIVED
                                                            : PGQRS_DB_ARCHIVE_REASON_DEAD_LETTER,
                                          k->w.worker_id };
        st = c->q->message_settle(&got, &ngot, c, &p);
    }
    if (st == PGQRS_OK)
        st = note_lost(c, out, ids, n, got, ngot);
    if (st == PGQRS_OK) {
        if (part == PART_DONE)
            out->done_applied = true, out->n_done = ngot;
        else if (part == PART_DEAD)
            out->dead_applied = true, out->n_dead = ngot;
        else
            out->retry_applied = true, out->n_retry = ngot;
    }
    pgqrs__free(got);
    return st;
}

static void count_settled(pgqrs_consumer *k, const pgqrs__settled *out)
{
    pgqrs_store *s = k->w.store;
    atomic_fetch_add(&s->n_archived, (int64_t)out->n_done);
    atomic_fetch_add(&s->n_dead_lettered, (int64_t)out->n_dead);
    atomic_fetch_add(&s->n_released, (int64_t)out->n_retry);
}

pgqrs_status pgqrs__consumer_settle(pgqrs_batch **claimed_out, pgqrs__settled *out, pgqrs_consumer *k,
                                    const pgqrs__settle *s, int max, int vt_seconds)
{
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs_message_row *rows = NULL;
    size_t nrows = 0;
    bool claimed = false;
    pgqrs_status st;
    *claimed_out = NULL;
    memset(out, 0, sizeof *out);
    if ((st = pgqrs__check_handle(k, PGQRS__MAGIC_CONSUMER, "consumer")) != PGQRS_OK)
        return st;
    if ((st = pgqrs__check_range(k, "settle size", (int64_t)s->n_done, 0, k->w.store->opts.max_batch_size)) != PGQRS_OK ||
        (st = pgqrs__check_range(k, "settle size", (int64_t)s->n_dead, 0, k->w.store->opts.max_batch_size)) != PGQRS_OK ||
        (st = pgqrs__check_range(k, "settle size", (int64_t)s->n_retry, 0, k->w.store->opts.max_batch_size)) != PGQRS_OK)
        return st;
    if (max > 0 && (st = pgqrs__consumer_check_claim(k, max, &vt_seconds)) != PGQRS_OK)
        return st;
    pgqrs__store_caps(k->w.store, &caps);
    if (caps.transactions) {
        PGQRS__WITH_CONN(k->w.store, k, {
            st = pgqrs__tx_begin(c);
            if (st == PGQRS_OK) {
                for (int part = PART_DONE; st == PGQRS_OK && part <= PART_RETRY; part++)
                    st = settle_part(c, k, (enum part)part, s, out);
                if (st == PGQRS_OK && max > 0)
                    st = pgqrs__consumer_claim_on(k, c, max, vt_seconds, &rows, &nrows, true);
                if (st == PGQRS_OK)
                    st = pgqrs__tx_commit(c);
                if (st != PGQRS_OK) {
                    pgqrs__conn_rollback_keep(c, st);
                    pgqrs__settled_clear(out);   /* nothing happened */
                }
            }
        });
        claimed = st == PGQRS_OK && max > 0;
    } else {
        /* no transaction spans calls (Turso over HTTP): each part is one atomic
         * request; what committed before a failure stays committed */
        for (int part = PART_DONE; st == PGQRS_OK && part <= PART_RETRY; part++)
            PGQRS__WITH_CONN(k->w.store, k, { st = settle_part(c, k, (enum part)part, s, out); });
        if (st == PGQRS_OK && max > 0) {
            PGQRS__WITH_CONN(k->w.store, k, { st = pgqrs__consumer_claim_on(k, c, max, vt_seconds, &rows, &nrows, false); });
            claimed = st == PGQRS_OK;
        }
    }
    count_settled(k, out);
    if (!claimed) {
        pgqrs__message_rows_free(rows, nrows);
        return st;
    }
    return pgqrs__consumer_deliver(claimed_out, k, rows, nrows);
}

pgqrs_status pgqrs__consumer_unclaim(int64_t *given_out, void *owner, pgqrs_consumer *k, const int64_t *ids,
                                     size_t n)
{
    int64_t *got = NULL;
    size_t ngot = 0;
    pgqrs_status st = PGQRS_OK;
    if (given_out)
        *given_out = 0;
    if (n == 0)
        return PGQRS_OK;
    PGQRS__WITH_CONN(k->w.store, owner, {
        pgqrs_message_unclaim_params p = { ids, n, k->w.worker_id };
        st = c->q->message_unclaim(&got, &ngot, c, &p);
    });
    pgqrs__free(got);
    if (st == PGQRS_OK && given_out)
        *given_out = (int64_t)ngot;
    return st;
}

pgqrs_status pgqrs__consumer_release_after(int64_t *released_out, void *owner, pgqrs_consumer *k,
                                           const int64_t *ids, const int64_t *delays_ms, size_t n)
{
    int64_t *got = NULL;
    size_t ngot = 0;
    pgqrs_status st = PGQRS_OK;
    if (released_out)
        *released_out = 0;
    if (n == 0)
        return PGQRS_OK;
    PGQRS__WITH_CONN(k->w.store, owner, {
        pgqrs_message_retry_params p = { ids, n, delays_ms, n, k->w.worker_id };
        st = c->q->message_retry(&got, &ngot, c, &p);
    });
    pgqrs__free(got);
    if (st == PGQRS_OK) {
        atomic_fetch_add(&k->w.store->n_released, (int64_t)ngot);
        if (released_out)
            *released_out = (int64_t)ngot;
    }
    return st;
}

pgqrs_status pgqrs__extend_held(int64_t *extended_out, void *owner, pgqrs_store *s, const int64_t *ids, size_t n_ids,
                                const int64_t *worker_ids, size_t n_workers, int vt_seconds)
{
    int64_t affected = 0;
    pgqrs_status st = PGQRS_OK;
    if (extended_out)
        *extended_out = 0;
    if (n_ids == 0 || n_workers == 0)
        return PGQRS_OK;
    PGQRS__WITH_CONN(s, owner, {
        pgqrs_message_extend_held_params p = { ids, n_ids, worker_ids, n_workers, (int64_t)vt_seconds * 1000 };
        st = c->q->message_extend_held(&affected, c, &p);
    });
    if (st == PGQRS_OK && extended_out)
        *extended_out = affected;
    return st;
}

/* ---- LISTEN for several queues ---- */

struct pgqrs__listener {
    pgqrs_store *store;
    pgqrs_conn *conn;
    char (*payloads)[24];
    const char **ptrs;
    size_t cap;
};

pgqrs_status pgqrs__listener_open(pgqrs__listener **out, pgqrs_store *s, void *owner)
{
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs__listener *l;
    pgqrs_status st;
    *out = NULL;
    pgqrs__store_caps(s, &caps);
    if (!caps.notifications || !s->drv->listen || !s->drv->wait_notify)
        return PGQRS_ENOTSUPPORTED;
    if (!(l = pgqrs__calloc(1, sizeof *l)))
        return pgqrs__fail(owner, PGQRS_ENOMEM, "out of memory");
    l->store = s;
    st = pgqrs__store_open_conn(s, owner, &l->conn);
    if (st == PGQRS_OK)
        st = s->drv->listen(l->conn);
    if (st != PGQRS_OK) {
        pgqrs__listener_close(l);
        return st;
    }
    *out = l;
    return PGQRS_OK;
}

int pgqrs__listener_wait(pgqrs__listener *l, const int64_t *queue_ids, size_t n, int64_t timeout_ms, int wake_fd)
{
    if (n > l->cap) {
        char (*p)[24] = pgqrs__realloc(l->payloads, n * sizeof *p);
        const char **q = p ? pgqrs__realloc(l->ptrs, n * sizeof *q) : NULL;
        if (p)
            l->payloads = p;
        if (!q) {
            pgqrs__conn_oom(l->conn);
            return -1;
        }
        l->ptrs = q;
        l->cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(l->payloads[i], sizeof l->payloads[i], "%lld", (long long)queue_ids[i]);
        l->ptrs[i] = l->payloads[i];
    }
    return l->store->drv->wait_notify(l->conn, l->ptrs, n, timeout_ms, wake_fd);
}

int pgqrs__listener_wait_for(pgqrs__listener *l, const char *payload, int64_t timeout_ms)
{
    const char *payloads[1] = { payload };
    return l->store->drv->wait_notify(l->conn, payloads, 1, timeout_ms, -1);
}

void pgqrs__listener_close(pgqrs__listener *l)
{
    if (!l)
        return;
    pgqrs__conn_close(l->conn);
    pgqrs__free(l->payloads);
    pgqrs__free(l->ptrs);
    pgqrs__free(l);
}
