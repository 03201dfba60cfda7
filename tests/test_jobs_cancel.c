/* test_jobs_cancel.c: job control (issue 17) on every backend: cancel by id
 * (pending, delayed, in flight, finished, unknown, foreign), a cancel-requested
 * message whose holder died, progress (holder, non-holder, bad input), message
 * get in each state, and the runtime's handler seeing a cancel. Time is moved
 * with pgqrs_store_set_time except in the runtime test (real threads). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

#define SEC INT64_C(1000000)

static pgqrs_store *store;
static int64_t T0;

static void close_store(void)
{
    pgqrs_store_free(store);
    store = NULL;
}

static pgqrs_status open_store(bool fixed_clock)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_status st;
    close_store();
    o.heartbeat_interval_s = -1;
    o.pool_size = 4;
    if ((st = pgqrs_connect(&store, th_fresh_dsn(), &o)) != PGQRS_OK)
        return st;
    if ((st = pgqrs_schema_install(store)) != PGQRS_OK)
        return st;
    if ((st = pgqrs_queue_create(NULL, store, "q", NULL)) != PGQRS_OK)
        return st;
    if ((st = pgqrs_queue_create(NULL, store, "other", NULL)) != PGQRS_OK)
        return st;
    T0 = (int64_t)time(NULL) * SEC;
    if (fixed_clock)
        pgqrs_store_set_time(store, T0);
    return PGQRS_OK;
}

#define SETUP() CHECK_OK(open_store(true), store)

static pgqrs_status send(const char *queue, const char *payload, int delay_s, int64_t *id)
{
    pgqrs_producer *p = NULL;
    pgqrs_status st = pgqrs_producer_new(&p, store, queue);
    if (st == PGQRS_OK)
        st = pgqrs_enqueue(id, p, payload, delay_s);
    pgqrs_producer_free(p);
    return st;
}

/* The state of message id per pgqrs_message_get, copied into buf ("?" when the get failed). */
static const char *state_of(int64_t id, char *buf, size_t n)
{
    pgqrs_batch *b = NULL;
    snprintf(buf, n, "?");
    if (pgqrs_message_get(&b, store, id) == PGQRS_OK && pgqrs_batch_count(b) == 1)
        snprintf(buf, n, "%s", pgqrs_batch_at(b, 0)->state);
    pgqrs_batch_free(b);
    return buf;
}

static int64_t live_count(const char *queue)
{
    pgqrs_batch *b = NULL;
    int64_t n = -1;
    if (pgqrs_message_list(&b, store, queue, 0, 100) == PGQRS_OK)
        n = (int64_t)pgqrs_batch_count(b);
    pgqrs_batch_free(b);
    return n;
}

static void test_jobs__cancel_pending_and_delayed(void)
{
    int64_t a = 0, d = 0;
    int outcome = 0;
    char buf[32];
    pgqrs_batch *b = NULL;
    SETUP();
    CHECK_OK(send("q", "{\"n\":1}", 0, &a), store);
    CHECK_OK(send("q", "{\"n\":2}", 60, &d), store);
    CHECK_STR("pending", state_of(a, buf, sizeof buf));
    CHECK_STR("delayed", state_of(d, buf, sizeof buf));
    CHECK_OK(pgqrs_message_cancel(&outcome, store, NULL, a), store);
    CHECK_I64(PGQRS_CANCEL_REMOVED, outcome);
    CHECK_OK(pgqrs_message_cancel(&outcome, store, "q", d), store);
    CHECK_I64(PGQRS_CANCEL_REMOVED, outcome);
    CHECK_I64(0, live_count("q"));
    CHECK_OK(pgqrs_message_get(&b, store, a), store);
    CHECK_STR("cancelled", pgqrs_batch_at(b, 0)->state);

    CHECK(pgqrs_batch_at(b, 0)->archived_at_us > 0);
    pgqrs_batch_free(b);
    CHECK_STR("cancelled", state_of(d, buf, sizeof buf));
    close_store();
}

static void test_jobs__cancel_errors_change_nothing(void)
{
    int64_t a = 0, x = 0, o = 0;
    int outcome = 7;
    char buf[32];
    pgqrs_consumer *k = NULL;
    pgqrs_batch *b = NULL;
    SETUP();
    CHECK_OK(send("q", "1", 0, &a), store);
    CHECK_OK(send("q", "2", 0, &x), store);
    CHECK_OK(send("other", "3", 0, &o), store);
    /* finished: archived */
    CHECK_OK(pgqrs_consumer_new(&k, store, "q"), store);
    CHECK_OK(pgqrs_dequeue(&b, k, 1, 30), k);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(a, pgqrs_batch_at(b, 0)->id);
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_archive(k, a), k);
    CHECK_ST(PGQRS_ESTATE, pgqrs_message_cancel(&outcome, store, NULL, a), store);
    CHECK_I64(0, outcome);
    CHECK_STR("archived", state_of(a, buf, sizeof buf));
    /* cancelled twice */
    CHECK_OK(pgqrs_message_cancel(NULL, store, NULL, x), store);
    CHECK_ST(PGQRS_ESTATE, pgqrs_message_cancel(NULL, store, NULL, x), store);
    /* unknown, foreign queue, no such queue */
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_message_cancel(NULL, store, NULL, 999999), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_message_cancel(NULL, store, "q", o), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_message_cancel(NULL, store, "nope", o), store);
    CHECK_STR("pending", state_of(o, buf, sizeof buf));
    CHECK_I64(1, live_count("other"));
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_message_get(&b, store, 999999), store);
    CHECK(b == NULL);
    pgqrs_consumer_free(k);
    close_store();
}

static void test_jobs__cancel_in_flight(void)
{
    int64_t a = 0, vt = 0;
    int outcome = 0, requested = -1;
    char buf[32];
    pgqrs_consumer *k = NULL, *k2 = NULL;
    pgqrs_batch *b = NULL;
    SETUP();
    CHECK_OK(send("q", "1", 0, &a), store);
    CHECK_OK(pgqrs_consumer_new(&k, store, "q"), store);
    CHECK_OK(pgqrs_dequeue(&b, k, 1, 30), k);
    CHECK_I64(1, pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    CHECK_STR("in_flight", state_of(a, buf, sizeof buf));
    CHECK_OK(pgqrs_message_heartbeat(&vt, &requested, k, a, 30), k);
    CHECK_I64(0, requested);
    CHECK_I64(T0 + 30 * SEC, vt);
    CHECK_OK(pgqrs_message_cancel(&outcome, store, NULL, a), store);
    CHECK_I64(PGQRS_CANCEL_REQUESTED, outcome);
    CHECK_OK(pgqrs_message_cancel(&outcome, store, "q", a), store);   /* idempotent */
    CHECK_I64(PGQRS_CANCEL_REQUESTED, outcome);
    CHECK_OK(pgqrs_message_get(&b, store, a), store);
    CHECK_STR("in_flight", pgqrs_batch_at(b, 0)->state);
    CHECK(pgqrs_batch_at(b, 0)->cancel_requested_at_us > 0);
    pgqrs_batch_free(b);
    /* the holder sees it; the lease is no longer extended */
    pgqrs_store_set_time(store, T0 + 10 * SEC);
    CHECK_OK(pgqrs_message_heartbeat(&vt, &requested, k, a, 30), k);
    CHECK_I64(1, requested);
    CHECK_I64(T0 + 30 * SEC, vt);
    /* another consumer cannot settle it */
    CHECK_OK(pgqrs_consumer_new(&k2, store, "q"), store);
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_archive_cancelled(k2, a), k2);
    CHECK_OK(pgqrs_archive_cancelled(k, a), k);
    CHECK_STR("cancelled", state_of(a, buf, sizeof buf));
    CHECK_ST(PGQRS_ESTATE, pgqrs_archive_cancelled(k, a), k);
    pgqrs_consumer_free(k);
    pgqrs_consumer_free(k2);
    close_store();
}

static void test_jobs__cancel_requested_holder_died(void)
{
    int64_t a = 0, c = 0;
    char buf[32];
    pgqrs_consumer *k = NULL, *k2 = NULL;
    pgqrs_batch *b = NULL;
    SETUP();
    CHECK_OK(send("q", "1", 0, &a), store);
    CHECK_OK(pgqrs_consumer_new(&k, store, "q"), store);
    CHECK_OK(pgqrs_dequeue(&b, k, 1, 30), k);
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_message_cancel(NULL, store, NULL, a), store);
    CHECK_OK(send("q", "2", 0, &c), store);
    /* the holder never comes back; its lease runs out */
    pgqrs_store_set_time(store, T0 + 31 * SEC);
    CHECK_OK(pgqrs_consumer_new(&k2, store, "q"), store);
    CHECK_OK(pgqrs_dequeue(&b, k2, 5, 30), k2);
    CHECK_I64(1, pgqrs_batch_count(b));   /* only the other message is delivered */
    CHECK_I64(c, pgqrs_batch_at(b, 0)->id);
    pgqrs_batch_free(b);
    CHECK_STR("cancelled", state_of(a, buf, sizeof buf));
    CHECK_ST(PGQRS_ESTATE, pgqrs_message_heartbeat(NULL, NULL, k, a, 30), k);
    pgqrs_consumer_free(k);
    pgqrs_consumer_free(k2);
    close_store();
}

/* The sweep on its own: a claim that takes nothing (here: its worker is
 * suspended, so the claim comes back empty) archives the cancel-requested
 * messages whose lease ran out, whether or not claims skip them. */
static void test_jobs__short_claim_sweeps_expired_requests(void)
{
    int64_t a = 0, b2 = 0;
    char buf[32];
    pgqrs_consumer *k = NULL, *k2 = NULL;
    pgqrs_batch *b = NULL;
    SETUP();
    CHECK_OK(send("q", "1", 0, &a), store);
    CHECK_OK(send("q", "2", 0, &b2), store);
    CHECK_OK(pgqrs_consumer_new(&k, store, "q"), store);
    CHECK_OK(pgqrs_dequeue(&b, k, 1, 30), k);
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_message_cancel(NULL, store, NULL, a), store);
    pgqrs_store_set_time(store, T0 + 29 * SEC);
    CHECK_OK(pgqrs_consumer_new(&k2, store, "q"), store);
    CHECK_OK(pgqrs_consumer_suspend(k2), k2);
    CHECK_ST(PGQRS_ESTATE, pgqrs_dequeue(&b, k2, 5, 30), k2);
    CHECK_STR("in_flight", state_of(a, buf, sizeof buf));   /* its lease still runs */
    pgqrs_store_set_time(store, T0 + 31 * SEC);
    CHECK_ST(PGQRS_ESTATE, pgqrs_dequeue(&b, k2, 5, 30), k2);
    CHECK_STR("cancelled", state_of(a, buf, sizeof buf));
    CHECK_STR("pending", state_of(b2, buf, sizeof buf));   /* no request: left alone */
    pgqrs_consumer_free(k);
    pgqrs_consumer_free(k2);
    close_store();
}

static void test_jobs__progress(void)
{
    int64_t a = 0, p = 0;
    char big[PGQRS_MAX_PROGRESS_BYTES + 16];
    pgqrs_consumer *k = NULL, *k2 = NULL;
    pgqrs_batch *b = NULL;
    SETUP();
    CHECK_OK(send("q", "1", 0, &a), store);
    CHECK_OK(send("q", "2", 0, &p), store);
    CHECK_OK(pgqrs_consumer_new(&k, store, "q"), store);
    CHECK_OK(pgqrs_consumer_new(&k2, store, "q"), store);
    CHECK_OK(pgqrs_dequeue(&b, k, 1, 30), k);
    CHECK_I64(a, pgqrs_batch_at(b, 0)->id);
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_message_set_progress(k, a, "{\"done\":1}"), k);
    CHECK_OK(pgqrs_message_set_progress(k, a, "{\"done\":2}"), k);
    /* refused: non-holder, a pending message, bad JSON, too large, unknown */
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_message_set_progress(k2, a, "{\"done\":9}"), k2);
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_message_set_progress(k, p, "{\"done\":9}"), k);
    CHECK_ST(PGQRS_EINVAL, pgqrs_message_set_progress(k, a, "{done"), k);
    memset(big, ' ', sizeof big);
    big[0] = '"';
    big[sizeof big - 2] = '"';
    big[sizeof big - 1] = 0;
    CHECK_ST(PGQRS_EINVAL, pgqrs_message_set_progress(k, a, big), k);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_message_set_progress(k, 999999, "1"), k);
    CHECK_OK(pgqrs_message_get(&b, store, a), store);
    CHECK(pgqrs_batch_at(b, 0)->progress != NULL);
    CHECK(strstr(pgqrs_batch_at(b, 0)->progress, "2") != NULL);
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_message_get(&b, store, p), store);
    CHECK(pgqrs_batch_at(b, 0)->progress == NULL);
    pgqrs_batch_free(b);
    /* kept in the archive; refused once finished */
    CHECK_OK(pgqrs_archive(k, a), k);
    CHECK_ST(PGQRS_ESTATE, pgqrs_message_set_progress(k, a, "3"), k);
    CHECK_OK(pgqrs_message_get(&b, store, a), store);
    CHECK_STR("archived", pgqrs_batch_at(b, 0)->state);
    CHECK(pgqrs_batch_at(b, 0)->progress && strstr(pgqrs_batch_at(b, 0)->progress, "2"));
    pgqrs_batch_free(b);
    /* a lease that ran out: not the holder any more */
    CHECK_OK(pgqrs_dequeue(&b, k, 1, 5), k);
    CHECK_I64(p, pgqrs_batch_at(b, 0)->id);
    pgqrs_batch_free(b);
    pgqrs_store_set_time(store, T0 + 6 * SEC);
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_message_set_progress(k, p, "1"), k);
    pgqrs_consumer_free(k);
    pgqrs_consumer_free(k2);
    close_store();
}

static void test_jobs__get_dead_letter(void)
{
    int64_t a = 0;
    char buf[32];
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_consumer *k = NULL;
    pgqrs_batch *b = NULL;
    SETUP();
    qo.max_attempts = 1;
    CHECK_OK(pgqrs_queue_create(NULL, store, "dl", &qo), store);
    CHECK_OK(send("dl", "1", 0, &a), store);
    CHECK_OK(pgqrs_consumer_new(&k, store, "dl"), store);
    CHECK_OK(pgqrs_dequeue(&b, k, 1, 5), k);
    pgqrs_batch_free(b);
    pgqrs_store_set_time(store, T0 + 6 * SEC);
    CHECK_OK(pgqrs_dequeue(&b, k, 1, 5), k);   /* dead-letters it */
    CHECK_I64(0, pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_message_get(&b, store, a), store);
    CHECK_STR("dead_letter", pgqrs_batch_at(b, 0)->state);
    CHECK_I64(1, pgqrs_batch_at(b, 0)->read_count);
    pgqrs_batch_free(b);
    CHECK_ST(PGQRS_ESTATE, pgqrs_message_cancel(NULL, store, NULL, a), store);
    CHECK_STR("dead_letter", state_of(a, buf, sizeof buf));
    pgqrs_consumer_free(k);
    close_store();
}

/* A cancel-requested message on its last attempt whose lease runs out is
 * cancelled, not dead-lettered. */
static void test_jobs__cancel_wins_over_dead_letter(void)
{
    int64_t a = 0;
    char buf[32];
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_consumer *k = NULL;
    pgqrs_batch *b = NULL;
    SETUP();
    qo.max_attempts = 1;
    CHECK_OK(pgqrs_queue_create(NULL, store, "dl", &qo), store);
    CHECK_OK(send("dl", "1", 0, &a), store);
    CHECK_OK(pgqrs_consumer_new(&k, store, "dl"), store);
    CHECK_OK(pgqrs_dequeue(&b, k, 1, 5), k);
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_message_cancel(NULL, store, "dl", a), store);
    pgqrs_store_set_time(store, T0 + 6 * SEC);
    CHECK_OK(pgqrs_dequeue(&b, k, 1, 5), k);
    CHECK_I64(0, pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    CHECK_STR("cancelled", state_of(a, buf, sizeof buf));
    pgqrs_consumer_free(k);
    close_store();
}

/* ---- the runtime: a handler that loops until it sees the cancel ---- */

static _Atomic int rt_started, rt_saw_cancel;

static int until_cancelled(pgqrs_job *job, void *user)
{
    (void)user;
    pgqrs_job_set_progress(job, "{\"step\":1}");
    atomic_store(&rt_started, 1);
    for (int i = 0; i < 3000 && !pgqrs_job_cancel_requested(job); i++)
        usleep(10 * 1000);
    atomic_store(&rt_saw_cancel, pgqrs_job_cancel_requested(job));
    pgqrs_job_set_result(job, "{\"stopped\":true}");
    return PGQRS_JOB_DONE;
}

static void *rt_main(void *arg)
{
    pgqrs_runtime_run(arg);
    return NULL;
}

static void test_jobs__runtime_handler_sees_cancel(void)
{
    int64_t a = 0;
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime_stats stats = PGQRS_RUNTIME_STATS_INIT;
    pgqrs_runtime *rt = NULL;
    pgqrs_batch *b = NULL;
    pthread_t th;
    CHECK_OK(open_store(false), store);   /* real clock: real threads */
    CHECK_OK(send("q", "1", 0, &a), store);
    o.vt_seconds = 1;   /* extended every ~333 ms: the cancel is seen within that */
    o.idle_min_ms = 5;
    o.idle_max_ms = 50;
    o.no_scheduler = 1;
    CHECK_OK(pgqrs_runtime_new(&rt, store, &o), store);
    CHECK_OK(pgqrs_runtime_add_queue(rt, "q", until_cancelled, NULL), rt);
    atomic_store(&rt_started, 0);
    atomic_store(&rt_saw_cancel, 0);
    CHECK(pthread_create(&th, NULL, rt_main, rt) == 0);
    for (int i = 0; i < 3000 && !atomic_load(&rt_started); i++)
        usleep(10 * 1000);
    if (atomic_load(&rt_started))
        pgqrs_message_cancel(NULL, store, NULL, a);
    for (int i = 0; i < 3000; i++) {
        stats = (pgqrs_runtime_stats)PGQRS_RUNTIME_STATS_INIT;
        pgqrs_runtime_stats_get(&stats, rt);
        if (stats.cancelled >= 1)
            break;
        usleep(10 * 1000);
    }
    pgqrs_runtime_stop(rt);
    pthread_join(th, NULL);
    pgqrs_runtime_free(rt);
    CHECK(atomic_load(&rt_started));
    CHECK(atomic_load(&rt_saw_cancel));
    CHECK_I64(1, stats.cancelled);
    CHECK_I64(0, stats.done);
    CHECK_OK(pgqrs_message_get(&b, store, a), store);
    CHECK_STR("cancelled", pgqrs_batch_at(b, 0)->state);
    CHECK(pgqrs_batch_at(b, 0)->progress && strstr(pgqrs_batch_at(b, 0)->progress, "step"));
    CHECK(pgqrs_batch_at(b, 0)->result && strstr(pgqrs_batch_at(b, 0)->result, "stopped"));
    pgqrs_batch_free(b);
    close_store();
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "jobs__cancel_pending_and_delayed", test_jobs__cancel_pending_and_delayed },
        { "jobs__cancel_errors_change_nothing", test_jobs__cancel_errors_change_nothing },
        { "jobs__cancel_in_flight", test_jobs__cancel_in_flight },
        { "jobs__cancel_requested_holder_died", test_jobs__cancel_requested_holder_died },
        { "jobs__short_claim_sweeps_expired_requests", test_jobs__short_claim_sweeps_expired_requests },
        { "jobs__progress", test_jobs__progress },
        { "jobs__get_dead_letter", test_jobs__get_dead_letter },
        { "jobs__cancel_wins_over_dead_letter", test_jobs__cancel_wins_over_dead_letter },
        { "jobs__runtime_handler_sees_cancel", test_jobs__runtime_handler_sees_cancel },
    };
    int rc = th_main(argc, argv, "test_jobs_cancel", tests, sizeof tests / sizeof *tests);
    close_store();
    return rc;
}
