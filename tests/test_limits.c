/* test_limits.c: per-queue limits (pgqrs_queue_options version 3): the options,
 * pgqrs_queue_update, the concurrency limit across 8 processes with a sampler,
 * the rate limit on a moved clock, a limit changed while consumers run, and the
 * refusal where limits cannot be exact (no transactions: Turso over HTTP).
 * One source for every backend (PGQRS_TEST_BACKEND). Handles are deferred and
 * freed before the next test, so a failing CHECK that returns early leaks nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

/* ---- Fixture ------------------------------------------------------------------- */

static pgqrs_store *store;
static int64_t T0;
#define SEC 1000000LL
#define MS 1000LL

typedef struct deferred {
    void (*fn)(void *);
    void *p;
} deferred;
static deferred defers[256];
static size_t ndefers;

static void defer(void (*fn)(void *), void *p)
{
    if (!p)
        return;
    if (ndefers == sizeof defers / sizeof *defers) {
        fprintf(stderr, "test_limits: defer stack full\n");
        abort();
    }
    defers[ndefers].fn = fn;
    defers[ndefers].p = p;
    ndefers++;
}

static void cleanup(void)
{
    while (ndefers > 0) {
        ndefers--;
        defers[ndefers].fn(defers[ndefers].p);
    }
    store = NULL;
}

static void free_store(void *p) { pgqrs_store_free(p); }
static void free_queue_info(void *p) { pgqrs_queue_info_free(p); }
static void free_consumer(void *p) { pgqrs_consumer_free(p); }
static void free_producer(void *p) { pgqrs_producer_free(p); }
static void free_batch(void *p) { pgqrs_batch_free(p); }

static pgqrs_status open_store(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_status st;
    cleanup();
    o.heartbeat_interval_s = -1;
    st = pgqrs_connect(&store, th_fresh_dsn(), &o);
    if (st != PGQRS_OK)
        return st;
    defer(free_store, store);
    st = pgqrs_schema_install(store);
    if (st != PGQRS_OK)
        return st;
    T0 = (int64_t)time(NULL) * SEC;
    pgqrs_store_set_time(store, T0);
    return PGQRS_OK;
}

#define SETUP() CHECK_OK(open_store(), store)
#define PRODUCER(var, q) do { (var) = NULL; CHECK_OK(pgqrs_producer_new(&(var), store, (q)), store); \
    defer(free_producer, (var)); } while (0)
#define CONSUMER(var, q) do { (var) = NULL; CHECK_OK(pgqrs_consumer_new(&(var), store, (q)), store); \
    defer(free_consumer, (var)); } while (0)
#define DEQ(var, c, max) do { (var) = NULL; CHECK_OK(pgqrs_dequeue(&(var), (c), (max), 30), (c)); \
    defer(free_batch, (var)); } while (0)
static void at_ms(int64_t ms) { pgqrs_store_set_time(store, T0 + ms * MS); }
#define GET(var, name) do { (var) = NULL; CHECK_OK(pgqrs_queue_get(&(var), store, (name)), store); \
    defer(free_queue_info, (var)); } while (0)

static bool fcntl_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

/* Limits need transactions (docs/design.md); this is how a caller tells. */
static bool limits_supported(void)
{
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    return pgqrs_store_capabilities(&caps, store) == PGQRS_OK && caps.transactions;
}

/* ---- Options, create, update ------------------------------------------------------ */

static void test_limits__create_and_update(void)
{
    pgqrs_queue_options o = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_queue_info *q;
    SETUP();
    CHECK_I64(3, PGQRS_QUEUE_OPTIONS_VERSION);
    if (!limits_supported())
        SKIP("no transactions: limits are refused (test_limits__refused_without_transactions)");
    o.concurrency_limit = 3;
    o.rate_limit = 10;
    o.rate_period_ms = 1000;
    CHECK_OK(pgqrs_queue_create(&q, store, "lim", &o), store);
    defer(free_queue_info, q);
    CHECK_I64(3, q->concurrency_limit);
    CHECK_I64(10, q->rate_limit);
    CHECK_I64(1000, q->rate_period_ms);
    /* no limit fields: none */
    CHECK_OK(pgqrs_queue_create(&q, store, "free", NULL), store);
    defer(free_queue_info, q);
    CHECK_I64(0, q->concurrency_limit);
    CHECK_I64(0, q->rate_limit);
    CHECK_I64(0, q->rate_period_ms);

    /* 0 = unchanged */
    o = (pgqrs_queue_options)PGQRS_QUEUE_OPTIONS_INIT;
    o.max_attempts = 7;
    CHECK_OK(pgqrs_queue_update(&q, store, "lim", &o), store);
    defer(free_queue_info, q);
    CHECK_I64(7, q->max_attempts);
    CHECK_I64(3, q->concurrency_limit);
    CHECK_I64(10, q->rate_limit);
    /* one rate field alone changes it while the other is set */
    o = (pgqrs_queue_options)PGQRS_QUEUE_OPTIONS_INIT;
    o.rate_period_ms = 250;
    o.concurrency_limit = 5;
    CHECK_OK(pgqrs_queue_update(&q, store, "lim", &o), store);
    defer(free_queue_info, q);
    CHECK_I64(5, q->concurrency_limit);
    CHECK_I64(10, q->rate_limit);
    CHECK_I64(250, q->rate_period_ms);
    CHECK_I64(7, q->max_attempts);
    /* -1 removes */
    o = (pgqrs_queue_options)PGQRS_QUEUE_OPTIONS_INIT;
    o.concurrency_limit = -1;
    CHECK_OK(pgqrs_queue_update(&q, store, "lim", &o), store);
    defer(free_queue_info, q);
    CHECK_I64(0, q->concurrency_limit);
    CHECK_I64(10, q->rate_limit);
    o = (pgqrs_queue_options)PGQRS_QUEUE_OPTIONS_INIT;
    o.rate_limit = -1;
    CHECK_OK(pgqrs_queue_update(&q, store, "lim", &o), store);
    defer(free_queue_info, q);
    CHECK_I64(0, q->rate_limit);
    CHECK_I64(0, q->rate_period_ms);
    /* setting both on a queue that had none */
    o = (pgqrs_queue_options)PGQRS_QUEUE_OPTIONS_INIT;
    o.rate_limit = 2;
    o.rate_period_ms = 60000;
    CHECK_OK(pgqrs_queue_update(NULL, store, "free", &o), store);
    GET(q, "free");
    CHECK_I64(2, q->rate_limit);
    CHECK_I64(60000, q->rate_period_ms);
    /* queue_list shows them */
    {
        pgqrs_queues *l = NULL;
        CHECK_OK(pgqrs_queue_list(&l, store), store);
        CHECK_I64(2, pgqrs_queues_count(l));
        CHECK_I64(2, pgqrs_queues_at(l, 0)->rate_limit);   /* "free" sorts first */
        pgqrs_queues_free(l);
    }
}

static void test_limits__older_option_versions(void)
{
    pgqrs_queue_options o;
    pgqrs_queue_info *q;
    SETUP();
    memset(&o, 0x5a, sizeof o);
    CHECK_OK(pgqrs_queue_options_init(&o, 2), store);
    CHECK_I64(2, o.version);
    CHECK(o.concurrency_limit != 0);   /* past the end of a version 2 struct: untouched, never read */
    o.max_attempts = 4;
    CHECK_OK(pgqrs_queue_create(&q, store, "v2", &o), store);
    defer(free_queue_info, q);
    CHECK_I64(4, q->max_attempts);
    CHECK_I64(0, q->concurrency_limit);
    o.max_attempts = 6;
    CHECK_OK(pgqrs_queue_update(&q, store, "v2", &o), store);
    defer(free_queue_info, q);
    CHECK_I64(6, q->max_attempts);
    CHECK_I64(0, q->rate_limit);
    CHECK_OK(pgqrs_queue_options_init(&o, 3), store);
    CHECK_I64(0, o.concurrency_limit);
    CHECK_ST(PGQRS_EINVAL, pgqrs_queue_options_init(&o, 4), store);
}

static void test_limits__bad_input_changes_nothing(void)
{
    static const struct {
        int conc, rate;
        int64_t period;
    } bad[] = {
        { -2, 0, 0 }, { PGQRS_MAX_CONCURRENCY_LIMIT + 1, 0, 0 }, { 0, -2, 0 }, { 0, 0, -2 },
        { 0, PGQRS_MAX_RATE_LIMIT + 1, 100 }, { 0, 5, PGQRS_MAX_RATE_PERIOD_MS + 1 },
        { 0, 5, 0 },      /* a new rate limit without a period */
        { 0, 0, 100 },    /* a period without a rate limit */
        { 0, -1, 100 },   /* remove and set at once */
        { 0, 5, -1 },
        { 4, 5, 0 },      /* a good concurrency limit does not get through with a bad rate */
    };
    pgqrs_queue_options o = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_queue_info *q;
    SETUP();
    CHECK_OK(pgqrs_queue_create(NULL, store, "q", NULL), store);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o = (pgqrs_queue_options)PGQRS_QUEUE_OPTIONS_INIT;
        o.max_attempts = 9;
        o.concurrency_limit = bad[i].conc;
        o.rate_limit = bad[i].rate;
        o.rate_period_ms = bad[i].period;
        CHECK_ST(PGQRS_EINVAL, pgqrs_queue_update(NULL, store, "q", &o), store);
        CHECK_ST(PGQRS_EINVAL, pgqrs_queue_create(NULL, store, "new", &o), store);
    }
    GET(q, "q");
    CHECK_I64(5, q->max_attempts);   /* nothing changed */
    CHECK_I64(0, q->concurrency_limit);
    CHECK_I64(0, q->rate_limit);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_get(&q, store, "new"), store);
    /* removing a limit that is not there is fine everywhere */
    o = (pgqrs_queue_options)PGQRS_QUEUE_OPTIONS_INIT;
    o.concurrency_limit = -1;
    o.rate_limit = -1;
    CHECK_OK(pgqrs_queue_update(NULL, store, "q", &o), store);
}

static void test_limits__refused_without_transactions(void)
{
    pgqrs_queue_options o = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_queue_info *q;
    SETUP();
    if (limits_supported())
        SKIP("this backend has transactions: limits are supported");
    CHECK_OK(pgqrs_queue_create(NULL, store, "q", NULL), store);
    o.concurrency_limit = 3;
    CHECK_ST(PGQRS_ENOTSUPPORTED, pgqrs_queue_update(NULL, store, "q", &o), store);
    CHECK_ST(PGQRS_ENOTSUPPORTED, pgqrs_queue_create(NULL, store, "q2", &o), store);
    o = (pgqrs_queue_options)PGQRS_QUEUE_OPTIONS_INIT;
    o.rate_limit = 3;
    o.rate_period_ms = 1000;
    CHECK_ST(PGQRS_ENOTSUPPORTED, pgqrs_queue_update(NULL, store, "q", &o), store);
    GET(q, "q");
    CHECK_I64(0, q->concurrency_limit);
    CHECK_I64(0, q->rate_limit);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_get(&q, store, "q2"), store);
}


/* ---- The rate limit, on a moved clock -------------------------------------------- */

static pgqrs_status archive_all(pgqrs_consumer *c, const pgqrs_batch *b)
{
    int64_t ids[64];
    size_t n = pgqrs_batch_count(b);
    for (size_t i = 0; i < n && i < 64; i++)
        ids[i] = pgqrs_batch_at(b, i)->id;
    return n ? pgqrs_archive_batch(NULL, c, ids, n) : PGQRS_OK;
}

static void enqueue_n(pgqrs_producer *p, int n)
{
    for (int i = 0; i < n; i++)
        if (pgqrs_enqueue(NULL, p, "{}", 0) != PGQRS_OK) {
            th_fail(__FILE__, __LINE__, "enqueue: %s", pgqrs_errmsg(p));
            return;
        }
}

static void test_limits__rate_limit_window(void)
{
    pgqrs_queue_options o = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2;
    pgqrs_batch *b;
    SETUP();
    if (!limits_supported())
        SKIP("no transactions: limits are refused (test_limits__refused_without_transactions)");
    o.rate_limit = 5;
    o.rate_period_ms = 1000;
    CHECK_OK(pgqrs_queue_create(NULL, store, "r", &o), store);
    PRODUCER(p, "r");
    CONSUMER(c1, "r");
    CONSUMER(c2, "r");
    enqueue_n(p, 30);
    CHECK(!th_failed_now);
    /* at most 5 claims in any 1000 ms, whoever claims, whatever max asks */
    DEQ(b, c1, 3);
    CHECK_I64(3, pgqrs_batch_count(b));
    CHECK_OK(archive_all(c1, b), c1);
    DEQ(b, c2, 10);
    CHECK_I64(2, pgqrs_batch_count(b));   /* the window has 2 left */
    CHECK_OK(archive_all(c2, b), c2);
    DEQ(b, c1, 10);
    CHECK_I64(0, pgqrs_batch_count(b));
    at_ms(999);
    DEQ(b, c2, 10);
    CHECK_I64(0, pgqrs_batch_count(b));   /* the claims at T0 are still in the window */
    /* the next period: the window slides past T0 */
    at_ms(1000);
    DEQ(b, c1, 10);
    CHECK_I64(5, pgqrs_batch_count(b));
    CHECK_OK(archive_all(c1, b), c1);
    at_ms(1500);
    DEQ(b, c1, 10);
    CHECK_I64(0, pgqrs_batch_count(b));
    at_ms(2000);
    DEQ(b, c2, 2);
    CHECK_I64(2, pgqrs_batch_count(b));
    CHECK_OK(archive_all(c2, b), c2);
    at_ms(2500);
    DEQ(b, c2, 10);
    CHECK_I64(3, pgqrs_batch_count(b));
    CHECK_OK(archive_all(c2, b), c2);
    /* a sliding window: at 3000 the 2 of 2000 have left it, the 3 of 2500 not */
    at_ms(3000);
    DEQ(b, c1, 10);
    CHECK_I64(2, pgqrs_batch_count(b));
    CHECK_OK(archive_all(c1, b), c1);
    /* archive_and_dequeue and the settle path claim through the same limit */
    at_ms(3500);   /* the window (2500, 3500] holds the 2 of 3000: 3 left */
    DEQ(b, c1, 2);
    CHECK_I64(2, pgqrs_batch_count(b));
    {
        int64_t ids[2];
        pgqrs_batch *b2 = NULL;
        for (int i = 0; i < 2; i++)
            ids[i] = pgqrs_batch_at(b, (size_t)i)->id;
        CHECK_OK(pgqrs_archive_and_dequeue(&b2, NULL, c1, ids, 2, 10, 30), c1);
        defer(free_batch, b2);
        CHECK_I64(1, pgqrs_batch_count(b2));
        CHECK_OK(archive_all(c1, b2), c1);
    }
}

/* ---- A limit changed while consumers run --------------------------------------- */

static void test_limits__changed_limit_takes_effect(void)
{
    pgqrs_queue_options o = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b;
    pgqrs_metrics *m = NULL;
    SETUP();
    if (!limits_supported())
        SKIP("no transactions: limits are refused (test_limits__refused_without_transactions)");
    CHECK_OK(pgqrs_queue_create(NULL, store, "q", NULL), store);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    enqueue_n(p, 30);
    CHECK(!th_failed_now);
    DEQ(b, c, 2);
    CHECK_I64(2, pgqrs_batch_count(b));
    o.concurrency_limit = 3;
    CHECK_OK(pgqrs_queue_update(NULL, store, "q", &o), store);
    /* within PGQRS_LIMITS_REFRESH_MS (on the store's clock) the consumer sees it */
    at_ms(PGQRS_LIMITS_REFRESH_MS);
    DEQ(b, c, 10);
    CHECK_I64(1, pgqrs_batch_count(b));   /* 2 in flight, limit 3 */
    DEQ(b, c, 10);
    CHECK_I64(0, pgqrs_batch_count(b));
    /* once limited, every claim reads the limit: a change shows at the next claim */
    o.concurrency_limit = 5;
    CHECK_OK(pgqrs_queue_update(NULL, store, "q", &o), store);
    DEQ(b, c, 10);
    CHECK_I64(2, pgqrs_batch_count(b));
    o.concurrency_limit = 1;
    CHECK_OK(pgqrs_queue_update(NULL, store, "q", &o), store);
    DEQ(b, c, 10);
    CHECK_I64(0, pgqrs_batch_count(b));   /* 5 in flight stay (nothing is recalled), no new ones */
    CHECK_OK(pgqrs_metrics_list(&m, store, "q"), store);
    CHECK_I64(5, pgqrs_metrics_at(m, 0)->in_flight);
    pgqrs_metrics_free(m);
    /* an expired lease is no longer in flight */
    at_ms(PGQRS_LIMITS_REFRESH_MS + 31000);
    DEQ(b, c, 10);
    CHECK_I64(1, pgqrs_batch_count(b));
    /* removed: the next claim is unlimited */
    o.concurrency_limit = -1;
    CHECK_OK(pgqrs_queue_update(NULL, store, "q", &o), store);
    DEQ(b, c, 10);
    CHECK_I64(10, pgqrs_batch_count(b));
    DEQ(b, c, 10);
    CHECK_I64(10, pgqrs_batch_count(b));
}

/* ---- The concurrency limit across 8 processes -------------------------------------- */

#define N_PROCS 8
#define N_MSGS 240
#define LIMIT 3
#define PER_CLAIM 4

static pgqrs_status child_store(pgqrs_store **s, const char *dsn)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    o.pool_size = 1;
    return pgqrs_connect(s, dsn, &o);
}

/* A consumer process: claims up to PER_CLAIM, holds them a few ms, archives,
 * until the queue has nothing pending or in flight. Exit 0 on success. */
static int worker_main(const char *dsn)
{
    pgqrs_store *s = NULL;
    pgqrs_consumer *c = NULL;
    int rc = 1;
    if (child_store(&s, dsn) != PGQRS_OK || pgqrs_consumer_new(&c, s, "lim") != PGQRS_OK)
        goto done;
    for (;;) {
        pgqrs_batch *b = NULL;
        int64_t ids[PER_CLAIM];
        size_t n;
        if (pgqrs_dequeue(&b, c, PER_CLAIM, 30) != PGQRS_OK) {
            fprintf(stderr, "worker: dequeue: %s\n", pgqrs_errmsg(c));
            goto done;
        }
        n = pgqrs_batch_count(b);
        for (size_t i = 0; i < n; i++)
            ids[i] = pgqrs_batch_at(b, i)->id;
        pgqrs_batch_free(b);
        if (n == 0) {
            pgqrs_metrics *m = NULL;
            int64_t left = 1;
            if (pgqrs_metrics_list(&m, s, "lim") == PGQRS_OK)
                left = pgqrs_metrics_at(m, 0)->pending + pgqrs_metrics_at(m, 0)->in_flight;
            pgqrs_metrics_free(m);
            if (left == 0)
                break;
            usleep(2000);
            continue;
        }
        usleep(3000);   /* the handler */
        if (pgqrs_archive_batch(NULL, c, ids, n) != PGQRS_OK) {
            fprintf(stderr, "worker: archive: %s\n", pgqrs_errmsg(c));
            goto done;
        }
    }
    rc = 0;
done:
    pgqrs_consumer_free(c);
    pgqrs_store_free(s);
    return rc;
}

static int slow_job(pgqrs_job *job, void *user)
{
    (void)job;
    (void)user;
    usleep(3000);
    return PGQRS_JOB_DONE;
}

/* A runtime process: concurrency PER_CLAIM handler threads, until the queue is empty. */
static int runtime_main(const char *dsn)
{
    pgqrs_store *s = NULL;
    pgqrs_runtime *rt = NULL;
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    int rc = 1;
    o.concurrency = PER_CLAIM;
    o.batch_size = PER_CLAIM;
    o.until_empty = 1;
    o.no_scheduler = 1;
    if (child_store(&s, dsn) != PGQRS_OK || pgqrs_runtime_new(&rt, s, &o) != PGQRS_OK ||
        pgqrs_runtime_add_queue(rt, "lim", slow_job, NULL) != PGQRS_OK)
        goto done;
    if (pgqrs_runtime_run(rt) != PGQRS_OK) {
        fprintf(stderr, "runtime: %s\n", pgqrs_errmsg(rt));
        goto done;
    }
    rc = 0;
done:
    pgqrs_runtime_free(rt);
    pgqrs_store_free(s);
    return rc;
}

/* The sampler: reads the queue's in-flight count from the database as fast as
 * it can until the stop pipe closes; writes the maximum and the sample count. */
static int sampler_main(const char *dsn, int stop_fd, int out_fd)
{
    pgqrs_store *s = NULL;
    int64_t res[2] = { -1, 0 };
    if (child_store(&s, dsn) != PGQRS_OK)
        return 1;
    for (;;) {
        pgqrs_metrics *m = NULL;
        char ch;
        if (pgqrs_metrics_list(&m, s, "lim") == PGQRS_OK) {
            int64_t f = pgqrs_metrics_at(m, 0)->in_flight;
            if (f > res[0])
                res[0] = f;
            res[1]++;
        }
        pgqrs_metrics_free(m);
        if (read(stop_fd, &ch, 1) == 0)   /* non-blocking: 0 = the parent closed it */
            break;
    }
    pgqrs_store_free(s);
    return write(out_fd, res, sizeof res) == (ssize_t)sizeof res ? 0 : 1;
}

static void eight_processes(int (*child)(const char *dsn), const char *what)
{
    pgqrs_queue_options o = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_producer *p;
    pgqrs_metrics *m = NULL;
    pid_t pids[N_PROCS], sampler;
    int stop[2], res[2], bad = 0;
    int64_t got[2] = { -1, 0 };
    char dsn[1024];
    SETUP();
    if (th_is_memory())
        SKIP("forks processes: sqlite::memory: is private to one connection of one process");
    if (!limits_supported())
        SKIP("no transactions: limits are refused (test_limits__refused_without_transactions)");
    snprintf(dsn, sizeof dsn, "%s", th_current_dsn());
    pgqrs_store_set_time(store, 0);   /* the children read the real clock */
    o.concurrency_limit = LIMIT;
    CHECK_OK(pgqrs_queue_create(NULL, store, "lim", &o), store);
    PRODUCER(p, "lim");
    enqueue_n(p, N_MSGS);
    CHECK(!th_failed_now);
    CHECK(pipe(stop) == 0 && pipe(res) == 0);
    CHECK(fcntl_nonblock(stop[0]));
    fflush(stdout);
    fflush(stderr);
    sampler = fork();
    if (sampler == 0) {
        close(stop[1]);
        close(res[0]);
        _exit(sampler_main(dsn, stop[0], res[1]));
    }
    close(res[1]);
    close(stop[0]);
    for (int i = 0; i < N_PROCS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(stop[1]);
            close(res[0]);
            _exit(child(dsn));
        }
    }
    for (int i = 0; i < N_PROCS; i++) {
        int ws = 0;
        while (pids[i] > 0 && waitpid(pids[i], &ws, 0) < 0 && errno == EINTR)
            ;
        if (pids[i] <= 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
            bad++;
    }
    close(stop[1]);   /* stops the sampler */
    {
        int ws = 0;
        ssize_t r;
        while ((r = read(res[0], got, sizeof got)) < 0 && errno == EINTR)
            ;
        while (sampler > 0 && waitpid(sampler, &ws, 0) < 0 && errno == EINTR)
            ;
        close(res[0]);
        CHECK_MSG(r == (ssize_t)sizeof got, "the sampler reported nothing");
    }
    CHECK_I64(0, bad);
    printf("  concurrency limit %d, %d processes (%s, up to %d each): max in flight observed %" PRId64
           " over %" PRId64 " samples\n", LIMIT, N_PROCS, what, PER_CLAIM, got[0], got[1]);
    CHECK_MSG(got[0] <= LIMIT, "max in flight %" PRId64 " exceeds the limit %d", got[0], LIMIT);
    CHECK(got[0] >= 1);
    CHECK(got[1] > 0);
    CHECK_OK(pgqrs_metrics_list(&m, store, "lim"), store);
    CHECK_I64(N_MSGS, pgqrs_metrics_at(m, 0)->archived);
    CHECK_I64(0, pgqrs_metrics_at(m, 0)->pending + pgqrs_metrics_at(m, 0)->in_flight);
    pgqrs_metrics_free(m);
}

static void test_limits__concurrency_limit_eight_processes(void)
{
    eight_processes(worker_main, "consumer loops");
}

static void test_limits__concurrency_limit_eight_runtimes(void)
{
    eight_processes(runtime_main, "runtimes of concurrency 4");
}

/* A process claiming from the rate-limited queue "rl" until the limit holds it
 * back 20 times in a row; exits with how many it claimed (at most 255). */
static int rate_child(const char *dsn)
{
    pgqrs_store *s = NULL;
    pgqrs_consumer *c = NULL;
    int got = 0, empty = 0;
    if (child_store(&s, dsn) != PGQRS_OK || pgqrs_consumer_new(&c, s, "rl") != PGQRS_OK)
        _exit(255);
    while (empty < 20) {
        pgqrs_batch *b = NULL;
        if (pgqrs_dequeue(&b, c, 3, 30) != PGQRS_OK)
            _exit(255);
        if (pgqrs_batch_count(b) == 0)
            empty++;
        got += (int)pgqrs_batch_count(b);
        pgqrs_batch_free(b);
    }
    pgqrs_consumer_free(c);
    pgqrs_store_free(s);
    return got;
}

static void test_limits__rate_limit_four_processes(void)
{
    pgqrs_queue_options o = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_producer *p;
    pid_t pids[4];
    int total = 0, bad = 0;
    char dsn[1024];
    SETUP();
    if (th_is_memory())
        SKIP("forks processes: sqlite::memory: is private to one connection of one process");
    if (!limits_supported())
        SKIP("no transactions: limits are refused (test_limits__refused_without_transactions)");
    snprintf(dsn, sizeof dsn, "%s", th_current_dsn());
    pgqrs_store_set_time(store, 0);
    o.rate_limit = 20;
    o.rate_period_ms = 3600 * 1000;   /* no claim leaves the window during the test */
    CHECK_OK(pgqrs_queue_create(NULL, store, "rl", &o), store);
    PRODUCER(p, "rl");
    enqueue_n(p, 100);
    CHECK(!th_failed_now);
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < 4; i++)
        if ((pids[i] = fork()) == 0)
            _exit(rate_child(dsn));
    for (int i = 0; i < 4; i++) {
        int ws = 0;
        while (pids[i] > 0 && waitpid(pids[i], &ws, 0) < 0 && errno == EINTR)
            ;
        if (pids[i] <= 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) == 255)
            bad++;
        else
            total += WEXITSTATUS(ws);
    }
    CHECK_I64(0, bad);
    CHECK_I64(20, total);   /* exactly the limit: 4 processes racing, 100 messages available */
}

/* TESTS */

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "test_limits__create_and_update", test_limits__create_and_update },
        { "test_limits__older_option_versions", test_limits__older_option_versions },
        { "test_limits__bad_input_changes_nothing", test_limits__bad_input_changes_nothing },
        { "test_limits__refused_without_transactions", test_limits__refused_without_transactions },
        { "test_limits__rate_limit_window", test_limits__rate_limit_window },
        { "test_limits__changed_limit_takes_effect", test_limits__changed_limit_takes_effect },
        { "test_limits__concurrency_limit_eight_processes", test_limits__concurrency_limit_eight_processes },
        { "test_limits__concurrency_limit_eight_runtimes", test_limits__concurrency_limit_eight_runtimes },
        { "test_limits__rate_limit_four_processes", test_limits__rate_limit_four_processes },
    };
    int rc = th_main(argc, argv, "test_limits", tests, sizeof tests / sizeof *tests);
    cleanup();
    return rc;
}
