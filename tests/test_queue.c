/* test_queue.c: the conformance suite of the public queue API (include/pgqrs.h).
 * One source for every backend (PGQRS_TEST_BACKEND=postgres|sqlite|sqlite-memory).
 * Time is moved with pgqrs_store_set_time, never slept. Every handle a test takes
 * is registered with defer() and freed before the next test (and at exit), so a
 * failing CHECK that returns early leaks nothing. */
#include <jansson.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

/* ---- Fixture ------------------------------------------------------------------- */

static pgqrs_store *store;
static int64_t T0;   /* the fixed clock of the test, whole seconds */

#define SEC 1000000LL

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
        fprintf(stderr, "test_queue: defer stack full\n");
        abort();
    }
    defers[ndefers].fn = fn;
    defers[ndefers].p = p;
    ndefers++;
}

/* Frees p now (if it was deferred) and forgets it. */
static void release_now(void *p)
{
    for (size_t i = ndefers; i-- > 0;) {
        if (defers[i].p == p) {
            defers[i].fn(p);
            memmove(&defers[i], &defers[i + 1], (ndefers - i - 1) * sizeof *defers);
            ndefers--;
            return;
        }
    }
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
static void free_producer(void *p) { pgqrs_producer_free(p); }
static void free_consumer(void *p) { pgqrs_consumer_free(p); }
static void free_batch(void *p) { pgqrs_batch_free(p); }
static void free_queue_info(void *p) { pgqrs_queue_info_free(p); }
static void free_queue_list(void *p) { pgqrs_queues_free(p); }
static void free_metrics(void *p) { pgqrs_metrics_free(p); }
static void free_worker_info(void *p) { pgqrs_worker_info_free(p); }
static void free_worker_list(void *p) { pgqrs_workers_free(p); }

/* Options every test starts from: the background heartbeat is off so that the
 * fixed clock alone decides heartbeats and zombies. */
static pgqrs_connect_options test_opts(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    o.heartbeat_interval_s = -1;
    return o;
}

/* A fresh, installed store on the fixed clock T0. */
static pgqrs_status open_store(const pgqrs_connect_options *opts)
{
    pgqrs_connect_options o = test_opts();
    pgqrs_status st;
    cleanup();
    st = pgqrs_connect(&store, th_fresh_dsn(), opts ? opts : &o);
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

#define SETUP() CHECK_OK(open_store(NULL), store)
#define SETUP_WITH(o) CHECK_OK(open_store(&(o)), store)

/* Moves the clock to T0 + s seconds. */
static void at(int64_t s) { pgqrs_store_set_time(store, T0 + s * SEC); }

#define QUEUE(name, max_att) do { pgqrs_queue_options qo_ = PGQRS_QUEUE_OPTIONS_INIT; qo_.max_attempts = (max_att); \
    CHECK_OK(pgqrs_queue_create(NULL, store, (name), &qo_), store); } while (0)
#define PRODUCER(var, q) do { (var) = NULL; CHECK_OK(pgqrs_producer_new(&(var), store, (q)), store); \
    CHECK((var) != NULL); defer(free_producer, (var)); } while (0)
#define CONSUMER(var, q) do { (var) = NULL; CHECK_OK(pgqrs_consumer_new(&(var), store, (q)), store); \
    CHECK((var) != NULL); defer(free_consumer, (var)); } while (0)
#define DEQ(var, c, max, vt) do { (var) = NULL; CHECK_OK(pgqrs_dequeue(&(var), (c), (max), (vt)), (c)); \
    CHECK((var) != NULL); defer(free_batch, (var)); } while (0)
#define ENQ(p, json, delay, idp) CHECK_OK(pgqrs_enqueue((idp), (p), (json), (delay)), (p))

/* Message lists through the store, deferred. */
#define MSG_LIST(var, q) do { (var) = NULL; CHECK_OK(pgqrs_message_list(&(var), store, (q), 0, 10000), store); \
    defer(free_batch, (var)); } while (0)
#define ARCH_LIST(var, q) do { (var) = NULL; CHECK_OK(pgqrs_archive_list(&(var), store, (q), 0, 10000), store); \
    defer(free_batch, (var)); } while (0)
#define DLQ_LIST(var, q) do { (var) = NULL; CHECK_OK(pgqrs_dlq_list(&(var), store, (q), 0, 10000), store); \
    defer(free_batch, (var)); } while (0)

static const pgqrs_message *find_msg(const pgqrs_batch *b, int64_t id)
{
    for (size_t i = 0; i < pgqrs_batch_count(b); i++) {
        const pgqrs_message *m = pgqrs_batch_at(b, i);
        if (m && m->id == id)
            return m;
    }
    return NULL;
}

/* JSON equality by meaning: PostgreSQL returns jsonb-normalised text. */
static bool json_same(const char *a, const char *b)
{
    json_error_t e;
    json_t *ja, *jb;
    bool same;
    if (!a || !b)
        return false;
    ja = json_loads(a, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    jb = json_loads(b, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    same = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return same;
}
#define CHECK_JSON(want, got) do { const char *w_ = (want), *g_ = (got); if (!json_same(w_, g_)) { \
    th_fail(__FILE__, __LINE__, "%s: got %s, want %s (as JSON)", #got, g_ ? g_ : "(null)", w_); return; } } while (0)

typedef struct mx {
    int64_t queue_id, pending, in_flight, delayed, archived, dead, oldest;
    char name[160];
} mx;

static pgqrs_status metrics_of(const char *q, mx *out)
{
    pgqrs_metrics *l = NULL;
    const pgqrs_queue_metrics *m;
    pgqrs_status st = pgqrs_metrics_list(&l, store, q);
    memset(out, 0, sizeof *out);
    if (st != PGQRS_OK)
        return st;
    if (pgqrs_metrics_count(l) != 1 || !(m = pgqrs_metrics_at(l, 0))) {
        fprintf(stderr, "    metrics of %s: %zu rows, want 1\n", q, pgqrs_metrics_count(l));
        pgqrs_metrics_free(l);
        return PGQRS_ERROR;
    }
    out->queue_id = m->queue_id;
    out->pending = m->pending;
    out->in_flight = m->in_flight;
    out->delayed = m->delayed;
    out->archived = m->archived;
    out->dead = m->dead_lettered;
    out->oldest = m->oldest_pending_age_us;
    snprintf(out->name, sizeof out->name, "%s", m->name ? m->name : "(null)");
    pgqrs_metrics_free(l);
    return PGQRS_OK;
}

#define CHECK_METRICS(q, pend, infl, del, arch, dl) do { mx m_; CHECK_OK(metrics_of((q), &m_), store); \
    CHECK_I64((pend), m_.pending); CHECK_I64((infl), m_.in_flight); CHECK_I64((del), m_.delayed); \
    CHECK_I64((arch), m_.archived); CHECK_I64((dl), m_.dead); } while (0)

/* Counts a paged listing (message_list, archive_list or dlq_list) page by page. */
typedef pgqrs_status (*list_fn)(pgqrs_batch **, pgqrs_store *, const char *, int64_t, int);
static pgqrs_status count_pages(list_fn fn, const char *q, int page, int64_t *n_out)
{
    int64_t after = 0, n = 0;
    for (;;) {
        pgqrs_batch *b = NULL;
        size_t cnt;
        pgqrs_status st = fn(&b, store, q, after, page);
        if (st != PGQRS_OK)
            return st;
        cnt = pgqrs_batch_count(b);
        for (size_t i = 0; i < cnt; i++) {
            const pgqrs_message *m = pgqrs_batch_at(b, i);
            if (m->id <= after) {   /* pages must be in id order */
                pgqrs_batch_free(b);
                return PGQRS_ERROR;
            }
            after = m->id;
        }
        n += (int64_t)cnt;
        pgqrs_batch_free(b);
        if (cnt < (size_t)page)
            break;
    }
    *n_out = n;
    return PGQRS_OK;
}

/* The worker's status copied out ("" when not found). */
static pgqrs_status worker_status(int64_t id, char *buf, size_t n)
{
    pgqrs_worker_info *w = NULL;
    pgqrs_status st = pgqrs_worker_get(&w, store, id);
    buf[0] = 0;
    if (st == PGQRS_OK) {
        snprintf(buf, n, "%s", w->status ? w->status : "(null)");
        pgqrs_worker_info_free(w);
    }
    return st;
}
#define CHECK_WSTATUS(want, id) do { char ws_[32]; CHECK_OK(worker_status((id), ws_, sizeof ws_), store); \
    CHECK_STR((want), ws_); } while (0)

/* ---- Lifecycle --------------------------------------------------------------------- */

static void test_lifecycle__enqueue_dequeue_archive(void)
{
    /* default options: the background heartbeat runs (and is stopped by free) */
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b, *a, *live;
    const pgqrs_message *m;
    pgqrs_queue_info *qi = NULL;
    int64_t id = 0;
    SETUP_WITH(o);
    QUEUE("jobs", 0);
    CHECK_OK(pgqrs_queue_get(&qi, store, "jobs"), store);
    defer(free_queue_info, qi);
    PRODUCER(p, "jobs");
    CONSUMER(c, "jobs");
    CHECK(pgqrs_producer_worker_id(p) > 0);
    CHECK(pgqrs_consumer_worker_id(c) > 0);
    CHECK(pgqrs_producer_worker_id(p) != pgqrs_consumer_worker_id(c));
    CHECK_METRICS("jobs", 0, 0, 0, 0, 0);

    ENQ(p, "{\"a\": 1, \"b\": [true, null, \"x\"]}", 0, &id);
    CHECK(id > 0);
    CHECK_METRICS("jobs", 1, 0, 0, 0, 0);

    at(2);
    DEQ(b, c, 10, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    m = pgqrs_batch_at(b, 0);
    CHECK(m != NULL);
    CHECK(pgqrs_batch_at(b, 1) == NULL);
    CHECK_I64(id, m->id);
    CHECK_I64(qi->id, m->queue_id);
    CHECK_JSON("{\"a\":1,\"b\":[true,null,\"x\"]}", m->payload);
    CHECK_I64(1, m->read_count);
    CHECK_I64(T0, m->enqueued_at_us);
    CHECK_I64(T0 + 2 * SEC, m->dequeued_at_us);
    CHECK_I64(T0 + 32 * SEC, m->vt_us);
    CHECK_I64(pgqrs_producer_worker_id(p), m->producer_worker_id);
    CHECK_I64(pgqrs_consumer_worker_id(c), m->consumer_worker_id);
    CHECK_I64(0, m->archived_at_us);
    CHECK_STR("live", m->state);
    CHECK_METRICS("jobs", 0, 1, 0, 0, 0);

    /* nothing else is visible */
    DEQ(b, c, 10, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    CHECK(pgqrs_batch_at(b, 0) == NULL);

    at(3);
    CHECK_OK(pgqrs_archive(c, id), c);
    CHECK_METRICS("jobs", 0, 0, 0, 1, 0);
    ARCH_LIST(a, "jobs");
    CHECK_I64(1, pgqrs_batch_count(a));
    m = pgqrs_batch_at(a, 0);
    CHECK_I64(id, m->id);
    CHECK_STR("archived", m->state);
    CHECK_I64(T0 + 3 * SEC, m->archived_at_us);
    CHECK_I64(1, m->read_count);
    CHECK_I64(T0, m->enqueued_at_us);
    CHECK_I64(pgqrs_consumer_worker_id(c), m->consumer_worker_id);
    CHECK_JSON("{\"b\":[true,null,\"x\"],\"a\":1}", m->payload);
    MSG_LIST(live, "jobs");
    CHECK_I64(0, pgqrs_batch_count(live));
    /* archived: no longer a live message */
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_archive(c, id), c);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_delete(c, id), c);
    DEQ(b, c, 10, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
}

static void test_lifecycle__delete_removes_message(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b, *l;
    int64_t id = 0;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "{}", 0, &id);
    DEQ(b, c, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_OK(pgqrs_delete(c, id), c);
    CHECK_METRICS("q", 0, 0, 0, 0, 0);
    MSG_LIST(l, "q");
    CHECK_I64(0, pgqrs_batch_count(l));
    ARCH_LIST(l, "q");
    CHECK_I64(0, pgqrs_batch_count(l));
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_delete(c, id), c);
}

static void test_lifecycle__consumer_free_releases_held_messages(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2;
    pgqrs_batch *b;
    int64_t w1;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    ENQ(p, "1", 0, NULL);
    ENQ(p, "2", 0, NULL);
    DEQ(b, c1, 10, 300);
    CHECK_I64(2, pgqrs_batch_count(b));
    CHECK_METRICS("q", 0, 2, 0, 0, 0);
    w1 = pgqrs_consumer_worker_id(c1);
    release_now(c1);
    CHECK_METRICS("q", 2, 0, 0, 0, 0);
    CHECK_WSTATUS("stopped", w1);
    CONSUMER(c2, "q");
    DEQ(b, c2, 10, 30);
    CHECK_I64(2, pgqrs_batch_count(b));
    CHECK_I64(2, pgqrs_batch_at(b, 0)->read_count);
}

static void test_lifecycle__queues_are_isolated(void)
{
    pgqrs_producer *pa, *pb;
    pgqrs_consumer *ca, *cb;
    pgqrs_batch *b;
    int64_t ida = 0, idb = 0;
    SETUP();
    QUEUE("a", 0);
    QUEUE("b", 0);
    PRODUCER(pa, "a");
    PRODUCER(pb, "b");
    CONSUMER(ca, "a");
    CONSUMER(cb, "b");
    ENQ(pa, "\"for a\"", 0, &ida);
    ENQ(pb, "\"for b\"", 0, &idb);
    DEQ(b, ca, 10, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(ida, pgqrs_batch_at(b, 0)->id);
    CHECK_JSON("\"for a\"", pgqrs_batch_at(b, 0)->payload);
    /* a consumer of b cannot touch a's message */
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_archive(cb, ida), cb);
    DEQ(b, cb, 10, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(idb, pgqrs_batch_at(b, 0)->id);
    CHECK_METRICS("a", 0, 1, 0, 0, 0);
    CHECK_METRICS("b", 0, 1, 0, 0, 0);
}

static void test_lifecycle__default_vt_from_options(void)
{
    pgqrs_connect_options o = test_opts();
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b;
    o.default_vt_seconds = 45;
    SETUP_WITH(o);
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "{}", 0, NULL);
    DEQ(b, c, 1, 0);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(T0 + 45 * SEC, pgqrs_batch_at(b, 0)->vt_us);
}

static void test_lifecycle__default_vt_is_30s(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "{}", 0, NULL);
    DEQ(b, c, 1, 0);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(T0 + 30 * SEC, pgqrs_batch_at(b, 0)->vt_us);
}

/* ---- Visibility -------------------------------------------------------------------- */

static void test_vt__expiry_redelivers_to_another_consumer(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2;
    pgqrs_batch *b;
    const pgqrs_message *m;
    int64_t id = 0;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    CONSUMER(c2, "q");
    ENQ(p, "{\"n\":1}", 0, &id);
    DEQ(b, c1, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(T0 + 30 * SEC, pgqrs_batch_at(b, 0)->vt_us);
    DEQ(b, c1, 1, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    DEQ(b, c2, 1, 30);
    CHECK_I64(0, pgqrs_batch_count(b));

    at(29);
    DEQ(b, c2, 1, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    CHECK_METRICS("q", 0, 1, 0, 0, 0);

    at(31);
    /* the lease expired by itself: pending again, no call needed */
    CHECK_METRICS("q", 1, 0, 0, 0, 0);
    DEQ(b, c2, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    m = pgqrs_batch_at(b, 0);
    CHECK_I64(id, m->id);
    CHECK_I64(2, m->read_count);
    CHECK_I64(pgqrs_consumer_worker_id(c2), m->consumer_worker_id);
    CHECK_I64(T0 + 31 * SEC, m->dequeued_at_us);
    CHECK_I64(T0 + 61 * SEC, m->vt_us);
    CHECK_JSON("{\"n\":1}", m->payload);
    /* the first consumer lost it */
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_archive(c1, id), c1);
    CHECK_OK(pgqrs_archive(c2, id), c2);
    CHECK_METRICS("q", 0, 0, 0, 1, 0);
}

static void test_vt__expired_message_redelivered_to_same_consumer(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "{}", 0, NULL);
    DEQ(b, c, 1, 5);
    CHECK_I64(1, pgqrs_batch_count(b));
    at(6);
    DEQ(b, c, 1, 5);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(2, pgqrs_batch_at(b, 0)->read_count);
    at(12);
    DEQ(b, c, 1, 5);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(3, pgqrs_batch_at(b, 0)->read_count);
}

static void test_vt__extend_postpones_redelivery(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2;
    pgqrs_batch *b, *l;
    int64_t id = 0, vt = 0;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    CONSUMER(c2, "q");
    ENQ(p, "{}", 0, &id);
    DEQ(b, c1, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));

    at(10);
    CHECK_OK(pgqrs_extend_vt(&vt, c1, id, 60), c1);
    CHECK_I64(T0 + 70 * SEC, vt);
    CHECK_OK(pgqrs_extend_vt(NULL, c1, id, 60), c1);   /* vt_us_out may be NULL */
    MSG_LIST(l, "q");
    CHECK_I64(1, pgqrs_batch_count(l));
    CHECK_I64(T0 + 70 * SEC, pgqrs_batch_at(l, 0)->vt_us);
    CHECK_I64(1, pgqrs_batch_at(l, 0)->read_count);   /* extending is not a delivery */

    at(31);   /* past the old vt: still held */
    DEQ(b, c2, 1, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    CHECK_METRICS("q", 0, 1, 0, 0, 0);
    at(69);
    DEQ(b, c2, 1, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    at(71);   /* past the new one: redelivered */
    DEQ(b, c2, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(id, pgqrs_batch_at(b, 0)->id);
    CHECK_I64(2, pgqrs_batch_at(b, 0)->read_count);
}

static void test_vt__extend_ownership_and_ranges(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2;
    pgqrs_batch *b, *l;
    int64_t id = 0, vt = 12345;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    CONSUMER(c2, "q");
    ENQ(p, "{}", 0, &id);
    DEQ(b, c1, 1, 30);
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_extend_vt(&vt, c2, id, 60), c2);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_extend_vt(&vt, c1, id + 1000, 60), c1);
    CHECK_ST(PGQRS_EINVAL, pgqrs_extend_vt(&vt, c1, id, -1), c1);
    CHECK_ST(PGQRS_EINVAL, pgqrs_extend_vt(&vt, c1, id, PGQRS_MAX_VT_SECONDS + 1), c1);
    MSG_LIST(l, "q");
    CHECK_I64(T0 + 30 * SEC, pgqrs_batch_at(l, 0)->vt_us);
    CHECK_I64(pgqrs_consumer_worker_id(c1), pgqrs_batch_at(l, 0)->consumer_worker_id);
    CHECK_OK(pgqrs_extend_vt(&vt, c1, id, PGQRS_MAX_VT_SECONDS), c1);
    CHECK_I64(T0 + (int64_t)PGQRS_MAX_VT_SECONDS * SEC, vt);
}

/* ---- Delays --------------------------------------------------------------------------- */

static void test_delay__invisible_until_due(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b, *l;
    int64_t id = 0, ids[2];
    const char *pl[2] = { "{\"k\":1}", "{\"k\":2}" };
    mx m;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "{\"k\":0}", 60, &id);
    CHECK_OK(pgqrs_enqueue_batch(ids, p, pl, 2, 120), p);
    CHECK_METRICS("q", 0, 0, 3, 0, 0);
    CHECK_OK(metrics_of("q", &m), store);
    CHECK_I64(0, m.oldest);
    MSG_LIST(l, "q");
    CHECK_I64(3, pgqrs_batch_count(l));
    CHECK_I64(T0 + 60 * SEC, find_msg(l, id)->vt_us);
    CHECK_I64(T0 + 120 * SEC, find_msg(l, ids[0])->vt_us);
    CHECK_I64(T0, find_msg(l, ids[1])->enqueued_at_us);
    CHECK_I64(0, find_msg(l, id)->read_count);
    CHECK_I64(0, find_msg(l, id)->dequeued_at_us);
    CHECK_I64(0, find_msg(l, id)->consumer_worker_id);
    DEQ(b, c, 10, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    at(59);
    DEQ(b, c, 10, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    at(61);
    CHECK_METRICS("q", 1, 0, 2, 0, 0);
    DEQ(b, c, 10, 300);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(id, pgqrs_batch_at(b, 0)->id);
    CHECK_METRICS("q", 0, 1, 2, 0, 0);
    at(121);
    DEQ(b, c, 10, 30);
    CHECK_I64(2, pgqrs_batch_count(b));
    CHECK(find_msg(b, ids[0]) && find_msg(b, ids[1]));
}

static void test_delay__release_with_delay(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b;
    int64_t id = 0;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "{}", 0, &id);
    DEQ(b, c, 1, 300);
    CHECK_OK(pgqrs_release(c, id, 10), c);
    CHECK_METRICS("q", 0, 0, 1, 0, 0);
    at(9);
    DEQ(b, c, 1, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    at(11);
    DEQ(b, c, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(2, pgqrs_batch_at(b, 0)->read_count);
}

/* ---- Batches and payloads --------------------------------------------------------------- */

static void test_batch__ids_in_input_order_and_payloads_round_trip(void)
{
    static const char *const pl[] = {
        "{\"i\": 0, \"s\": \"zero\"}",
        "[1, 2, 3]",
        "{\"nested\": {\"deep\": [{\"x\": null}]}}",
        "{\"i\": 3}",
        "{\"u\": \"caf\xc3\xa9 \\u2713\", \"esc\": \"a\\\"b\\\\c\\n\"}",
        "{\"big\": 9007199254740993}",
        "{   \"spaces\"  :   \"  kept inside  \"   }",
    };
    const size_t n = sizeof pl / sizeof *pl;
    int64_t ids[sizeof pl / sizeof *pl];
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *l, *b;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    memset(ids, 0, sizeof ids);
    CHECK_OK(pgqrs_enqueue_batch(ids, p, pl, n, 0), p);
    for (size_t i = 0; i < n; i++) {
        CHECK(ids[i] > 0);
        for (size_t j = 0; j < i; j++)
            CHECK(ids[i] != ids[j]);
    }
    CHECK_METRICS("q", (int64_t)n, 0, 0, 0, 0);
    MSG_LIST(l, "q");
    CHECK_I64((int64_t)n, pgqrs_batch_count(l));
    for (size_t i = 0; i < n; i++) {
        const pgqrs_message *m = find_msg(l, ids[i]);
        CHECK_MSG(m != NULL, "id %" PRId64 " (input %zu) not listed", ids[i], i);
        CHECK_JSON(pl[i], m->payload);
        CHECK_I64(pgqrs_producer_worker_id(p), m->producer_worker_id);
        CHECK_I64(T0, m->enqueued_at_us);
        CHECK_I64(T0, m->vt_us);
        CHECK_STR("live", m->state);
        CHECK_I64(0, m->archived_at_us);
    }
    /* message_list is in id order */
    for (size_t i = 1; i < pgqrs_batch_count(l); i++)
        CHECK(pgqrs_batch_at(l, i - 1)->id < pgqrs_batch_at(l, i)->id);
    DEQ(b, c, 100, 30);
    CHECK_I64((int64_t)n, pgqrs_batch_count(b));
    for (size_t i = 0; i < n; i++) {
        const pgqrs_message *m = find_msg(b, ids[i]);
        CHECK(m != NULL);
        CHECK_JSON(pl[i], m->payload);
    }
    /* ids_out may be NULL */
    CHECK_OK(pgqrs_enqueue_batch(NULL, p, pl, 2, 0), p);
    CHECK_METRICS("q", 2, (int64_t)n, 0, 0, 0);
}

static void test_batch__ids_in_input_order_large(void)
{
    /* ids follow input order on a batch large enough for the planner to care */
    enum { N = 500 };
    static char buf[N][32];
    const char *pl[N];
    int64_t ids[N];
    pgqrs_producer *p;
    pgqrs_batch *l;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    for (int i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], "{\"seq\": %d}", i);
        pl[i] = buf[i];
    }
    CHECK_OK(pgqrs_enqueue_batch(ids, p, pl, N, 0), p);
    MSG_LIST(l, "q");
    CHECK_I64(N, pgqrs_batch_count(l));
    for (int i = 0; i < N; i++) {
        const pgqrs_message *m = find_msg(l, ids[i]);
        CHECK_MSG(m != NULL, "ids[%d] = %" PRId64 " not listed", i, ids[i]);
        CHECK_JSON(pl[i], m->payload);
    }
}

static void test_batch__json_scalars_round_trip(void)
{
    static const char *const pl[] = { "\"str\"", "42", "true", "false", "null", "-7", "\"\"",
                                      "\"with \\\"quotes\\\" and \\\\ and \\n\"", "[]", "{}", "\"caf\xc3\xa9\"",
                                      "\"[1,2]\"", "\"{}\"", "\"true\"", "\"null\"", "3.25" };
    const size_t n = sizeof pl / sizeof *pl;
    int64_t ids[sizeof pl / sizeof *pl], one = 0;
    pgqrs_producer *p;
    pgqrs_batch *l;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CHECK_OK(pgqrs_enqueue_batch(ids, p, pl, n, 0), p);
    MSG_LIST(l, "q");
    CHECK_I64((int64_t)n, pgqrs_batch_count(l));
    for (size_t i = 0; i < n; i++) {
        const pgqrs_message *m = find_msg(l, ids[i]);
        CHECK(m != NULL);
        CHECK_JSON(pl[i], m->payload);
    }
    /* and one at a time */
    for (size_t i = 0; i < n; i++) {
        pgqrs_batch *l2 = NULL;
        const pgqrs_message *m;
        ENQ(p, pl[i], 0, &one);
        CHECK_OK(pgqrs_message_list(&l2, store, "q", one - 1, 1), store);
        defer(free_batch, l2);
        CHECK_I64(1, pgqrs_batch_count(l2));
        m = pgqrs_batch_at(l2, 0);
        CHECK_I64(one, m->id);
        CHECK_JSON(pl[i], m->payload);
    }
}

static void test_batch__one_invalid_payload_writes_nothing(void)
{
    const char *pl[] = { "{\"ok\": 1}", "{\"ok\": 2}", "{bad", "{\"ok\": 4}" };
    const char *pl_null[] = { "{}", NULL };
    pgqrs_producer *p;
    pgqrs_batch *l;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch(NULL, p, pl, 4, 0), p);
    CHECK_METRICS("q", 0, 0, 0, 0, 0);
    pl[2] = "";
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch(NULL, p, pl, 4, 0), p);
    pl[2] = "1 2";
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch(NULL, p, pl, 4, 0), p);
    pl[2] = "{\"a\":1}, {\"b\":2}";   /* would splice into two elements */
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch(NULL, p, pl, 4, 0), p);
    pl[2] = "]";
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch(NULL, p, pl, 4, 0), p);
    CHECK_METRICS("q", 0, 0, 0, 0, 0);
    {
        pgqrs_status st = pgqrs_enqueue_batch(NULL, p, pl_null, 2, 0);
        CHECK_MSG(st == PGQRS_EMISUSE || st == PGQRS_EINVAL, "NULL payload in batch: got %d (%s)", (int)st,
                  pgqrs_errstr(st));
    }
    MSG_LIST(l, "q");
    CHECK_I64(0, pgqrs_batch_count(l));
    CHECK_METRICS("q", 0, 0, 0, 0, 0);
}

static void test_enqueue__invalid_json_writes_nothing(void)
{
    static const char *const bad[] = { "", "{", "{'a': 1}", "[1,]", "{\"a\":1} x", "nan", "undefined", "{\"a\"}",
                                       "\"unterminated", "01", "{\"a\":1}}", "tru", " ", "[1] [2]", "\xff" };
    pgqrs_producer *p;
    pgqrs_batch *l;
    int64_t id = -5;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pgqrs_status st = pgqrs_enqueue(&id, p, bad[i], 0);
        CHECK_MSG(st == PGQRS_EINVAL, "enqueue(%s): got %d (%s), want EINVAL: %s", bad[i], (int)st, pgqrs_errstr(st),
                  pgqrs_errmsg(p));
    }
    CHECK_ST(PGQRS_EMISUSE, pgqrs_enqueue(&id, p, NULL, 0), p);
    CHECK_METRICS("q", 0, 0, 0, 0, 0);
    MSG_LIST(l, "q");
    CHECK_I64(0, pgqrs_batch_count(l));
    /* the producer still works */
    ENQ(p, "  {\"a\" : 1}  ", 0, &id);
    CHECK_METRICS("q", 1, 0, 0, 0, 0);
}

static void test_batch__oversize_rejected(void)
{
    pgqrs_connect_options o = test_opts();
    const char *pl[6] = { "1", "2", "3", "4", "5", "6" };
    int64_t ids[6];
    pgqrs_status res[6];
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b = NULL;
    o.max_batch_size = 5;
    SETUP_WITH(o);
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch(ids, p, pl, 6, 0), p);
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch(ids, p, pl, 0, 0), p);
    CHECK_METRICS("q", 0, 0, 0, 0, 0);
    CHECK_OK(pgqrs_enqueue_batch(ids, p, pl, 5, 0), p);
    CHECK_METRICS("q", 5, 0, 0, 0, 0);
    CHECK_ST(PGQRS_EINVAL, pgqrs_dequeue(&b, c, 6, 30), c);
    CHECK(b == NULL);
    CHECK_ST(PGQRS_EINVAL, pgqrs_dequeue(&b, c, 0, 30), c);
    CHECK(b == NULL);
    CHECK_ST(PGQRS_EINVAL, pgqrs_dequeue(&b, c, -1, 30), c);
    CHECK(b == NULL);
    CHECK_METRICS("q", 5, 0, 0, 0, 0);
    DEQ(b, c, 5, 30);
    CHECK_I64(5, pgqrs_batch_count(b));
    ids[5] = ids[4] + 1000;
    CHECK_ST(PGQRS_EINVAL, pgqrs_archive_batch(res, c, ids, 6), c);
    CHECK_ST(PGQRS_EINVAL, pgqrs_delete_batch(res, c, ids, 6), c);
    CHECK_ST(PGQRS_EINVAL, pgqrs_release_batch(res, c, ids, 6, 0), c);
    CHECK_METRICS("q", 0, 5, 0, 0, 0);
    CHECK_OK(pgqrs_archive_batch(NULL, c, ids, 5), c);
    CHECK_METRICS("q", 0, 0, 0, 5, 0);
}

static void test_batch__default_limit_is_1000(void)
{
    enum { N = 1001 };
    const char **pl = NULL;
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b = NULL;
    pgqrs_status st;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    pl = malloc(N * sizeof *pl);
    CHECK(pl != NULL);
    defer(free, pl);
    for (int i = 0; i < N; i++)
        pl[i] = "{}";
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch(NULL, p, pl, N, 0), p);
    CHECK_METRICS("q", 0, 0, 0, 0, 0);
    CHECK_OK(pgqrs_enqueue_batch(NULL, p, pl, N - 1, 0), p);
    st = pgqrs_dequeue(&b, c, N, 30);
    defer(free_batch, b);
    CHECK_I64(PGQRS_EINVAL, st);
    DEQ(b, c, N - 1, 30);
    CHECK_I64(N - 1, pgqrs_batch_count(b));
}

/* ---- Dead letters ----------------------------------------------------------------------- */

static void test_dlq__max_attempts_moves_to_dead_letters(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b, *d, *l;
    pgqrs_queue_info *qi = NULL;
    const pgqrs_message *m;
    int64_t id = 0, cnt = -1;
    mx mm;
    SETUP();
    QUEUE("q", 2);
    CHECK_OK(pgqrs_queue_get(&qi, store, "q"), store);
    defer(free_queue_info, qi);
    CHECK_I64(2, qi->max_attempts);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "{\"poison\": true}", 0, &id);
    DEQ(b, c, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(1, pgqrs_batch_at(b, 0)->read_count);
    at(31);
    DEQ(b, c, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(2, pgqrs_batch_at(b, 0)->read_count);
    at(62);
    /* dead-lettered at its next dequeue, not before: until then it is pending */
    CHECK_METRICS("q", 1, 0, 0, 0, 0);
    CHECK_OK(pgqrs_dlq_count(&cnt, store, "q"), store);
    CHECK_I64(0, cnt);
    DEQ(b, c, 1, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    CHECK_OK(pgqrs_dlq_count(&cnt, store, "q"), store);
    CHECK_I64(1, cnt);
    CHECK_METRICS("q", 0, 0, 0, 0, 1);
    CHECK_OK(metrics_of("q", &mm), store);
    CHECK_I64(0, mm.oldest);
    DLQ_LIST(d, "q");
    CHECK_I64(1, pgqrs_batch_count(d));
    m = pgqrs_batch_at(d, 0);
    CHECK_I64(id, m->id);
    CHECK_STR("dead_letter", m->state);
    CHECK_I64(2, m->read_count);
    CHECK_I64(T0 + 62 * SEC, m->archived_at_us);
    CHECK_I64(qi->id, m->queue_id);
    CHECK_JSON("{\"poison\": true}", m->payload);
    /* not an archived message, not live */
    ARCH_LIST(l, "q");
    CHECK_I64(0, pgqrs_batch_count(l));
    MSG_LIST(l, "q");
    CHECK_I64(0, pgqrs_batch_count(l));
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_archive(c, id), c);
}

static void test_dlq__replay_one(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b, *l;
    int64_t id = 0, other = 0, cnt = -1;
    SETUP();
    QUEUE("q", 1);
    QUEUE("other", 1);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "{\"v\": \"replay me\"}", 0, &id);
    ENQ(p, "{\"v\": 2}", 0, &other);
    DEQ(b, c, 10, 30);
    CHECK_I64(2, pgqrs_batch_count(b));
    at(31);
    DEQ(b, c, 10, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    CHECK_OK(pgqrs_dlq_count(&cnt, store, "q"), store);
    CHECK_I64(2, cnt);

    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_dlq_replay(store, "q", other + id + 1000), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_dlq_replay(store, "other", id), store);   /* not this queue's */
    CHECK_OK(pgqrs_dlq_count(&cnt, store, "q"), store);
    CHECK_I64(2, cnt);

    at(40);
    CHECK_OK(pgqrs_dlq_replay(store, "q", id), store);
    CHECK_OK(pgqrs_dlq_count(&cnt, store, "q"), store);
    CHECK_I64(1, cnt);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_dlq_replay(store, "q", id), store);   /* already replayed */
    CHECK_METRICS("q", 1, 0, 0, 0, 1);
    MSG_LIST(l, "q");
    CHECK_I64(1, pgqrs_batch_count(l));
    CHECK_I64(0, pgqrs_batch_at(l, 0)->read_count);
    CHECK_I64(0, pgqrs_batch_at(l, 0)->consumer_worker_id);
    CHECK_JSON("{\"v\": \"replay me\"}", pgqrs_batch_at(l, 0)->payload);
    CHECK(pgqrs_batch_at(l, 0)->vt_us <= T0 + 40 * SEC);
    DEQ(b, c, 10, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(1, pgqrs_batch_at(b, 0)->read_count);
    CHECK_JSON("{\"v\": \"replay me\"}", pgqrs_batch_at(b, 0)->payload);
    CHECK_OK(pgqrs_archive(c, pgqrs_batch_at(b, 0)->id), c);
    CHECK_METRICS("q", 0, 0, 0, 1, 1);
}

static void test_dlq__replay_all(void)
{
    pgqrs_connect_options o = test_opts();
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b;
    const char *pl[7] = { "1", "2", "3", "4", "5", "6", "7" };
    int64_t cnt = -1, replayed = -1;
    o.max_batch_size = 3;   /* replay_all works in chunks */
    SETUP_WITH(o);
    QUEUE("q", 1);
    QUEUE("keep", 1);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    CHECK_OK(pgqrs_enqueue_batch(NULL, p, pl, 3, 0), p);
    CHECK_OK(pgqrs_enqueue_batch(NULL, p, pl + 3, 3, 0), p);
    CHECK_OK(pgqrs_enqueue_batch(NULL, p, pl + 6, 1, 0), p);
    for (int i = 0; i < 3; i++) {
        DEQ(b, c, 3, 30);
        CHECK_I64(i < 2 ? 3 : 1, pgqrs_batch_count(b));
    }
    at(31);
    for (int i = 0; i < 3; i++) {
        DEQ(b, c, 3, 30);
        CHECK_I64(0, pgqrs_batch_count(b));
    }
    CHECK_OK(pgqrs_dlq_count(&cnt, store, "q"), store);
    CHECK_I64(7, cnt);
    CHECK_OK(pgqrs_dlq_replay_all(&replayed, store, "keep"), store);
    CHECK_I64(0, replayed);
    CHECK_OK(pgqrs_dlq_replay_all(&replayed, store, "q"), store);
    CHECK_I64(7, replayed);
    CHECK_OK(pgqrs_dlq_count(&cnt, store, "q"), store);
    CHECK_I64(0, cnt);
    CHECK_METRICS("q", 7, 0, 0, 0, 0);
    CHECK_OK(pgqrs_dlq_replay_all(&replayed, store, "q"), store);
    CHECK_I64(0, replayed);
    CHECK_OK(pgqrs_dlq_replay_all(NULL, store, "q"), store);
}

static void test_dlq__release_counts_as_delivery(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b, *l;
    int64_t id = 0, cnt = -1;
    SETUP();
    QUEUE("q", 2);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "{}", 0, &id);
    DEQ(b, c, 1, 30);
    CHECK_OK(pgqrs_release(c, id, 0), c);
    MSG_LIST(l, "q");
    CHECK_I64(1, pgqrs_batch_at(l, 0)->read_count);
    CHECK_I64(0, pgqrs_batch_at(l, 0)->consumer_worker_id);
    CHECK_METRICS("q", 1, 0, 0, 0, 0);
    /* released: no longer held */
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_archive(c, id), c);
    DEQ(b, c, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(2, pgqrs_batch_at(b, 0)->read_count);
    CHECK_OK(pgqrs_release(c, id, 0), c);
    DEQ(b, c, 1, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    CHECK_OK(pgqrs_dlq_count(&cnt, store, "q"), store);
    CHECK_I64(1, cnt);
}

static void test_dlq__lists_page_in_id_order(void)
{
    const char *pl[5] = { "1", "2", "3", "4", "5" };
    int64_t ids[5], n = -1;
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b = NULL;
    SETUP();
    QUEUE("q", 1);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    CHECK_OK(pgqrs_enqueue_batch(ids, p, pl, 5, 0), p);
    DEQ(b, c, 5, 30);
    at(31);
    DEQ(b, c, 5, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    CHECK_OK(count_pages(pgqrs_dlq_list, "q", 2, &n), store);
    CHECK_I64(5, n);
    CHECK_OK(pgqrs_dlq_list(&b, store, "q", ids[2], 10), store);
    defer(free_batch, b);
    CHECK_I64(2, pgqrs_batch_count(b));
    CHECK_I64(ids[3], pgqrs_batch_at(b, 0)->id);
    CHECK_I64(ids[4], pgqrs_batch_at(b, 1)->id);
    b = NULL;
    CHECK_ST(PGQRS_EINVAL, pgqrs_dlq_list(&b, store, "q", 0, 0), store);
    CHECK_ST(PGQRS_EINVAL, pgqrs_dlq_list(&b, store, "q", 0, 10001), store);
    CHECK_ST(PGQRS_EINVAL, pgqrs_message_list(&b, store, "q", 0, 0), store);
    CHECK_ST(PGQRS_EINVAL, pgqrs_archive_list(&b, store, "q", 0, -1), store);
}

/* ---- Ownership -------------------------------------------------------------------------- */

static void test_ownership__single_ops_on_foreign_and_unknown(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2;
    pgqrs_batch *b, *l;
    const pgqrs_message *m;
    int64_t id = 0, unheld = 0, vt = 0, unknown;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    CONSUMER(c2, "q");
    ENQ(p, "{\"owned\": \"by c1\"}", 0, &id);
    DEQ(b, c1, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    ENQ(p, "{}", 0, &unheld);   /* pending, held by nobody */
    unknown = unheld + 1000;

    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_archive(c2, id), c2);
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_delete(c2, id), c2);
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_release(c2, id, 0), c2);
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_extend_vt(&vt, c2, id, 100), c2);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_archive(c2, unknown), c2);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_delete(c2, unknown), c2);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_release(c2, unknown, 0), c2);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_extend_vt(&vt, c2, unknown, 100), c2);
    /* a live message nobody holds is not this consumer's either */
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_archive(c1, unheld), c1);
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_delete(c1, unheld), c1);

    /* untouched */
    MSG_LIST(l, "q");
    CHECK_I64(2, pgqrs_batch_count(l));
    m = find_msg(l, id);
    CHECK(m != NULL);
    CHECK_I64(1, m->read_count);
    CHECK_I64(pgqrs_consumer_worker_id(c1), m->consumer_worker_id);
    CHECK_I64(T0 + 30 * SEC, m->vt_us);
    m = find_msg(l, unheld);
    CHECK(m != NULL);
    CHECK_I64(0, m->read_count);
    CHECK_I64(0, m->consumer_worker_id);
    CHECK_METRICS("q", 1, 1, 0, 0, 0);
    /* the owner still can */
    CHECK_OK(pgqrs_archive(c1, id), c1);
    CHECK_METRICS("q", 1, 0, 0, 1, 0);
}

/* A consumer whose lease ran out and whose message another consumer then claimed
 * is a stale owner: every single-message call it still makes on that message is
 * PGQRS_ENOTOWNED and changes nothing; the new holder keeps it. */
static void test_ownership__stale_owner_after_takeover(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *a, *b;
    pgqrs_batch *ba, *bb, *l;
    const pgqrs_message *m;
    pgqrs_status res[1] = { PGQRS_OK };
    int64_t id = 0, vt = -1;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(a, "q");
    CONSUMER(b, "q");
    ENQ(p, "{\"job\": \"takeover\"}", 0, &id);
    DEQ(ba, a, 1, 5);
    CHECK_I64(1, pgqrs_batch_count(ba));
    CHECK_I64(id, pgqrs_batch_at(ba, 0)->id);
    at(6);   /* A's 5 s lease has run out; A does not know */
    DEQ(bb, b, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(bb));
    CHECK_I64(id, pgqrs_batch_at(bb, 0)->id);
    CHECK_I64(pgqrs_consumer_worker_id(b), pgqrs_batch_at(bb, 0)->consumer_worker_id);

    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_delete(a, id), a);
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_archive(a, id), a);
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_release(a, id, 0), a);
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_extend_vt(&vt, a, id, 600), a);
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_delete_batch(res, a, &id, 1), a);
    CHECK_I64(PGQRS_ENOTOWNED, res[0]);

    /* intact, and still B's: same payload, B's lease (T0+6+30), read twice */
    CHECK_METRICS("q", 0, 1, 0, 0, 0);
    MSG_LIST(l, "q");
    CHECK_I64(1, pgqrs_batch_count(l));
    m = find_msg(l, id);
    CHECK(m != NULL);
    CHECK_STR("live", m->state);
    CHECK_I64(pgqrs_consumer_worker_id(b), m->consumer_worker_id);
    CHECK_I64(T0 + 36 * SEC, m->vt_us);
    CHECK_I64(2, m->read_count);
    CHECK_JSON("{\"job\": \"takeover\"}", m->payload);
    CHECK_OK(pgqrs_archive(b, id), b);
    CHECK_METRICS("q", 0, 0, 0, 1, 0);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_delete(a, id), a);   /* gone: not found, no longer not-owned */
}

static void test_ownership__batch_archive_mixed(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2;
    pgqrs_batch *b, *l;
    int64_t a = 0, bb = 0, foreign = 0, ids[4];
    pgqrs_status res[4] = { 99, 99, 99, 99 };
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    CONSUMER(c2, "q");
    ENQ(p, "\"a\"", 0, &a);
    ENQ(p, "\"b\"", 0, &bb);
    DEQ(b, c1, 2, 30);
    CHECK_I64(2, pgqrs_batch_count(b));
    ENQ(p, "\"foreign\"", 0, &foreign);
    DEQ(b, c2, 2, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    ids[0] = a;
    ids[1] = foreign;
    ids[2] = foreign + 1000;
    ids[3] = bb;
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_archive_batch(res, c1, ids, 4), c1);
    CHECK_I64(PGQRS_OK, res[0]);
    CHECK_I64(PGQRS_ENOTOWNED, res[1]);
    CHECK_I64(PGQRS_ENOTFOUND, res[2]);
    CHECK_I64(PGQRS_OK, res[3]);
    ARCH_LIST(l, "q");
    CHECK_I64(2, pgqrs_batch_count(l));
    CHECK(find_msg(l, a) && find_msg(l, bb));
    MSG_LIST(l, "q");
    CHECK_I64(1, pgqrs_batch_count(l));
    CHECK_I64(foreign, pgqrs_batch_at(l, 0)->id);
    CHECK_I64(pgqrs_consumer_worker_id(c2), pgqrs_batch_at(l, 0)->consumer_worker_id);
    CHECK_METRICS("q", 0, 1, 0, 2, 0);
    /* first failure is what is returned; NULL results allowed */
    ids[0] = foreign + 1000;
    ids[1] = foreign;
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_archive_batch(NULL, c1, ids, 2), c1);
    /* all owned: OK */
    ids[0] = foreign;
    CHECK_OK(pgqrs_archive_batch(res, c2, ids, 1), c2);
    CHECK_I64(PGQRS_OK, res[0]);
    CHECK_METRICS("q", 0, 0, 0, 3, 0);
}

static void test_ownership__batch_release_and_delete_mixed(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2;
    pgqrs_batch *b, *l;
    int64_t x = 0, y = 0, foreign = 0, ids[3];
    pgqrs_status res[3] = { 99, 99, 99 };
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    CONSUMER(c2, "q");
    ENQ(p, "\"x\"", 0, &x);
    ENQ(p, "\"y\"", 0, &y);
    DEQ(b, c1, 2, 30);
    ENQ(p, "\"f\"", 0, &foreign);
    DEQ(b, c2, 2, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    ids[0] = foreign + 1000;
    ids[1] = x;
    ids[2] = foreign;
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_release_batch(res, c1, ids, 3, 0), c1);
    CHECK_I64(PGQRS_ENOTFOUND, res[0]);
    CHECK_I64(PGQRS_OK, res[1]);
    CHECK_I64(PGQRS_ENOTOWNED, res[2]);
    CHECK_METRICS("q", 1, 2, 0, 0, 0);
    ids[0] = y;
    ids[1] = foreign;
    ids[2] = x;   /* released above: not held any more */
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_delete_batch(res, c1, ids, 3), c1);
    CHECK_I64(PGQRS_OK, res[0]);
    CHECK_I64(PGQRS_ENOTOWNED, res[1]);
    CHECK_I64(PGQRS_ENOTOWNED, res[2]);
    MSG_LIST(l, "q");
    CHECK_I64(2, pgqrs_batch_count(l));
    CHECK(find_msg(l, x) && find_msg(l, foreign) && !find_msg(l, y));
    ARCH_LIST(l, "q");
    CHECK_I64(0, pgqrs_batch_count(l));
}

/* ---- Workers ------------------------------------------------------------------------------ */

/* ---- archive_and_dequeue: one commit per batch ------------------------------------ */

#define ARCH_DEQ(var, c, ids, n, res, max, vt) do { (var) = NULL; \
    CHECK_OK(pgqrs_archive_and_dequeue(&(var), (res), (c), (ids), (n), (max), (vt)), (c)); \
    CHECK((var) != NULL); defer(free_batch, (var)); } while (0)

static size_t batch_ids(const pgqrs_batch *b, int64_t *ids)
{
    size_t n = pgqrs_batch_count(b);
    for (size_t i = 0; i < n; i++)
        ids[i] = pgqrs_batch_at(b, i)->id;
    return n;
}

static void test_pipeline__archive_and_dequeue_drains_in_order(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b, *l;
    int64_t id[5], held[5];
    pgqrs_status res[5] = { 99, 99, 99, 99, 99 };
    size_t n;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    for (int i = 0; i < 5; i++)
        ENQ(p, "{\"n\":1}", 0, &id[i]);
    /* n = 0 is a plain dequeue */
    ARCH_DEQ(b, c, NULL, 0, NULL, 2, 30);
    n = batch_ids(b, held);
    CHECK_I64(2, n);
    CHECK_I64(id[0], held[0]);
    CHECK_I64(id[1], held[1]);
    ARCH_DEQ(b, c, held, n, res, 2, 30);
    CHECK_I64(PGQRS_OK, res[0]);
    CHECK_I64(PGQRS_OK, res[1]);
    CHECK_I64(2, pgqrs_batch_count(b));
    CHECK_I64(id[2], pgqrs_batch_at(b, 0)->id);
    CHECK_I64(id[3], pgqrs_batch_at(b, 1)->id);
    CHECK_I64(1, pgqrs_batch_at(b, 0)->read_count);
    CHECK_I64(pgqrs_consumer_worker_id(c), pgqrs_batch_at(b, 1)->consumer_worker_id);
    CHECK_METRICS("q", 1, 2, 0, 2, 0);
    n = batch_ids(b, held);
    ARCH_DEQ(b, c, held, n, NULL, 5, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(id[4], pgqrs_batch_at(b, 0)->id);
    n = batch_ids(b, held);
    ARCH_DEQ(b, c, held, n, NULL, 5, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    CHECK_METRICS("q", 0, 0, 0, 5, 0);
    ARCH_LIST(l, "q");
    CHECK_I64(5, pgqrs_batch_count(l));
    for (int i = 0; i < 5; i++)
        CHECK(find_msg(l, id[i]) != NULL);
}

/* An id this consumer does not hold: nothing is claimed; with transactions
 * nothing is archived either, without them (Turso) the held ones are. */
static void test_pipeline__not_held_ids_claim_nothing(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2;
    pgqrs_batch *b, *out = (pgqrs_batch *)&out;
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    int64_t a = 0, foreign = 0, waiting = 0, ids[3];
    pgqrs_status res[3] = { 99, 99, 99 };
    SETUP();
    CHECK_OK(pgqrs_store_capabilities(&caps, store), store);
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    CONSUMER(c2, "q");
    ENQ(p, "\"a\"", 0, &a);
    DEQ(b, c1, 1, 30);
    ENQ(p, "\"foreign\"", 0, &foreign);
    DEQ(b, c2, 1, 30);
    ENQ(p, "\"waiting\"", 0, &waiting);
    ids[0] = a;
    ids[1] = foreign;
    ids[2] = waiting + 1000;
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_archive_and_dequeue(&out, res, c1, ids, 3, 5, 30), c1);
    CHECK(out == NULL);
    CHECK(strstr(pgqrs_errmsg(c1), "not held") != NULL);
    CHECK_I64(PGQRS_OK, res[0]);
    CHECK_I64(PGQRS_ENOTOWNED, res[1]);
    CHECK_I64(PGQRS_ENOTFOUND, res[2]);
    if (caps.transactions)
        CHECK_METRICS("q", 1, 2, 0, 0, 0);   /* a still held by c1, foreign by c2 */
    else
        CHECK_METRICS("q", 1, 1, 0, 1, 0);   /* a archived by the first of two calls */
    /* the waiting message was not claimed: c2 gets it */
    DEQ(b, c2, 5, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(waiting, pgqrs_batch_at(b, 0)->id);
}

/* The claim fails after the archive succeeded (the worker is suspended): with
 * transactions the archive is rolled back with it. */
static void test_pipeline__failed_claim_rolls_back_archive(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b, *out = NULL;
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    int64_t a = 0;
    SETUP();
    CHECK_OK(pgqrs_store_capabilities(&caps, store), store);
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "\"a\"", 0, &a);
    ENQ(p, "\"b\"", 0, NULL);
    DEQ(b, c, 1, 30);
    CHECK_OK(pgqrs_consumer_suspend(c), c);
    CHECK_ST(PGQRS_ESTATE, pgqrs_archive_and_dequeue(&out, NULL, c, &a, 1, 1, 30), c);
    CHECK(out == NULL);
    CHECK(strstr(pgqrs_errmsg(c), "suspended") != NULL);
    if (caps.transactions)
        CHECK_METRICS("q", 1, 1, 0, 0, 0);
    else
        CHECK_METRICS("q", 1, 0, 0, 1, 0);
    CHECK_OK(pgqrs_consumer_resume(c), c);
    if (caps.transactions) {
        ARCH_DEQ(b, c, &a, 1, NULL, 1, 30);
        CHECK_I64(1, pgqrs_batch_count(b));
        CHECK_METRICS("q", 0, 1, 0, 1, 0);
    }
}

static void test_pipeline__bad_arguments_change_nothing(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b, *out = NULL;
    int64_t a = 0;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "\"a\"", 0, &a);
    DEQ(b, c, 1, 30);
    CHECK_ST(PGQRS_EINVAL, pgqrs_archive_and_dequeue(&out, NULL, c, &a, 1, 0, 30), c);
    CHECK_ST(PGQRS_EINVAL, pgqrs_archive_and_dequeue(&out, NULL, c, &a, 1, 1, -1), c);
    CHECK_ST(PGQRS_EINVAL, pgqrs_archive_and_dequeue(&out, NULL, c, &a, 1001, 1, 30), c);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_archive_and_dequeue(&out, NULL, c, NULL, 1, 1, 30), c);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_archive_and_dequeue(NULL, NULL, c, &a, 1, 1, 30), c);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_archive_and_dequeue(&out, NULL, NULL, &a, 1, 1, 30), c);
    CHECK(out == NULL);
    CHECK_METRICS("q", 0, 1, 0, 0, 0);
}

static void test_worker__suspend_resume(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b = NULL;
    int64_t w;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    w = pgqrs_consumer_worker_id(c);
    ENQ(p, "{}", 0, NULL);
    CHECK_OK(pgqrs_consumer_suspend(c), c);
    CHECK_WSTATUS("suspended", w);
    CHECK_ST(PGQRS_ESTATE, pgqrs_dequeue(&b, c, 1, 30), c);
    CHECK(b == NULL);
    CHECK_METRICS("q", 1, 0, 0, 0, 0);
    CHECK_ST(PGQRS_ESTATE, pgqrs_consumer_suspend(c), c);
    CHECK_WSTATUS("suspended", w);
    CHECK_OK(pgqrs_consumer_resume(c), c);
    CHECK_WSTATUS("ready", w);
    CHECK_ST(PGQRS_ESTATE, pgqrs_consumer_resume(c), c);
    DEQ(b, c, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));

    /* producers have the same lifecycle */
    CHECK_OK(pgqrs_producer_suspend(p), p);
    CHECK_WSTATUS("suspended", pgqrs_producer_worker_id(p));
    CHECK_ST(PGQRS_ESTATE, pgqrs_producer_suspend(p), p);
    CHECK_OK(pgqrs_producer_resume(p), p);
    CHECK_ST(PGQRS_ESTATE, pgqrs_producer_resume(p), p);
    CHECK_WSTATUS("ready", pgqrs_producer_worker_id(p));
    CHECK_OK(pgqrs_producer_shutdown(p), p);
    CHECK_WSTATUS("stopped", pgqrs_producer_worker_id(p));
    CHECK_ST(PGQRS_ESTATE, pgqrs_producer_shutdown(p), p);
    CHECK_ST(PGQRS_ESTATE, pgqrs_producer_resume(p), p);
    CHECK_ST(PGQRS_ESTATE, pgqrs_producer_suspend(p), p);
}

static void test_worker__shutdown_while_holding_messages(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c, *c2;
    pgqrs_batch *b = NULL;
    pgqrs_worker_info *wi = NULL;
    int64_t w;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    w = pgqrs_consumer_worker_id(c);
    ENQ(p, "1", 0, NULL);
    ENQ(p, "2", 0, NULL);
    DEQ(b, c, 2, 300);
    CHECK_I64(2, pgqrs_batch_count(b));
    at(5);
    CHECK_ST(PGQRS_ESTATE, pgqrs_consumer_shutdown(c, 0), c);
    CHECK_WSTATUS("ready", w);
    CHECK_METRICS("q", 0, 2, 0, 0, 0);
    /* a suspended holder is refused just the same */
    CHECK_OK(pgqrs_consumer_suspend(c), c);
    CHECK_ST(PGQRS_ESTATE, pgqrs_consumer_shutdown(c, 0), c);
    CHECK_WSTATUS("suspended", w);
    CHECK_OK(pgqrs_consumer_shutdown(c, 1), c);
    CHECK_OK(pgqrs_worker_get(&wi, store, w), store);
    defer(free_worker_info, wi);
    CHECK_STR("stopped", wi->status);
    CHECK_I64(T0 + 5 * SEC, wi->stopped_at_us);
    CHECK_METRICS("q", 2, 0, 0, 0, 0);
    b = NULL;
    CHECK_ST(PGQRS_ESTATE, pgqrs_dequeue(&b, c, 1, 30), c);
    CHECK(b == NULL);
    CHECK_ST(PGQRS_ESTATE, pgqrs_consumer_resume(c), c);
    CHECK_ST(PGQRS_ESTATE, pgqrs_consumer_suspend(c), c);
    CHECK_ST(PGQRS_ESTATE, pgqrs_consumer_shutdown(c, 1), c);
    CHECK_WSTATUS("stopped", w);
    CONSUMER(c2, "q");
    DEQ(b, c2, 10, 30);
    CHECK_I64(2, pgqrs_batch_count(b));
    CHECK_I64(2, pgqrs_batch_at(b, 0)->read_count);
    CHECK_I64(2, pgqrs_batch_at(b, 1)->read_count);
    /* freeing a stopped consumer is fine */
    release_now(c);
    CHECK_WSTATUS("stopped", w);
}

static void test_worker__shutdown_idle_without_release(void)
{
    pgqrs_consumer *c;
    int64_t w;
    SETUP();
    QUEUE("q", 0);
    CONSUMER(c, "q");
    w = pgqrs_consumer_worker_id(c);
    CHECK_OK(pgqrs_consumer_shutdown(c, 0), c);
    CHECK_WSTATUS("stopped", w);
    CHECK_ST(PGQRS_ESTATE, pgqrs_consumer_shutdown(c, 0), c);
}

static void test_worker__get_and_list(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_worker_info *wi = NULL;
    pgqrs_workers *wl = NULL;
    pgqrs_queue_info *qi = NULL;
    int64_t pw, cw;
    SETUP();
    QUEUE("q", 0);
    QUEUE("other", 0);
    CHECK_OK(pgqrs_queue_get(&qi, store, "q"), store);
    defer(free_queue_info, qi);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    pw = pgqrs_producer_worker_id(p);
    cw = pgqrs_consumer_worker_id(c);
    CHECK(cw > pw);
    CHECK_OK(pgqrs_worker_get(&wi, store, pw), store);
    defer(free_worker_info, wi);
    CHECK_I64(pw, wi->id);
    CHECK_I64(qi->id, wi->queue_id);
    CHECK_STR("producer", wi->kind);
    CHECK_STR("ready", wi->status);
    CHECK_I64(getpid(), wi->pid);
    CHECK(wi->hostname && wi->hostname[0]);
    CHECK_I64(T0, wi->started_at_us);
    CHECK_I64(T0, wi->heartbeat_at_us);
    CHECK_I64(0, wi->stopped_at_us);
    wi = NULL;
    CHECK_OK(pgqrs_worker_get(&wi, store, cw), store);
    defer(free_worker_info, wi);
    CHECK_STR("consumer", wi->kind);
    CHECK_STR("ready", wi->status);
    wi = NULL;
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_worker_get(&wi, store, cw + 1000), store);
    CHECK(wi == NULL);

    CHECK_OK(pgqrs_worker_list(&wl, store, "q"), store);
    defer(free_worker_list, wl);
    CHECK_I64(2, pgqrs_workers_count(wl));
    CHECK_I64(cw, pgqrs_workers_at(wl, 0)->id);   /* newest first */
    CHECK_I64(pw, pgqrs_workers_at(wl, 1)->id);
    CHECK(pgqrs_workers_at(wl, 2) == NULL);
    wl = NULL;
    CHECK_OK(pgqrs_worker_list(&wl, store, "other"), store);
    defer(free_worker_list, wl);
    CHECK_I64(0, pgqrs_workers_count(wl));
    wl = NULL;
    CHECK_OK(pgqrs_worker_list(&wl, store, NULL), store);
    defer(free_worker_list, wl);
    CHECK(pgqrs_workers_count(wl) >= 2);
    wl = NULL;
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_worker_list(&wl, store, "nope"), store);

    at(7);
    release_now(p);   /* producer_free marks the worker stopped */
    CHECK_OK(pgqrs_worker_get(&wi, store, pw), store);
    defer(free_worker_info, wi);
    CHECK_STR("stopped", wi->status);
    CHECK_I64(T0 + 7 * SEC, wi->stopped_at_us);
}

static void test_zombie__reclaim_returns_messages(void)
{
    pgqrs_connect_options o = test_opts();
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2;
    pgqrs_batch *b = NULL;
    int64_t id = 0, n = -1, w1;
    o.zombie_after_s = 60;
    SETUP_WITH(o);
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    w1 = pgqrs_consumer_worker_id(c1);
    ENQ(p, "{\"z\": 1}", 0, &id);
    release_now(p);   /* stopped: not a zombie candidate */
    DEQ(b, c1, 1, 3600);
    CHECK_I64(1, pgqrs_batch_count(b));

    at(59);
    CHECK_OK(pgqrs_worker_reclaim_zombies(&n, store, 0), store);
    CHECK_I64(0, n);
    CHECK_WSTATUS("ready", w1);

    at(61);
    CHECK_OK(pgqrs_worker_reclaim_zombies(&n, store, 0), store);
    CHECK_I64(1, n);
    CHECK_WSTATUS("stopped", w1);
    CHECK_METRICS("q", 1, 0, 0, 0, 0);
    CONSUMER(c2, "q");
    DEQ(b, c2, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(id, pgqrs_batch_at(b, 0)->id);
    CHECK_I64(2, pgqrs_batch_at(b, 0)->read_count);
    CHECK_I64(pgqrs_consumer_worker_id(c2), pgqrs_batch_at(b, 0)->consumer_worker_id);
    /* the zombie's handle is dead */
    b = NULL;
    CHECK_ST(PGQRS_ESTATE, pgqrs_dequeue(&b, c1, 1, 30), c1);
    CHECK(b == NULL);
    CHECK_OK(pgqrs_worker_reclaim_zombies(NULL, store, 0), store);
    CHECK_OK(pgqrs_worker_reclaim_zombies(&n, store, 0), store);
    CHECK_I64(0, n);
}

static void test_zombie__explicit_threshold(void)
{
    pgqrs_consumer *c;
    int64_t n = -1;
    SETUP();   /* zombie_after_s default 300 */
    QUEUE("q", 0);
    CONSUMER(c, "q");
    at(100);
    CHECK_OK(pgqrs_worker_reclaim_zombies(&n, store, 0), store);
    CHECK_I64(0, n);
    CHECK_OK(pgqrs_worker_reclaim_zombies(&n, store, 50), store);
    CHECK_I64(1, n);
    CHECK_WSTATUS("stopped", pgqrs_consumer_worker_id(c));
}

static void test_heartbeat__keeps_worker_from_reclaim(void)
{
    pgqrs_connect_options o = test_opts();
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2;
    pgqrs_batch *b;
    pgqrs_worker_info *wi = NULL;
    int64_t n = -1;
    o.zombie_after_s = 60;
    SETUP_WITH(o);
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    CONSUMER(c2, "q");
    ENQ(p, "{}", 0, NULL);
    DEQ(b, c1, 1, 3600);
    at(50);
    CHECK_OK(pgqrs_consumer_heartbeat(c1), c1);
    CHECK_OK(pgqrs_producer_heartbeat(p), p);
    CHECK_OK(pgqrs_worker_get(&wi, store, pgqrs_consumer_worker_id(c1)), store);
    defer(free_worker_info, wi);
    CHECK_I64(T0 + 50 * SEC, wi->heartbeat_at_us);
    at(100);
    CHECK_OK(pgqrs_worker_reclaim_zombies(&n, store, 0), store);
    CHECK_I64(1, n);   /* c2 only */
    CHECK_WSTATUS("ready", pgqrs_consumer_worker_id(c1));
    CHECK_WSTATUS("ready", pgqrs_producer_worker_id(p));
    CHECK_WSTATUS("stopped", pgqrs_consumer_worker_id(c2));
    CHECK_METRICS("q", 0, 1, 0, 0, 0);
    /* a stopped worker's heartbeat does not bring it back */
    (void)pgqrs_consumer_heartbeat(c2);
    CHECK_WSTATUS("stopped", pgqrs_consumer_worker_id(c2));
    at(111);
    CHECK_OK(pgqrs_worker_reclaim_zombies(&n, store, 0), store);
    CHECK_I64(2, n);
    CHECK_METRICS("q", 1, 0, 0, 0, 0);
}

/* The background heartbeat thread (heartbeat_interval_s > 0) keeps a consumer
 * that never calls pgqrs_consumer_heartbeat alive; with -1 nothing beats. The one
 * test here that waits on the real clock (2.5 s, both stores at once): a thread
 * cannot be driven by pgqrs_store_set_time. stale_after_s is 2 rather than the
 * store's zombie_after_s (3): after 2.5 s a worker nobody beat for is stale by 2 s
 * but not yet by 3, so only 2 tells the two stores apart. */
static void test_heartbeat__background_thread_keeps_consumer_fresh(void)
{
    pgqrs_connect_options on = PGQRS_CONNECT_OPTIONS_INIT, off = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s_on = NULL, *s_off = NULL;
    pgqrs_consumer *c_on = NULL, *c_off = NULL;
    pgqrs_worker_info *wi = NULL;
    pgqrs_worker_health h;
    int64_t on_before, off_before, n = -1;
    struct timespec wait = { 2, 500000000L };
    cleanup();
    on.heartbeat_interval_s = 1;
    on.zombie_after_s = 3;
    off.heartbeat_interval_s = -1;
    off.zombie_after_s = 3;
    CHECK_OK(pgqrs_connect(&s_on, th_fresh_dsn(), &on), NULL);
    defer(free_store, s_on);
    CHECK_OK(pgqrs_connect(&s_off, th_fresh_dsn(), &off), NULL);
    defer(free_store, s_off);
    CHECK_OK(pgqrs_schema_install(s_on), s_on);
    CHECK_OK(pgqrs_schema_install(s_off), s_off);
    CHECK_OK(pgqrs_queue_create(NULL, s_on, "q", NULL), s_on);
    CHECK_OK(pgqrs_queue_create(NULL, s_off, "q", NULL), s_off);
    CHECK_OK(pgqrs_consumer_new(&c_on, s_on, "q"), s_on);
    defer(free_consumer, c_on);
    CHECK_OK(pgqrs_consumer_new(&c_off, s_off, "q"), s_off);
    defer(free_consumer, c_off);
    CHECK_OK(pgqrs_worker_get(&wi, s_on, pgqrs_consumer_worker_id(c_on)), s_on);
    on_before = wi->heartbeat_at_us;
    pgqrs_worker_info_free(wi);
    wi = NULL;
    CHECK_OK(pgqrs_worker_get(&wi, s_off, pgqrs_consumer_worker_id(c_off)), s_off);
    off_before = wi->heartbeat_at_us;
    pgqrs_worker_info_free(wi);
    wi = NULL;

    while (nanosleep(&wait, &wait) != 0)
        ;

    /* on: beaten by the thread at least once (its first beat comes after 1 s) */
    CHECK_OK(pgqrs_worker_get(&wi, s_on, pgqrs_consumer_worker_id(c_on)), s_on);
    defer(free_worker_info, wi);
    CHECK_MSG(wi->heartbeat_at_us - on_before >= 900000, "heartbeat_at moved by %" PRId64 " us in 2.5 s",
              wi->heartbeat_at_us - on_before);
    CHECK_STR("ready", wi->status);
    memset(&h, 0xff, sizeof h);
    h.version = PGQRS_WORKER_HEALTH_VERSION;
    CHECK_OK(pgqrs_worker_health_get(&h, s_on, 2), s_on);
    CHECK_I64(1, h.total);
    CHECK_I64(1, h.ready);
    CHECK_I64(0, h.stale);
    CHECK_OK(pgqrs_worker_reclaim_zombies(&n, s_on, 2), s_on);
    CHECK_I64(0, n);

    /* off: the row is as the registration left it, and stale by 2 s */
    CHECK_OK(pgqrs_worker_get(&wi, s_off, pgqrs_consumer_worker_id(c_off)), s_off);
    defer(free_worker_info, wi);
    CHECK_I64(off_before, wi->heartbeat_at_us);
    memset(&h, 0xff, sizeof h);
    h.version = PGQRS_WORKER_HEALTH_VERSION;
    CHECK_OK(pgqrs_worker_health_get(&h, s_off, 2), s_off);
    CHECK_I64(1, h.total);
    CHECK_I64(1, h.stale);
    CHECK_OK(pgqrs_worker_reclaim_zombies(&n, s_off, 2), s_off);
    CHECK_I64(1, n);
}

static void test_worker__health_counts(void)
{
    pgqrs_connect_options o = test_opts();
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2, *c3;
    pgqrs_worker_health h;
    o.zombie_after_s = 60;
    SETUP_WITH(o);
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    CONSUMER(c2, "q");
    CONSUMER(c3, "q");
    CHECK_OK(pgqrs_consumer_suspend(c2), c2);
    CHECK_OK(pgqrs_consumer_shutdown(c3, 0), c3);
    memset(&h, 0xff, sizeof h);
    h.version = PGQRS_WORKER_HEALTH_VERSION;
    CHECK_OK(pgqrs_worker_health_get(&h, store, 0), store);
    CHECK_I64(4, h.total);
    CHECK_I64(2, h.ready);
    CHECK_I64(1, h.suspended);
    CHECK_I64(1, h.stopped);
    CHECK_I64(0, h.stale);
    at(61);
    CHECK_OK(pgqrs_worker_health_get(&h, store, 0), store);
    CHECK_I64(3, h.stale);   /* p, c1, c2; c3 is stopped */
    CHECK_OK(pgqrs_consumer_heartbeat(c1), c1);
    CHECK_OK(pgqrs_worker_health_get(&h, store, 0), store);
    CHECK_I64(2, h.stale);
    at(75);
    CHECK_OK(pgqrs_worker_health_get(&h, store, 10), store);
    CHECK_I64(3, h.stale);   /* c1's heartbeat is 14 s old */
    CHECK_OK(pgqrs_worker_health_get(&h, store, 20), store);
    CHECK_I64(2, h.stale);
    CHECK_I64(4, h.total);
}

static void test_worker__purge_stale(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2, *c3;
    pgqrs_batch *b;
    pgqrs_worker_info *wi = NULL;
    int64_t n = -1, pw, w1, w2, w3;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    CONSUMER(c2, "q");
    CONSUMER(c3, "q");
    pw = pgqrs_producer_worker_id(p);
    w1 = pgqrs_consumer_worker_id(c1);
    w2 = pgqrs_consumer_worker_id(c2);
    w3 = pgqrs_consumer_worker_id(c3);
    ENQ(p, "{}", 0, NULL);
    release_now(p);                              /* stopped at T0 */
    CHECK_OK(pgqrs_consumer_shutdown(c1, 0), c1);   /* stopped at T0 */
    DEQ(b, c2, 1, 3600);                         /* silent, but holds a message */
    at(10);
    CHECK_OK(pgqrs_worker_purge_stale(&n, store, 50), store);
    CHECK_I64(0, n);
    at(90);
    CHECK_OK(pgqrs_consumer_heartbeat(c3), c3);   /* recent */
    at(100);
    CHECK_OK(pgqrs_worker_purge_stale(&n, store, 50), store);
    CHECK_I64(2, n);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_worker_get(&wi, store, pw), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_worker_get(&wi, store, w1), store);
    CHECK_WSTATUS("ready", w2);
    CHECK_WSTATUS("ready", w3);
    CHECK_METRICS("q", 0, 1, 0, 0, 0);
    CHECK_OK(pgqrs_worker_purge_stale(NULL, store, 50), store);
}

/* ---- Metrics ------------------------------------------------------------------------------ */

static void test_metrics__exact_for_one_queue(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b;
    int64_t m1 = 0, m2 = 0;
    const char *later[3] = { "3", "4", "5" };
    mx m;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    CHECK_OK(metrics_of("q", &m), store);
    CHECK_I64(0, m.pending + m.in_flight + m.delayed + m.archived + m.dead + m.oldest);
    CHECK_STR("q", m.name);
    ENQ(p, "1", 0, &m1);
    ENQ(p, "2", 0, &m2);
    at(1);
    DEQ(b, c, 2, 30);   /* m1, m2: lease until T0+31 */
    CHECK_I64(2, pgqrs_batch_count(b));
    at(2);
    CHECK_OK(pgqrs_enqueue_batch(NULL, p, later, 3, 0), p);
    ENQ(p, "\"d1\"", 100, NULL);
    ENQ(p, "\"d2\"", 100, NULL);   /* visible at T0+102 */
    at(5);
    CHECK_OK(pgqrs_archive(c, m1), c);
    CHECK_OK(metrics_of("q", &m), store);
    CHECK_I64(3, m.pending);
    CHECK_I64(1, m.in_flight);
    CHECK_I64(2, m.delayed);
    CHECK_I64(1, m.archived);
    CHECK_I64(0, m.dead);
    CHECK_I64(3 * SEC, m.oldest);   /* the batch enqueued at T0+2 */

    at(40);   /* m2's lease expired: pending again, and the oldest (enqueued at T0) */
    CHECK_OK(metrics_of("q", &m), store);
    CHECK_I64(4, m.pending);
    CHECK_I64(0, m.in_flight);
    CHECK_I64(2, m.delayed);
    CHECK_I64(40 * SEC, m.oldest);

    at(103);
    CHECK_OK(metrics_of("q", &m), store);
    CHECK_I64(6, m.pending);
    CHECK_I64(0, m.delayed);
    CHECK_I64(103 * SEC, m.oldest);
    CHECK_I64(1, m.archived);
}

/* pgqrs_store_counters after a known sequence: every counter exact. A failure is
 * counted once in errors[-status] on the store whose handle reported it. */
static void test_counters__exact_after_known_sequence(void)
{
    const char *pl[3] = { "1", "2", "3" };
    pgqrs_producer *p, *pp;
    pgqrs_consumer *c, *c2, *cp;
    pgqrs_batch *b;
    pgqrs_counters k;
    int64_t ids[5], poison = 0, unknown;
    pgqrs_status res[2];
    SETUP();
    memset(&k, 0xff, sizeof k);
    k.version = PGQRS_COUNTERS_VERSION;
    CHECK_OK(pgqrs_store_counters(&k, store), store);
    CHECK_I64(0, k.enqueued);   /* install counts nothing */
    CHECK_I64(0, k.dequeued);
    for (int i = 0; i < 16; i++)
        CHECK_I64(0, k.errors[i]);

    QUEUE("q", 0);
    QUEUE("poison", 1);
    PRODUCER(p, "q");
    PRODUCER(pp, "poison");
    CONSUMER(c, "q");
    CONSUMER(c2, "q");
    CONSUMER(cp, "poison");
    CHECK_OK(pgqrs_enqueue_batch(ids, p, pl, 3, 0), p);               /* enqueued 3 */
    ENQ(p, "4", 0, &ids[3]);
    ENQ(p, "5", 0, &ids[4]);                                          /* enqueued 5 */
    unknown = ids[4] + 1000;
    DEQ(b, c, 10, 30);                                                /* dequeued 5 */
    CHECK_I64(5, pgqrs_batch_count(b));
    CHECK_OK(pgqrs_archive_batch(res, c, ids, 2), c);                 /* archived 2 */
    CHECK_OK(pgqrs_delete(c, ids[2]), c);                             /* deleted 1 */
    CHECK_OK(pgqrs_release(c, ids[3], 0), c);                         /* released 1 */
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_archive(c, unknown), c);         /* errors[ENOTFOUND] 1 */
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_archive(c2, ids[4]), c2);        /* errors[ENOTOWNED] 1 */
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue(NULL, p, "{bad", 0), p);    /* errors[EINVAL] 1, nothing enqueued */
    ENQ(pp, "\"poison\"", 0, &poison);                                /* enqueued 6 */
    DEQ(b, cp, 1, 30);                                                /* dequeued 6 */
    CHECK_I64(1, pgqrs_batch_count(b));
    at(31);
    DEQ(b, cp, 1, 30);                                                /* dead_lettered 1, dequeued still 6 */
    CHECK_I64(0, pgqrs_batch_count(b));
    CHECK_OK(pgqrs_dlq_replay(store, "poison", poison), store);       /* replayed 1 */

    memset(&k, 0xff, sizeof k);
    k.version = PGQRS_COUNTERS_VERSION;
    CHECK_OK(pgqrs_store_counters(&k, store), store);
    CHECK_I64(6, k.enqueued);
    CHECK_I64(6, k.dequeued);
    CHECK_I64(2, k.archived);
    CHECK_I64(1, k.deleted);
    CHECK_I64(1, k.released);
    CHECK_I64(1, k.replayed);
    CHECK_I64(0, k.retried);   /* no workflow ran */
    CHECK_I64(1, k.dead_lettered);
    for (int i = 0; i < 16; i++)
        CHECK_MSG(k.errors[i] == (i == -PGQRS_ENOTFOUND || i == -PGQRS_ENOTOWNED || i == -PGQRS_EINVAL ? 1 : 0),
                  "errors[%d] (%s) = %" PRId64, i, pgqrs_errstr((pgqrs_status)-i), k.errors[i]);

    /* a wrong version is refused before anything is written to out, and that
     * refusal is itself a counted EINVAL of this store */
    for (unsigned int v = 0; v < 4; v += 3) {   /* 0 and 3: below 1 and above PGQRS_COUNTERS_VERSION (2) */
        memset(&k, 0x5a, sizeof k);
        k.version = v;
        CHECK_ST(PGQRS_EINVAL, pgqrs_store_counters(&k, store), store);
        CHECK_MSG(strstr(pgqrs_errmsg(store), "version") != NULL, "message: %s", pgqrs_errmsg(store));
        CHECK_I64(v, k.version);
        CHECK_I64(0x5a5a5a5a5a5a5a5aLL, k.enqueued);
        CHECK_I64(0x5a5a5a5a5a5a5a5aLL, k.dead_lettered);
    }
    /* version 1 (before the purged_* fields) is still accepted; those stay untouched */
    memset(&k, 0x5a, sizeof k);
    k.version = 1;
    CHECK_OK(pgqrs_store_counters(&k, store), store);
    CHECK_I64(1, k.dead_lettered);
    CHECK_I64(0x5a5a5a5a5a5a5a5aLL, k.purged_archived);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_store_counters(NULL, store), store);   /* errors[EMISUSE] 1 */
    CHECK_ST(PGQRS_EMISUSE, pgqrs_store_counters(&k, NULL), NULL);     /* no store: counted nowhere */
    memset(&k, 0, sizeof k);
    k.version = PGQRS_COUNTERS_VERSION;
    CHECK_OK(pgqrs_store_counters(&k, store), store);
    CHECK_I64(3, k.errors[-PGQRS_EINVAL]);
    CHECK_I64(1, k.errors[-PGQRS_EMISUSE]);
    CHECK_I64(6, k.enqueued);
}

static void test_metrics__all_queues_by_name(void)
{
    static const char *const names[] = { "bravo", "alpha", "charlie" };
    pgqrs_metrics *l = NULL;
    pgqrs_producer *pb, *pc;
    SETUP();
    for (size_t i = 0; i < 3; i++)
        QUEUE(names[i], 0);
    PRODUCER(pb, "bravo");
    PRODUCER(pc, "charlie");
    ENQ(pb, "1", 0, NULL);
    ENQ(pb, "2", 0, NULL);
    ENQ(pc, "3", 10, NULL);
    at(4);
    CHECK_OK(pgqrs_metrics_list(&l, store, NULL), store);
    defer(free_metrics, l);
    CHECK_I64(3, pgqrs_metrics_count(l));
    CHECK(pgqrs_metrics_at(l, 3) == NULL);
    CHECK_STR("alpha", pgqrs_metrics_at(l, 0)->name);
    CHECK_STR("bravo", pgqrs_metrics_at(l, 1)->name);
    CHECK_STR("charlie", pgqrs_metrics_at(l, 2)->name);
    CHECK_I64(0, pgqrs_metrics_at(l, 0)->pending);
    CHECK_I64(0, pgqrs_metrics_at(l, 0)->oldest_pending_age_us);
    CHECK_I64(2, pgqrs_metrics_at(l, 1)->pending);
    CHECK_I64(4 * SEC, pgqrs_metrics_at(l, 1)->oldest_pending_age_us);
    CHECK_I64(0, pgqrs_metrics_at(l, 2)->pending);
    CHECK_I64(1, pgqrs_metrics_at(l, 2)->delayed);
    for (size_t i = 0; i < 3; i++) {
        pgqrs_queue_info *qi = NULL;
        const pgqrs_queue_metrics *m = pgqrs_metrics_at(l, i);
        CHECK_OK(pgqrs_queue_get(&qi, store, m->name), store);
        defer(free_queue_info, qi);
        CHECK_I64(qi->id, m->queue_id);
    }
}

/* ---- Queues -------------------------------------------------------------------------------- */

static void test_queue__create_exists_and_exist_ok(void)
{
    pgqrs_queue_info *q1 = NULL, *q2 = NULL;
    pgqrs_queues *ql = NULL;
    pgqrs_queue_options o = PGQRS_QUEUE_OPTIONS_INIT;
    SETUP();
    CHECK_OK(pgqrs_queue_create(&q1, store, "q", NULL), store);
    defer(free_queue_info, q1);
    CHECK(q1->id > 0);
    CHECK_STR("q", q1->name);
    CHECK_I64(5, q1->max_attempts);   /* 0 = 5 */
    CHECK(q1->created_at_us > 0);
    CHECK_ST(PGQRS_EEXISTS, pgqrs_queue_create(&q2, store, "q", NULL), store);
    CHECK(q2 == NULL);
    CHECK_ST(PGQRS_EEXISTS, pgqrs_queue_create(NULL, store, "q", &o), store);
    o.exist_ok = 1;
    CHECK_OK(pgqrs_queue_create(&q2, store, "q", &o), store);
    defer(free_queue_info, q2);
    CHECK_I64(q1->id, q2->id);
    CHECK_STR("q", q2->name);
    CHECK_OK(pgqrs_queue_create(NULL, store, "q", &o), store);
    o.exist_ok = 0;
    o.max_attempts = 3;
    q2 = NULL;
    CHECK_OK(pgqrs_queue_create(&q2, store, "three", &o), store);
    defer(free_queue_info, q2);
    CHECK_I64(3, q2->max_attempts);
    CHECK(q2->id != q1->id);
    o.max_attempts = -1;
    CHECK_ST(PGQRS_EINVAL, pgqrs_queue_create(NULL, store, "neg", &o), store);
    o.max_attempts = 0;
    o.version = 99;
    CHECK_ST(PGQRS_EINVAL, pgqrs_queue_create(NULL, store, "badversion", &o), store);
    CHECK_OK(pgqrs_queue_list(&ql, store), store);
    defer(free_queue_list, ql);
    CHECK_I64(2, pgqrs_queues_count(ql));
    CHECK_STR("q", pgqrs_queues_at(ql, 0)->name);
    CHECK_STR("three", pgqrs_queues_at(ql, 1)->name);
    CHECK(pgqrs_queues_at(ql, 2) == NULL);
}

static void test_queue__retry_policy_create_and_update(void)
{
    pgqrs_queue_info *q = NULL;
    pgqrs_queue_options o = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_queue_options v1;
    SETUP();
    /* defaults are stored as values, not zeros */
    CHECK_OK(pgqrs_queue_create(&q, store, "d", NULL), store);
    defer(free_queue_info, q);
    CHECK_I64(5, q->max_attempts);
    CHECK_I64(1000, q->retry_initial_delay_ms);
    CHECK(q->retry_multiplier == 2.0);
    CHECK_I64(300000, q->retry_max_delay_ms);
    CHECK(q->retry_jitter == 0.25);
    /* every field set; jitter < 0 is none */
    o.max_attempts = 7;
    o.retry_initial_delay_ms = 2500;
    o.retry_multiplier = 1.5;
    o.retry_max_delay_ms = 60000;
    o.retry_jitter = -1;
    CHECK_OK(pgqrs_queue_create(&q, store, "p", &o), store);
    defer(free_queue_info, q);
    CHECK_I64(7, q->max_attempts);
    CHECK_I64(2500, q->retry_initial_delay_ms);
    CHECK(q->retry_multiplier == 1.5);
    CHECK_I64(60000, q->retry_max_delay_ms);
    CHECK(q->retry_jitter == 0.0);
    /* a cap not given follows a larger first delay up */
    o = (pgqrs_queue_options)PGQRS_QUEUE_OPTIONS_INIT;
    o.retry_initial_delay_ms = 600000;
    CHECK_OK(pgqrs_queue_create(&q, store, "big", &o), store);
    defer(free_queue_info, q);
    CHECK_I64(600000, q->retry_max_delay_ms);
    /* out of range: refused, nothing created */
    static const struct { int64_t initial, max; double mult, jitter; } bad[] = {
        { -1, 0, 0, 0 }, { PGQRS_MAX_RETRY_DELAY_MS + 1, 0, 0, 0 }, { 0, 0, 0.5, 0 }, { 0, 0, 1001, 0 },
        { 5000, 4000, 0, 0 }, { 0, PGQRS_MAX_RETRY_DELAY_MS + 1, 0, 0 }, { 0, 0, 0, 1.5 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o = (pgqrs_queue_options)PGQRS_QUEUE_OPTIONS_INIT;
        o.retry_initial_delay_ms = bad[i].initial;
        o.retry_max_delay_ms = bad[i].max;
        o.retry_multiplier = bad[i].mult;
        o.retry_jitter = bad[i].jitter;
        CHECK_ST(PGQRS_EINVAL, pgqrs_queue_create(NULL, store, "bad", &o), store);
        CHECK_ST(PGQRS_EINVAL, pgqrs_queue_update(NULL, store, "p", &o), store);
    }
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_get(&q, store, "bad"), store);
    /* update: zeros keep, the rest changes */
    o = (pgqrs_queue_options)PGQRS_QUEUE_OPTIONS_INIT;
    o.retry_multiplier = 3.0;
    CHECK_OK(pgqrs_queue_update(&q, store, "p", &o), store);
    defer(free_queue_info, q);
    CHECK_I64(7, q->max_attempts);
    CHECK_I64(2500, q->retry_initial_delay_ms);
    CHECK(q->retry_multiplier == 3.0);
    CHECK_I64(60000, q->retry_max_delay_ms);
    o.retry_multiplier = 0;
    o.max_attempts = 2;
    o.retry_jitter = 0.5;
    CHECK_OK(pgqrs_queue_update(NULL, store, "p", &o), store);
    CHECK_OK(pgqrs_queue_get(&q, store, "p"), store);
    defer(free_queue_info, q);
    CHECK_I64(2, q->max_attempts);
    CHECK(q->retry_multiplier == 3.0);
    CHECK(q->retry_jitter == 0.5);
    /* the result must hold together: a first delay past the stored cap is refused */
    o = (pgqrs_queue_options)PGQRS_QUEUE_OPTIONS_INIT;
    o.retry_initial_delay_ms = 90000;
    o.retry_max_delay_ms = 1000;
    CHECK_ST(PGQRS_EINVAL, pgqrs_queue_update(NULL, store, "p", &o), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_update(NULL, store, "nope", NULL), store);
    CHECK_ST(PGQRS_EINVAL, pgqrs_queue_update(NULL, store, "", NULL), store);
    /* version 1 of the options (no policy) is still accepted; its init zeroes only that much */
    memset(&v1, 0x5a, sizeof v1);
    CHECK_OK(pgqrs_queue_options_init(&v1, 1), store);
    CHECK_I64(1, v1.version);
    CHECK_I64(0, v1.max_attempts);
    CHECK(v1.retry_initial_delay_ms != 0);   /* past the end of a version 1 struct: untouched */
    v1.max_attempts = 4;
    CHECK_OK(pgqrs_queue_create(&q, store, "v1", &v1), store);
    defer(free_queue_info, q);
    CHECK_I64(4, q->max_attempts);
    CHECK_I64(1000, q->retry_initial_delay_ms);
    CHECK_ST(PGQRS_EINVAL, pgqrs_queue_options_init(&v1, 4), store);
}

static void test_queue__purge(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b;
    int64_t held = 0, n = -1, done = 0;
    const char *pl[3] = { "1", "2", "3" };
    SETUP();
    QUEUE("q", 0);
    QUEUE("other", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "\"archived\"", 0, &done);
    DEQ(b, c, 1, 30);
    CHECK_OK(pgqrs_archive(c, done), c);
    ENQ(p, "\"held\"", 0, &held);
    DEQ(b, c, 1, 30);
    CHECK_I64(held, pgqrs_batch_at(b, 0)->id);
    CHECK_OK(pgqrs_enqueue_batch(NULL, p, pl, 2, 0), p);
    CHECK_OK(pgqrs_enqueue_batch(NULL, p, pl, 1, 60), p);
    CHECK_METRICS("q", 2, 1, 1, 1, 0);
    CHECK_OK(pgqrs_queue_purge(&n, store, "other"), store);
    CHECK_I64(0, n);
    CHECK_OK(pgqrs_queue_purge(&n, store, "q"), store);
    CHECK_I64(4, n);
    CHECK_METRICS("q", 0, 0, 0, 1, 0);   /* the archive stays */
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_archive(c, held), c);
    CHECK_OK(pgqrs_queue_purge(NULL, store, "q"), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_purge(&n, store, "nope"), store);
    /* still usable */
    ENQ(p, "{}", 0, NULL);
    CHECK_METRICS("q", 1, 0, 0, 1, 0);
}

static void test_queue__delete_refused_with_messages(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b;
    pgqrs_queue_info *qi = NULL;
    int64_t id = 0;
    SETUP();
    QUEUE("q", 0);
    QUEUE("archived_only", 0);
    PRODUCER(p, "q");
    ENQ(p, "{}", 0, NULL);
    CHECK_ST(PGQRS_ESTATE, pgqrs_queue_delete(store, "q", 0), store);
    CHECK_OK(pgqrs_queue_get(&qi, store, "q"), store);
    defer(free_queue_info, qi);
    CHECK_METRICS("q", 1, 0, 0, 0, 0);
    CHECK_OK(pgqrs_queue_delete(store, "q", 1), store);
    qi = NULL;
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_get(&qi, store, "q"), store);
    CHECK(qi == NULL);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_delete(store, "q", 0), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_delete(store, "q", 1), store);

    /* archived messages alone do not hold a queue */
    {
        pgqrs_producer *p2;
        PRODUCER(p2, "archived_only");
        CONSUMER(c, "archived_only");
        ENQ(p2, "{}", 0, &id);
        DEQ(b, c, 1, 30);
        CHECK_OK(pgqrs_archive(c, id), c);
        CHECK_OK(pgqrs_queue_delete(store, "archived_only", 0), store);
    }
    /* the name is free again, and the new queue starts empty */
    QUEUE("archived_only", 0);
    CHECK_METRICS("archived_only", 0, 0, 0, 0, 0);
    QUEUE("q", 0);
    CHECK_METRICS("q", 0, 0, 0, 0, 0);
}

static void test_queue__enqueue_after_queue_deleted(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    const char *pl[1] = { "{}" };
    int64_t id = 0;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    CHECK_OK(pgqrs_queue_delete(store, "q", 0), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_enqueue(&id, p, "{}", 0), p);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_enqueue_batch(NULL, p, pl, 1, 0), p);
    /* a new queue of the same name is a different queue */
    QUEUE("q", 0);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_enqueue(&id, p, "{}", 0), p);
    CHECK_METRICS("q", 0, 0, 0, 0, 0);
}

static void test_queue__archive_purge_retention(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b, *l;
    int64_t a1 = 0, a2 = 0, dead = 0, n = -1, cnt = -1;
    SETUP();
    QUEUE("q", 1);
    QUEUE("other", 1);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    ENQ(p, "1", 0, &a1);
    ENQ(p, "2", 0, &a2);
    ENQ(p, "3", 0, &dead);
    DEQ(b, c, 3, 3600);
    CHECK_I64(3, pgqrs_batch_count(b));
    CHECK_OK(pgqrs_archive(c, a1), c);        /* archived at T0 */
    at(100);
    CHECK_OK(pgqrs_archive(c, a2), c);        /* archived at T0+100 */
    CHECK_OK(pgqrs_release(c, dead, 0), c);   /* delivered once = max_attempts */
    DEQ(b, c, 1, 30);
    CHECK_I64(0, pgqrs_batch_count(b));
    CHECK_OK(pgqrs_dlq_count(&cnt, store, "q"), store);
    CHECK_I64(1, cnt);
    at(200);
    CHECK_OK(pgqrs_archive_purge(&n, store, "other", 0), store);
    CHECK_I64(0, n);
    CHECK_OK(pgqrs_archive_purge(&n, store, "q", 150), store);
    CHECK_I64(1, n);   /* a1 only */
    ARCH_LIST(l, "q");
    CHECK_I64(1, pgqrs_batch_count(l));
    CHECK_I64(a2, pgqrs_batch_at(l, 0)->id);
    CHECK_OK(pgqrs_archive_purge(&n, store, NULL, 50), store);
    CHECK_I64(1, n);   /* a2; dead letters are not archive */
    CHECK_OK(pgqrs_dlq_count(&cnt, store, "q"), store);
    CHECK_I64(1, cnt);
    CHECK_METRICS("q", 0, 0, 0, 0, 1);
    CHECK_OK(pgqrs_archive_purge(NULL, store, NULL, 0), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_archive_purge(&n, store, "nope", 0), store);
}

static void test_queue__archive_list_pages(void)
{
    const char *pl[5] = { "1", "2", "3", "4", "5" };
    int64_t ids[5], n = -1;
    pgqrs_status res[5];
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b = NULL;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    CHECK_OK(pgqrs_enqueue_batch(ids, p, pl, 5, 0), p);
    DEQ(b, c, 5, 30);
    CHECK_OK(pgqrs_archive_batch(res, c, ids, 5), c);
    for (int i = 0; i < 5; i++)
        CHECK_I64(PGQRS_OK, res[i]);
    CHECK_OK(count_pages(pgqrs_archive_list, "q", 2, &n), store);
    CHECK_I64(5, n);
    CHECK_OK(count_pages(pgqrs_archive_list, "q", 1, &n), store);
    CHECK_I64(5, n);
    CHECK_OK(pgqrs_archive_list(&b, store, "q", ids[1], 2), store);
    defer(free_batch, b);
    CHECK_I64(2, pgqrs_batch_count(b));
    CHECK_I64(ids[2], pgqrs_batch_at(b, 0)->id);
    CHECK_I64(ids[3], pgqrs_batch_at(b, 1)->id);
    CHECK_JSON("3", pgqrs_batch_at(b, 0)->payload);
}

/* ---- Schema --------------------------------------------------------------------------------- */

static void test_schema__install_twice_is_noop_and_verifies(void)
{
    SETUP();
    QUEUE("kept", 0);
    CHECK_OK(pgqrs_schema_verify(store), store);
    CHECK_OK(pgqrs_schema_install(store), store);
    CHECK_OK(pgqrs_schema_install(store), store);
    CHECK_OK(pgqrs_schema_verify(store), store);
    CHECK_METRICS("kept", 0, 0, 0, 0, 0);   /* data survives */
}

static void test_schema__verify_before_install(void)
{
    pgqrs_connect_options o = test_opts();
    cleanup();
    CHECK_OK(pgqrs_connect(&store, th_fresh_dsn(), &o), NULL);
    defer(free_store, store);
    CHECK_ST(PGQRS_ESTATE, pgqrs_schema_verify(store), store);
    CHECK_OK(pgqrs_schema_install(store), store);
    CHECK_OK(pgqrs_schema_verify(store), store);
}

/* ?schema= naming a schema that does not exist: connecting works (the name is
 * only a search_path), and pgqrs_schema_verify says the schema is missing instead of
 * sending the caller to install (which cannot create tables in it). */
static void test_schema__nonexistent_postgres_schema(void)
{
    pgqrs_connect_options o = test_opts();
    const char *base = getenv("PGQRS_TEST_PG_DSN");
    char dsn[1200], name[64];
    const char *msg;
    cleanup();
    if (!th_is_postgres())
        SKIP("?schema= is a PostgreSQL DSN parameter");
    if (th_is_pgbouncer()) {
        /* documented: the schema cannot pass through PgBouncer's startup packet */
        snprintf(dsn, sizeof dsn, "%s&schema=does_not_exist", th_fresh_dsn());
        store = (pgqrs_store *)1;
        CHECK_ST(PGQRS_EINVAL, pgqrs_connect(&store, dsn, &o), NULL);
        CHECK(store == NULL);
        CHECK_MSG(strstr(pgqrs_errmsg(NULL), "PgBouncer") != NULL, "message: %s", pgqrs_errmsg(NULL));
        return;
    }
    CHECK(base != NULL);
    snprintf(name, sizeof name, "does_not_exist_%d", (int)getpid());
    snprintf(dsn, sizeof dsn, "%s%sschema=%s", base, strchr(base, '?') ? "&" : "?", name);
    CHECK_OK(pgqrs_connect(&store, dsn, &o), NULL);
    defer(free_store, store);
    CHECK_ST(PGQRS_ESTATE, pgqrs_schema_verify(store), store);
    msg = pgqrs_errmsg(store);
    CHECK_MSG(strstr(msg, name) != NULL && strstr(msg, "does not exist") != NULL && strstr(msg, "CREATE SCHEMA"),
              "verify's message does not say the schema is missing: %s", msg);
    /* install cannot fix it, and says so without crashing */
    CHECK(pgqrs_schema_install(store) != PGQRS_OK);
    CHECK_MSG(*pgqrs_errmsg(store) != 0, "install failed without a message");
}

static void test_schema__second_store_on_same_database(void)
{
    pgqrs_store *s2 = NULL;
    pgqrs_connect_options o = test_opts();
    pgqrs_producer *p;
    pgqrs_consumer *c1, *c2 = NULL;
    pgqrs_batch *b, *b2 = NULL;
    int64_t id = 0;
    SETUP();
    if (th_is_memory()) {
        /* documented: every connection to sqlite::memory: is a database of its
         * own, so a second store sees nothing of the first */
        QUEUE("q", 0);
        CHECK_OK(pgqrs_connect(&s2, th_current_dsn(), &o), NULL);
        defer(free_store, s2);
        CHECK_ST(PGQRS_ESTATE, pgqrs_schema_verify(s2), s2);
        CHECK_OK(pgqrs_schema_install(s2), s2);
        CHECK_ST(PGQRS_ENOTFOUND, pgqrs_consumer_new(&c2, s2, "q"), s2);
        return;
    }
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c1, "q");
    ENQ(p, "{\"shared\": true}", 0, &id);
    CHECK_OK(pgqrs_connect(&s2, th_current_dsn(), &o), NULL);
    defer(free_store, s2);
    CHECK_OK(pgqrs_schema_verify(s2), s2);
    CHECK_OK(pgqrs_schema_install(s2), s2);   /* concurrent-safe and a no-op */
    pgqrs_store_set_time(s2, T0);
    CHECK_OK(pgqrs_consumer_new(&c2, s2, "q"), s2);
    defer(free_consumer, c2);
    DEQ(b, c1, 1, 30);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_OK(pgqrs_dequeue(&b2, c2, 1, 30), c2);
    defer(free_batch, b2);
    CHECK_I64(0, pgqrs_batch_count(b2));
    CHECK_ST(PGQRS_ENOTOWNED, pgqrs_archive(c2, id), c2);
    pgqrs_store_set_time(s2, T0 + 31 * SEC);
    b2 = NULL;
    CHECK_OK(pgqrs_dequeue(&b2, c2, 1, 30), c2);
    defer(free_batch, b2);
    CHECK_I64(1, pgqrs_batch_count(b2));
    CHECK_I64(id, pgqrs_batch_at(b2, 0)->id);
    CHECK_OK(pgqrs_archive(c2, id), c2);
    CHECK_METRICS("q", 0, 0, 0, 1, 0);
}

/* ---- Not found, bad arguments ------------------------------------------------------------------ */

static void test_notfound__unknown_queue(void)
{
    pgqrs_producer *p = (pgqrs_producer *)1;
    pgqrs_consumer *c = (pgqrs_consumer *)1;
    pgqrs_queue_info *qi = (pgqrs_queue_info *)1;
    pgqrs_metrics *ml = NULL;
    pgqrs_batch *b = NULL;
    int64_t n = -1;
    SETUP();
    QUEUE("exists", 0);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_producer_new(&p, store, "nope"), store);
    CHECK(p == NULL);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_consumer_new(&c, store, "nope"), store);
    CHECK(c == NULL);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_get(&qi, store, "nope"), store);
    CHECK(qi == NULL);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_dlq_count(&n, store, "nope"), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_metrics_list(&ml, store, "nope"), store);
    CHECK(ml == NULL);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_dlq_list(&b, store, "nope", 0, 10), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_message_list(&b, store, "nope", 0, 10), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_archive_list(&b, store, "nope", 0, 10), store);
    CHECK(b == NULL);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_dlq_replay(store, "nope", 1), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_dlq_replay_all(&n, store, "nope"), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_delete(store, "nope", 1), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_purge(&n, store, "nope"), store);
    /* names are exact: no case folding, no trimming */
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_get(&qi, store, "EXISTS"), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_get(&qi, store, "exists "), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_get(&qi, store, "exist%"), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_get(&qi, store, "exist_"), store);
}

static void test_args__null_handles_and_outs(void)
{
    pgqrs_connect_options o = test_opts();
    pgqrs_store *s = (pgqrs_store *)1;
    pgqrs_producer *p, *px = NULL;
    pgqrs_consumer *c, *cx = NULL;
    pgqrs_batch *b = NULL;
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs_worker_health h = PGQRS_WORKER_HEALTH_INIT;
    int64_t n = 0;
    CHECK_ST(PGQRS_EMISUSE, pgqrs_connect(NULL, "sqlite::memory:", &o), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_connect(&s, NULL, &o), NULL);
    CHECK(s == NULL);
    CHECK(pgqrs_errmsg(NULL) != NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_connect_options_init(NULL, PGQRS_CONNECT_OPTIONS_VERSION), NULL);
    CHECK_ST(PGQRS_EINVAL, pgqrs_connect_options_init(&o, 99), NULL);
    CHECK_OK(pgqrs_connect_options_init(&o, PGQRS_CONNECT_OPTIONS_VERSION), NULL);
    CHECK_I64(PGQRS_CONNECT_OPTIONS_VERSION, o.version);
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");

    CHECK_ST(PGQRS_EMISUSE, pgqrs_schema_install(NULL), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_schema_verify(NULL), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_store_capabilities(&caps, NULL), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_store_capabilities(NULL, store), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_queue_create(NULL, NULL, "x", NULL), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_queue_create(NULL, store, NULL, NULL), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_queue_get(NULL, store, "q"), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_queue_get(NULL, NULL, "q"), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_queue_list(NULL, store), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_metrics_list(NULL, store, "q"), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_producer_new(NULL, store, "q"), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_producer_new(&px, NULL, "q"), NULL);
    CHECK(px == NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_producer_new(&px, store, NULL), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_consumer_new(NULL, store, "q"), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_consumer_new(&cx, NULL, "q"), NULL);
    CHECK(cx == NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_enqueue(NULL, NULL, "{}", 0), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_enqueue_batch(NULL, NULL, NULL, 1, 0), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_enqueue_batch(NULL, p, NULL, 1, 0), p);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_dequeue(NULL, c, 1, 30), c);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_dequeue(&b, NULL, 1, 30), NULL);
    CHECK(b == NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_archive(NULL, 1), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_archive_batch(NULL, c, NULL, 1), c);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_consumer_suspend(NULL), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_producer_heartbeat(NULL), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_worker_get(NULL, store, 1), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_worker_health_get(NULL, store, 0), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_worker_health_get(&h, NULL, 0), NULL);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_dlq_count(NULL, store, "q"), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_message_list(NULL, store, "q", 0, 10), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_worker_reclaim_zombies(&n, NULL, 0), NULL);
    /* a handle of the wrong type is detected through the common header */
    CHECK_ST(PGQRS_EMISUSE, pgqrs_dequeue(&b, (pgqrs_consumer *)(void *)p, 1, 30), p);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_enqueue(NULL, (pgqrs_producer *)(void *)c, "{}", 0), c);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_queue_get(NULL, (pgqrs_store *)(void *)p, "q"), p);
    CHECK(pgqrs_errmsg(p) != NULL);
    CHECK(pgqrs_errmsg(store) != NULL);
    /* frees of NULL are no-ops */
    pgqrs_store_free(NULL);
    pgqrs_producer_free(NULL);
    pgqrs_consumer_free(NULL);
    pgqrs_batch_free(NULL);
    pgqrs_queue_info_free(NULL);
    pgqrs_queues_free(NULL);
    pgqrs_metrics_free(NULL);
    pgqrs_worker_info_free(NULL);
    pgqrs_workers_free(NULL);
    CHECK_METRICS("q", 0, 0, 0, 0, 0);
    /* static strings */
    CHECK(pgqrs_errstr(PGQRS_ENOTFOUND) != NULL);
    CHECK(pgqrs_errstr((pgqrs_status)-999) != NULL);
    CHECK_STR(PGQRS_VERSION, pgqrs_version());
    CHECK_I64(PGQRS_VERSION_NUMBER, pgqrs_version_number());
}

static void test_args__vt_and_delay_ranges(void)
{
    pgqrs_producer *p;
    pgqrs_consumer *c;
    pgqrs_batch *b = NULL;
    const char *pl[1] = { "{}" };
    int64_t id = 0;
    SETUP();
    QUEUE("q", 0);
    PRODUCER(p, "q");
    CONSUMER(c, "q");
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue(NULL, p, "{}", -1), p);
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue(NULL, p, "{}", PGQRS_MAX_DELAY_SECONDS + 1), p);
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch(NULL, p, pl, 1, -1), p);
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch(NULL, p, pl, 1, PGQRS_MAX_DELAY_SECONDS + 1), p);
    CHECK_METRICS("q", 0, 0, 0, 0, 0);
    ENQ(p, "{}", PGQRS_MAX_DELAY_SECONDS, NULL);
    CHECK_METRICS("q", 0, 0, 1, 0, 0);
    ENQ(p, "{}", 0, &id);
    CHECK_ST(PGQRS_EINVAL, pgqrs_dequeue(&b, c, 1, -1), c);
    CHECK(b == NULL);
    CHECK_ST(PGQRS_EINVAL, pgqrs_dequeue(&b, c, 1, PGQRS_MAX_VT_SECONDS + 1), c);
    CHECK(b == NULL);
    CHECK_METRICS("q", 1, 0, 1, 0, 0);   /* nothing was claimed */
    DEQ(b, c, 1, PGQRS_MAX_VT_SECONDS);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_I64(T0 + (int64_t)PGQRS_MAX_VT_SECONDS * SEC, pgqrs_batch_at(b, 0)->vt_us);
    CHECK_ST(PGQRS_EINVAL, pgqrs_release(c, id, -1), c);
    CHECK_ST(PGQRS_EINVAL, pgqrs_release(c, id, PGQRS_MAX_DELAY_SECONDS + 1), c);
    CHECK_ST(PGQRS_EINVAL, pgqrs_release_batch(NULL, c, &id, 1, -1), c);
    CHECK_METRICS("q", 0, 1, 1, 0, 0);   /* still held */
    CHECK_OK(pgqrs_release(c, id, 0), c);
    CHECK_METRICS("q", 1, 0, 1, 0, 0);
}

static void test_args__queue_names(void)
{
    char n128[129], n129[130], utf[200];
    pgqrs_queue_info *qi = NULL;
    pgqrs_producer *p = NULL;
    pgqrs_consumer *c = NULL;
    SETUP();
    memset(n128, 'x', 128);
    n128[128] = 0;
    memset(n129, 'y', 129);
    n129[129] = 0;
    CHECK_ST(PGQRS_EINVAL, pgqrs_queue_create(NULL, store, "", NULL), store);
    CHECK_ST(PGQRS_EINVAL, pgqrs_queue_create(NULL, store, n129, NULL), store);
    /* 129 bytes but 65 characters: the limit is in bytes */
    utf[0] = 0;
    for (int i = 0; i < 64; i++)
        strcat(utf, "\xc3\xa9");
    strcat(utf, "z");
    CHECK_I64(129, (int64_t)strlen(utf));
    CHECK_ST(PGQRS_EINVAL, pgqrs_queue_create(NULL, store, utf, NULL), store);
    /* not UTF-8 */
    CHECK_ST(PGQRS_EINVAL, pgqrs_queue_create(NULL, store, "bad\xff", NULL), store);
    CHECK_ST(PGQRS_EINVAL, pgqrs_queue_create(NULL, store, "trunc\xc3", NULL), store);
    CHECK_ST(PGQRS_EINVAL, pgqrs_producer_new(&p, store, ""), store);
    CHECK(p == NULL);
    CHECK_ST(PGQRS_EINVAL, pgqrs_producer_new(&p, store, n129), store);
    CHECK(p == NULL);
    {
        pgqrs_status st = pgqrs_consumer_new(&c, store, "");
        CHECK_MSG(st == PGQRS_EINVAL, "consumer_new(\"\"): got %d (%s), want EINVAL", (int)st, pgqrs_errstr(st));
        CHECK(c == NULL);
    }
    {
        pgqrs_queues *ql = NULL;
        CHECK_OK(pgqrs_queue_list(&ql, store), store);
        defer(free_queue_list, ql);
        CHECK_I64(0, pgqrs_queues_count(ql));
    }
    CHECK_OK(pgqrs_queue_create(&qi, store, n128, NULL), store);
    defer(free_queue_info, qi);
    CHECK_STR(n128, qi->name);
    utf[strlen(utf) - 1] = 0;   /* 128 bytes of é */
    qi = NULL;
    CHECK_OK(pgqrs_queue_create(&qi, store, utf, NULL), store);
    defer(free_queue_info, qi);
    CHECK_STR(utf, qi->name);
    PRODUCER(p, n128);
    CONSUMER(c, utf);
}

static void test_args__names_and_payloads_round_trip(void)
{
    /* bound, never spliced: quotes, ';', comment markers and unicode come back as sent */
    static const char *const names[] = { "o'brien", "x\"; DROP TABLE pgqrs_queues; --", "/* c */ -- d",
                                         "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80", "a\\b", "%_*?", "'); --",
                                         "$1", ":name", "@p", "tab\there", " lead and trail " };
    static const char *const payloads[] = {
        "{\"sql\": \"'; DROP TABLE pgqrs_messages; --\"}",
        "{\"c\": \"/* not a comment */ -- nor this\", \"q\": \"it's \\\"quoted\\\"\"}",
        "[\"caf\xc3\xa9\", \"\xe2\x9c\x93\", \"\xf0\x9f\x9a\x80\", \"\\u00e9\\ud83d\\ude80\"]",
        "{\"k'ey\": \"v;al\", \"$1\": \"?\", \"\\\\\": \"\\/\"}",
        "\"'\"",
    };
    pgqrs_queues *ql = NULL;
    SETUP();
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        pgqrs_queue_info *qi = NULL;
        pgqrs_producer *p;
        pgqrs_consumer *c;
        pgqrs_batch *b;
        int64_t ids[sizeof payloads / sizeof *payloads];
        mx m;
        CHECK_OK(pgqrs_queue_create(&qi, store, names[i], NULL), store);
        defer(free_queue_info, qi);
        CHECK_STR(names[i], qi->name);
        qi = NULL;
        CHECK_OK(pgqrs_queue_get(&qi, store, names[i]), store);
        defer(free_queue_info, qi);
        CHECK_STR(names[i], qi->name);
        PRODUCER(p, names[i]);
        CONSUMER(c, names[i]);
        for (size_t j = 0; j < sizeof payloads / sizeof *payloads; j++)
            ENQ(p, payloads[j], 0, &ids[j]);
        CHECK_OK(pgqrs_enqueue_batch(NULL, p, payloads, sizeof payloads / sizeof *payloads, 0), p);
        DEQ(b, c, 100, 30);
        CHECK_I64(2 * (int64_t)(sizeof payloads / sizeof *payloads), pgqrs_batch_count(b));
        for (size_t j = 0; j < sizeof payloads / sizeof *payloads; j++) {
            const pgqrs_message *msg = find_msg(b, ids[j]);
            CHECK(msg != NULL);
            CHECK_JSON(payloads[j], msg->payload);
        }
        CHECK_OK(metrics_of(names[i], &m), store);
        CHECK_STR(names[i], m.name);
        CHECK_I64(qi->id, m.queue_id);
        CHECK_I64(2 * (int64_t)(sizeof payloads / sizeof *payloads), m.in_flight);
    }
    CHECK_OK(pgqrs_queue_list(&ql, store), store);
    defer(free_queue_list, ql);
    CHECK_I64((int64_t)(sizeof names / sizeof *names), pgqrs_queues_count(ql));
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        bool found = false;
        for (size_t j = 0; j < pgqrs_queues_count(ql); j++)
            found = found || strcmp(pgqrs_queues_at(ql, j)->name, names[i]) == 0;
        CHECK_MSG(found, "queue %s not listed", names[i]);
    }
}

static void test_dsn__malformed_rejected_without_secrets(void)
{
    static const char *const bad[] = {
        "mysql://x",
        "",
        "postgres://u:hunter2@host:notaport/db",
        "postgres://u:hunter2@h/db?schema=bad-name",
        "postgres://u:hunter2@h/db?schema=a%22b",
        "postgres://u:hunter2@h/db?schema=x;drop",
        "sqlite://",
        "sqlite:",
        "sqlite",
        "http://u:hunter2@h/db",
        "://u:hunter2@h",
    };
    pgqrs_connect_options o = test_opts();
    cleanup();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pgqrs_store *s = (pgqrs_store *)1;
        pgqrs_status st = pgqrs_connect(&s, bad[i], &o);
        const char *msg = pgqrs_errmsg(NULL);
        if (st == PGQRS_OK)
            pgqrs_store_free(s);
        CHECK_MSG(st == PGQRS_EINVAL, "connect(\"%s\"): got %d (%s), want EINVAL: %s", bad[i], (int)st,
                  pgqrs_errstr(st), msg ? msg : "(null)");
        CHECK_MSG(s == NULL, "connect(\"%s\") failed but *out is not NULL", bad[i]);
        CHECK(msg != NULL && msg[0] != 0);
        CHECK_MSG(strstr(msg, "hunter2") == NULL, "connect(\"%s\"): message leaks the password: %s", bad[i], msg);
    }
}

static void test_dsn__bad_options_rejected(void)
{
    pgqrs_connect_options o;
    pgqrs_store *s = NULL;
    const char *dsn = th_fresh_dsn();
    cleanup();
#define BAD_OPT(field, value) do { o = test_opts(); o.field = (value); s = (pgqrs_store *)1; \
    CHECK_MSG(pgqrs_connect(&s, dsn, &o) == PGQRS_EINVAL, "options %s = %d not refused", #field, (int)(value)); \
    CHECK(s == NULL); } while (0)
    BAD_OPT(version, 99);
    BAD_OPT(version, 0);
    BAD_OPT(pool_size, -1);
    BAD_OPT(busy_timeout_ms, -1);
    BAD_OPT(max_batch_size, PGQRS_MAX_BATCH_LIMIT + 1);
    BAD_OPT(max_batch_size, -1);
    BAD_OPT(default_vt_seconds, PGQRS_MAX_VT_SECONDS + 1);
    BAD_OPT(default_vt_seconds, -1);
    BAD_OPT(zombie_after_s, -1);
    BAD_OPT(pool_wait_ms, -1);
    BAD_OPT(heartbeat_interval_s, -2);
#undef BAD_OPT
    /* zombie_after_s must exceed two heartbeats */
    o = test_opts();
    o.heartbeat_interval_s = 10;
    o.zombie_after_s = 15;
    s = (pgqrs_store *)1;
    CHECK_ST(PGQRS_EINVAL, pgqrs_connect(&s, dsn, &o), NULL);
    CHECK(s == NULL);
    o.zombie_after_s = 25;
    CHECK_OK(pgqrs_connect(&s, dsn, &o), NULL);
    pgqrs_store_free(s);
    s = NULL;
    o = test_opts();
    o.max_batch_size = PGQRS_MAX_BATCH_LIMIT;
    CHECK_OK(pgqrs_connect(&s, dsn, &o), NULL);
    pgqrs_store_free(s);
}

static void test_dsn__unreachable_server_hides_password(void)
{
    pgqrs_connect_options o = test_opts();
    pgqrs_store *s = (pgqrs_store *)1;
    pgqrs_status st;
    const char *msg;
    cleanup();
    o.connect_timeout_s = 2;
    st = pgqrs_connect(&s, "postgres://u:hunter2@127.0.0.1:1/db", &o);
    msg = pgqrs_errmsg(NULL);
    if (st == PGQRS_OK)
        pgqrs_store_free(s);
#if PGQRS_WITH_POSTGRES
    CHECK_MSG(st == PGQRS_ECONN, "got %d (%s), want ECONN: %s", (int)st, pgqrs_errstr(st), msg);
#else
    /* built without PostgreSQL (make WITH_POSTGRES=0): a clear "not built with" */
    CHECK_MSG(st == PGQRS_ENOTSUPPORTED, "got %d (%s), want ENOTSUPPORTED: %s", (int)st, pgqrs_errstr(st), msg);
#endif
    CHECK(s == NULL);
    CHECK_MSG(strstr(msg, "hunter2") == NULL, "message leaks the password: %s", msg);
}

static void test_capabilities__per_backend(void)
{
    pgqrs_capabilities caps;
    SETUP();
    memset(&caps, 0xff, sizeof caps);
    caps.version = PGQRS_CAPABILITIES_VERSION;
    CHECK_OK(pgqrs_store_capabilities(&caps, store), store);
    CHECK(caps.concurrency_model != NULL);
    if (th_is_postgres()) {
        CHECK_STR("postgres", pgqrs_store_backend(store));
        CHECK_I64(1, caps.skip_locked);
        CHECK_I64(1, caps.multi_process);
        CHECK_I64(1, caps.database_clock);
        CHECK_I64(1, caps.transactions);
        CHECK_STR("multi-process", caps.concurrency_model);
    } else if (th_is_turso()) {
        CHECK_STR("turso", pgqrs_store_backend(store));
        CHECK_I64(0, caps.skip_locked);
        CHECK_I64(0, caps.multi_process);
        CHECK_I64(0, caps.transactions);   /* Hrana over HTTP: every call is one batch */
        CHECK_I64(1, caps.database_clock);
        CHECK_STR("single-writer", caps.concurrency_model);
    } else {
        CHECK_STR("sqlite", pgqrs_store_backend(store));
        CHECK_I64(0, caps.skip_locked);
        CHECK_I64(0, caps.multi_process);
        CHECK_I64(0, caps.database_clock);
        CHECK_STR("single-process", caps.concurrency_model);
    }
    CHECK(caps.transactions == 0 || caps.transactions == 1);
}

/* relaxed_durability: an opt-in session setting; where it exists the queue works
 * the same, where it cannot apply it is refused instead of ignored. */
static void test_options__relaxed_durability(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_producer *p = NULL;
    pgqrs_consumer *k = NULL;
    pgqrs_batch *b = NULL;
    pgqrs_status st;
    cleanup();
    o.heartbeat_interval_s = -1;
    o.relaxed_durability = 2;
    CHECK_ST(PGQRS_EINVAL, pgqrs_connect(&s, th_fresh_dsn(), &o), NULL);
    o.relaxed_durability = 1;
    st = pgqrs_connect(&s, th_current_dsn(), &o);
    if (th_is_turso()) {
        CHECK_I64(PGQRS_ENOTSUPPORTED, st);
        return;
    }
    if (th_is_pgbouncer()) {
        CHECK_I64(PGQRS_EINVAL, st);   /* a session setting cannot pass through transaction pooling */
        return;
    }
    CHECK_MSG(st == PGQRS_OK, "connect: %s", pgqrs_errmsg(NULL));
    if (pgqrs_schema_install(s) != PGQRS_OK || pgqrs_queue_create(NULL, s, "relaxed", NULL) != PGQRS_OK ||
        pgqrs_producer_new(&p, s, "relaxed") != PGQRS_OK || pgqrs_consumer_new(&k, s, "relaxed") != PGQRS_OK ||
        pgqrs_enqueue(NULL, p, "{\"fast\":true}", 0) != PGQRS_OK || pgqrs_dequeue(&b, k, 10, 30) != PGQRS_OK) {
        th_fail(__FILE__, __LINE__, "relaxed store: %s", pgqrs_errmsg(s));
    } else {
        CHECK_MSG(pgqrs_batch_count(b) == 1, "dequeued %zu", pgqrs_batch_count(b));
        CHECK_OK(pgqrs_archive(k, pgqrs_batch_at(b, 0)->id), k);
    }
    pgqrs_batch_free(b);
    pgqrs_consumer_free(k);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "options__relaxed_durability", test_options__relaxed_durability },
        { "lifecycle__enqueue_dequeue_archive", test_lifecycle__enqueue_dequeue_archive },
        { "lifecycle__delete_removes_message", test_lifecycle__delete_removes_message },
        { "lifecycle__consumer_free_releases_held_messages", test_lifecycle__consumer_free_releases_held_messages },
        { "lifecycle__queues_are_isolated", test_lifecycle__queues_are_isolated },
        { "lifecycle__default_vt_from_options", test_lifecycle__default_vt_from_options },
        { "lifecycle__default_vt_is_30s", test_lifecycle__default_vt_is_30s },
        { "vt__expiry_redelivers_to_another_consumer", test_vt__expiry_redelivers_to_another_consumer },
        { "vt__expired_message_redelivered_to_same_consumer", test_vt__expired_message_redelivered_to_same_consumer },
        { "vt__extend_postpones_redelivery", test_vt__extend_postpones_redelivery },
        { "vt__extend_ownership_and_ranges", test_vt__extend_ownership_and_ranges },
        { "delay__invisible_until_due", test_delay__invisible_until_due },
        { "delay__release_with_delay", test_delay__release_with_delay },
        { "batch__ids_in_input_order_and_payloads_round_trip", test_batch__ids_in_input_order_and_payloads_round_trip },
        { "batch__ids_in_input_order_large", test_batch__ids_in_input_order_large },
        { "batch__json_scalars_round_trip", test_batch__json_scalars_round_trip },
        { "batch__one_invalid_payload_writes_nothing", test_batch__one_invalid_payload_writes_nothing },
        { "enqueue__invalid_json_writes_nothing", test_enqueue__invalid_json_writes_nothing },
        { "batch__oversize_rejected", test_batch__oversize_rejected },
        { "batch__default_limit_is_1000", test_batch__default_limit_is_1000 },
        { "dlq__max_attempts_moves_to_dead_letters", test_dlq__max_attempts_moves_to_dead_letters },
        { "dlq__replay_one", test_dlq__replay_one },
        { "dlq__replay_all", test_dlq__replay_all },
        { "dlq__release_counts_as_delivery", test_dlq__release_counts_as_delivery },
        { "dlq__lists_page_in_id_order", test_dlq__lists_page_in_id_order },
        { "ownership__single_ops_on_foreign_and_unknown", test_ownership__single_ops_on_foreign_and_unknown },
        { "ownership__stale_owner_after_takeover", test_ownership__stale_owner_after_takeover },
        { "ownership__batch_archive_mixed", test_ownership__batch_archive_mixed },
        { "pipeline__archive_and_dequeue_drains_in_order", test_pipeline__archive_and_dequeue_drains_in_order },
        { "pipeline__not_held_ids_claim_nothing", test_pipeline__not_held_ids_claim_nothing },
        { "pipeline__failed_claim_rolls_back_archive", test_pipeline__failed_claim_rolls_back_archive },
        { "pipeline__bad_arguments_change_nothing", test_pipeline__bad_arguments_change_nothing },
        { "ownership__batch_release_and_delete_mixed", test_ownership__batch_release_and_delete_mixed },
        { "worker__suspend_resume", test_worker__suspend_resume },
        { "worker__shutdown_while_holding_messages", test_worker__shutdown_while_holding_messages },
        { "worker__shutdown_idle_without_release", test_worker__shutdown_idle_without_release },
        { "worker__get_and_list", test_worker__get_and_list },
        { "worker__health_counts", test_worker__health_counts },
        { "worker__purge_stale", test_worker__purge_stale },
        { "zombie__reclaim_returns_messages", test_zombie__reclaim_returns_messages },
        { "zombie__explicit_threshold", test_zombie__explicit_threshold },
        { "heartbeat__keeps_worker_from_reclaim", test_heartbeat__keeps_worker_from_reclaim },
        { "heartbeat__background_thread_keeps_consumer_fresh", test_heartbeat__background_thread_keeps_consumer_fresh },
        { "metrics__exact_for_one_queue", test_metrics__exact_for_one_queue },
        { "metrics__all_queues_by_name", test_metrics__all_queues_by_name },
        { "counters__exact_after_known_sequence", test_counters__exact_after_known_sequence },
        { "queue__create_exists_and_exist_ok", test_queue__create_exists_and_exist_ok },
        { "queue__retry_policy_create_and_update", test_queue__retry_policy_create_and_update },
        { "queue__purge", test_queue__purge },
        { "queue__delete_refused_with_messages", test_queue__delete_refused_with_messages },
        { "queue__enqueue_after_queue_deleted", test_queue__enqueue_after_queue_deleted },
        { "queue__archive_purge_retention", test_queue__archive_purge_retention },
        { "queue__archive_list_pages", test_queue__archive_list_pages },
        { "schema__install_twice_is_noop_and_verifies", test_schema__install_twice_is_noop_and_verifies },
        { "schema__verify_before_install", test_schema__verify_before_install },
        { "schema__second_store_on_same_database", test_schema__second_store_on_same_database },
        { "schema__nonexistent_postgres_schema", test_schema__nonexistent_postgres_schema },
        { "notfound__unknown_queue", test_notfound__unknown_queue },
        { "args__null_handles_and_outs", test_args__null_handles_and_outs },
        { "args__vt_and_delay_ranges", test_args__vt_and_delay_ranges },
        { "args__queue_names", test_args__queue_names },
        { "args__names_and_payloads_round_trip", test_args__names_and_payloads_round_trip },
        { "dsn__malformed_rejected_without_secrets", test_dsn__malformed_rejected_without_secrets },
        { "dsn__bad_options_rejected", test_dsn__bad_options_rejected },
        { "dsn__unreachable_server_hides_password", test_dsn__unreachable_server_hides_password },
        { "capabilities__per_backend", test_capabilities__per_backend },
    };
    int rc = th_main(argc, argv, "test_queue", tests, sizeof tests / sizeof *tests);
    cleanup();
    return rc;
}
