/* settle.h: what the worker runtime (src/runtime/) needs of the queue layer
 * beyond the public calls: settling many finished messages in the statement or
 * transaction that claims the next ones, giving back claimed messages, one
 * lease extension for everything a set of workers holds, and a LISTEN session
 * that waits for several queues and a wake-up descriptor at once. Also the
 * consumer's internal pieces its public calls are made of. */
#ifndef PGQRS_QUEUE_SETTLE_H
#define PGQRS_QUEUE_SETTLE_H

#include <stdatomic.h>

#include "queue/worker_handle.h"

/* ---- consumer internals (consumer.c) ---- */

/* Checks max (1..max_batch_size) and vt (0 = the store default, then
 * 1..PGQRS_MAX_VT_SECONDS) for a claim; EINVAL on k. */
pgqrs_status pgqrs__consumer_check_claim(pgqrs_consumer *k, int max, int *vt_seconds);
/* The claim (with dead-lettering of poison messages) on an acquired connection;
 * a failure's message is on k. in_tx: the caller has a transaction open on c
 * (a limited claim needs one and opens its own otherwise). */
pgqrs_status pgqrs__consumer_claim_on(pgqrs_consumer *k, pgqrs_conn *c, int max, int vt_seconds,
                                      pgqrs_message_row **rows, size_t *n, bool in_tx);
/* After a claim that came back short of max on c: the window's cancel-requested
 * messages whose lease ran out are archived as cancelled (a cancel wins), then
 * its poison messages are dead-lettered (counted and logged); *dead_out gets how
 * many. Failures on k. */
pgqrs_status pgqrs__consumer_after_short_claim(pgqrs_consumer *k, pgqrs_conn *c, int max, int64_t *dead_out);
/* ---- per-queue limits (limits.c) ---- */
/* Rereads the queue's limits when the last look is PGQRS_LIMITS_REFRESH_MS old
 * (store clock) or was never made; sets k->limited. ENOTSUPPORTED when the
 * queue has a limit this backend cannot enforce (no transactions). */
pgqrs_status pgqrs__consumer_limits_refresh(pgqrs_consumer *k, pgqrs_conn *c);
/* The claim of a limited queue (docs/design.md, "Per-queue limits"): at most
 * what the limits leave, in the caller's transaction (in_tx) or its own. Sets
 * k->limit_wait_ms when a limit left nothing. */
pgqrs_status pgqrs__consumer_claim_limited(pgqrs_consumer *k, pgqrs_conn *c, int max, int vt_seconds,
                                           pgqrs_message_row **rows, size_t *n, bool in_tx);
/* How long to wait before claiming again when the last claim got nothing
 * because of a limit; 0 when it was not held back (the queue may be empty). */
int64_t pgqrs__consumer_limit_wait_ms(const pgqrs_consumer *k);
/* Hands claimed rows to the caller as a batch (rows are consumed), counting them. */
pgqrs_status pgqrs__consumer_deliver(pgqrs_batch **out, pgqrs_consumer *k, pgqrs_message_row *rows, size_t n);
/* Milliseconds until the queue's next message is due, capped at cap_ms (cap_ms
 * when the queue is empty or the look-up failed). */
int64_t pgqrs__consumer_next_due_ms(pgqrs_consumer *k, int64_t cap_ms);
/* An idle consumer's wait of up to ms (shortened to the next delayed message's
 * due time): returns early when a notification for its queue arrives (LISTEN,
 * where the backend notifies) or *stop is set; else sleeps in short slices. */
void pgqrs__consumer_idle_wait(pgqrs_consumer *k, int64_t ms, atomic_int *stop);
/* The max_attempts the consumer's claims dead-letter at (a queue update changed it). */
void pgqrs__consumer_set_max_attempts(pgqrs_consumer *k, int32_t max_attempts);

/* ---- settle and claim (settle.c) ---- */

/* Held messages to settle, by what their handler said. Arrays may be NULL when
 * their count is 0; results are JSON texts, "null" for none. */
typedef struct pgqrs__settle {
    const int64_t *done_ids;            /* archived, with done_results[i] */
    const char *const *done_results;
    size_t n_done;
    const int64_t *dead_ids;            /* dead-lettered now, with dead_results[i] */
    const char *const *dead_results;
    size_t n_dead;
    const int64_t *retry_ids;           /* back to pending after retry_delays_ms[i] */
    const int64_t *retry_delays_ms;
    size_t n_retry;
} pgqrs__settle;

/* What pgqrs__consumer_settle did. A part (done, dead, retry) is `applied` when
 * its statement committed; its ids that the consumer no longer held (its lease
 * ran out and another worker took the message, or it is gone) are in lost
 * (pgqrs__free). */
typedef struct pgqrs__settled {
    bool done_applied, dead_applied, retry_applied;
    size_t n_done, n_dead, n_retry;
    int64_t *lost;
    size_t n_lost;
} pgqrs__settled;
void pgqrs__settled_clear(pgqrs__settled *s);

/* Settles s and claims up to max messages (0: no claim) for vt_seconds, as
 * pgqrs_dequeue does. With transactions (capabilities.transactions) all of it is
 * one transaction: one commit, and on failure nothing happened. Without, each
 * part is its own atomic statement, in the order done, dead, retry, claim: a
 * failure leaves the parts before it applied (out says which). *claimed_out is
 * NULL unless the claim ran (then possibly empty). Failures are on k.
 * @return PGQRS_OK, PGQRS_EINVAL (max, vt, n), PGQRS_ESTATE (the consumer's worker
 *         is not ready), or the database's failure */
pgqrs_status pgqrs__consumer_settle(pgqrs_batch **claimed_out, pgqrs__settled *out, pgqrs_consumer *k,
                                    const pgqrs__settle *s, int max, int vt_seconds);

/* Gives back claimed messages that were never started: pending now, the claim not
 * counted as a delivery. given_out (may be NULL) gets how many were still held.
 * Failures are recorded on owner (k is only read). */
pgqrs_status pgqrs__consumer_unclaim(int64_t *given_out, void *owner, pgqrs_consumer *k, const int64_t *ids,
                                     size_t n);
/* Back to pending after delay_ms each (a started message: the delivery counts).
 * Failures on owner (k is only read). */
pgqrs_status pgqrs__consumer_release_after(int64_t *released_out, void *owner, pgqrs_consumer *k,
                                           const int64_t *ids, const int64_t *delays_ms, size_t n);

/* Each of the n_ids messages that one of the n_workers workers still holds
 * becomes invisible for vt_seconds from now, in one statement; extended_out (may
 * be NULL) gets how many. Only messages the caller knows it holds are named: one
 * whose claim committed unseen (a lost reply) runs out its lease and comes back.
 * Failures on owner. */
pgqrs_status pgqrs__extend_held(int64_t *extended_out, void *owner, pgqrs_store *s, const int64_t *ids, size_t n_ids,
                                const int64_t *worker_ids, size_t n_workers, int vt_seconds);

/* ---- waiting for several queues (settle.c) ---- */

typedef struct pgqrs__listener pgqrs__listener;
/* A LISTEN session of its own, when the store has capabilities.notifications;
 * else *out is NULL and PGQRS_ENOTSUPPORTED (callers poll). Failures on owner. */
pgqrs_status pgqrs__listener_open(pgqrs__listener **out, pgqrs_store *s, void *owner);
/* Waits up to timeout_ms for a notification of one of the n queues or for wake_fd
 * (-1: none) to become readable: 1, 2, 0 or -1 as the driver's wait_notify (-1:
 * the session failed, its message on the owner; close it and poll). */
int pgqrs__listener_wait(pgqrs__listener *l, const int64_t *queue_ids, size_t n, int64_t timeout_ms, int wake_fd);
/* Waits up to timeout_ms for a notification with this payload on the
 * listener: 1 it came, 0 timed out, -1 the session failed. */
int pgqrs__listener_wait_for(pgqrs__listener *l, const char *payload, int64_t timeout_ms);
void pgqrs__listener_close(pgqrs__listener *l);   /* NULL: no-op */

#endif
