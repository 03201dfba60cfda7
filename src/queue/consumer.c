/* consumer.c: dequeue, visibility, release, archive and delete, with ownership. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "pgqrs_public.h"
#include "queue/jobs.h"
#include "queue/settle.h"

PGQRS_EXTERN pgqrs_status pgqrs_consumer_new(pgqrs_consumer **out, pgqrs_store *s, const char *queue)
{
    return pgqrs__worker_handle_new((void **)out, sizeof **out, PGQRS__MAGIC_CONSUMER, s, queue,
                                    PGQRS_DB_WORKER_KIND_CONSUMER);
}

PGQRS_EXTERN void pgqrs_consumer_free(pgqrs_consumer *k)
{
    if (!k || k->w.h.magic != PGQRS__MAGIC_CONSUMER)
        return;
    pgqrs__conn_close(k->listener);
    pgqrs__worker_handle_close(&k->w, true);
    pgqrs__free(k);
}

PGQRS_EXTERN int64_t pgqrs_consumer_worker_id(const pgqrs_consumer *k)
{
    return k && k->w.h.magic == PGQRS__MAGIC_CONSUMER ? k->w.worker_id : 0;
}

static pgqrs_status check_consumer(const pgqrs_consumer *k)
{
    return pgqrs__check_handle(k, PGQRS__MAGIC_CONSUMER, "consumer");
}

/* An empty claim: the queue is empty, or this worker may not dequeue. */
static pgqrs_status empty_or_refused(pgqrs_consumer *k, pgqrs_conn *c)
{
    pgqrs_worker_row row = { 0 };
    pgqrs_status st = c->q->worker_get(&row, c, k->w.worker_id);
    if (st == PGQRS_OK && row.status != PGQRS_DB_WORKER_STATUS_READY)
        st = pgqrs__fail(k, PGQRS_ESTATE, "consumer worker %lld is %s; resume it to dequeue",
                         (long long)k->w.worker_id, pgqrs__worker_status_str(row.status));
    else if (st == PGQRS_ENOTFOUND)
        st = pgqrs__fail(k, PGQRS_ESTATE, "consumer worker %lld no longer exists", (long long)k->w.worker_id);
    pgqrs__worker_row_clear(&row);
    return st;
}

pgqrs_status pgqrs__consumer_check_claim(pgqrs_consumer *k, int max, int *vt_seconds)
{
    pgqrs_status st;
    if (*vt_seconds == 0)
        *vt_seconds = k->w.store->opts.default_vt_seconds;
    if ((st = pgqrs__check_range(k, "max", max, 1, k->w.store->opts.max_batch_size)) != PGQRS_OK ||
        (st = pgqrs__check_range(k, "vt_seconds", *vt_seconds, 1, PGQRS_MAX_VT_SECONDS)) != PGQRS_OK)
        return st;
    return PGQRS_OK;
}

pgqrs_status pgqrs__consumer_after_short_claim(pgqrs_consumer *k, pgqrs_conn *c, int max, int64_t *dead_out)
{
    pgqrs_message_dead_letter_params d = { k->w.queue_id, max, k->w.max_attempts };
    pgqrs_status st = pgqrs__cancel_sweep(k, c, max);
    *dead_out = 0;
    if (st == PGQRS_OK)
        st = c->q->message_dead_letter(dead_out, c, &d);
    if (st == PGQRS_OK && *dead_out > 0) {
        atomic_fetch_add(&k->w.store->n_dead_lettered, *dead_out);
        pgqrs__log(k->w.store, PGQRS_LOG_WARN, "message.dead_letter",
                   "%lld message(s) of '%.128s' reached max_attempts %d and moved to the dead-letter queue",
                   (long long)*dead_out, k->w.queue, (int)k->w.max_attempts);
    }
    return st;
}

pgqrs_status pgqrs__consumer_claim_on(pgqrs_consumer *k, pgqrs_conn *c, int max, int vt_seconds, pgqrs_message_row **rows,
                             size_t *n, bool in_tx)
{
    pgqrs_message_dequeue_params p = { k->w.queue_id, k->w.worker_id, max, (int64_t)vt_seconds * 1000,
                                       k->w.max_attempts };
    pgqrs_status st;
    k->limit_wait_ms = 0;
    if ((st = pgqrs__consumer_limits_refresh(k, c)) != PGQRS_OK)
        return st;
    if (k->limited) {   /* limits.c: a separate claim; queues without limits keep the one below */
        st = pgqrs__consumer_claim_limited(k, c, max, vt_seconds, rows, n, in_tx);
        if (st == PGQRS_OK && *n == 0)
            st = empty_or_refused(k, c);
        return st;
    }
    st = c->q->message_dequeue(rows, n, c, &p);
    if (st == PGQRS_OK && *n < (size_t)max) {
        /* a short claim: the window may hold poison messages, which are
         * dead-lettered now, when they would have been delivered again */
        int64_t dead = 0;
        st = pgqrs__consumer_after_short_claim(k, c, max, &dead);
        if (st == PGQRS_OK && dead > 0 && *n == 0) {   /* the window held only poison: claim what follows it */
            pgqrs__message_rows_free(*rows, *n);
            st = c->q->message_dequeue(rows, n, c, &p);
        }
    }
    if (st == PGQRS_OK)   /* claimed cancel-requested messages: jobs.c */
        st = pgqrs__cancel_claimed(k, c, *rows, n);
    if (st == PGQRS_OK && *n == 0)
        st = empty_or_refused(k, c);
    return st;
}

pgqrs_status pgqrs__consumer_deliver(pgqrs_batch **out, pgqrs_consumer *k, pgqrs_message_row *rows, size_t n)
{
    atomic_fetch_add(&k->w.store->n_dequeued, (int64_t)n);
    if (n)
        pgqrs__log(k->w.store, PGQRS_LOG_DEBUG, "message.dequeue", "%zu messages from '%.128s' to worker %lld", n,
                   k->w.queue, (long long)k->w.worker_id);
    *out = pgqrs__batch_from_message_rows(rows, n);
    return *out ? PGQRS_OK : pgqrs__fail(k, PGQRS_ENOMEM, "out of memory");
}

PGQRS_EXTERN pgqrs_status pgqrs_dequeue(pgqrs_batch **out, pgqrs_consumer *k, int max, int vt_seconds)
{
    pgqrs_message_row *rows = NULL;
    size_t n = 0;
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    if ((st = check_consumer(k)) != PGQRS_OK || (st = pgqrs__consumer_check_claim(k, max, &vt_seconds)) != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(k->w.store, k, { st = pgqrs__consumer_claim_on(k, c, max, vt_seconds, &rows, &n, false); });
    if (st != PGQRS_OK) {
        pgqrs__message_rows_free(rows, n);
        return st;
    }
    return pgqrs__consumer_deliver(out, k, rows, n);
}

/* Opens this consumer's LISTEN session on first use; false when waiting must
 * poll instead (the backend cannot notify, or LISTEN failed: logged once). */
static bool ensure_listener(pgqrs_consumer *k)
{
    pgqrs_store *s = k->w.store;
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs_status st;
    if (k->listener)
        return true;
    if (k->no_listener)
        return false;
    k->no_listener = true;
    pgqrs__store_caps(s, &caps);
    if (!caps.notifications || !s->drv->listen || !s->drv->wait_notify)
        return false;
    st = pgqrs__store_open_conn(s, k, &k->listener);
    if (st == PGQRS_OK)
        st = s->drv->listen(k->listener);
    if (st != PGQRS_OK)
        pgqrs__log(s, PGQRS_LOG_WARN, "listen.failed", "falling back to polling: %s", pgqrs_errmsg(k));
    if (st != PGQRS_OK) {
        pgqrs__conn_close(k->listener);
        k->listener = NULL;
        return false;
    }
    k->no_listener = false;
    return true;
}

int64_t pgqrs__consumer_next_due_ms(pgqrs_consumer *k, int64_t cap_ms)
{
    pgqrs_status st;
    pgqrs_message_next_vt_row next = { false, 0 };
    int64_t ms = cap_ms;
    PGQRS__WITH_CONN(k->w.store, k, {
        st = c->q->message_next_vt(&next, c, k->w.queue_id);
    });
    if (st == PGQRS_OK && next.has_next_vt) {
        int64_t due = (next.next_vt_us - pgqrs__store_clock(k->w.store)) / 1000 + 1;
        if (due < ms)
            ms = due > 0 ? due : 0;
    }
    return ms;
}

void pgqrs__consumer_idle_wait(pgqrs_consumer *k, int64_t ms, atomic_int *stop)
{
    char payload[24];
    const char *payloads[1] = { payload };
    bool listening = ensure_listener(k);
    snprintf(payload, sizeof payload, "%lld", (long long)k->w.queue_id);
    if (listening)
        ms = pgqrs__consumer_next_due_ms(k, ms);
    while (ms > 0 && !atomic_load(stop)) {
        /* slices keep an interrupt (an atomic flag, set from a signal handler) prompt */
        int64_t slice = ms < (listening ? 100 : 20) ? ms : (listening ? 100 : 20);
        if (listening) {
            int woke = k->w.store->drv->wait_notify(k->listener, payloads, 1, slice, -1);
            if (woke == 1)
                return;
            if (woke < 0) {
                pgqrs__log(k->w.store, PGQRS_LOG_WARN, "listen.failed", "falling back to polling: %s",
                           pgqrs_errmsg(k));
                pgqrs__conn_close(k->listener);
                k->listener = NULL;
                listening = false;
            }
        } else {
            pgqrs__sleep_ms(slice);
        }
        ms -= slice;
    }
}

PGQRS_EXTERN pgqrs_status pgqrs_dequeue_wait(pgqrs_batch **out, pgqrs_consumer *k, int max, int vt_seconds,
                                             int64_t timeout_ms)
{
    int64_t deadline;
    int round = 0;
    uint64_t rng = pgqrs__rng_seed(k);
    char payload[24];
    bool listening;
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    if ((st = check_consumer(k)) != PGQRS_OK)
        return st;
    if ((st = pgqrs__check_range(k, "timeout_ms", timeout_ms, 0, (int64_t)PGQRS_MAX_VT_SECONDS * 1000)) != PGQRS_OK)
        return st;
    deadline = pgqrs__now_us() + timeout_ms * 1000;
    snprintf(payload, sizeof payload, "%lld", (long long)k->w.queue_id);
    /* subscribe before the first look, so a message enqueued in between wakes us */
    listening = ensure_listener(k);
    for (;;) {
        int64_t left, wait;
        st = pgqrs_dequeue(out, k, max, vt_seconds);
        if (st != PGQRS_OK || pgqrs_batch_count(*out) > 0)
            return st;
        left = deadline - pgqrs__now_us();
        if (left <= 0)
            return PGQRS_OK;   /* the empty batch */
        left = (left + 999) / 1000;   /* round up: never return before the timeout */
        pgqrs_batch_free(*out);
        *out = NULL;
        wait = pgqrs__consumer_next_due_ms(k, left);
        if (pgqrs__consumer_limit_wait_ms(k) > 0) {
            /* held back by a limit: no notification says when it has room */
            int64_t lw = pgqrs__consumer_limit_wait_ms(k);
            pgqrs__sleep_ms(lw < left ? lw : left);
        } else if (listening) {
            const char *payloads[1] = { payload };
            int woke = k->w.store->drv->wait_notify(k->listener, payloads, 1, wait, -1);
            if (woke < 0) {
                pgqrs__log(k->w.store, PGQRS_LOG_WARN, "listen.failed", "falling back to polling: %s",
                           pgqrs_errmsg(k));
                pgqrs__conn_close(k->listener);
                k->listener = NULL;
                listening = false;   /* k->no_listener stays false: the next call tries again */
            }
        } else {
            int64_t nap = pgqrs__backoff_ms(round++, 10, 250, &rng);
            pgqrs__sleep_ms(nap < wait ? nap : wait);
        }
    }
}

static bool contains(const int64_t *sorted, size_t n, int64_t id)
{
    return n && bsearch(&id, sorted, n, sizeof id, pgqrs__cmp_i64) != NULL;
}

enum op { OP_ARCHIVE, OP_DELETE, OP_RELEASE };
static const char *const op_verb[] = { "archive", "delete", "release" };

/* What one held-message statement did: the ids it touched (done), and of the
 * others, those that are live (held by another worker); the rest do not exist. */
typedef struct {
    int64_t *done, *live, *missing;
    size_t ndone, nlive, nmissing;
} held_outcome;

static void held_outcome_clear(held_outcome *o)
{
    pgqrs__free(o->done);
    pgqrs__free(o->live);
    pgqrs__free(o->missing);
    memset(o, 0, sizeof *o);
}

static pgqrs_status check_held_args(pgqrs_consumer *k, const int64_t *ids, size_t n, int delay_seconds)
{
    pgqrs_status st;
    if (!ids)
        return pgqrs__fail(k, PGQRS_EMISUSE, "ids is NULL");
    if ((st = pgqrs__check_range(k, "batch size", (int64_t)n, 1, k->w.store->opts.max_batch_size)) != PGQRS_OK ||
        (st = pgqrs__check_range(k, "delay_seconds", delay_seconds, 0, PGQRS_MAX_DELAY_SECONDS)) != PGQRS_OK)
        return st;
    return PGQRS_OK;
}

/* Runs one batch statement that touches only messages this worker holds, then
 * looks up which of the untouched ids are live, on an acquired connection. */
static pgqrs_status held_apply_on(pgqrs_consumer *k, pgqrs_conn *c, enum op op, const int64_t *ids, size_t n,
                                  int delay_seconds, held_outcome *o)
{
    pgqrs_status st;
    if (op == OP_ARCHIVE) {
        pgqrs_message_archive_params p = { ids, n, k->w.worker_id };
        st = c->q->message_archive(&o->done, &o->ndone, c, &p);
    } else if (op == OP_DELETE) {
        pgqrs_message_delete_params p = { ids, n, k->w.worker_id };
        st = c->q->message_delete(&o->done, &o->ndone, c, &p);
    } else {
        pgqrs_message_release_params p = { ids, n, k->w.worker_id, (int64_t)delay_seconds * 1000 };
        st = c->q->message_release(&o->done, &o->ndone, c, &p);
    }
    if (st == PGQRS_OK && o->ndone)
        qsort(o->done, o->ndone, sizeof *o->done, pgqrs__cmp_i64);
    if (st == PGQRS_OK && o->ndone < n) {
        o->missing = pgqrs__malloc(n * sizeof *o->missing);
        if (!o->missing)
            st = pgqrs__conn_oom(c);
        for (size_t i = 0; o->missing && i < n; i++)
            if (!contains(o->done, o->ndone, ids[i]))
                o->missing[o->nmissing++] = ids[i];
        if (st == PGQRS_OK)
            st = c->q->message_existing(&o->live, &o->nlive, c, o->missing, o->nmissing);
    }
    return st;
}

/* Each id's outcome into results (may be NULL); the first failure's status,
 * with its message on k, or PGQRS_OK. */
static pgqrs_status held_report(pgqrs_consumer *k, enum op op, const int64_t *ids, size_t n, const held_outcome *o,
                                pgqrs_status *results)
{
    pgqrs_status first = PGQRS_OK;
    for (size_t i = 0; i < n; i++) {
        pgqrs_status r = contains(o->done, o->ndone, ids[i])   ? PGQRS_OK
                       : contains(o->live, o->nlive, ids[i]) ? PGQRS_ENOTOWNED
                                                               : PGQRS_ENOTFOUND;
        if (results)
            results[i] = r;
        if (r != PGQRS_OK && first == PGQRS_OK) {
            first = r;
            if (r == PGQRS_ENOTOWNED)
                pgqrs__fail(k, r, "cannot %s message %lld: it is not held by this consumer (worker %lld)", op_verb[op],
                            (long long)ids[i], (long long)k->w.worker_id);
            else
                pgqrs__fail(k, r, "cannot %s message %lld: no such live message", op_verb[op], (long long)ids[i]);
        }
    }
    return first;
}

static void count_held(pgqrs_consumer *k, enum op op, size_t ndone)
{
    atomic_fetch_add(op == OP_ARCHIVE  ? &k->w.store->n_archived
                     : op == OP_DELETE ? &k->w.store->n_deleted
                                       : &k->w.store->n_released,
                     (int64_t)ndone);
}

static pgqrs_status held_op(pgqrs_consumer *k, enum op op, const int64_t *ids, size_t n, int delay_seconds,
                            pgqrs_status *results)
{
    held_outcome o = { 0 };
    pgqrs_status st;
    if ((st = check_consumer(k)) != PGQRS_OK || (st = check_held_args(k, ids, n, delay_seconds)) != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(k->w.store, k, { st = held_apply_on(k, c, op, ids, n, delay_seconds, &o); });
    if (st == PGQRS_OK) {
        count_held(k, op, o.ndone);
        st = held_report(k, op, ids, n, &o, results);
    }
    held_outcome_clear(&o);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_archive_and_dequeue(pgqrs_batch **out, pgqrs_status *results_out, pgqrs_consumer *k, const int64_t *ids, size_t n, int max, int vt_seconds)
{
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs_message_row *rows = NULL;
    size_t nrows = 0;
    held_outcome o = { 0 };
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    if ((st = check_consumer(k)) != PGQRS_OK)
        return st;
    if (n == 0)
        return pgqrs_dequeue(out, k, max, vt_seconds);
    if ((st = check_held_args(k, ids, n, 0)) != PGQRS_OK || (st = pgqrs__consumer_check_claim(k, max, &vt_seconds)) != PGQRS_OK)
        return st;
    pgqrs__store_caps(k->w.store, &caps);
    if (!caps.transactions) {
        /* no transaction can span the two (Turso over HTTP): two atomic calls */
        if ((st = held_op(k, OP_ARCHIVE, ids, n, 0, results_out)) != PGQRS_OK)
            return st;
        return pgqrs_dequeue(out, k, max, vt_seconds);
    }
    PGQRS__WITH_CONN(k->w.store, k, {
        st = pgqrs__tx_begin(c);
        if (st == PGQRS_OK) {
            st = held_apply_on(k, c, OP_ARCHIVE, ids, n, 0, &o);
            if (st == PGQRS_OK)
                st = held_report(k, OP_ARCHIVE, ids, n, &o, results_out);
            if (st == PGQRS_OK)
                st = pgqrs__consumer_claim_on(k, c, max, vt_seconds, &rows, &nrows, true);
            if (st == PGQRS_OK)
                st = pgqrs__tx_commit(c);
            if (st != PGQRS_OK)
                pgqrs__conn_rollback_keep(c, st);
        }
    });
    if (st == PGQRS_OK) {
        count_held(k, OP_ARCHIVE, o.ndone);
        st = pgqrs__consumer_deliver(out, k, rows, nrows);
    } else {
        pgqrs__message_rows_free(rows, nrows);
    }
    held_outcome_clear(&o);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_archive(pgqrs_consumer *k, int64_t id) { return held_op(k, OP_ARCHIVE, &id, 1, 0, NULL); }
PGQRS_EXTERN pgqrs_status pgqrs_delete(pgqrs_consumer *k, int64_t id) { return held_op(k, OP_DELETE, &id, 1, 0, NULL); }

PGQRS_EXTERN pgqrs_status pgqrs_release(pgqrs_consumer *k, int64_t id, int delay_seconds)
{
    return held_op(k, OP_RELEASE, &id, 1, delay_seconds, NULL);
}

PGQRS_EXTERN pgqrs_status pgqrs_archive_batch(pgqrs_status *results_out, pgqrs_consumer *k, const int64_t *ids, size_t n)
{
    return held_op(k, OP_ARCHIVE, ids, n, 0, results_out);
}

PGQRS_EXTERN pgqrs_status pgqrs_delete_batch(pgqrs_status *results_out, pgqrs_consumer *k, const int64_t *ids, size_t n)
{
    return held_op(k, OP_DELETE, ids, n, 0, results_out);
}

PGQRS_EXTERN pgqrs_status pgqrs_release_batch(pgqrs_status *results_out, pgqrs_consumer *k, const int64_t *ids, size_t n, int delay_seconds)
{
    return held_op(k, OP_RELEASE, ids, n, delay_seconds, results_out);
}

PGQRS_EXTERN pgqrs_status pgqrs_extend_vt(int64_t *vt_us_out, pgqrs_consumer *k, int64_t id, int vt_seconds)
{
    pgqrs_status st;
    pgqrs_message_extend_vt_row vt = { 0 };
    if (vt_us_out)
        *vt_us_out = 0;
    if ((st = check_consumer(k)) != PGQRS_OK ||
        (st = pgqrs__check_range(k, "vt_seconds", vt_seconds, 1, PGQRS_MAX_VT_SECONDS)) != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(k->w.store, k, {
        pgqrs_message_extend_vt_params p = { id, k->w.worker_id, (int64_t)vt_seconds * 1000 };
        st = c->q->message_extend_vt(&vt, c, &p);
        if (st == PGQRS_ENOTFOUND) {
            int64_t *live = NULL;
            size_t nlive = 0;
            st = c->q->message_existing(&live, &nlive, c, &id, 1);
            if (st == PGQRS_OK && nlive)
                st = pgqrs__fail(k, PGQRS_ENOTOWNED, "cannot extend message %lld: it is not held by this consumer",
                                 (long long)id);
            else if (st == PGQRS_OK)
                st = pgqrs__fail(k, PGQRS_ENOTFOUND, "cannot extend message %lld: no such live message", (long long)id);
            pgqrs__free(live);
        }
    });
    if (st == PGQRS_OK && vt_us_out)
        *vt_us_out = vt.vt_us;
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_consumer_heartbeat(pgqrs_consumer *k)
{
    pgqrs_status st = check_consumer(k);
    return st == PGQRS_OK ? pgqrs__worker_heartbeat(&k->w) : st;
}

PGQRS_EXTERN pgqrs_status pgqrs_consumer_suspend(pgqrs_consumer *k)
{
    pgqrs_status st = check_consumer(k);
    return st == PGQRS_OK ? pgqrs__worker_transition(&k->w, PGQRS_DB_WORKER_STATUS_READY,
                                                     PGQRS_DB_WORKER_STATUS_SUSPENDED, "suspend")
                          : st;
}

PGQRS_EXTERN pgqrs_status pgqrs_consumer_resume(pgqrs_consumer *k)
{
    pgqrs_status st = check_consumer(k);
    return st == PGQRS_OK ? pgqrs__worker_transition(&k->w, PGQRS_DB_WORKER_STATUS_SUSPENDED,
                                                     PGQRS_DB_WORKER_STATUS_READY, "resume")
                          : st;
}

PGQRS_EXTERN pgqrs_status pgqrs_consumer_shutdown(pgqrs_consumer *k, int release)
{
    pgqrs_status st = check_consumer(k);
    return st == PGQRS_OK ? pgqrs__worker_shutdown(&k->w, release != 0) : st;
}
