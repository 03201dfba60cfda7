/* test_limits.c: per-queue limits (pgqrs_queue_options version 3): the options,
 * pgqrs_queue_update, the concurrency limit across 8 processes with a sampler,
 * the rate limit on a moved clock, a limit changed while consumers run, and the
 * refusal where limits cannot be exact (no transactions: Turso over HTTP).
 * One source for every backend (PGQRS_TEST_BACKEND). Handles are deferred and
 * freed before the next test, so a failing CHECK that returns early leaks nothing. */
#include <errno.h>
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
#define GET(var, name) do { (var) = NULL; CHECK_OK(pgqrs_queue_get(&(var), store, (name)), store); \
    defer(free_queue_info, (var)); } while (0)

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

/* TESTS */

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "test_limits__create_and_update", test_limits__create_and_update },
        { "test_limits__older_option_versions", test_limits__older_option_versions },
        { "test_limits__bad_input_changes_nothing", test_limits__bad_input_changes_nothing },
        { "test_limits__refused_without_transactions", test_limits__refused_without_transactions },
    };
    int rc = th_main(argc, argv, "test_limits", tests, sizeof tests / sizeof *tests);
    cleanup();
    return rc;
}
