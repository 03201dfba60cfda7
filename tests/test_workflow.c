/* test_workflow.c: the conformance suite of the public workflow API
 * (include/pgqrs.h, "Workflows"). One source for every backend
 * (PGQRS_TEST_BACKEND=postgres|sqlite|sqlite-memory). Each test gets a fresh,
 * installed store on a fixed clock; time is moved with pgqrs_store_set_time, never
 * slept (except pgqrs_run_wait's own timeout). Step and handler executions are
 * counted with counters reached through the user pointer, so "executed once" means
 * the C function really ran once. Every handle a test takes is deferred and freed
 * before the next test, so a failing CHECK that returns early leaks nothing. */
#include <jansson.h>
#include <limits.h>
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
        fprintf(stderr, "test_workflow: defer stack full\n");
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
static void free_consumer(void *p) { pgqrs_consumer_free(p); }
static void free_batch(void *p) { pgqrs_batch_free(p); }
static void free_worker(void *p) { pgqrs_workflow_worker_free(p); }
static void free_run_info(void *p) { pgqrs_run_info_free(p); }
static void free_run_list(void *p) { pgqrs_runs_free(p); }
static void free_step_list(void *p) { pgqrs_steps_free(p); }
static void free_wf_list(void *p) { pgqrs_workflows_free(p); }
static void free_queue_info(void *p) { pgqrs_queue_info_free(p); }

static pgqrs_connect_options test_opts(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    o.heartbeat_interval_s = -1;   /* the fixed clock alone decides heartbeats */
    return o;
}

/* A fresh, installed store on the fixed clock T0. */
static pgqrs_status open_store(void)
{
    pgqrs_connect_options o = test_opts();
    pgqrs_status st;
    cleanup();
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

/* Moves the clock to T0 + s seconds. */
static void at(int64_t s) { pgqrs_store_set_time(store, T0 + s * SEC); }

static pgqrs_workflow_options wf_opts(void)
{
    pgqrs_workflow_options o = PGQRS_WORKFLOW_OPTIONS_INIT;
    return o;
}

#define DEFINE(name, fn, user, optp) CHECK_OK(pgqrs_workflow_define(store, (name), (fn), (user), (optp)), store)
#define WORKER(var, name) do { (var) = NULL; CHECK_OK(pgqrs_workflow_worker_new(&(var), store, (name)), store); \
    CHECK((var) != NULL); defer(free_worker, (var)); } while (0)
#define TRIGGER(name, input, idp) CHECK_OK(pgqrs_workflow_trigger((idp), NULL, store, (name), (input), NULL), store)
/* One worker round; checks how many runs it picked up. */
#define RUN_ONCE(w, want) do { int ex_ = -1; CHECK_OK(pgqrs_workflow_worker_run_once(&ex_, (w)), (w)); \
    CHECK_I64((want), ex_); } while (0)
#define RUN_GET(var, id) do { (var) = NULL; CHECK_OK(pgqrs_run_get(&(var), store, (id)), store); \
    CHECK((var) != NULL); defer(free_run_info, (var)); } while (0)
#define STEPS(var, id) do { (var) = NULL; CHECK_OK(pgqrs_step_list(&(var), store, (id)), store); \
    CHECK((var) != NULL); defer(free_step_list, (var)); } while (0)
#define CHECK_STATUS(want, id) do { pgqrs_run_info *ri_; RUN_GET(ri_, (id)); CHECK_STR((want), ri_->status); \
    } while (0)

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

static bool is_json(const char *s)
{
    json_error_t e;
    json_t *j = s ? json_loads(s, JSON_DECODE_ANY, &e) : NULL;
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

typedef struct mx {
    int64_t pending, in_flight, delayed, archived, dead;
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
        pgqrs_metrics_free(l);
        return PGQRS_ERROR;
    }
    out->pending = m->pending;
    out->in_flight = m->in_flight;
    out->delayed = m->delayed;
    out->archived = m->archived;
    out->dead = m->dead_lettered;
    pgqrs_metrics_free(l);
    return PGQRS_OK;
}
/* Live messages of a workflow's queue: pending, in flight, delayed. */
#define CHECK_QUEUE(q, pend, infl, del) do { mx m_; CHECK_OK(metrics_of((q), &m_), store); \
    CHECK_I64((pend), m_.pending); CHECK_I64((infl), m_.in_flight); CHECK_I64((del), m_.delayed); } while (0)

static size_t count_runs(const pgqrs_run_filter *f, pgqrs_status *st_out)
{
    pgqrs_runs *l = NULL;
    size_t n;
    *st_out = pgqrs_run_list(&l, store, f);
    n = pgqrs_runs_count(l);
    pgqrs_runs_free(l);
    return n;
}

static const pgqrs_step_info *find_step(const pgqrs_steps *l, const char *step_id)
{
    for (size_t i = 0; i < pgqrs_steps_count(l); i++) {
        const pgqrs_step_info *si = pgqrs_steps_at(l, i);
        if (si && si->step_id && strcmp(si->step_id, step_id) == 0)
            return si;
    }
    return NULL;
}

/* ---- Counters and step functions ------------------------------------------------ */

typedef struct ctx {
    pgqrs_store *store;          /* for calls from inside a step */
    int calls;                   /* handler invocations */
    int n[8];                    /* executions of step function i */
    int fail_first;              /* step 0 fails this many times */
    pgqrs_status got[8];         /* what pgqrs_run_step / pgqrs_run_sleep returned, per slot */
    char seen[4][8][128];        /* per attempt: outputs the handler received */
    char status_inside[32];      /* the run's status read from inside a step */
} ctx;

/* Step functions indexed by counter slot: output {"step":i,"n":count}. */
static pgqrs_status count_step(ctx *c, int i, char **out)
{
    char buf[64];
    c->n[i]++;
    snprintf(buf, sizeof buf, "{\"step\":%d,\"n\":%d}", i, c->n[i]);
    *out = pgqrs_strdup(buf);
    return PGQRS_OK;
}
static pgqrs_status step0(pgqrs_run *r, char **out, void *u) { (void)r; return count_step(u, 0, out); }
static pgqrs_status step1(pgqrs_run *r, char **out, void *u) { (void)r; return count_step(u, 1, out); }
static pgqrs_status step2(pgqrs_run *r, char **out, void *u) { (void)r; return count_step(u, 2, out); }

/* ---- Lifecycle -------------------------------------------------------------------- */

/* a, b: two steps; output {"a": <a's output>, "b": <b's output>, "in": <input>} */
static pgqrs_status two_steps(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    char *a = NULL, *b = NULL, buf[512];
    pgqrs_status st;
    c->calls++;
    if ((st = pgqrs_run_step(&a, run, "a", step0, c, NULL)) != PGQRS_OK)
        return st;
    if ((st = pgqrs_run_step(&b, run, "b", step1, c, NULL)) != PGQRS_OK) {
        pgqrs_free(a);
        return st;
    }
    snprintf(buf, sizeof buf, "{\"a\":%s,\"b\":%s,\"in\":%s}", a, b, input ? input : "null");
    pgqrs_free(a);
    pgqrs_free(b);
    *output = pgqrs_strdup(buf);
    return PGQRS_OK;
}

static void test_run__lifecycle(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    pgqrs_steps *sl;
    const pgqrs_step_info *si;
    int64_t id = 0;
    int created = -1;
    SETUP();
    DEFINE("greet", two_steps, &c, NULL);
    CHECK_OK(pgqrs_workflow_trigger(&id, &created, store, "greet", "{\"who\": \"world\", \"n\": [1, 2]}", NULL),
             store);
    CHECK(id > 0);
    CHECK_I64(1, created);
    RUN_GET(ri, id);
    CHECK_STR("PENDING", ri->status);
    CHECK_JSON("{\"who\":\"world\",\"n\":[1,2]}", ri->input);
    CHECK(ri->output == NULL);
    CHECK(ri->error == NULL);
    CHECK(ri->idempotency_key == NULL);
    CHECK_I64(0, ri->attempts);
    CHECK_I64(T0, ri->created_at_us);
    CHECK_I64(0, ri->started_at_us);
    CHECK_I64(0, ri->completed_at_us);
    CHECK_I64(0, ri->cancelled_at_us);
    CHECK(ri->cancel_reason == NULL);
    CHECK_QUEUE("workflow:greet", 1, 0, 0);

    WORKER(w, "greet");
    CHECK(pgqrs_workflow_worker_id(w) > 0);
    at(3);
    RUN_ONCE(w, 1);
    CHECK_I64(1, c.calls);
    CHECK_I64(1, c.n[0]);
    CHECK_I64(1, c.n[1]);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_I64(1, ri->attempts);
    CHECK_I64(id, ri->id);
    CHECK_I64(T0, ri->created_at_us);
    CHECK_I64(T0 + 3 * SEC, ri->started_at_us);
    CHECK_I64(T0 + 3 * SEC, ri->completed_at_us);
    CHECK_I64(0, ri->cancelled_at_us);
    CHECK_I64(0, ri->retry_at_us);
    CHECK(ri->error == NULL);
    CHECK_JSON("{\"who\":\"world\",\"n\":[1,2]}", ri->input);
    CHECK_JSON("{\"a\":{\"step\":0,\"n\":1},\"b\":{\"step\":1,\"n\":1},\"in\":{\"who\":\"world\",\"n\":[1,2]}}",
               ri->output);

    STEPS(sl, id);
    CHECK_I64(2, pgqrs_steps_count(sl));
    si = pgqrs_steps_at(sl, 0);
    CHECK(si != NULL);
    CHECK_STR("a", si->step_id);
    CHECK_STR("SUCCESS", si->status);
    CHECK_I64(id, si->run_id);
    CHECK_JSON("{\"step\":0,\"n\":1}", si->output);
    CHECK(si->error == NULL);
    CHECK_I64(1, si->attempts);
    CHECK_I64(T0 + 3 * SEC, si->started_at_us);
    CHECK_I64(T0 + 3 * SEC, si->completed_at_us);
    si = pgqrs_steps_at(sl, 1);
    CHECK(si != NULL);
    CHECK_STR("b", si->step_id);
    CHECK_STR("SUCCESS", si->status);
    CHECK_JSON("{\"step\":1,\"n\":1}", si->output);
    CHECK(pgqrs_steps_at(sl, 2) == NULL);

    /* the run's message is archived: nothing left to execute */
    CHECK_QUEUE("workflow:greet", 0, 0, 0);
    at(10000);
    RUN_ONCE(w, 0);
    CHECK_I64(1, c.calls);
}

static void test_run__null_input_and_null_output(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    DEFINE("greet", two_steps, &c, NULL);
    TRIGGER("greet", NULL, &id);
    RUN_GET(ri, id);
    CHECK(ri->input == NULL);
    WORKER(w, "greet");
    RUN_ONCE(w, 1);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_JSON("{\"a\":{\"step\":0,\"n\":1},\"b\":{\"step\":1,\"n\":1},\"in\":null}", ri->output);
}

/* ---- Step replay ------------------------------------------------------------------ */

/* Steps a and b, then the first attempt fails (retryable); the second succeeds.
 * Records the step outputs each attempt received. */
static pgqrs_status fail_once_after_two(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    char *a = NULL, *b = NULL;
    int att = pgqrs_run_attempt(run);
    pgqrs_status st;
    (void)input;
    c->calls++;
    if (att < 1 || att > 3)
        return PGQRS_ERROR;
    if ((st = pgqrs_run_step(&a, run, "a", step0, c, NULL)) != PGQRS_OK)
        return st;
    snprintf(c->seen[att][0], sizeof c->seen[att][0], "%s", a ? a : "(null)");
    pgqrs_free(a);
    if ((st = pgqrs_run_step(&b, run, "b", step1, c, NULL)) != PGQRS_OK)
        return st;
    snprintf(c->seen[att][1], sizeof c->seen[att][1], "%s", b ? b : "(null)");
    pgqrs_free(b);
    if (att == 1) {
        pgqrs_run_fail(run, "{\"why\":\"first attempt\"}", 1);
        return PGQRS_ERROR;
    }
    *output = pgqrs_strdup("{\"done\":true}");
    return PGQRS_OK;
}

static void test_replay__completed_steps_run_once(void)
{
    ctx c = { 0 };
    pgqrs_workflow_options o = wf_opts();
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    pgqrs_steps *sl;
    int64_t id = 0;
    o.retry.initial_delay_ms = 5000;
    o.retry.jitter = -1;
    SETUP();
    DEFINE("replay", fail_once_after_two, &c, &o);
    WORKER(w, "replay");
    TRIGGER("replay", "{}", &id);
    RUN_ONCE(w, 1);
    CHECK_I64(1, c.calls);
    CHECK_I64(1, c.n[0]);
    CHECK_I64(1, c.n[1]);
    RUN_GET(ri, id);
    CHECK_STR("PENDING", ri->status);
    CHECK_I64(1, ri->attempts);
    CHECK_I64(T0 + 5 * SEC, ri->retry_at_us);
    CHECK_JSON("{\"why\":\"first attempt\"}", ri->error);
    CHECK_QUEUE("workflow:replay", 0, 0, 1);

    at(4);
    RUN_ONCE(w, 0);   /* not due yet */
    CHECK_I64(1, c.calls);
    at(5);
    RUN_ONCE(w, 1);
    CHECK_I64(2, c.calls);
    CHECK_I64(1, c.n[0]);   /* a and b were not executed again... */
    CHECK_I64(1, c.n[1]);
    CHECK_JSON("{\"step\":0,\"n\":1}", c.seen[1][0]);
    CHECK_JSON("{\"step\":1,\"n\":1}", c.seen[1][1]);
    CHECK_JSON("{\"step\":0,\"n\":1}", c.seen[2][0]);   /* ...their stored outputs came back */
    CHECK_JSON("{\"step\":1,\"n\":1}", c.seen[2][1]);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_I64(2, ri->attempts);
    CHECK_I64(T0 + 5 * SEC, ri->completed_at_us);
    CHECK_I64(T0, ri->started_at_us);   /* the first start */
    CHECK_JSON("{\"done\":true}", ri->output);
    STEPS(sl, id);
    CHECK_I64(2, pgqrs_steps_count(sl));
    CHECK_I64(1, pgqrs_steps_at(sl, 0)->attempts);
    CHECK_I64(1, pgqrs_steps_at(sl, 1)->attempts);
    CHECK_QUEUE("workflow:replay", 0, 0, 0);
}

/* The same step id twice in one execution: the second call is a replay. */
static pgqrs_status same_step_twice(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    char *x = NULL, *y = NULL;
    pgqrs_status st;
    (void)input;
    c->calls++;
    if ((st = pgqrs_run_step(&x, run, "once", step0, c, NULL)) != PGQRS_OK)
        return st;
    st = pgqrs_run_step(&y, run, "once", step0, c, NULL);
    c->got[0] = st;
    snprintf(c->seen[0][0], sizeof c->seen[0][0], "%s", x ? x : "(null)");
    snprintf(c->seen[0][1], sizeof c->seen[0][1], "%s", y ? y : "(null)");
    pgqrs_free(x);
    pgqrs_free(y);
    *output = NULL;   /* JSON null */
    return st;
}

static void test_replay__same_step_id_in_one_execution(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    DEFINE("twice", same_step_twice, &c, NULL);
    WORKER(w, "twice");
    TRIGGER("twice", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_I64(PGQRS_OK, c.got[0]);
    CHECK_I64(1, c.n[0]);
    CHECK_JSON("{\"step\":0,\"n\":1}", c.seen[0][0]);
    CHECK_JSON("{\"step\":0,\"n\":1}", c.seen[0][1]);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK(ri->output == NULL || json_same("null", ri->output));
}

/* ---- Step failure and retry ------------------------------------------------------ */

/* Step 0 fails (retryable, with its own error JSON) while c->fail_first > 0. */
static pgqrs_status flaky_fn(pgqrs_run *run, char **out, void *user)
{
    ctx *c = user;
    char buf[64];
    c->n[0]++;
    if (c->n[0] <= c->fail_first) {
        snprintf(buf, sizeof buf, "{\"code\":\"boom\",\"n\":%d}", c->n[0]);
        pgqrs_run_fail(run, buf, 1);
        return PGQRS_ERROR;
    }
    *out = pgqrs_strdup("{\"ok\":true}");
    return PGQRS_OK;
}

static pgqrs_status flaky_handler(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    pgqrs_step_options so = PGQRS_STEP_OPTIONS_INIT;
    pgqrs_status st;
    (void)input;
    c->calls++;
    so.retry.max_attempts = 3;
    so.retry.initial_delay_ms = 10000;
    so.retry.multiplier = 2;
    so.retry.jitter = -1;
    st = pgqrs_run_step(NULL, run, "flaky", flaky_fn, c, &so);
    c->got[c->calls < 8 ? c->calls : 7] = st;
    if (st != PGQRS_OK)
        return st;
    if ((st = pgqrs_run_step(NULL, run, "after", step1, c, NULL)) != PGQRS_OK)
        return st;
    *output = pgqrs_strdup("\"finished\"");
    return PGQRS_OK;
}

static void test_retry__step_failure_honours_schedule(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    pgqrs_steps *sl;
    const pgqrs_step_info *si;
    int64_t id = 0;
    c.fail_first = 2;
    SETUP();
    DEFINE("flaky", flaky_handler, &c, NULL);
    WORKER(w, "flaky");
    TRIGGER("flaky", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_I64(1, c.n[0]);
    CHECK_I64(PGQRS_ERROR, c.got[1]);   /* the step call returns fn's status */
    CHECK_I64(0, c.n[1]);
    RUN_GET(ri, id);
    CHECK_STR("PENDING", ri->status);
    CHECK_I64(T0 + 10 * SEC, ri->retry_at_us);
    CHECK_I64(1, ri->attempts);
    CHECK_JSON("{\"code\":\"boom\",\"n\":1}", ri->error);
    STEPS(sl, id);
    CHECK_I64(1, pgqrs_steps_count(sl));
    si = pgqrs_steps_at(sl, 0);
    CHECK_STR("flaky", si->step_id);
    CHECK_STR("ERROR", si->status);
    CHECK_I64(1, si->attempts);
    CHECK_I64(T0 + 10 * SEC, si->retry_at_us);
    CHECK_JSON("{\"code\":\"boom\",\"n\":1}", si->error);
    CHECK_QUEUE("workflow:flaky", 0, 0, 1);

    /* before the scheduled time: nothing runs */
    at(9);
    RUN_ONCE(w, 0);
    CHECK_I64(1, c.n[0]);
    CHECK_I64(1, c.calls);

    /* due: the second attempt fails too; the next delay doubles */
    at(11);
    RUN_ONCE(w, 1);
    CHECK_I64(2, c.n[0]);
    RUN_GET(ri, id);
    CHECK_STR("PENDING", ri->status);
    CHECK_I64(T0 + 31 * SEC, ri->retry_at_us);
    CHECK_JSON("{\"code\":\"boom\",\"n\":2}", ri->error);
    at(30);
    RUN_ONCE(w, 0);
    CHECK_I64(2, c.n[0]);

    /* third attempt succeeds and the run goes on */
    at(31);
    RUN_ONCE(w, 1);
    CHECK_I64(3, c.n[0]);
    CHECK_I64(1, c.n[1]);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_I64(3, ri->attempts);
    CHECK_JSON("\"finished\"", ri->output);
    STEPS(sl, id);
    CHECK_I64(2, pgqrs_steps_count(sl));
    /* both (re)started at T0+31 on the fixed clock: find by id, not position */
    si = find_step(sl, "flaky");
    CHECK(si != NULL);
    CHECK_STR("SUCCESS", si->status);
    CHECK_I64(3, si->attempts);
    CHECK_JSON("{\"ok\":true}", si->output);
    CHECK_I64(0, si->retry_at_us);
    CHECK_QUEUE("workflow:flaky", 0, 0, 0);
}

static void test_retry__step_exhaustion_ends_in_error(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    pgqrs_steps *sl;
    int64_t id = 0;
    c.fail_first = 1000;
    SETUP();
    DEFINE("flaky", flaky_handler, &c, NULL);
    WORKER(w, "flaky");
    TRIGGER("flaky", NULL, &id);
    RUN_ONCE(w, 1);
    at(10);
    RUN_ONCE(w, 1);
    at(30);
    RUN_ONCE(w, 1);
    CHECK_I64(3, c.n[0]);
    RUN_GET(ri, id);
    CHECK_STR("ERROR", ri->status);
    CHECK_I64(3, ri->attempts);
    CHECK_I64(T0 + 30 * SEC, ri->completed_at_us);
    CHECK(ri->output == NULL);
    CHECK(is_json(ri->error));
    CHECK_JSON("{\"code\":\"boom\",\"n\":3}", ri->error);
    STEPS(sl, id);
    CHECK_STR("ERROR", pgqrs_steps_at(sl, 0)->status);
    CHECK_I64(3, pgqrs_steps_at(sl, 0)->attempts);
    CHECK_I64(0, pgqrs_steps_at(sl, 0)->retry_at_us);
    /* ended: its message is gone, nothing runs again */
    CHECK_QUEUE("workflow:flaky", 0, 0, 0);
    at(100000);
    RUN_ONCE(w, 0);
    CHECK_I64(3, c.n[0]);
    CHECK_I64(0, c.n[1]);
}

/* A step fails without an explicit error: the library records its own JSON. */
static pgqrs_status plain_fail_fn(pgqrs_run *run, char **out, void *user)
{
    (void)run, (void)out;
    ((ctx *)user)->n[0]++;
    return PGQRS_ENOTFOUND;
}

static pgqrs_status plain_fail_handler(pgqrs_run *run, const char *input, char **output, void *user)
{
    pgqrs_step_options so = PGQRS_STEP_OPTIONS_INIT;
    (void)input, (void)output;
    so.retry.max_attempts = 1;
    ((ctx *)user)->calls++;
    ((ctx *)user)->got[0] = pgqrs_run_step(NULL, run, "s", plain_fail_fn, user, &so);
    return ((ctx *)user)->got[0];
}

static void test_retry__step_max_attempts_1_library_error_json(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    json_t *j;
    int64_t id = 0;
    SETUP();
    DEFINE("plain", plain_fail_handler, &c, NULL);
    WORKER(w, "plain");
    TRIGGER("plain", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_I64(PGQRS_ENOTFOUND, c.got[0]);
    RUN_GET(ri, id);
    CHECK_STR("ERROR", ri->status);
    CHECK_I64(1, ri->attempts);
    CHECK(is_json(ri->error));
    j = json_loads(ri->error, 0, NULL);
    CHECK(j != NULL);
    CHECK(json_is_object(j));
    CHECK(json_is_string(json_object_get(j, "message")));
    json_decref(j);
}

/* The handler fails for good after the first call. */
static pgqrs_status fatal_handler(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    pgqrs_status st;
    (void)input, (void)output;
    c->calls++;
    if ((st = pgqrs_run_step(NULL, run, "a", step0, c, NULL)) != PGQRS_OK)
        return st;
    c->got[0] = pgqrs_run_fail(run, "{\"fatal\":\"card declined\"}", 0);
    return PGQRS_ERROR;
}

static void test_retry__non_retryable_fails_at_once(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    DEFINE("fatal", fatal_handler, &c, NULL);   /* default policy: 3 attempts */
    WORKER(w, "fatal");
    TRIGGER("fatal", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_I64(PGQRS_OK, c.got[0]);
    RUN_GET(ri, id);
    CHECK_STR("ERROR", ri->status);
    CHECK_I64(1, ri->attempts);
    CHECK_I64(0, ri->retry_at_us);
    CHECK_JSON("{\"fatal\":\"card declined\"}", ri->error);
    CHECK_QUEUE("workflow:fatal", 0, 0, 0);
    at(100000);
    RUN_ONCE(w, 0);
    CHECK_I64(1, c.calls);
}

/* Always fails, retryable, without steps. */
static pgqrs_status always_fail(pgqrs_run *run, const char *input, char **output, void *user)
{
    (void)run, (void)input, (void)output;
    ((ctx *)user)->calls++;
    return PGQRS_ERROR;
}

static void test_retry__workflow_policy_honoured(void)
{
    ctx c = { 0 };
    pgqrs_workflow_options o = wf_opts();
    pgqrs_workflow_worker *w;
    pgqrs_workflows *wl = NULL;
    pgqrs_run_info *ri;
    json_t *j;
    int64_t id = 0;
    o.retry.max_attempts = 2;
    o.retry.initial_delay_ms = 7000;
    o.retry.jitter = -1;
    SETUP();
    DEFINE("twice", always_fail, &c, &o);
    CHECK_OK(pgqrs_workflow_list(&wl, store), store);
    defer(free_wf_list, wl);
    CHECK_I64(1, pgqrs_workflows_count(wl));
    j = json_loads(pgqrs_workflows_at(wl, 0)->retry_policy, 0, NULL);
    CHECK(j != NULL);
    CHECK_I64(2, json_integer_value(json_object_get(j, "max_attempts")));
    CHECK_I64(7000, json_integer_value(json_object_get(j, "initial_delay_ms")));
    json_decref(j);
    WORKER(w, "twice");
    TRIGGER("twice", NULL, &id);
    RUN_ONCE(w, 1);
    RUN_GET(ri, id);
    CHECK_STR("PENDING", ri->status);
    CHECK_I64(T0 + 7 * SEC, ri->retry_at_us);
    CHECK(is_json(ri->error));
    at(6);
    RUN_ONCE(w, 0);
    at(7);
    RUN_ONCE(w, 1);
    CHECK_I64(2, c.calls);
    RUN_GET(ri, id);
    CHECK_STR("ERROR", ri->status);
    CHECK_I64(2, ri->attempts);
    CHECK(is_json(ri->error));
    at(100000);
    RUN_ONCE(w, 0);
    CHECK_I64(2, c.calls);
}

static void test_retry__default_workflow_policy_is_3_attempts(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    DEFINE("dflt", always_fail, &c, NULL);
    WORKER(w, "dflt");
    TRIGGER("dflt", NULL, &id);
    for (int i = 0; i < 6; i++) {
        at(1000 * (i + 1));   /* past any default delay (cap 300 s) */
        int ex = 0;
        CHECK_OK(pgqrs_workflow_worker_run_once(&ex, w), w);
    }
    CHECK_I64(3, c.calls);
    RUN_GET(ri, id);
    CHECK_STR("ERROR", ri->status);
    CHECK_I64(3, ri->attempts);
}

/* ---- The poll loop --------------------------------------------------------------- */

/* input {"fail": 1}: fatal; {"fail": 2}: retryable; otherwise success. */
static pgqrs_status by_input(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    c->calls++;
    if (input && strstr(input, "1")) {
        pgqrs_run_fail(run, "{\"e\":1}", 0);
        return PGQRS_ERROR;
    }
    if (input && strstr(input, "2"))
        return PGQRS_ETIMEOUT;   /* a handler failure, however it is spelt */
    *output = pgqrs_strdup("1");
    return PGQRS_OK;
}

static void test_poll__handler_errors_never_end_the_loop(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_poll_options po = PGQRS_POLL_OPTIONS_INIT;
    int64_t a = 0, b = 0, d = 0, executed = -1;
    SETUP();
    DEFINE("mixed", by_input, &c, NULL);
    WORKER(w, "mixed");
    TRIGGER("mixed", "{\"fail\":1}", &a);
    TRIGGER("mixed", "{\"fail\":2}", &b);
    TRIGGER("mixed", "{\"fail\":0}", &d);
    po.max_runs = 3;
    po.idle_timeout_ms = 3000;
    po.poll_interval_ms = 5;
    CHECK_OK(pgqrs_workflow_worker_poll(&executed, w, &po), w);
    CHECK_I64(3, executed);
    CHECK_I64(3, c.calls);
    CHECK_STATUS("ERROR", a);
    CHECK_STATUS("PENDING", b);
    CHECK_STATUS("SUCCESS", d);
}

static void test_poll__idle_timeout_and_interrupt(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_poll_options po = PGQRS_POLL_OPTIONS_INIT;
    int64_t executed = -1;
    SETUP();
    DEFINE("idle", by_input, &c, NULL);
    WORKER(w, "idle");
    po.idle_timeout_ms = 100;
    po.poll_interval_ms = 5;
    CHECK_OK(pgqrs_workflow_worker_poll(&executed, w, &po), w);
    CHECK_I64(0, executed);
    /* interrupted before it starts: returns at once */
    pgqrs_workflow_worker_interrupt(w);
    po.idle_timeout_ms = 0;
    CHECK_OK(pgqrs_workflow_worker_poll(&executed, w, &po), w);
    CHECK_I64(0, executed);
    po.version = 99;
    CHECK_ST(PGQRS_EINVAL, pgqrs_workflow_worker_poll(NULL, w, &po), w);
}

/* ---- Cancellation ------------------------------------------------------------------ */

static void test_cancel__pending_run(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    DEFINE("greet", two_steps, &c, NULL);
    TRIGGER("greet", "{}", &id);
    at(2);
    CHECK_OK(pgqrs_run_cancel(store, id, "changed my mind"), store);
    RUN_GET(ri, id);
    CHECK_STR("CANCELLED", ri->status);
    CHECK_STR("changed my mind", ri->cancel_reason);
    CHECK_I64(T0 + 2 * SEC, ri->cancelled_at_us);
    CHECK_I64(0, ri->attempts);
    /* cancelling again, or a finished run: refused */
    CHECK_ST(PGQRS_ESTATE, pgqrs_run_cancel(store, id, NULL), store);

    at(3);
    WORKER(w, "greet");
    {
        int ex = 0;
        CHECK_OK(pgqrs_workflow_worker_run_once(&ex, w), w);
    }
    CHECK_I64(0, c.calls);
    CHECK_I64(0, c.n[0]);
    RUN_GET(ri, id);
    CHECK_STR("CANCELLED", ri->status);
    CHECK_I64(0, ri->attempts);
    CHECK_QUEUE("workflow:greet", 0, 0, 0);
    at(10000);
    RUN_ONCE(w, 0);
    CHECK_I64(0, c.calls);
}

static pgqrs_status cancel_self(pgqrs_run *run, char **out, void *user)
{
    ctx *c = user;
    pgqrs_run_info *ri = NULL;
    c->n[0]++;
    c->got[0] = pgqrs_run_cancel(c->store, pgqrs_run_id(run), "from inside");
    if (pgqrs_run_get(&ri, c->store, pgqrs_run_id(run)) == PGQRS_OK)
        snprintf(c->status_inside, sizeof c->status_inside, "%s", ri->status);
    pgqrs_run_info_free(ri);
    c->got[1] = pgqrs_run_cancel(c->store, pgqrs_run_id(run), "twice");
    *out = pgqrs_strdup("{\"one\":1}");
    return PGQRS_OK;
}

static pgqrs_status cancels_itself(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    pgqrs_status st;
    (void)input;
    c->calls++;
    if ((st = pgqrs_run_step(NULL, run, "one", cancel_self, c, NULL)) != PGQRS_OK)
        return st;
    st = c->got[2] = pgqrs_run_step(NULL, run, "two", step1, c, NULL);
    if (st != PGQRS_OK)
        return st;
    *output = pgqrs_strdup("\"should not finish\"");
    return PGQRS_OK;
}

static void test_cancel__running_run_stops_at_next_step(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    pgqrs_steps *sl;
    int64_t id = 0;
    SETUP();
    c.store = store;
    DEFINE("selfcancel", cancels_itself, &c, NULL);
    WORKER(w, "selfcancel");
    TRIGGER("selfcancel", NULL, &id);
    at(1);
    RUN_ONCE(w, 1);
    CHECK_I64(PGQRS_OK, c.got[0]);
    CHECK_STR("CANCELLING", c.status_inside);
    CHECK_I64(PGQRS_ESTATE, c.got[1]);   /* already cancelling */
    CHECK_I64(1, c.n[0]);
    CHECK_I64(PGQRS_ECANCELLED, c.got[2]);
    CHECK_I64(0, c.n[1]);   /* step two never executed */
    RUN_GET(ri, id);
    CHECK_STR("CANCELLED", ri->status);
    CHECK_STR("from inside", ri->cancel_reason);
    CHECK_I64(T0 + 1 * SEC, ri->cancelled_at_us);
    CHECK(ri->output == NULL);
    STEPS(sl, id);
    CHECK_I64(1, pgqrs_steps_count(sl));
    CHECK_STR("one", pgqrs_steps_at(sl, 0)->step_id);
    CHECK_STR("SUCCESS", pgqrs_steps_at(sl, 0)->status);
    CHECK_JSON("{\"one\":1}", pgqrs_steps_at(sl, 0)->output);
    CHECK_QUEUE("workflow:selfcancel", 0, 0, 0);
    CHECK_ST(PGQRS_ESTATE, pgqrs_run_cancel(store, id, NULL), store);
    at(10000);
    RUN_ONCE(w, 0);
    CHECK_I64(1, c.calls);
}

static void test_cancel__finished_and_unknown(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri = NULL;
    int64_t id = 0;
    SETUP();
    DEFINE("greet", two_steps, &c, NULL);
    WORKER(w, "greet");
    TRIGGER("greet", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_ST(PGQRS_ESTATE, pgqrs_run_cancel(store, id, "too late"), store);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK(ri->cancel_reason == NULL);
    CHECK_I64(0, ri->cancelled_at_us);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_run_cancel(store, id + 1000, NULL), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_run_get(&ri, store, id + 1000), store);
    CHECK(ri == NULL);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_run_wait(&ri, store, id + 1000, 100), store);
    CHECK(ri == NULL);
}

/* ---- Takeover: a second worker reaches a step the first is executing -------------- */

typedef struct race {
    pgqrs_workflow_worker *other;   /* worker B, run from inside A's step */
    int nested;                     /* inside B's execution */
    int64_t move_to_s;              /* the clock when B runs */
    int n_s, n_t, calls;
    pgqrs_status a_st, b_st;
    int b_executed;
} race;

static pgqrs_status race_s(pgqrs_run *run, char **out, void *user)
{
    race *r = user;
    char buf[32];
    (void)run;
    r->n_s++;
    snprintf(buf, sizeof buf, "{\"n\":%d}", r->n_s);
    if (!r->nested) {
        r->nested = 1;
        at(r->move_to_s);
        if (pgqrs_workflow_worker_run_once(&r->b_executed, r->other) != PGQRS_OK)
            r->b_executed = -1;
        r->nested = 0;
    }
    *out = pgqrs_strdup(buf);
    return PGQRS_OK;
}

static pgqrs_status race_t(pgqrs_run *run, char **out, void *user)
{
    (void)run;
    ((race *)user)->n_t++;
    *out = NULL;
    return PGQRS_OK;
}

static pgqrs_status race_handler(pgqrs_run *run, const char *input, char **output, void *user)
{
    race *r = user;
    int nested = r->nested;
    char *o = NULL;
    pgqrs_status st;
    (void)input;
    r->calls++;
    st = pgqrs_run_step(&o, run, "s", race_s, r, NULL);
    if (nested)
        r->b_st = st;
    else
        r->a_st = st;
    if (st != PGQRS_OK)
        return st;
    if ((st = pgqrs_run_step(NULL, run, "t", race_t, r, NULL)) != PGQRS_OK) {
        pgqrs_free(o);
        return st;
    }
    *output = o;
    return PGQRS_OK;
}

static void test_takeover__live_step_is_busy(void)
{
    race r = { 0 };
    pgqrs_workflow_options o = wf_opts();
    pgqrs_workflow_worker *a, *b;
    pgqrs_run_info *ri;
    pgqrs_steps *sl;
    int64_t id = 0;
    o.vt_seconds = 10;   /* the run's message lease ends while step s still runs... */
    SETUP();             /* ...but the step's lease (default 10 min) does not */
    DEFINE("race", race_handler, &r, &o);
    WORKER(a, "race");
    WORKER(b, "race");
    r.other = b;
    r.move_to_s = 11;
    TRIGGER("race", NULL, &id);
    RUN_ONCE(a, 1);
    CHECK_I64(1, r.b_executed);          /* B got the run's message... */
    CHECK_I64(2, r.calls);
    CHECK_I64(PGQRS_EBUSY, r.b_st);      /* ...but not the step */
    CHECK_I64(PGQRS_OK, r.a_st);
    CHECK_I64(1, r.n_s);
    CHECK_I64(1, r.n_t);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_JSON("{\"n\":1}", ri->output);
    STEPS(sl, id);
    CHECK_I64(2, pgqrs_steps_count(sl));
    CHECK_STR("SUCCESS", find_step(sl, "s")->status);
    CHECK_I64(1, find_step(sl, "s")->attempts);
    /* whatever message B was left holding: nothing runs again */
    at(1000);
    {
        int ex = 0;
        CHECK_OK(pgqrs_workflow_worker_run_once(&ex, a), a);
        CHECK_OK(pgqrs_workflow_worker_run_once(&ex, b), b);
    }
    CHECK_I64(2, r.calls);
    CHECK_QUEUE("workflow:race", 0, 0, 0);
    CHECK_STATUS("SUCCESS", id);
}

static void test_takeover__expired_step_lease(void)
{
    race r = { 0 };
    pgqrs_workflow_options o = wf_opts();
    pgqrs_workflow_worker *a, *b;
    pgqrs_run_info *ri;
    pgqrs_steps *sl;
    int64_t id = 0;
    o.vt_seconds = 10;
    o.step_lease_ms = 5000;   /* A holds step s past its lease: B may take it over */
    SETUP();
    DEFINE("race", race_handler, &r, &o);
    WORKER(a, "race");
    WORKER(b, "race");
    r.other = b;
    r.move_to_s = 11;
    TRIGGER("race", NULL, &id);
    RUN_ONCE(a, 1);
    CHECK_I64(1, r.b_executed);
    CHECK_I64(PGQRS_OK, r.b_st);     /* B executed the step again and finished the run */
    CHECK_I64(2, r.n_s);
    CHECK_I64(1, r.n_t);             /* A stopped: its step result was not accepted */
    CHECK(r.a_st != PGQRS_OK);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_JSON("{\"n\":2}", ri->output);
    STEPS(sl, id);
    CHECK_STR("SUCCESS", find_step(sl, "s")->status);
    CHECK_JSON("{\"n\":2}", find_step(sl, "s")->output);
    at(1000);
    RUN_ONCE(a, 0);
    CHECK_QUEUE("workflow:race", 0, 0, 0);
}

/* ---- Invalid outputs and step arguments ------------------------------------------- */

static pgqrs_status bad_step_out(pgqrs_run *run, char **out, void *user)
{
    (void)run;
    ((ctx *)user)->n[0]++;
    *out = pgqrs_strdup("{not json");
    return PGQRS_OK;
}

static pgqrs_status bad_outputs(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    pgqrs_step_options so = PGQRS_STEP_OPTIONS_INIT;
    char id[300];
    (void)input;
    c->calls++;
    so.retry.max_attempts = 1;
    c->got[0] = pgqrs_run_step(NULL, run, NULL, step1, c, NULL);
    memset(id, 'x', 257);
    id[257] = 0;
    c->got[1] = pgqrs_run_step(NULL, run, id, step1, c, NULL);
    c->got[2] = pgqrs_run_step(NULL, run, "", step1, c, NULL);
    id[256] = 0;
    c->got[3] = pgqrs_run_step(NULL, run, id, step1, c, NULL);   /* 256 bytes: fine */
    c->got[4] = pgqrs_run_step(NULL, run, "nofn", NULL, c, NULL);
    c->got[5] = pgqrs_run_step(NULL, run, "bad", bad_step_out, c, &so);
    *output = pgqrs_strdup("{also not json");
    return PGQRS_OK;
}

static void test_output__invalid_json_rejected(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    pgqrs_steps *sl;
    int64_t id = 0;
    SETUP();
    DEFINE("bad", bad_outputs, &c, NULL);
    WORKER(w, "bad");
    TRIGGER("bad", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_I64(PGQRS_EMISUSE, c.got[0]);
    CHECK_I64(PGQRS_EINVAL, c.got[1]);
    CHECK_I64(PGQRS_EINVAL, c.got[2]);
    CHECK_I64(PGQRS_OK, c.got[3]);
    CHECK_I64(1, c.n[1]);
    CHECK_I64(PGQRS_EMISUSE, c.got[4]);
    CHECK_I64(PGQRS_EINVAL, c.got[5]);
    CHECK_I64(1, c.n[0]);
    RUN_GET(ri, id);
    CHECK_STR("ERROR", ri->status);   /* the step failed for good, and the output is not JSON */
    CHECK(ri->output == NULL);
    CHECK(is_json(ri->error));
    STEPS(sl, id);
    CHECK_STR("ERROR", find_step(sl, "bad")->status);
    CHECK(find_step(sl, "bad")->output == NULL);
}

static pgqrs_status bad_final_output(pgqrs_run *run, const char *input, char **output, void *user)
{
    (void)run, (void)input;
    ((ctx *)user)->calls++;
    *output = pgqrs_strdup("{also not json");
    return PGQRS_OK;
}

static void test_output__invalid_run_output_is_error(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    DEFINE("bad", bad_final_output, &c, NULL);
    WORKER(w, "bad");
    TRIGGER("bad", NULL, &id);
    RUN_ONCE(w, 1);
    RUN_GET(ri, id);
    CHECK_STR("ERROR", ri->status);
    CHECK(ri->output == NULL);
    CHECK(is_json(ri->error));
    CHECK_I64(1, c.calls);
}

/* ---- Durable sleep --------------------------------------------------------------- */

static pgqrs_status sleeper(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    pgqrs_status st;
    (void)input;
    c->calls++;
    if ((st = pgqrs_run_step(NULL, run, "one", step0, c, NULL)) != PGQRS_OK)
        return st;
    st = pgqrs_run_sleep(run, "nap", 60);
    c->got[c->calls < 8 ? c->calls : 7] = st;
    if (st != PGQRS_OK)
        return st;
    if ((st = pgqrs_run_step(NULL, run, "two", step1, c, NULL)) != PGQRS_OK)
        return st;
    *output = pgqrs_strdup("{\"slept\":true}");
    return PGQRS_OK;
}

static void test_sleep__survives_reopen(void)
{
    ctx c = { 0 };
    pgqrs_connect_options co = test_opts();
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    DEFINE("nap", sleeper, &c, NULL);
    WORKER(w, "nap");
    TRIGGER("nap", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_I64(PGQRS_ESUSPENDED, c.got[1]);
    CHECK_I64(1, c.n[0]);
    CHECK_I64(0, c.n[1]);
    RUN_GET(ri, id);
    CHECK_STR("PENDING", ri->status);
    CHECK_I64(T0 + 60 * SEC, ri->retry_at_us);
    CHECK(ri->error == NULL);
    CHECK_QUEUE("workflow:nap", 0, 0, 1);

    /* close everything (the database stays), then come back */
    release_now(w);
    if (!th_is_memory()) {
        release_now(store);
        store = NULL;
        CHECK_OK(pgqrs_connect(&store, th_current_dsn(), &co), NULL);
        defer(free_store, store);
        CHECK_OK(pgqrs_schema_install(store), store);
    }
    DEFINE("nap", sleeper, &c, NULL);
    WORKER(w, "nap");
    pgqrs_store_set_time(store, 0);   /* the real clock: the deadline is a minute away */
    RUN_ONCE(w, 0);
    CHECK_I64(1, c.calls);
    pgqrs_store_set_time(store, T0 + 59 * SEC);
    RUN_ONCE(w, 0);
    pgqrs_store_set_time(store, T0 + 61 * SEC);
    RUN_ONCE(w, 1);
    CHECK_I64(2, c.calls);
    CHECK_I64(PGQRS_OK, c.got[2]);
    CHECK_I64(1, c.n[0]);   /* once overall */
    CHECK_I64(1, c.n[1]);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_JSON("{\"slept\":true}", ri->output);
    CHECK_I64(2, ri->attempts);
    CHECK_QUEUE("workflow:nap", 0, 0, 0);
}

static void test_sleep__cancel_while_sleeping(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    DEFINE("nap", sleeper, &c, NULL);
    WORKER(w, "nap");
    TRIGGER("nap", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_STATUS("PENDING", id);
    at(30);
    CHECK_OK(pgqrs_run_cancel(store, id, NULL), store);
    RUN_GET(ri, id);
    CHECK_STR("CANCELLED", ri->status);
    CHECK(ri->cancel_reason == NULL);
    CHECK_I64(T0 + 30 * SEC, ri->cancelled_at_us);
    at(61);
    {
        int ex = 0;
        CHECK_OK(pgqrs_workflow_worker_run_once(&ex, w), w);
    }
    CHECK_I64(1, c.calls);   /* not woken up */
    CHECK_I64(0, c.n[1]);
    CHECK_STATUS("CANCELLED", id);
    CHECK_QUEUE("workflow:nap", 0, 0, 0);
}

static pgqrs_status zero_sleep(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    (void)input;
    c->calls++;
    c->got[0] = pgqrs_run_sleep(run, "z", 0);
    c->got[1] = pgqrs_run_sleep(run, "neg", -1);
    *output = NULL;
    return c->got[0];
}

static void test_sleep__zero_does_not_suspend(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    int64_t id = 0;
    SETUP();
    DEFINE("zero", zero_sleep, &c, NULL);
    WORKER(w, "zero");
    TRIGGER("zero", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_I64(PGQRS_OK, c.got[0]);
    CHECK_I64(PGQRS_EINVAL, c.got[1]);
    CHECK_STATUS("SUCCESS", id);
}

/* ---- Triggering and definitions -------------------------------------------------- */

static void test_trigger__idempotency_key(void)
{
    ctx c = { 0 };
    pgqrs_trigger_options to = PGQRS_TRIGGER_OPTIONS_INIT;
    pgqrs_run_info *ri;
    int64_t a = 0, b = 0, d = 0;
    int created = -1;
    SETUP();
    DEFINE("idem", two_steps, &c, NULL);
    to.idempotency_key = "order-7";
    CHECK_OK(pgqrs_workflow_trigger(&a, &created, store, "idem", "{\"v\":1}", &to), store);
    CHECK(a > 0);
    CHECK_I64(1, created);
    CHECK_OK(pgqrs_workflow_trigger(&b, &created, store, "idem", "{\"v\":2}", &to), store);
    CHECK_I64(a, b);
    CHECK_I64(0, created);
    CHECK_QUEUE("workflow:idem", 1, 0, 0);
    RUN_GET(ri, a);
    CHECK_STR("order-7", ri->idempotency_key);
    CHECK_JSON("{\"v\":1}", ri->input);   /* the first trigger's input stands */

    to.idempotency_key = "order-8";
    CHECK_OK(pgqrs_workflow_trigger(&d, &created, store, "idem", "{\"v\":3}", &to), store);
    CHECK(d > 0 && d != a);
    CHECK_I64(1, created);
    CHECK_QUEUE("workflow:idem", 2, 0, 0);
    /* no key: always a new run */
    CHECK_OK(pgqrs_workflow_trigger(&b, &created, store, "idem", NULL, NULL), store);
    CHECK_I64(1, created);
    CHECK(b != a && b != d);
    CHECK_OK(pgqrs_workflow_trigger(&d, &created, store, "idem", NULL, NULL), store);
    CHECK_I64(1, created);
    CHECK_QUEUE("workflow:idem", 4, 0, 0);
}

static void test_trigger__same_key_in_two_workflows(void)
{
    ctx c = { 0 };
    pgqrs_trigger_options to = PGQRS_TRIGGER_OPTIONS_INIT;
    int64_t a = 0, b = 0;
    int created = -1;
    SETUP();
    DEFINE("w1", two_steps, &c, NULL);
    DEFINE("w2", two_steps, &c, NULL);
    to.idempotency_key = "k";
    CHECK_OK(pgqrs_workflow_trigger(&a, &created, store, "w1", NULL, &to), store);
    CHECK_I64(1, created);
    CHECK_OK(pgqrs_workflow_trigger(&b, &created, store, "w2", NULL, &to), store);
    CHECK_I64(1, created);
    CHECK(a != b);
}

static void test_define__twice_is_idempotent(void)
{
    ctx c = { 0 };
    pgqrs_workflow_options o = wf_opts();
    pgqrs_workflows *l1 = NULL, *l2 = NULL;
    pgqrs_queue_info *qi = NULL;
    json_t *j;
    int64_t wf_id;
    SETUP();
    DEFINE("dup", two_steps, &c, NULL);
    CHECK_OK(pgqrs_workflow_list(&l1, store), store);
    defer(free_wf_list, l1);
    CHECK_I64(1, pgqrs_workflows_count(l1));
    CHECK_STR("dup", pgqrs_workflows_at(l1, 0)->name);
    wf_id = pgqrs_workflows_at(l1, 0)->id;
    CHECK(wf_id > 0);
    CHECK_OK(pgqrs_queue_get(&qi, store, "workflow:dup"), store);
    defer(free_queue_info, qi);
    CHECK_I64(qi->id, pgqrs_workflows_at(l1, 0)->queue_id);
    CHECK(is_json(pgqrs_workflows_at(l1, 0)->retry_policy));

    o.retry.max_attempts = 5;
    DEFINE("dup", two_steps, &c, &o);
    CHECK_OK(pgqrs_workflow_list(&l2, store), store);
    defer(free_wf_list, l2);
    CHECK_I64(1, pgqrs_workflows_count(l2));
    CHECK_I64(wf_id, pgqrs_workflows_at(l2, 0)->id);
    CHECK_I64(qi->id, pgqrs_workflows_at(l2, 0)->queue_id);
    j = json_loads(pgqrs_workflows_at(l2, 0)->retry_policy, 0, NULL);
    CHECK(j != NULL);
    CHECK_I64(5, json_integer_value(json_object_get(j, "max_attempts")));
    json_decref(j);
}

/* pgqrs_queue_delete: "always refused while a workflow uses it" (PGQRS_ESTATE). */
static void test_define__queue_delete_refused_while_used(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_queue_info *qi = NULL;
    pgqrs_status st;
    int64_t id = 0;
    SETUP();
    DEFINE("used", two_steps, &c, NULL);
    TRIGGER("used", NULL, &id);
    st = pgqrs_queue_delete(store, "workflow:used", 1);
    CHECK_MSG(st != PGQRS_OK, "the queue of a workflow was deleted");
    /* nothing changed: the queue, its message and the run are intact */
    CHECK_OK(pgqrs_queue_get(&qi, store, "workflow:used"), store);
    defer(free_queue_info, qi);
    CHECK_QUEUE("workflow:used", 1, 0, 0);
    CHECK_ST(PGQRS_ESTATE, pgqrs_queue_delete(store, "workflow:used", 1), store);
    CHECK_ST(PGQRS_ESTATE, pgqrs_queue_delete(store, "workflow:used", 0), store);
    WORKER(w, "used");
    RUN_ONCE(w, 1);
    CHECK_STATUS("SUCCESS", id);
    CHECK_ST(PGQRS_ESTATE, pgqrs_queue_delete(store, "workflow:used", 0), store);
}

static void test_trigger__unknown_and_invalid(void)
{
    ctx c = { 0 };
    pgqrs_run_filter f = PGQRS_RUN_FILTER_INIT;
    pgqrs_workflow_worker *w = NULL;
    pgqrs_status st;
    int64_t id = 77;
    int created = 77;
    SETUP();
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_workflow_trigger(&id, &created, store, "nope", NULL, NULL), store);
    CHECK_I64(0, id);
    CHECK_I64(0, created);
    /* a worker needs the workflow defined in this store */
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_workflow_worker_new(&w, store, "nope"), store);
    CHECK(w == NULL);
    DEFINE("strict", two_steps, &c, NULL);
    static const char *const bad[] = { "", "{", "{'a': 1}", "[1,]", "{\"a\":1} x", "nan" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_ST(PGQRS_EINVAL, pgqrs_workflow_trigger(&id, NULL, store, "strict", bad[i], NULL), store);
    CHECK_I64(0, count_runs(&f, &st));
    CHECK_I64(PGQRS_OK, st);
    CHECK_QUEUE("workflow:strict", 0, 0, 0);
    /* names */
    CHECK_ST(PGQRS_EINVAL, pgqrs_workflow_define(store, "", two_steps, &c, NULL), store);
    CHECK_ST(PGQRS_EINVAL, pgqrs_workflow_trigger(&id, NULL, store, "", NULL, NULL), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_workflow_define(store, "nofn", NULL, &c, NULL), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_workflow_define(NULL, "x", two_steps, &c, NULL), NULL);
}

/* "Names follow queue names' rules (1 to 119 bytes)": the queue name adds "workflow:" (9). */
static void test_define__name_length_limit(void)
{
    ctx c = { 0 };
    char name[200];
    SETUP();
    memset(name, 'x', sizeof name);
    name[119] = 0;
    CHECK_OK(pgqrs_workflow_define(store, name, two_steps, &c, NULL), store);
    CHECK_OK(pgqrs_workflow_trigger(NULL, NULL, store, name, NULL, NULL), store);
    name[119] = 'x';
    name[150] = 0;
    CHECK_ST(PGQRS_EINVAL, pgqrs_workflow_define(store, name, two_steps, &c, NULL), store);
    name[120] = 0;
    CHECK_ST(PGQRS_EINVAL, pgqrs_workflow_define(store, name, two_steps, &c, NULL), store);
}

/* ---- Finished runs ------------------------------------------------------------------ */

static void test_finished__no_further_transitions(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri = NULL;
    int64_t id = 0;
    SETUP();
    DEFINE("greet", two_steps, &c, NULL);
    WORKER(w, "greet");
    TRIGGER("greet", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_OK(pgqrs_run_wait(&ri, store, id, 5000), store);
    CHECK(ri != NULL);
    defer(free_run_info, ri);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_I64(id, ri->id);
    RUN_ONCE(w, 0);
    at(100000);
    RUN_ONCE(w, 0);
    CHECK_I64(1, c.calls);
    CHECK_ST(PGQRS_ESTATE, pgqrs_run_cancel(store, id, NULL), store);
    CHECK_STATUS("SUCCESS", id);
}

static void test_wait__timeout(void)
{
    ctx c = { 0 };
    pgqrs_run_info *ri = (pgqrs_run_info *)&c;   /* must come back NULL */
    int64_t id = 0;
    SETUP();
    DEFINE("greet", two_steps, &c, NULL);
    TRIGGER("greet", NULL, &id);
    CHECK_ST(PGQRS_ETIMEOUT, pgqrs_run_wait(&ri, store, id, 60), store);
    CHECK(ri == NULL);
    ri = (pgqrs_run_info *)&c;
    CHECK_ST(PGQRS_ETIMEOUT, pgqrs_run_wait(&ri, store, id, 0), store);
    CHECK(ri == NULL);
    /* cancelled: wait returns the final state at once */
    CHECK_OK(pgqrs_run_cancel(store, id, NULL), store);
    CHECK_OK(pgqrs_run_wait(&ri, store, id, 0), store);
    CHECK(ri != NULL);
    defer(free_run_info, ri);
    CHECK_STR("CANCELLED", ri->status);
}

/* ---- Listings ----------------------------------------------------------------------- */

static void test_list__runs_filters(void)
{
    ctx c = { 0 };
    pgqrs_run_filter f = PGQRS_RUN_FILTER_INIT;
    pgqrs_runs *l = NULL;
    pgqrs_status st;
    int64_t r1 = 0, r2 = 0, r3 = 0, r4 = 0;
    SETUP();
    DEFINE("wa", two_steps, &c, NULL);
    DEFINE("wb", two_steps, &c, NULL);
    TRIGGER("wa", NULL, &r1);
    at(10);
    TRIGGER("wa", NULL, &r2);
    TRIGGER("wb", NULL, &r3);
    at(20);
    TRIGGER("wb", NULL, &r4);
    CHECK_OK(pgqrs_run_cancel(store, r2, NULL), store);

    CHECK_OK(pgqrs_run_list(&l, store, NULL), store);
    defer(free_run_list, l);
    CHECK_I64(4, pgqrs_runs_count(l));
    CHECK_I64(r4, pgqrs_runs_at(l, 0)->id);   /* newest first */
    CHECK_I64(r3, pgqrs_runs_at(l, 1)->id);
    CHECK_I64(r2, pgqrs_runs_at(l, 2)->id);
    CHECK_I64(r1, pgqrs_runs_at(l, 3)->id);
    CHECK(pgqrs_runs_at(l, 4) == NULL);

    f.workflow = "wa";
    CHECK_OK(pgqrs_run_list(&l, store, &f), store);
    defer(free_run_list, l);
    CHECK_I64(2, pgqrs_runs_count(l));
    CHECK_I64(r2, pgqrs_runs_at(l, 0)->id);
    CHECK_I64(r1, pgqrs_runs_at(l, 1)->id);

    f.workflow = NULL;
    f.status = "CANCELLED";
    CHECK_OK(pgqrs_run_list(&l, store, &f), store);
    defer(free_run_list, l);
    CHECK_I64(1, pgqrs_runs_count(l));
    CHECK_I64(r2, pgqrs_runs_at(l, 0)->id);
    CHECK_STR("CANCELLED", pgqrs_runs_at(l, 0)->status);
    f.status = "PENDING";
    CHECK_I64(3, count_runs(&f, &st));
    CHECK_I64(PGQRS_OK, st);
    f.status = "SUCCESS";
    CHECK_I64(0, count_runs(&f, &st));
    CHECK_I64(PGQRS_OK, st);

    f.status = NULL;
    f.since_us = T0 + 10 * SEC;
    CHECK_I64(3, count_runs(&f, &st));
    CHECK_I64(PGQRS_OK, st);
    f.since_us = T0 + 15 * SEC;
    CHECK_OK(pgqrs_run_list(&l, store, &f), store);
    defer(free_run_list, l);
    CHECK_I64(1, pgqrs_runs_count(l));
    CHECK_I64(r4, pgqrs_runs_at(l, 0)->id);

    f.since_us = 0;
    f.limit = 2;
    CHECK_OK(pgqrs_run_list(&l, store, &f), store);
    defer(free_run_list, l);
    CHECK_I64(2, pgqrs_runs_count(l));
    CHECK_I64(r4, pgqrs_runs_at(l, 0)->id);
    CHECK_I64(r3, pgqrs_runs_at(l, 1)->id);

    /* combined */
    f.limit = 0;
    f.workflow = "wb";
    f.status = "PENDING";
    f.since_us = T0 + 5 * SEC;
    CHECK_I64(2, count_runs(&f, &st));
    f.workflow = "wa";
    CHECK_I64(0, count_runs(&f, &st));
    CHECK_I64(PGQRS_OK, st);

    /* bad filters */
    f = (pgqrs_run_filter)PGQRS_RUN_FILTER_INIT;
    f.workflow = "nope";
    count_runs(&f, &st);
    CHECK_I64(PGQRS_ENOTFOUND, st);
    f = (pgqrs_run_filter)PGQRS_RUN_FILTER_INIT;
    f.status = "BOGUS";
    count_runs(&f, &st);
    CHECK_I64(PGQRS_EINVAL, st);
    f = (pgqrs_run_filter)PGQRS_RUN_FILTER_INIT;
    f.limit = 10001;
    count_runs(&f, &st);
    CHECK_I64(PGQRS_EINVAL, st);
    f.limit = -1;
    count_runs(&f, &st);
    CHECK_I64(PGQRS_EINVAL, st);
    f.limit = 10000;
    CHECK_I64(4, count_runs(&f, &st));
    CHECK_I64(PGQRS_OK, st);
    f.version = 99;
    count_runs(&f, &st);
    CHECK_I64(PGQRS_EINVAL, st);
}

static void test_list__steps_of_unknown_run_is_empty(void)
{
    pgqrs_steps *sl;
    SETUP();
    STEPS(sl, 12345);
    CHECK_I64(0, pgqrs_steps_count(sl));
    CHECK(pgqrs_steps_at(sl, 0) == NULL);
}

/* ---- Retry delays ------------------------------------------------------------------- */

static void test_retry_delay__exact_capped_no_overflow(void)
{
    pgqrs_retry_policy p = { 0, 1000, 2.0, 0, -1 };
    pgqrs_retry_policy huge = { 0, 1000, 10.0, INT64_MAX, -1 };
    pgqrs_retry_policy big_initial = { 0, INT64_MAX / 2, 3.0, INT64_MAX, -1 };
    pgqrs_retry_policy flat = { 0, 1500, 1.0, 0, -1 };
    pgqrs_retry_policy dflt = { 0, 0, 0, 0, 0 };
    CHECK_I64(1000, pgqrs_retry_delay_ms(&p, 1));
    CHECK_I64(2000, pgqrs_retry_delay_ms(&p, 2));
    CHECK_I64(4000, pgqrs_retry_delay_ms(&p, 3));
    CHECK_I64(256000, pgqrs_retry_delay_ms(&p, 9));
    CHECK_I64(300000, pgqrs_retry_delay_ms(&p, 10));   /* 512 s, capped at the default 300 s */
    CHECK_I64(300000, pgqrs_retry_delay_ms(&p, 1000));
    CHECK_I64(300000, pgqrs_retry_delay_ms(&p, INT_MAX));
    p.max_delay_ms = 5000;
    CHECK_I64(1000, pgqrs_retry_delay_ms(&p, 1));
    CHECK_I64(4000, pgqrs_retry_delay_ms(&p, 3));
    CHECK_I64(5000, pgqrs_retry_delay_ms(&p, 4));
    CHECK_I64(5000, pgqrs_retry_delay_ms(&p, 1000));
    CHECK_I64(5000, pgqrs_retry_delay_ms(&p, INT_MAX));
    /* retry 0 or negative: never below the first delay's floor, never negative */
    CHECK(pgqrs_retry_delay_ms(&p, 0) >= 1);
    CHECK(pgqrs_retry_delay_ms(&p, -5) >= 1);
    CHECK_I64(1500, pgqrs_retry_delay_ms(&flat, 1));
    CHECK_I64(1500, pgqrs_retry_delay_ms(&flat, INT_MAX));
    /* defaults (NULL or zeros): 1 s doubling, capped at 300 s, jitter 25 % down */
    for (int i = 0; i < 200; i++) {
        static const int retries[] = { 1, 2, 10, 1000, INT_MAX };
        static const int64_t full[] = { 1000, 2000, 300000, 300000, 300000 };
        for (size_t k = 0; k < 5; k++) {
            int64_t d1 = pgqrs_retry_delay_ms(NULL, retries[k]);
            int64_t d2 = pgqrs_retry_delay_ms(&dflt, retries[k]);
            CHECK_MSG(d1 >= full[k] * 3 / 4 && d1 <= full[k], "retry %d: %" PRId64 " not in [%" PRId64 ", %" PRId64 "]",
                      retries[k], d1, full[k] * 3 / 4, full[k]);
            CHECK_MSG(d2 >= full[k] * 3 / 4 && d2 <= full[k], "retry %d: %" PRId64, retries[k], d2);
        }
    }
    /* a cap near INT64_MAX: large but never negative (no overflow) */
    for (int r = 1; r <= 40; r++) {
        int64_t d = pgqrs_retry_delay_ms(&huge, r);
        CHECK_MSG(d >= 1000, "huge cap, retry %d: %" PRId64, r, d);
    }
    CHECK_MSG(pgqrs_retry_delay_ms(&huge, INT_MAX) > 0, "huge cap, INT_MAX: %" PRId64,
              pgqrs_retry_delay_ms(&huge, INT_MAX));
    CHECK_MSG(pgqrs_retry_delay_ms(&big_initial, 1) > 0, "big initial: %" PRId64,
              pgqrs_retry_delay_ms(&big_initial, 1));
    CHECK_MSG(pgqrs_retry_delay_ms(&big_initial, INT_MAX) > 0, "big initial, INT_MAX: %" PRId64,
              pgqrs_retry_delay_ms(&big_initial, INT_MAX));
}

/* ---- Crash limit ---------------------------------------------------------------------- */

static void test_crash__delivered_too_often_ends_in_error(void)
{
    ctx c = { 0 };
    pgqrs_workflow_options o = wf_opts();
    pgqrs_workflow_worker *w;
    pgqrs_consumer *k;
    pgqrs_batch *b;
    pgqrs_run_info *ri;
    int64_t id = 0;
    o.max_deliveries = 2;
    o.vt_seconds = 10;
    SETUP();
    DEFINE("loop", two_steps, &c, &o);
    TRIGGER("loop", NULL, &id);
    /* three deliveries that never finish (a worker that died each time) */
    CHECK_OK(pgqrs_consumer_new(&k, store, "workflow:loop"), store);
    defer(free_consumer, k);
    for (int i = 0; i < 3; i++) {
        at(11 * i);
        b = NULL;
        CHECK_OK(pgqrs_dequeue(&b, k, 1, 10), k);
        defer(free_batch, b);
        CHECK_I64(1, pgqrs_batch_count(b));
        CHECK_I64(i + 1, pgqrs_batch_at(b, 0)->read_count);
    }
    at(40);
    WORKER(w, "loop");
    {
        int ex = 0;
        CHECK_OK(pgqrs_workflow_worker_run_once(&ex, w), w);
    }
    CHECK_I64(0, c.calls);   /* the handler is not called again */
    RUN_GET(ri, id);
    if (strcmp(ri->status, "ERROR") != 0) {
        mx m;
        metrics_of("workflow:loop", &m);
        fprintf(stderr, "    run %s; its queue: %" PRId64 " pending, %" PRId64 " in flight, %" PRId64
                " delayed, %" PRId64 " archived\n", ri->status, m.pending, m.in_flight, m.delayed, m.archived);
    }
    CHECK_STR("ERROR", ri->status);
    CHECK(is_json(ri->error));
    CHECK_MSG(ri->error && strstr(ri->error, "crash"), "error: %s", ri->error ? ri->error : "(null)");
    CHECK_QUEUE("workflow:loop", 0, 0, 0);
    at(100000);
    RUN_ONCE(w, 0);
    CHECK_I64(0, c.calls);
}

static void test_crash__deliveries_within_limit_still_run(void)
{
    ctx c = { 0 };
    pgqrs_workflow_options o = wf_opts();
    pgqrs_workflow_worker *w;
    pgqrs_consumer *k;
    pgqrs_batch *b;
    int64_t id = 0;
    o.max_deliveries = 2;
    o.vt_seconds = 10;
    SETUP();
    DEFINE("loop", two_steps, &c, &o);
    TRIGGER("loop", NULL, &id);
    CHECK_OK(pgqrs_consumer_new(&k, store, "workflow:loop"), store);
    defer(free_consumer, k);
    b = NULL;
    CHECK_OK(pgqrs_dequeue(&b, k, 1, 10), k);
    defer(free_batch, b);
    CHECK_I64(1, pgqrs_batch_count(b));
    at(11);
    WORKER(w, "loop");
    RUN_ONCE(w, 1);   /* the second delivery: within the limit */
    CHECK_I64(1, c.calls);
    CHECK_STATUS("SUCCESS", id);
}

static pgqrs_status three_naps(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    pgqrs_status st;
    static const char *const naps[] = { "nap1", "nap2", "nap3" };
    (void)input;
    c->calls++;
    for (int i = 0; i < 3; i++)
        if ((st = pgqrs_run_sleep(run, naps[i], 10)) != PGQRS_OK)
            return st;
    if ((st = pgqrs_run_step(NULL, run, "end", step2, c, NULL)) != PGQRS_OK)
        return st;
    *output = pgqrs_strdup("\"rested\"");
    return PGQRS_OK;
}

static void test_crash__sleeps_do_not_count(void)
{
    ctx c = { 0 };
    pgqrs_workflow_options o = wf_opts();
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    o.max_deliveries = 2;
    SETUP();
    DEFINE("naps", three_naps, &c, &o);
    WORKER(w, "naps");
    TRIGGER("naps", NULL, &id);
    for (int i = 0; i < 4; i++) {
        at(10 * i);
        RUN_ONCE(w, 1);
        if (i < 3) {
            RUN_GET(ri, id);
            CHECK_STR("PENDING", ri->status);
            CHECK_I64(T0 + 10 * (i + 1) * SEC, ri->retry_at_us);
        }
    }
    CHECK_I64(4, c.calls);
    CHECK_I64(1, c.n[2]);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_JSON("\"rested\"", ri->output);
}

static pgqrs_status fail_twice_then_ok(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    (void)input;
    c->calls++;
    if (pgqrs_run_attempt(run) < 3)
        return PGQRS_ERROR;
    *output = pgqrs_strdup("3");
    return PGQRS_OK;
}

static void test_crash__retries_do_not_count(void)
{
    ctx c = { 0 };
    pgqrs_workflow_options o = wf_opts();
    pgqrs_workflow_worker *w;
    int64_t id = 0;
    o.max_deliveries = 2;
    o.retry.max_attempts = 5;
    o.retry.initial_delay_ms = 1000;
    o.retry.jitter = -1;
    SETUP();
    DEFINE("retries", fail_twice_then_ok, &c, &o);
    WORKER(w, "retries");
    TRIGGER("retries", NULL, &id);
    for (int i = 0; i < 3; i++) {
        at(100 * i);
        RUN_ONCE(w, 1);
    }
    CHECK_I64(3, c.calls);
    CHECK_STATUS("SUCCESS", id);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "run__lifecycle", test_run__lifecycle },
        { "run__null_input_and_null_output", test_run__null_input_and_null_output },
        { "replay__completed_steps_run_once", test_replay__completed_steps_run_once },
        { "replay__same_step_id_in_one_execution", test_replay__same_step_id_in_one_execution },
        { "retry__step_failure_honours_schedule", test_retry__step_failure_honours_schedule },
        { "retry__step_exhaustion_ends_in_error", test_retry__step_exhaustion_ends_in_error },
        { "retry__step_max_attempts_1_library_error_json", test_retry__step_max_attempts_1_library_error_json },
        { "retry__non_retryable_fails_at_once", test_retry__non_retryable_fails_at_once },
        { "retry__workflow_policy_honoured", test_retry__workflow_policy_honoured },
        { "retry__default_workflow_policy_is_3_attempts", test_retry__default_workflow_policy_is_3_attempts },
        { "poll__handler_errors_never_end_the_loop", test_poll__handler_errors_never_end_the_loop },
        { "poll__idle_timeout_and_interrupt", test_poll__idle_timeout_and_interrupt },
        { "cancel__pending_run", test_cancel__pending_run },
        { "cancel__running_run_stops_at_next_step", test_cancel__running_run_stops_at_next_step },
        { "cancel__finished_and_unknown", test_cancel__finished_and_unknown },
        { "takeover__live_step_is_busy", test_takeover__live_step_is_busy },
        { "takeover__expired_step_lease", test_takeover__expired_step_lease },
        { "output__invalid_json_rejected", test_output__invalid_json_rejected },
        { "output__invalid_run_output_is_error", test_output__invalid_run_output_is_error },
        { "sleep__survives_reopen", test_sleep__survives_reopen },
        { "sleep__cancel_while_sleeping", test_sleep__cancel_while_sleeping },
        { "sleep__zero_does_not_suspend", test_sleep__zero_does_not_suspend },
        { "trigger__idempotency_key", test_trigger__idempotency_key },
        { "trigger__same_key_in_two_workflows", test_trigger__same_key_in_two_workflows },
        { "define__twice_is_idempotent", test_define__twice_is_idempotent },
        { "define__queue_delete_refused_while_used", test_define__queue_delete_refused_while_used },
        { "define__name_length_limit", test_define__name_length_limit },
        { "trigger__unknown_and_invalid", test_trigger__unknown_and_invalid },
        { "finished__no_further_transitions", test_finished__no_further_transitions },
        { "wait__timeout", test_wait__timeout },
        { "list__runs_filters", test_list__runs_filters },
        { "list__steps_of_unknown_run_is_empty", test_list__steps_of_unknown_run_is_empty },
        { "retry_delay__exact_capped_no_overflow", test_retry_delay__exact_capped_no_overflow },
        { "crash__delivered_too_often_ends_in_error", test_crash__delivered_too_often_ends_in_error },
        { "crash__deliveries_within_limit_still_run", test_crash__deliveries_within_limit_still_run },
        { "crash__sleeps_do_not_count", test_crash__sleeps_do_not_count },
        { "crash__retries_do_not_count", test_crash__retries_do_not_count },
    };
    int rc = th_main(argc, argv, "test_workflow", tests, sizeof tests / sizeof *tests);
    cleanup();
    return rc;
}
