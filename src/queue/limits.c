/* limits.c: per-queue concurrency and rate limits, enforced in the claim.
 *
 * A consumer learns whether its queue has a limit from a look at the queue row,
 * repeated at most every PGQRS_LIMITS_REFRESH_MS (a queue update reaches running
 * consumers within that); a queue without limits claims with message_dequeue
 * as before. A limited queue's claim is one transaction of queue_limits_lock
 * (the queue row locked: limited claims of the queue run one at a time, on
 * every process and machine), queue_limits_usage (a later statement, so it sees
 * every claim committed before the lock was granted), message_dequeue_limited
 * (at most what the limits leave) and, with a rate limit, queue_claims_record
 * and queue_claims_prune.
 * docs/design.md, "Per-queue limits", has the exactness argument. */
#include <stdbool.h>

#include "pgqrs_public.h"
#include "queue/settle.h"

enum { CONC_WAIT_MIN_MS = 10, CONC_WAIT_MAX_MS = 250 };

int64_t pgqrs__consumer_limit_wait_ms(const pgqrs_consumer *k) { return k ? k->limit_wait_ms : 0; }

static pgqrs_status refuse(pgqrs_consumer *k)
{
    return pgqrs__fail(k, PGQRS_ENOTSUPPORTED,
                       "queue '%.128s' has a concurrency or rate limit, which the %s backend cannot enforce exactly "
                       "(no transactions across calls); remove it with pgqrs_queue_update (-1)",
                       k->w.queue, pgqrs_store_backend(k->w.store));
}

static bool has_transactions(pgqrs_consumer *k)
{
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs__store_caps(k->w.store, &caps);
    return caps.transactions != 0;
}

pgqrs_status pgqrs__consumer_limits_refresh(pgqrs_consumer *k, pgqrs_conn *c)
{
    pgqrs_queue_row q = { 0 };
    pgqrs_status st;
    const int64_t refresh_us = (int64_t)PGQRS_LIMITS_REFRESH_MS * 1000;
    int64_t now = pgqrs__store_clock(k->w.store), age = now - k->limits_at_us;
    if (k->limits_at_us != 0 && age < refresh_us && age > -refresh_us)
        return k->limited && !has_transactions(k) ? refuse(k) : PGQRS_OK;
    st = c->q->queue_get(&q, c, k->w.queue_id);
    if (st == PGQRS_ENOTFOUND) {   /* deleted: the claim finds nothing, as before */
        k->limited = false;
        return PGQRS_OK;
    }
    if (st != PGQRS_OK) {
        pgqrs__queue_row_clear(&q);
        return st;
    }
    k->limited = q.has_concurrency_limit || q.has_rate_limit;
    k->limits_at_us = now;
    pgqrs__queue_row_clear(&q);
    return k->limited && !has_transactions(k) ? refuse(k) : PGQRS_OK;
}

/* What the limits leave of max (0: nothing now, and *wait_ms says when to look
 * again), on c inside the claim's transaction. */
static pgqrs_status room_left(pgqrs_consumer *k, pgqrs_conn *c, int max, int *room_out, int64_t *wait_ms,
                              bool *rate_limited)
{
    pgqrs_queue_limits_lock_row lim = { 0 };
    pgqrs_queue_limits_usage_row use = { 0 };
    pgqrs_status st = c->q->queue_limits_lock(&lim, c, k->w.queue_id);
    int64_t room = max;
    *room_out = 0;
    *wait_ms = 0;
    *rate_limited = false;
    if (st == PGQRS_ENOTFOUND)
        return PGQRS_OK;   /* deleted meanwhile: nothing to claim */
    if (st != PGQRS_OK)
        return st;
    k->limited = lim.has_concurrency_limit || lim.has_rate_limit;   /* as of now: an update shows at once */
    k->limits_at_us = pgqrs__store_clock(k->w.store);
    *rate_limited = lim.has_rate_limit;
    if (k->limited) {
        pgqrs_queue_limits_usage_params p = { k->w.queue_id, lim.has_concurrency_limit, lim.has_rate_limit,
                                              lim.rate_period_ms };
        if ((st = c->q->queue_limits_usage(&use, c, &p)) != PGQRS_OK) {
            pgqrs__queue_limits_lock_row_clear(&lim);
            return st;
        }
        if (lim.has_concurrency_limit && lim.concurrency_limit - use.in_flight < room) {
            room = lim.concurrency_limit - use.in_flight;
            if (room <= 0)   /* a slot frees when a holder settles: no signal says when, so poll with backoff */
                *wait_ms = pgqrs__backoff_ms(k->limit_round, CONC_WAIT_MIN_MS, CONC_WAIT_MAX_MS, &k->limit_rng);
        }
        if (lim.has_rate_limit && lim.rate_limit - use.window_claims < room) {
            room = lim.rate_limit - use.window_claims;
            if (room <= 0 && use.has_window_oldest) {   /* the window has room when its oldest claim leaves it */
                int64_t at_us = use.window_oldest_us + lim.rate_period_ms * 1000;
                int64_t ms = (at_us - pgqrs__store_clock(k->w.store) + 999) / 1000;
                if (ms < 1)
                    ms = 1;
                if (ms > *wait_ms)
                    *wait_ms = ms;
            } else if (room <= 0 && *wait_ms == 0) {
                *wait_ms = CONC_WAIT_MIN_MS;
            }
        }
    }
    *room_out = room > 0 ? (int)room : 0;
    pgqrs__queue_limits_lock_row_clear(&lim);
    pgqrs__queue_limits_usage_row_clear(&use);
    return PGQRS_OK;
}

static pgqrs_status claim_in_tx(pgqrs_consumer *k, pgqrs_conn *c, int max, int vt_seconds, pgqrs_message_row **rows,
                                size_t *n, bool *rate_limited)
{
    int room = 0;
    int64_t wait_ms = 0;
    pgqrs_status st = room_left(k, c, max, &room, &wait_ms, rate_limited);
    if (st != PGQRS_OK)
        return st;
    if (room == 0) {
        if (wait_ms > 0) {
            k->limit_wait_ms = wait_ms;
            if (k->limit_round < 30)
                k->limit_round++;
        }
        return PGQRS_OK;
    }
    k->limit_round = 0;
    pgqrs_message_dequeue_limited_params p = { k->w.queue_id, k->w.worker_id, room, (int64_t)vt_seconds * 1000,
                                               k->w.max_attempts };
    st = c->q->message_dequeue_limited(rows, n, c, &p);
    if (st == PGQRS_OK && *n < (size_t)room) {
        /* poison messages in the window: dead-lettered now, as message_dequeue's caller does */
        int64_t dead = 0;
        st = pgqrs__consumer_after_short_claim(k, c, room, &dead);
        if (st == PGQRS_OK && dead > 0 && *n == 0) {
            pgqrs__message_rows_free(*rows, *n);
            *rows = NULL;
            st = c->q->message_dequeue_limited(rows, n, c, &p);
        }
    }
    if (st == PGQRS_OK && *n > 0 && *rate_limited) {
        pgqrs_queue_claims_record_params r = { k->w.queue_id, (int32_t)*n };
        st = c->q->queue_claims_record(c, &r);
        if (st == PGQRS_OK)
            st = c->q->queue_claims_prune(c, k->w.queue_id);
    }
    return st;
}

pgqrs_status pgqrs__consumer_claim_limited(pgqrs_consumer *k, pgqrs_conn *c, int max, int vt_seconds,
                                           pgqrs_message_row **rows, size_t *n, bool in_tx)
{
    pgqrs_status st;
    bool rate = false;
    *rows = NULL;
    *n = 0;
    if (!k->limit_rng)
        k->limit_rng = pgqrs__rng_seed(k);
    if (in_tx)
        return claim_in_tx(k, c, max, vt_seconds, rows, n, &rate);
    if ((st = pgqrs__tx_begin(c)) != PGQRS_OK)
        return st;
    st = claim_in_tx(k, c, max, vt_seconds, rows, n, &rate);
    if (st == PGQRS_OK)
        st = pgqrs__tx_commit(c);
    if (st != PGQRS_OK) {
        pgqrs__conn_rollback_keep(c, st);
        pgqrs__message_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
        k->limit_wait_ms = 0;
    }
    return st;
}
