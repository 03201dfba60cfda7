/* test_runtime.c: the worker runtime (pgqrs_runtime_*), one source for every
 * backend. Outcomes, retries and their delays are checked on a fixed clock
 * (pgqrs_store_set_time) with until_empty runs, so nothing sleeps; the tests of
 * what real threads do (lease extension, shutdown with handlers in flight, a
 * signal, max_run_ms, wake-up) run on the real clock and say so. The crash test
 * (kill -9 with handlers in flight) is tests/test_runtime_crash.c. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

#define SEC INT64_C(1000000)
#define MS INT64_C(1000)

static pgqrs_store *store;
static int64_t T0;

/* A runtime running on a thread of its own (bg_start); a test that fails before
 * it joins leaves it to close_store, which stops it (and opens the gate). */
static pgqrs_runtime *bg_rt;
static pthread_t bg_th;
static pgqrs_status bg_status;
static void gate(bool open);
static void thief_stop(void);

static void *bg_main(void *arg)
{
    bg_status = pgqrs_runtime_run(arg);
    return NULL;
}

static bool bg_start(pgqrs_runtime *rt)
{
    if (pthread_create(&bg_th, NULL, bg_main, rt) != 0)
        return false;
    bg_rt = rt;
    return true;
}

/* Waits for the runtime's thread; its pgqrs_runtime_run status. */
static pgqrs_status bg_join(void)
{
    if (bg_rt) {
        pthread_join(bg_th, NULL);
        bg_rt = NULL;
    }
    return bg_status;
}

static void close_store(void)
{
    thief_stop();
    if (bg_rt) {
        pgqrs_runtime *rt = bg_rt;
        gate(true);
        pgqrs_runtime_stop(rt);
        bg_join();
        pgqrs_runtime_free(rt);
    }
    pgqrs_store_free(store);
    store = NULL;
}

static pgqrs_status open_store(bool fixed_clock)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_status st;
    close_store();
    o.heartbeat_interval_s = -1;
    o.pool_size = 6;
    if ((st = pgqrs_connect(&store, th_fresh_dsn(), &o)) != PGQRS_OK)
        return st;
    if ((st = pgqrs_schema_install(store)) != PGQRS_OK)
        return st;
    T0 = (int64_t)time(NULL) * SEC;
    if (fixed_clock)
        pgqrs_store_set_time(store, T0);
    return PGQRS_OK;
}

#define SETUP() CHECK_OK(open_store(true), store)
#define SETUP_REAL_CLOCK() CHECK_OK(open_store(false), store)

/* A queue with an exact (jitter-free) policy: 1 s, doubling, up to 60 s. */
static pgqrs_status make_queue(const char *name, int max_attempts)
{
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    qo.max_attempts = max_attempts;
    qo.retry_initial_delay_ms = 1000;
    qo.retry_multiplier = 2.0;
    qo.retry_max_delay_ms = 60000;
    qo.retry_jitter = -1;
    return pgqrs_queue_create(NULL, store, name, &qo);
}

static pgqrs_status enqueue(const char *queue, const char *payload, int64_t *id)
{
    pgqrs_producer *p = NULL;
    pgqrs_status st = pgqrs_producer_new(&p, store, queue);
    if (st == PGQRS_OK)
        st = pgqrs_enqueue(id, p, payload, 0);
    pgqrs_producer_free(p);
    return st;
}

static pgqrs_status enqueue_n(const char *queue, int n)
{
    pgqrs_producer *p = NULL;
    pgqrs_status st = pgqrs_producer_new(&p, store, queue);
    for (int i = 0; st == PGQRS_OK && i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "{\"n\":%d}", i);
        st = pgqrs_enqueue(NULL, p, buf, 0);
    }
    pgqrs_producer_free(p);
    return st;
}

/* Runs one runtime on queue with fn until the queue has nothing visible. */
static pgqrs_status run_until_empty(const char *queue, pgqrs_job_fn fn, void *user, int concurrency,
                                    pgqrs_runtime_stats *stats)
{
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime *rt = NULL;
    pgqrs_status st;
    o.concurrency = concurrency;
    o.until_empty = 1;
    o.idle_min_ms = 1;
    o.idle_max_ms = 5;
    st = pgqrs_runtime_new(&rt, store, &o);
    if (st == PGQRS_OK)
        st = pgqrs_runtime_add_queue(rt, queue, fn, user);
    if (st == PGQRS_OK)
        st = pgqrs_runtime_run(rt);
    if (st != PGQRS_OK && rt)
        fprintf(stderr, "run_until_empty: %s\n", pgqrs_errmsg(rt));
    if (stats && rt) {
        *stats = (pgqrs_runtime_stats)PGQRS_RUNTIME_STATS_INIT;
        pgqrs_runtime_stats_get(stats, rt);
    }
    pgqrs_runtime_free(rt);
    return st;
}

/* The live, archived or dead-lettered copy of message id (a batch of one, or NULL). */
static const pgqrs_message *find(pgqrs_batch *b, int64_t id)
{
    for (size_t i = 0; i < pgqrs_batch_count(b); i++)
        if (pgqrs_batch_at(b, i)->id == id)
            return pgqrs_batch_at(b, i);
    return NULL;
}

static bool json_eq(const char *a, const char *b)
{
    json_t *ja = a ? json_loads(a, JSON_DECODE_ANY, NULL) : NULL, *jb = b ? json_loads(b, JSON_DECODE_ANY, NULL) : NULL;
    bool same = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return same;
}

/* ---- outcomes ---- */

static _Atomic int calls;

/* payload {"do": "done" | "retry" | "fail"} */
static int by_payload(pgqrs_job *job, void *user)
{
    const char *p = pgqrs_job_payload(job);
    (void)user;
    atomic_fetch_add(&calls, 1);
    if (strstr(p, "\"done\"")) {
        char res[64];
        snprintf(res, sizeof res, "{\"ok\":%d,\"attempt\":%d}", 1, (int)pgqrs_job_attempt(job));
        return pgqrs_job_set_result(job, res) == PGQRS_OK ? PGQRS_JOB_DONE : PGQRS_JOB_RETRY;
    }
    if (strstr(p, "\"fail\"")) {
        pgqrs_job_set_result(job, "{\"why\":\"bad input\"}");
        return PGQRS_JOB_FAIL;
    }
    return PGQRS_JOB_RETRY;
}

static void test_runtime__done_retry_fail(void)
{
    int64_t done_id = 0, retry_id = 0, fail_id = 0, n = 0;
    pgqrs_batch *b = NULL;
    pgqrs_runtime_stats st;
    const pgqrs_message *m;
    SETUP();
    CHECK_OK(make_queue("q", 3), store);
    CHECK_OK(enqueue("q", "{\"do\":\"done\"}", &done_id), store);
    CHECK_OK(enqueue("q", "{\"do\":\"retry\"}", &retry_id), store);
    CHECK_OK(enqueue("q", "{\"do\":\"fail\"}", &fail_id), store);
    atomic_store(&calls, 0);
    CHECK_OK(run_until_empty("q", by_payload, NULL, 2, &st), store);
    CHECK_I64(3, atomic_load(&calls));
    CHECK_I64(3, st.claimed);
    CHECK_I64(1, st.done);
    CHECK_I64(1, st.retried);
    CHECK_I64(1, st.dead_lettered);
    CHECK_I64(0, st.lost);
    CHECK_I64(0, st.held);
    /* done: archived with its result */
    CHECK_OK(pgqrs_archive_list(&b, store, "q", 0, 100), store);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK((m = find(b, done_id)) != NULL);
    CHECK_STR("archived", m->state);
    CHECK_MSG(json_eq(m->result, "{\"ok\":1,\"attempt\":1}"), "result %s", m->result ? m->result : "(null)");
    pgqrs_batch_free(b);
    /* fail: dead-lettered at once (attempt 1 of 3), with its result */
    CHECK_OK(pgqrs_dlq_list(&b, store, "q", 0, 100), store);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK((m = find(b, fail_id)) != NULL);
    CHECK_I64(1, m->read_count);
    CHECK_MSG(json_eq(m->result, "{\"why\":\"bad input\"}"), "result %s", m->result ? m->result : "(null)");
    pgqrs_batch_free(b);
    /* retry: back to pending, visible after the policy's first delay, exactly (no jitter) */
    CHECK_OK(pgqrs_message_list(&b, store, "q", 0, 100), store);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK((m = find(b, retry_id)) != NULL);
    CHECK_I64(1, m->read_count);
    CHECK_I64(0, m->consumer_worker_id);
    CHECK_I64(T0 + 1000 * MS, m->vt_us);
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_dlq_count(&n, store, "q"), store);
    CHECK_I64(1, n);
    close_store();
}

static int retry_once(pgqrs_job *job, void *user)
{
    (void)user;
    atomic_fetch_add(&calls, 1);
    return pgqrs_job_attempt(job) == 1 ? PGQRS_JOB_RETRY : PGQRS_JOB_DONE;
}

/* A retry settled by a round whose claim could not see it yet (its delay runs
 * from that statement's time) is not the end for until_empty: with a 1 ms
 * delay the next claim finds it, and its second attempt runs. */
static void test_runtime__until_empty_runs_a_prompt_retry(void)
{
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime_stats st = PGQRS_RUNTIME_STATS_INIT;
    pgqrs_runtime *rt = NULL;
    SETUP_REAL_CLOCK();
    qo.max_attempts = 2;
    qo.retry_initial_delay_ms = 1;
    qo.retry_jitter = -1;
    CHECK_OK(pgqrs_queue_create(NULL, store, "q", &qo), store);
    CHECK_OK(enqueue("q", "{}", NULL), store);
    atomic_store(&calls, 0);
    o.until_empty = 1;
    o.no_scheduler = 1;   /* its first round would make the runtime claim again anyway */
    CHECK_OK(pgqrs_runtime_new(&rt, store, &o), store);
    CHECK_OK(pgqrs_runtime_add_queue(rt, "q", retry_once, NULL), rt);
    CHECK_OK(pgqrs_runtime_run(rt), rt);
    CHECK_OK(pgqrs_runtime_stats_get(&st, rt), rt);
    pgqrs_runtime_free(rt);
    CHECK_I64(2, atomic_load(&calls));
    CHECK_I64(1, st.retried);
    CHECK_I64(1, st.done);
    close_store();
}

static void test_runtime__backoff_delays_honoured(void)
{
    /* attempt 1 fails at T0 (retry in 1 s), attempt 2 at T0+1s (in 2 s), attempt 3
     * at T0+3s is the last (max_attempts 3): dead-lettered, not retried */
    int64_t id = 0;
    pgqrs_batch *b = NULL;
    pgqrs_runtime_stats st;
    const pgqrs_message *m;
    SETUP();
    CHECK_OK(make_queue("q", 3), store);
    CHECK_OK(enqueue("q", "{\"do\":\"retry\"}", &id), store);
    atomic_store(&calls, 0);
    CHECK_OK(run_until_empty("q", by_payload, NULL, 1, &st), store);
    CHECK_I64(1, atomic_load(&calls));
    pgqrs_store_set_time(store, T0 + 999 * MS);   /* not yet */
    CHECK_OK(run_until_empty("q", by_payload, NULL, 1, &st), store);
    CHECK_I64(1, atomic_load(&calls));
    CHECK_I64(0, st.claimed);
    pgqrs_store_set_time(store, T0 + 1000 * MS);
    CHECK_OK(run_until_empty("q", by_payload, NULL, 1, &st), store);
    CHECK_I64(2, atomic_load(&calls));
    CHECK_OK(pgqrs_message_list(&b, store, "q", 0, 10), store);
    CHECK((m = find(b, id)) != NULL);
    CHECK_I64(2, m->read_count);
    CHECK_I64(T0 + 3000 * MS, m->vt_us);          /* 1 s + 2 s */
    pgqrs_batch_free(b);
    pgqrs_store_set_time(store, T0 + 2999 * MS);
    CHECK_OK(run_until_empty("q", by_payload, NULL, 1, &st), store);
    CHECK_I64(2, atomic_load(&calls));
    pgqrs_store_set_time(store, T0 + 3000 * MS);
    CHECK_OK(run_until_empty("q", by_payload, NULL, 1, &st), store);
    CHECK_I64(3, atomic_load(&calls));
    CHECK_I64(0, st.retried);
    CHECK_I64(1, st.dead_lettered);                /* its last attempt failed */
    CHECK_OK(pgqrs_dlq_list(&b, store, "q", 0, 10), store);
    CHECK((m = find(b, id)) != NULL);
    CHECK_I64(3, m->read_count);
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_message_list(&b, store, "q", 0, 10), store);
    CHECK_I64(0, pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    close_store();
}

/* Retries with the handler's own delay: 5 s the first time, then at once. */
static int own_delay(pgqrs_job *job, void *user)
{
    (void)user;
    atomic_fetch_add(&calls, 1);
    pgqrs_job_set_retry_delay(job, pgqrs_job_attempt(job) == 1 ? 5000 : 0);
    return PGQRS_JOB_RETRY;
}

static void test_runtime__handler_delay_and_policy_update(void)
{
    int64_t id = 0;
    pgqrs_batch *b = NULL;
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_runtime_stats st;
    SETUP();
    CHECK_OK(make_queue("q", 4), store);
    CHECK_OK(enqueue("q", "{}", &id), store);
    atomic_store(&calls, 0);
    CHECK_OK(run_until_empty("q", own_delay, NULL, 1, &st), store);
    CHECK_OK(pgqrs_message_list(&b, store, "q", 0, 10), store);
    CHECK_I64(T0 + 5000 * MS, find(b, id)->vt_us);
    pgqrs_batch_free(b);
    /* delay 0: visible at once, so one until_empty run takes it to its last attempt */
    pgqrs_store_set_time(store, T0 + 5000 * MS);
    CHECK_OK(run_until_empty("q", own_delay, NULL, 1, &st), store);
    CHECK_I64(4, atomic_load(&calls));
    CHECK_I64(1, st.dead_lettered);
    /* a queue update reaches the next runtime: the first retry now waits 7 s */
    qo.retry_initial_delay_ms = 7000;
    CHECK_OK(pgqrs_queue_update(NULL, store, "q", &qo), store);
    CHECK_OK(enqueue("q", "{\"do\":\"retry\"}", &id), store);
    CHECK_OK(run_until_empty("q", by_payload, NULL, 1, &st), store);
    CHECK_OK(pgqrs_message_list(&b, store, "q", 0, 10), store);
    CHECK_I64(T0 + 5000 * MS + 7000 * MS, find(b, id)->vt_us);
    pgqrs_batch_free(b);
    close_store();
}

static void test_runtime__results_stored_and_readable(void)
{
    pgqrs_consumer *c = NULL;
    pgqrs_batch *b = NULL;
    int64_t with = 0, plain = 0, none = 0;
    SETUP();
    CHECK_OK(make_queue("q", 3), store);
    CHECK_OK(enqueue("q", "{\"do\":\"done\"}", &with), store);
    CHECK_OK(enqueue("q", "{\"x\":1}", &plain), store);
    /* archived by hand: no result */
    CHECK_OK(pgqrs_consumer_new(&c, store, "q"), store);
    CHECK_OK(pgqrs_dequeue(&b, c, 2, 30), c);
    CHECK_I64(2, pgqrs_batch_count(b));
    CHECK_OK(pgqrs_archive(c, plain), c);
    CHECK_OK(pgqrs_release(c, with, 0), c);
    pgqrs_batch_free(b);
    pgqrs_consumer_free(c);
    CHECK_OK(enqueue("q", "{\"nothing\":true}", &none), store);
    CHECK_OK(run_until_empty("q", by_payload, NULL, 1, NULL), store);   /* "nothing": retried */
    CHECK_OK(pgqrs_archive_list(&b, store, "q", 0, 10), store);
    CHECK_I64(2, pgqrs_batch_count(b));
    CHECK(find(b, plain)->result == NULL);
    CHECK(json_eq(find(b, with)->result, "{\"ok\":1,\"attempt\":2}"));
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_message_list(&b, store, "q", 0, 10), store);
    CHECK(find(b, none) && find(b, none)->result == NULL);   /* live messages have none */
    pgqrs_batch_free(b);
    close_store();
}

/* Eight jobs settled by one runtime (concurrency 8: the settles of a claim go
 * in as few statements as finish together): each archived job keeps its own
 * result and each retried one its own delay, not its neighbour's. */
static int result_or_delay_by_n(pgqrs_job *job, void *user)
{
    json_t *p = json_loads(pgqrs_job_payload(job), 0, NULL);
    int n = (int)json_integer_value(json_object_get(p, "n"));
    char res[32];
    (void)user;
    json_decref(p);
    if (n % 2 == 0) {
        snprintf(res, sizeof res, "{\"n\":%d}", n);
        return pgqrs_job_set_result(job, res) == PGQRS_OK ? PGQRS_JOB_DONE : PGQRS_JOB_FAIL;
    }
    return pgqrs_job_set_retry_delay(job, 1000 * (n + 1)) == PGQRS_OK ? PGQRS_JOB_RETRY : PGQRS_JOB_FAIL;
}

static void test_runtime__batch_settle_keeps_each_result_and_delay(void)
{
    pgqrs_batch *b = NULL;
    pgqrs_runtime_stats st;
    SETUP();
    CHECK_OK(make_queue("q", 3), store);
    CHECK_OK(enqueue_n("q", 8), store);
    CHECK_OK(run_until_empty("q", result_or_delay_by_n, NULL, 8, &st), store);
    CHECK_I64(4, st.retried);
    CHECK_OK(pgqrs_archive_list(&b, store, "q", 0, 10), store);
    CHECK_I64(4, (int64_t)pgqrs_batch_count(b));
    for (size_t i = 0; i < pgqrs_batch_count(b); i++) {
        const pgqrs_message *m = pgqrs_batch_at(b, i);
        json_t *p = json_loads(m->payload, 0, NULL);
        char want[32];
        snprintf(want, sizeof want, "{\"n\":%d}", (int)json_integer_value(json_object_get(p, "n")));
        json_decref(p);
        CHECK(json_eq(m->result, want));
    }
    pgqrs_batch_free(b);
    b = NULL;
    CHECK_OK(pgqrs_message_list(&b, store, "q", 0, 10), store);
    CHECK_I64(4, (int64_t)pgqrs_batch_count(b));
    for (size_t i = 0; i < pgqrs_batch_count(b); i++) {
        const pgqrs_message *m = pgqrs_batch_at(b, i);
        json_t *p = json_loads(m->payload, 0, NULL);
        int n = (int)json_integer_value(json_object_get(p, "n"));
        json_decref(p);
        CHECK_I64(1, n % 2);
        CHECK_I64(T0 + 1000 * (n + 1) * MS, m->vt_us);
    }
    pgqrs_batch_free(b);
    close_store();
}

/* ---- bad input ---- */

static int noop(pgqrs_job *job, void *user)
{
    (void)job;
    (void)user;
    return PGQRS_JOB_DONE;
}

static int bad_results(pgqrs_job *job, void *user)
{
    int *ok = user;
    *ok = pgqrs_job_set_result(job, "{not json") == PGQRS_EINVAL && pgqrs_job_set_retry_delay(job, -1) == PGQRS_EINVAL &&
          pgqrs_job_set_retry_delay(job, PGQRS_MAX_RETRY_DELAY_MS + 1) == PGQRS_EINVAL &&
          pgqrs_job_set_result(job, NULL) == PGQRS_OK && pgqrs_job_id(job) > 0 && pgqrs_job_attempt(job) == 1 &&
          pgqrs_job_max_attempts(job) == 3 && strcmp(pgqrs_job_queue(job), "q") == 0 &&
          pgqrs_job_message(job)->id == pgqrs_job_id(job) && strcmp(pgqrs_job_message(job)->state, "live") == 0 &&
          pgqrs_job_message(job)->payload == pgqrs_job_payload(job);
    return PGQRS_JOB_DONE;
}

static void test_runtime__bad_input(void)
{
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime_stats st = PGQRS_RUNTIME_STATS_INIT;
    pgqrs_runtime *rt = NULL;
    int ok = 0;
    SETUP();
    CHECK_OK(make_queue("q", 3), store);
    static const struct { int conc, batch, vt, idle_min, idle_max; int64_t max_run; } bad[] = {
        { -1, 0, 0, 0, 0, 0 }, { 1025, 0, 0, 0, 0, 0 }, { 0, -1, 0, 0, 0, 0 }, { 0, 100000, 0, 0, 0, 0 },
        { 0, 0, -1, 0, 0, 0 }, { 0, 0, PGQRS_MAX_VT_SECONDS + 1, 0, 0, 0 }, { 0, 0, 0, -5, 0, 0 },
        { 0, 0, 0, 50, 10, 0 }, { 0, 0, 0, 0, 0, -1 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o = (pgqrs_runtime_options)PGQRS_RUNTIME_OPTIONS_INIT;
        o.concurrency = bad[i].conc;
        o.batch_size = bad[i].batch;
        o.vt_seconds = bad[i].vt;
        o.idle_min_ms = bad[i].idle_min;
        o.idle_max_ms = bad[i].idle_max;
        o.max_run_ms = bad[i].max_run;
        CHECK_ST(PGQRS_EINVAL, pgqrs_runtime_new(&rt, store, &o), store);
        CHECK(rt == NULL);
    }
    o = (pgqrs_runtime_options)PGQRS_RUNTIME_OPTIONS_INIT;
    o.version = 99;
    CHECK_ST(PGQRS_EINVAL, pgqrs_runtime_new(&rt, store, &o), store);
    CHECK_ST(PGQRS_EINVAL, pgqrs_runtime_options_init(&o, 7), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_runtime_new(NULL, store, NULL), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_runtime_new(&rt, NULL, NULL), NULL);
    CHECK_OK(pgqrs_runtime_new(&rt, store, NULL), store);
    CHECK_ST(PGQRS_ESTATE, pgqrs_runtime_run(rt), rt);                     /* no queue */
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_runtime_add_queue(rt, "nope", noop, NULL), rt);
    CHECK_ST(PGQRS_EINVAL, pgqrs_runtime_add_queue(rt, "", noop, NULL), rt);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_runtime_add_queue(rt, "q", NULL, NULL), rt);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_runtime_add_queue(NULL, "q", noop, NULL), NULL);
    CHECK_OK(pgqrs_runtime_add_queue(rt, "q", noop, NULL), rt);
    CHECK_ST(PGQRS_EEXISTS, pgqrs_runtime_add_queue(rt, "q", noop, NULL), rt);
    st.version = 0;
    CHECK_ST(PGQRS_EINVAL, pgqrs_runtime_stats_get(&st, rt), rt);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_runtime_stats_get(NULL, rt), rt);
    pgqrs_runtime_stop(rt);                                               /* before run: run returns at once */
    CHECK_OK(pgqrs_runtime_run(rt), rt);
    CHECK_ST(PGQRS_ESTATE, pgqrs_runtime_run(rt), rt);                     /* once */
    CHECK_ST(PGQRS_ESTATE, pgqrs_runtime_add_queue(rt, "q", noop, NULL), rt);
    pgqrs_runtime_free(rt);
    pgqrs_runtime_free(NULL);
    pgqrs_runtime_stop(NULL);
    /* the job's checks, from inside a handler; the accessors of a bad handle */
    CHECK_OK(enqueue("q", "{}", NULL), store);
    CHECK_OK(run_until_empty("q", bad_results, &ok, 1, NULL), store);
    CHECK(ok);
    CHECK_I64(0, pgqrs_job_id(NULL));
    CHECK(pgqrs_job_payload(NULL) == NULL && pgqrs_job_queue(NULL) == NULL && pgqrs_job_message(NULL) == NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_job_set_result(NULL, "1"), NULL);
    close_store();
}

/* ---- real threads ---- */

static _Atomic int running_now, running_max, started;

static int busy(pgqrs_job *job, void *user)
{
    int ms = user ? *(int *)user : 5, r = atomic_fetch_add(&running_now, 1) + 1, m;
    (void)job;
    atomic_fetch_add(&started, 1);
    while ((m = atomic_load(&running_max)) < r && !atomic_compare_exchange_weak(&running_max, &m, r))
        ;
    usleep((useconds_t)ms * 1000);
    atomic_fetch_sub(&running_now, 1);
    atomic_fetch_add(&calls, 1);
    return PGQRS_JOB_DONE;
}

static void test_runtime__concurrency_and_two_queues(void)
{
    /* real threads: 4 handlers at most, all 60 messages of two queues done once */
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime_stats st = PGQRS_RUNTIME_STATS_INIT;
    pgqrs_runtime *rt = NULL;
    pgqrs_metrics *ml = NULL;
    int ms = 10;
    SETUP_REAL_CLOCK();
    CHECK_OK(make_queue("a", 3), store);
    CHECK_OK(make_queue("b", 3), store);
    CHECK_OK(enqueue_n("a", 40), store);
    CHECK_OK(enqueue_n("b", 20), store);
    atomic_store(&calls, 0);
    atomic_store(&running_max, 0);
    o.concurrency = 4;
    o.batch_size = 5;
    o.until_empty = 1;
    o.idle_max_ms = 20;
    CHECK_OK(pgqrs_runtime_new(&rt, store, &o), store);
    CHECK_OK(pgqrs_runtime_add_queue(rt, "a", busy, &ms), rt);
    CHECK_OK(pgqrs_runtime_add_queue(rt, "b", busy, &ms), rt);
    CHECK_OK(pgqrs_runtime_run(rt), rt);
    CHECK_OK(pgqrs_runtime_stats_get(&st, rt), rt);
    pgqrs_runtime_free(rt);
    CHECK_I64(60, atomic_load(&calls));
    CHECK_I64(60, st.done);
    CHECK_MSG(atomic_load(&running_max) >= 2 && atomic_load(&running_max) <= 4, "running at once: %d",
              atomic_load(&running_max));
    CHECK_OK(pgqrs_metrics_list(&ml, store, NULL), store);
    CHECK_I64(2, pgqrs_metrics_count(ml));
    CHECK_I64(40, pgqrs_metrics_at(ml, 0)->archived);
    CHECK_I64(20, pgqrs_metrics_at(ml, 1)->archived);
    CHECK_I64(0, pgqrs_metrics_at(ml, 0)->pending + pgqrs_metrics_at(ml, 0)->in_flight);
    pgqrs_metrics_free(ml);
    close_store();
}

static bool wait_for(_Atomic int *v, int want, int ms);

/* The lease test: a second consumer tries all along to take the message. */
typedef struct {
    pgqrs_consumer *other;
    _Atomic int stolen;
    _Atomic int stop;
    pthread_t th;
    bool on;
} thief_state;
static thief_state thief_st;

static void thief_stop(void)
{
    if (thief_st.on) {
        atomic_store(&thief_st.stop, 1);
        pthread_join(thief_st.th, NULL);
        thief_st.on = false;
    }
    pgqrs_consumer_free(thief_st.other);
    thief_st.other = NULL;
}

static void *thief(void *arg)
{
    thief_state *t = arg;
    while (!atomic_load(&t->stop)) {
        pgqrs_batch *b = NULL;
        if (pgqrs_dequeue(&b, t->other, 10, 30) == PGQRS_OK)
            atomic_fetch_add(&t->stolen, (int)pgqrs_batch_count(b));
        pgqrs_batch_free(b);
        usleep(100 * 1000);
    }
    return NULL;
}

static void test_runtime__lease_extended_for_a_long_handler(void)
{
    /* real clock: vt 1 s, the handler runs 3.2 s; the lease is extended every
     * third of a second, so the thief never gets it and it runs once */
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime_stats st = PGQRS_RUNTIME_STATS_INIT;
    pgqrs_runtime *rt = NULL;
    thief_state *t = &thief_st;
    int ms = 3200;
    int64_t n = 0;
    SETUP_REAL_CLOCK();
    CHECK_OK(make_queue("q", 5), store);
    CHECK_OK(enqueue_n("q", 1), store);
    atomic_store(&t->stolen, 0);
    atomic_store(&t->stop, 0);
    CHECK_OK(pgqrs_consumer_new(&t->other, store, "q"), store);
    atomic_store(&calls, 0);
    atomic_store(&started, 0);
    o.vt_seconds = 1;
    o.until_empty = 1;
    o.idle_max_ms = 50;
    CHECK_OK(pgqrs_runtime_new(&rt, store, &o), store);
    CHECK_OK(pgqrs_runtime_add_queue(rt, "q", busy, &ms), rt);
    CHECK(bg_start(rt));
    CHECK(wait_for(&started, 1, 10000));   /* the runtime holds it: from now on nobody else may get it */
    CHECK(pthread_create(&t->th, NULL, thief, t) == 0);
    t->on = true;
    CHECK_OK(bg_join(), rt);
    thief_stop();
    CHECK_OK(pgqrs_runtime_stats_get(&st, rt), rt);
    pgqrs_runtime_free(rt);
    CHECK_I64(0, atomic_load(&t->stolen));
    CHECK_I64(1, atomic_load(&started));
    CHECK_I64(1, st.done);
    CHECK_I64(0, st.lost);
    CHECK_OK(pgqrs_dlq_count(&n, store, "q"), store);
    CHECK_I64(0, n);
    close_store();
}

/* Blocks until released: the shutdown and lease-lost tests. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static _Atomic int gate_returned;

static int gated(pgqrs_job *job, void *user)
{
    (void)job;
    (void)user;
    atomic_fetch_add(&started, 1);
    pthread_mutex_lock(&gate_mu);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    atomic_fetch_add(&gate_returned, 1);
    return PGQRS_JOB_DONE;
}

static void gate(bool open)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = open;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static bool wait_for(_Atomic int *v, int want, int ms)
{
    for (int i = 0; i < ms / 5 && atomic_load(v) < want; i++)
        usleep(5000);
    return atomic_load(v) >= want;
}

static void test_runtime__shutdown_with_handlers_in_flight(void)
{
    /* real threads: 2 handlers hold 2 messages, 8 more wait in memory (a claim
     * waits for room for half a batch: 2 + 10 can be held, 10 are); a stop gives
     * the 8 back (pending now, not counted as a delivery) and lets the 2 finish,
     * which are archived */
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime_stats st = PGQRS_RUNTIME_STATS_INIT;
    pgqrs_runtime *rt = NULL;
    pgqrs_batch *b = NULL;
    SETUP();
    CHECK_OK(make_queue("q", 3), store);
    CHECK_OK(enqueue_n("q", 12), store);
    atomic_store(&started, 0);
    atomic_store(&gate_returned, 0);
    gate(false);
    o.concurrency = 2;
    o.batch_size = 10;
    CHECK_OK(pgqrs_runtime_new(&rt, store, &o), store);
    CHECK_OK(pgqrs_runtime_add_queue(rt, "q", gated, NULL), rt);
    CHECK(bg_start(rt));
    CHECK_MSG(wait_for(&started, 2, 10000), "handlers started: %d", atomic_load(&started));
    for (int i = 0; i < 200; i++) {   /* both claims of the first rounds are in */
        CHECK_OK(pgqrs_runtime_stats_get(&st, rt), rt);
        if (st.held == 10)
            break;
        usleep(5000);
    }
    CHECK_I64(10, st.held);
    pgqrs_runtime_stop(rt);
    usleep(50 * 1000);               /* the stop is seen; the handlers still run */
    CHECK_I64(0, atomic_load(&gate_returned));
    gate(true);
    CHECK_OK(bg_join(), rt);
    CHECK_OK(pgqrs_runtime_stats_get(&st, rt), rt);
    pgqrs_runtime_free(rt);
    CHECK_I64(2, atomic_load(&started));
    CHECK_I64(2, st.done);
    CHECK_I64(8, st.given_back);
    CHECK_I64(0, st.held);
    CHECK_OK(pgqrs_archive_list(&b, store, "q", 0, 100), store);
    CHECK_I64(2, pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_message_list(&b, store, "q", 0, 100), store);
    CHECK_I64(10, pgqrs_batch_count(b));   /* 8 given back, 2 never claimed */
    for (size_t i = 0; i < pgqrs_batch_count(b); i++) {
        const pgqrs_message *m = pgqrs_batch_at(b, i);
        CHECK_I64(0, m->read_count);             /* the claim was not counted */
        CHECK_I64(0, m->consumer_worker_id);
        CHECK(m->vt_us <= T0);                   /* pending now */
    }
    pgqrs_batch_free(b);
    close_store();
}

static void test_runtime__shutdown_deadline_releases_the_running(void)
{
    /* real threads: a handler that outlives shutdown_ms; run returns ETIMEOUT and
     * its message is pending again; the thread finishes later on its own */
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime *rt = NULL;
    pgqrs_batch *b = NULL;
    SETUP();
    CHECK_OK(make_queue("q", 3), store);
    CHECK_OK(enqueue_n("q", 1), store);
    atomic_store(&started, 0);
    atomic_store(&gate_returned, 0);
    gate(false);
    o.shutdown_ms = 100;
    CHECK_OK(pgqrs_runtime_new(&rt, store, &o), store);
    CHECK_OK(pgqrs_runtime_add_queue(rt, "q", gated, NULL), rt);
    CHECK(bg_start(rt));
    CHECK(wait_for(&started, 1, 10000));
    pgqrs_runtime_stop(rt);
    CHECK_ST(PGQRS_ETIMEOUT, bg_join(), rt);
    pgqrs_runtime_free(rt);             /* does not wait for the stuck handler */
    CHECK_I64(0, atomic_load(&gate_returned));
    CHECK_OK(pgqrs_message_list(&b, store, "q", 0, 10), store);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(0, pgqrs_batch_at(b, 0)->consumer_worker_id);
    CHECK(pgqrs_batch_at(b, 0)->vt_us <= T0);
    pgqrs_batch_free(b);
    gate(true);                         /* the handler returns; its thread frees the rest */
    CHECK(wait_for(&gate_returned, 1, 5000));
    usleep(50 * 1000);
    close_store();
}

static pgqrs_runtime *signal_rt;
static void on_sigusr1(int sig)
{
    (void)sig;
    pgqrs_runtime_stop(signal_rt);
}

static void *raise_later(void *arg)
{
    usleep(200 * 1000);
    pthread_kill(*(pthread_t *)arg, SIGUSR1);
    return NULL;
}

static void test_runtime__stop_from_a_signal_handler(void)
{
    /* real time: an idle runtime on the main thread; SIGUSR1 arrives 200 ms later
     * and its handler calls pgqrs_runtime_stop */
    struct sigaction sa, old;
    pgqrs_runtime *rt = NULL;
    pthread_t self = pthread_self(), th;
    SETUP();
    CHECK_OK(make_queue("q", 3), store);
    CHECK_OK(pgqrs_runtime_new(&rt, store, NULL), store);
    CHECK_OK(pgqrs_runtime_add_queue(rt, "q", noop, NULL), rt);
    signal_rt = rt;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, &old) == 0);
    CHECK(pthread_create(&th, NULL, raise_later, &self) == 0);
    CHECK_OK(pgqrs_runtime_run(rt), rt);
    pthread_join(th, NULL);
    sigaction(SIGUSR1, &old, NULL);
    pgqrs_runtime_free(rt);
    close_store();
}

/* First delivery: runs long (past max_run_ms); second: done at once. */
static int slow_first(pgqrs_job *job, void *user)
{
    (void)user;
    atomic_fetch_add(&calls, 1);
    if (pgqrs_job_attempt(job) == 1)
        usleep(600 * 1000);
    return PGQRS_JOB_DONE;
}

static void test_runtime__max_run_lets_the_message_go(void)
{
    /* real threads: max_run_ms 100; the first handler overruns, its message is
     * released and delivered again (to the second thread), which finishes it */
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime_stats st = PGQRS_RUNTIME_STATS_INIT;
    pgqrs_runtime *rt = NULL;
    pgqrs_batch *b = NULL;
    SETUP_REAL_CLOCK();
    CHECK_OK(make_queue("q", 5), store);
    CHECK_OK(enqueue_n("q", 1), store);
    atomic_store(&calls, 0);
    o.concurrency = 2;
    o.max_run_ms = 100;
    o.until_empty = 1;
    o.idle_max_ms = 20;
    CHECK_OK(pgqrs_runtime_new(&rt, store, &o), store);
    CHECK_OK(pgqrs_runtime_add_queue(rt, "q", slow_first, NULL), rt);
    CHECK_OK(pgqrs_runtime_run(rt), rt);
    CHECK_OK(pgqrs_runtime_stats_get(&st, rt), rt);
    pgqrs_runtime_free(rt);
    CHECK_I64(2, atomic_load(&calls));
    CHECK_I64(1, st.overrun);
    CHECK_I64(1, st.done);
    CHECK_OK(pgqrs_archive_list(&b, store, "q", 0, 10), store);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(2, pgqrs_batch_at(b, 0)->read_count);
    pgqrs_batch_free(b);
    close_store();
}

static void test_runtime__late_settle_is_lost_not_applied(void)
{
    /* the handler outlives its lease (the clock moves past it before the extender's
     * first run) and another consumer takes the message: the late DONE is dropped */
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime_stats st = PGQRS_RUNTIME_STATS_INIT;
    pgqrs_runtime *rt = NULL;
    pgqrs_consumer *other = NULL;
    pgqrs_batch *b = NULL;
    SETUP();
    CHECK_OK(make_queue("q", 5), store);
    CHECK_OK(enqueue_n("q", 1), store);
    CHECK_OK(pgqrs_consumer_new(&other, store, "q"), store);
    atomic_store(&started, 0);
    gate(false);
    o.vt_seconds = 30;   /* extended after 10 s of real time: not in this test */
    o.idle_min_ms = 60000;   /* nor does it look again: the other consumer must get the message */
    o.idle_max_ms = 60000;
    CHECK_OK(pgqrs_runtime_new(&rt, store, &o), store);
    CHECK_OK(pgqrs_runtime_add_queue(rt, "q", gated, NULL), rt);
    CHECK(bg_start(rt));
    CHECK(wait_for(&started, 1, 10000));
    /* past the 30 s lease. The runtime's second claim (right after the first, which
     * the handler may have started before) can still take it back at the moved
     * clock, for another 30 s of it; after that it does not look again for 30 s */
    for (int k = 1; k <= 5; k++) {
        size_t got;
        pgqrs_store_set_time(store, T0 + 100 * k * SEC);
        CHECK_OK(pgqrs_dequeue(&b, other, 1, 30), other);
        got = pgqrs_batch_count(b);
        pgqrs_batch_free(b);
        b = NULL;
        if (got == 1)
            break;
        CHECK_MSG(k < 5, "the other consumer never got the message");
        usleep(100 * 1000);
    }
    gate(true);
    for (int i = 0; i < 400; i++) {
        CHECK_OK(pgqrs_runtime_stats_get(&st, rt), rt);
        if (st.lost == 1)
            break;
        usleep(5000);
    }
    pgqrs_runtime_stop(rt);
    CHECK_OK(bg_join(), rt);
    pgqrs_runtime_free(rt);
    CHECK_I64(1, st.lost);
    CHECK_I64(0, st.done);
    CHECK_OK(pgqrs_message_list(&b, store, "q", 0, 10), store);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(pgqrs_consumer_worker_id(other), pgqrs_batch_at(b, 0)->consumer_worker_id);
    pgqrs_batch_free(b);
    pgqrs_consumer_free(other);
    close_store();
}

static void test_runtime__idle_wake_up(void)
{
    /* real time. With notifications an enqueue wakes an idle runtime at once,
     * though its polls are 1.5 s or more apart (idle_min_ms 3000, jittered down to
     * half): the pickup within 800 ms is the NOTIFY. Without, it polls: idle_max_ms
     * 200 bounds the pickup */
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime *rt = NULL;
    struct timespec a, z;
    int64_t took_ms;
    int ms = 0;
    SETUP_REAL_CLOCK();
    CHECK_OK(pgqrs_store_capabilities(&caps, store), store);
    CHECK_OK(make_queue("q", 3), store);
    atomic_store(&started, 0);
    o.idle_min_ms = caps.notifications ? 3000 : 10;
    o.idle_max_ms = caps.notifications ? 10000 : 200;
    CHECK_OK(pgqrs_runtime_new(&rt, store, &o), store);
    CHECK_OK(pgqrs_runtime_add_queue(rt, "q", busy, &ms), rt);
    CHECK(bg_start(rt));
    usleep(500 * 1000);   /* idle: it looked, found nothing, and waits */
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK_OK(enqueue_n("q", 1), store);
    CHECK(wait_for(&started, 1, 15000));
    clock_gettime(CLOCK_MONOTONIC, &z);
    pgqrs_runtime_stop(rt);
    CHECK_OK(bg_join(), rt);
    pgqrs_runtime_free(rt);
    took_ms = (int64_t)(z.tv_sec - a.tv_sec) * 1000 + (z.tv_nsec - a.tv_nsec) / 1000000;
    if (caps.notifications)
        CHECK_MSG(took_ms < 800, "woken by NOTIFY after %lld ms", (long long)took_ms);
    else
        CHECK_MSG(took_ms < 800, "polling picked it up after %lld ms (idle_max_ms 200)", (long long)took_ms);
    close_store();
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "runtime__done_retry_fail", test_runtime__done_retry_fail },
        { "runtime__until_empty_runs_a_prompt_retry", test_runtime__until_empty_runs_a_prompt_retry },
        { "runtime__backoff_delays_honoured", test_runtime__backoff_delays_honoured },
        { "runtime__handler_delay_and_policy_update", test_runtime__handler_delay_and_policy_update },
        { "runtime__results_stored_and_readable", test_runtime__results_stored_and_readable },
        { "runtime__batch_settle_keeps_each_result_and_delay", test_runtime__batch_settle_keeps_each_result_and_delay },
        { "runtime__bad_input", test_runtime__bad_input },
        { "runtime__concurrency_and_two_queues", test_runtime__concurrency_and_two_queues },
        { "runtime__lease_extended_for_a_long_handler", test_runtime__lease_extended_for_a_long_handler },
        { "runtime__shutdown_with_handlers_in_flight", test_runtime__shutdown_with_handlers_in_flight },
        { "runtime__shutdown_deadline_releases_the_running", test_runtime__shutdown_deadline_releases_the_running },
        { "runtime__stop_from_a_signal_handler", test_runtime__stop_from_a_signal_handler },
        { "runtime__max_run_lets_the_message_go", test_runtime__max_run_lets_the_message_go },
        { "runtime__late_settle_is_lost_not_applied", test_runtime__late_settle_is_lost_not_applied },
        { "runtime__idle_wake_up", test_runtime__idle_wake_up },
    };
    int rc = th_main(argc, argv, "test_runtime", tests, sizeof tests / sizeof *tests);
    close_store();
    return rc;
}
