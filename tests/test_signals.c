/* test_signals.c: workflows that talk (issue 19): workflow delete, messages
 * sent to runs (pgqrs_run_send / pgqrs_run_recv), events, child runs, and the
 * crash cases: a worker killed (SIGKILL) while its run waits in recv, after recv
 * consumed a message, and between an event's commit and the next step. One
 * source for every backend (PGQRS_TEST_BACKEND); each test gets a fresh store on
 * a fixed clock (pgqrs_store_set_time). The crash tests fork worker processes
 * and SKIP on sqlite::memory:, which another process cannot open. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
        fprintf(stderr, "test_signals: defer stack full\n");
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
static void free_worker(void *p) { pgqrs_workflow_worker_free(p); }
static void free_run_info(void *p) { pgqrs_run_info_free(p); }
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

static void free_str(void *p) { pgqrs_free(p); }
static void free_events(void *p) { pgqrs_events_free(p); }

/* ---- Handlers ------------------------------------------------------------------- */

typedef struct ctx {
    int calls;                   /* handler invocations */
    int before;                  /* executions of the step before the wait */
    int after;                   /* executions of the step after it */
    int recvs;                   /* how many messages the handler takes (default 1) */
    int64_t timeout_ms;          /* of each recv (default 60 s) */
    pgqrs_status got[8];         /* what the last recv / await / set_event returned, per call */
    int fail_after;              /* the first attempt fails after its recvs (a replay follows) */
    const char *child_wf;        /* parent: the child's workflow */
    int64_t child_id;            /* parent: the child it started */
    int child_fails;             /* child: fail without retries */
} ctx;

static pgqrs_status count_before(pgqrs_run *r, char **out, void *u)
{
    (void)r;
    ((ctx *)u)->before++;
    *out = pgqrs_strdup("{\"before\":true}");
    return PGQRS_OK;
}
static pgqrs_status count_after(pgqrs_run *r, char **out, void *u)
{
    (void)r;
    ((ctx *)u)->after++;
    *out = pgqrs_strdup("{\"after\":true}");
    return PGQRS_OK;
}

/* step "before", then c->recvs recvs on topic "t" (steps r0, r1, ...), then step
 * "after"; output {"got":[messages...]} or {"timeout":true}. */
static pgqrs_status receiver(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    char buf[4096] = "{\"got\":[";
    pgqrs_status st;
    int n = c->recvs ? c->recvs : 1;
    (void)input;
    c->calls++;
    if ((st = pgqrs_run_step(NULL, run, "before", count_before, c, NULL)) != PGQRS_OK)
        return st;
    for (int i = 0; i < n; i++) {
        char step[16], *m = NULL;
        snprintf(step, sizeof step, "r%d", i);
        st = c->got[i] = pgqrs_run_recv(&m, run, step, "t", c->timeout_ms ? c->timeout_ms : 60000);
        if (st == PGQRS_ETIMEOUT) {
            *output = pgqrs_strdup("{\"timeout\":true}");
            return PGQRS_OK;
        }
        if (st != PGQRS_OK)
            return st;
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "", m);
        pgqrs_free(m);
    }
    if (c->fail_after && pgqrs_run_attempt(run) == 1)
        return PGQRS_ERROR;   /* retried: the second attempt replays the recvs */
    if ((st = pgqrs_run_step(NULL, run, "after", count_after, c, NULL)) != PGQRS_OK)
        return st;
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "]}");
    *output = pgqrs_strdup(buf);
    return PGQRS_OK;
}

static pgqrs_workflow_options fast_retry(void)
{
    pgqrs_workflow_options o = PGQRS_WORKFLOW_OPTIONS_INIT;
    o.retry.initial_delay_ms = 1000;
    o.retry.jitter = -1;
    return o;
}

/* ---- Workflow delete -------------------------------------------------------------- */

static void test_delete__refused_in_flight_then_forced(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri = NULL;
    pgqrs_queue_info *qi = NULL;
    pgqrs_workflows *wl = NULL;
    pgqrs_steps *sl = NULL;
    int64_t id = 0;
    SETUP();
    DEFINE("del", receiver, &c, NULL);
    WORKER(w, "del");
    TRIGGER("del", NULL, &id);
    CHECK_OK(pgqrs_run_send(store, id, "t", "{\"x\":1}"), store);
    c.recvs = 2;
    RUN_ONCE(w, 1);   /* one message taken, the run waits for the second */
    CHECK_STATUS("PENDING", id);
    CHECK_ST(PGQRS_ESTATE, pgqrs_workflow_delete(store, "del", 0), store);
    CHECK(strstr(pgqrs_errmsg(store), "in flight") != NULL);
    /* nothing changed */
    RUN_GET(ri, id);
    CHECK_OK(pgqrs_queue_get(&qi, store, "workflow:del"), store);
    defer(free_queue_info, qi);
    CHECK_QUEUE("workflow:del", 0, 0, 1);
    release_now(w);
    CHECK_OK(pgqrs_workflow_delete(store, "del", 1), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_run_get(&ri, store, id), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_get(&qi, store, "workflow:del"), store);
    CHECK_OK(pgqrs_workflow_list(&wl, store), store);
    defer(free_wf_list, wl);
    CHECK_I64(0, pgqrs_workflows_count(wl));
    STEPS(sl, id);
    CHECK_I64(0, pgqrs_steps_count(sl));
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_workflow_delete(store, "del", 1), store);
    CHECK(strstr(pgqrs_errmsg(store), "does not exist") != NULL);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_run_send(store, id, "t", "1"), store);
    /* the name can be defined again, from scratch */
    DEFINE("del", receiver, &c, NULL);
    CHECK_QUEUE("workflow:del", 0, 0, 0);
}

static void test_delete__finished_runs_need_no_force(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri = NULL;
    int64_t id = 0;
    SETUP();
    DEFINE("done", receiver, &c, NULL);
    WORKER(w, "done");
    TRIGGER("done", NULL, &id);
    CHECK_OK(pgqrs_run_send(store, id, "t", "\"hi\""), store);
    RUN_ONCE(w, 1);
    CHECK_STATUS("SUCCESS", id);
    release_now(w);
    CHECK_OK(pgqrs_workflow_delete(store, "done", 0), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_run_get(&ri, store, id), store);
    CHECK_ST(PGQRS_EINVAL, pgqrs_workflow_delete(store, "", 0), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_workflow_delete(NULL, "done", 0), NULL);
}

static void test_delete__queue_delete_points_to_workflow_delete(void)
{
    ctx c = { 0 };
    SETUP();
    DEFINE("wq", receiver, &c, NULL);
    CHECK_ST(PGQRS_ESTATE, pgqrs_queue_delete(store, "workflow:wq", 1), store);
    CHECK_MSG(strstr(pgqrs_errmsg(store), "pgqrs workflow delete wq") != NULL, "message: %s", pgqrs_errmsg(store));
}

static void test_delete__scheduled_workflow_names_its_schedule(void)
{
    ctx c = { 0 };
    pgqrs_schedule_options o = PGQRS_SCHEDULE_OPTIONS_INIT;
    SETUP();
    DEFINE("sched", receiver, &c, NULL);
    o.cron = "@hourly";
    o.workflow = "sched";
    CHECK_OK(pgqrs_schedule_create(NULL, store, "nightly", &o), store);
    CHECK_ST(PGQRS_ESTATE, pgqrs_workflow_delete(store, "sched", 1), store);
    CHECK_MSG(strstr(pgqrs_errmsg(store), "schedule 'nightly'") != NULL, "message: %s", pgqrs_errmsg(store));
    CHECK_OK(pgqrs_schedule_delete(store, "nightly"), store);
    CHECK_OK(pgqrs_workflow_delete(store, "sched", 0), store);
}

/* ---- send / recv ---------------------------------------------------------------- */

static void test_recv__message_sent_before_the_run_starts(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    DEFINE("rx", receiver, &c, NULL);
    WORKER(w, "rx");
    TRIGGER("rx", NULL, &id);
    CHECK_OK(pgqrs_run_send(store, id, "t", "{\"n\":1}"), store);
    RUN_ONCE(w, 1);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_JSON("{\"got\":[{\"n\":1}]}", ri->output);
    CHECK_I64(1, c.calls);
}

static void test_recv__suspends_frees_the_worker_and_wakes_on_send(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    pgqrs_steps *sl;
    int64_t id = 0;
    SETUP();
    DEFINE("wake", receiver, &c, NULL);
    WORKER(w, "wake");
    TRIGGER("wake", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_I64(PGQRS_ESUSPENDED, c.got[0]);
    RUN_GET(ri, id);
    CHECK_STR("PENDING", ri->status);
    CHECK_I64(T0 + 60 * SEC, ri->retry_at_us);   /* the deadline */
    CHECK_QUEUE("workflow:wake", 0, 0, 1);       /* no worker holds it */
    RUN_ONCE(w, 0);                              /* nothing to do */
    CHECK_OK(pgqrs_run_send(store, id, "t", "[1,2]"), store);
    CHECK_QUEUE("workflow:wake", 1, 0, 0);       /* woken at once */
    RUN_ONCE(w, 1);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_JSON("{\"got\":[[1,2]]}", ri->output);
    CHECK_I64(2, c.calls);
    CHECK_I64(1, c.before);   /* replayed, not executed again */
    CHECK_I64(1, c.after);
    STEPS(sl, id);
    CHECK(find_step(sl, "r0") != NULL);
    CHECK_STR("SUCCESS", find_step(sl, "r0")->status);
}

static void test_recv__exactly_once_in_order_and_replayed(void)
{
    ctx c = { 0 };
    pgqrs_workflow_options o = fast_retry();
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0, id2 = 0;
    SETUP();
    c.recvs = 2;
    c.fail_after = 1;
    DEFINE("order", receiver, &c, &o);
    WORKER(w, "order");
    TRIGGER("order", NULL, &id);
    TRIGGER("order", NULL, &id2);
    CHECK_OK(pgqrs_run_send(store, id, "t", "\"m1\""), store);
    CHECK_OK(pgqrs_run_send(store, id, "u", "\"other topic\""), store);
    CHECK_OK(pgqrs_run_send(store, id, "t", "\"m2\""), store);
    CHECK_OK(pgqrs_run_send(store, id, "t", "\"m3\""), store);
    CHECK_OK(pgqrs_run_send(store, id2, "t", "\"for run 2\""), store);
    RUN_ONCE(w, 1);   /* run 1 takes m1 and m2, then fails: retried in 1 s */
    CHECK_STATUS("PENDING", id);
    at(2);
    RUN_ONCE(w, 1);   /* run 2 (older message first) or run 1: either order */
    RUN_ONCE(w, 1);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_JSON("{\"got\":[\"m1\",\"m2\"]}", ri->output);   /* the replay returned the same ones */
    CHECK_I64(2, ri->attempts);
    release_now(ri);
    RUN_GET(ri, id2);
    CHECK_STR("PENDING", ri->status);   /* waits for its second message */
    CHECK_OK(pgqrs_run_send(store, id2, "t", "\"again\""), store);
    RUN_ONCE(w, 1);   /* its second attempt (the first was suspended) succeeds */
    CHECK_STATUS("SUCCESS", id2);
    release_now(ri);
    RUN_GET(ri, id2);
    CHECK_JSON("{\"got\":[\"for run 2\",\"again\"]}", ri->output);
}

static void test_recv__timeout_is_recorded(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    c.timeout_ms = 10000;
    DEFINE("late", receiver, &c, NULL);
    WORKER(w, "late");
    TRIGGER("late", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_I64(PGQRS_ESUSPENDED, c.got[0]);
    at(5);
    RUN_ONCE(w, 0);   /* not due */
    at(11);
    RUN_ONCE(w, 1);
    CHECK_I64(PGQRS_ETIMEOUT, c.got[0]);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_JSON("{\"timeout\":true}", ri->output);
    /* a finished run takes no messages */
    CHECK_ST(PGQRS_ESTATE, pgqrs_run_send(store, id, "t", "1"), store);
    CHECK(strstr(pgqrs_errmsg(store), "SUCCESS") != NULL);
}

static void test_recv__timeout_counts_from_the_first_call(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    c.timeout_ms = 10000;
    c.recvs = 1;
    DEFINE("first", receiver, &c, NULL);
    WORKER(w, "first");
    TRIGGER("first", NULL, &id);
    RUN_ONCE(w, 1);
    /* a message on another topic wakes nothing; the deadline stays T0 + 10 s */
    CHECK_OK(pgqrs_run_send(store, id, "u", "1"), store);
    CHECK_QUEUE("workflow:first", 0, 0, 1);
    RUN_GET(ri, id);
    CHECK_I64(T0 + 10 * SEC, ri->retry_at_us);
    CHECK_I64(0, c.got[1]);
}

static void test_send__bad_input_writes_nothing(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri;
    int64_t id = 0;
    char *big, topic[258];
    SETUP();
    c.timeout_ms = 1;   /* 1 ms: anything sent before the run is received, else it times out */
    DEFINE("bad", receiver, &c, NULL);
    WORKER(w, "bad");
    TRIGGER("bad", NULL, &id);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_run_send(store, id + 1000, "t", "1"), store);
    CHECK(strstr(pgqrs_errmsg(store), "does not exist") != NULL);
    CHECK_ST(PGQRS_EINVAL, pgqrs_run_send(store, id, "t", "{not json"), store);
    CHECK_ST(PGQRS_EINVAL, pgqrs_run_send(store, id, "", "1"), store);
    memset(topic, 'x', 257);
    topic[257] = 0;
    CHECK_ST(PGQRS_EINVAL, pgqrs_run_send(store, id, topic, "1"), store);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_run_send(store, id, "t", NULL), store);
    big = malloc(PGQRS_MAX_SIGNAL_BYTES + 2);
    CHECK(big != NULL);
    defer(free, big);
    big[0] = '"';
    memset(big + 1, 'a', PGQRS_MAX_SIGNAL_BYTES - 1);
    big[PGQRS_MAX_SIGNAL_BYTES] = '"';
    big[PGQRS_MAX_SIGNAL_BYTES + 1] = 0;   /* valid JSON, one byte too large */
    CHECK_ST(PGQRS_EINVAL, pgqrs_run_send(store, id, "t", big), store);
    CHECK(strstr(pgqrs_errmsg(store), "PGQRS_MAX_SIGNAL_BYTES") != NULL);
    RUN_ONCE(w, 1);   /* nothing was written: the recv waits */
    at(1);
    RUN_ONCE(w, 1);
    RUN_GET(ri, id);
    CHECK_JSON("{\"timeout\":true}", ri->output);
}

/* recv outside a running handler, and its argument checks */
static pgqrs_status bad_recv(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    char *m = NULL;
    (void)input, (void)output;
    c->got[0] = pgqrs_run_recv(&m, run, "", "t", 0);
    c->got[1] = pgqrs_run_recv(&m, run, "s", "", 0);
    c->got[2] = pgqrs_run_recv(&m, run, "s", "t", -1);
    c->got[3] = pgqrs_run_set_event(run, "", "1");
    c->got[4] = pgqrs_run_set_event(run, "k", "nope");
    c->got[5] = pgqrs_run_start_child(NULL, run, "c", "no-such-workflow", NULL);
    c->got[6] = pgqrs_run_await_child(&m, run, "a", 987654, 0);
    *output = pgqrs_strdup("{}");
    return PGQRS_OK;
}

static void test_recv__bad_arguments(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    int64_t id = 0;
    SETUP();
    DEFINE("args", bad_recv, &c, NULL);
    WORKER(w, "args");
    TRIGGER("args", NULL, &id);
    RUN_ONCE(w, 1);
    CHECK_I64(PGQRS_EINVAL, c.got[0]);
    CHECK_I64(PGQRS_EINVAL, c.got[1]);
    CHECK_I64(PGQRS_EINVAL, c.got[2]);
    CHECK_I64(PGQRS_EINVAL, c.got[3]);
    CHECK_I64(PGQRS_EINVAL, c.got[4]);
    CHECK_I64(PGQRS_ENOTFOUND, c.got[5]);
    CHECK_I64(PGQRS_ENOTFOUND, c.got[6]);
    CHECK_STATUS("SUCCESS", id);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_run_recv(NULL, NULL, "s", "t", 0), NULL);
}

/* ---- Events ------------------------------------------------------------------------ */

/* sets "stage" to "a" then "b" (last write wins), "big" when asked, then waits
 * for a message (so the run stays alive), then sets "stage" to "done". */
static pgqrs_status publisher(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    pgqrs_status st;
    char *m = NULL;
    c->calls++;
    if ((st = pgqrs_run_set_event(run, "stage", "\"a\"")) != PGQRS_OK ||
        (st = pgqrs_run_set_event(run, "stage", "{\"b\":[1,2]}")) != PGQRS_OK)
        return st;
    if (input) {
        char *big = malloc(PGQRS_MAX_SIGNAL_BYTES + 2);
        if (!big)
            return PGQRS_ENOMEM;
        big[0] = '"';
        memset(big + 1, 'e', PGQRS_MAX_SIGNAL_BYTES - 1);
        big[PGQRS_MAX_SIGNAL_BYTES] = '"';
        big[PGQRS_MAX_SIGNAL_BYTES + 1] = 0;
        c->got[0] = pgqrs_run_set_event(run, "big", big);
        free(big);
    }
    if ((st = pgqrs_run_recv(&m, run, "go", "go", 60000)) != PGQRS_OK)
        return st;
    pgqrs_free(m);
    if ((st = pgqrs_run_set_event(run, "stage", "\"done\"")) != PGQRS_OK)
        return st;
    *output = pgqrs_strdup("{}");
    return PGQRS_OK;
}

static void test_event__last_write_wins_and_listing(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_events *el = NULL;
    char *v = NULL;
    int64_t id = 0;
    SETUP();
    DEFINE("pub", publisher, &c, NULL);
    WORKER(w, "pub");
    TRIGGER("pub", "{\"big\":true}", &id);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_event_get(&v, store, id, "stage", 0), store);
    RUN_ONCE(w, 1);
    CHECK_I64(PGQRS_EINVAL, c.got[0]);   /* oversize: refused, nothing written */
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_event_get(&v, store, id, "big", 0), store);
    CHECK_OK(pgqrs_event_get(&v, store, id, "stage", 0), store);
    defer(free_str, v);
    CHECK_JSON("{\"b\":[1,2]}", v);
    CHECK_OK(pgqrs_event_list(&el, store, id), store);
    defer(free_events, el);
    CHECK_I64(1, pgqrs_events_count(el));
    CHECK_STR("stage", pgqrs_events_at(el, 0)->key);
    CHECK_I64(T0, pgqrs_events_at(el, 0)->updated_at_us);
    CHECK(pgqrs_events_at(el, 1) == NULL);
    /* a key not set yet: a wait times out */
    CHECK_ST(PGQRS_ETIMEOUT, pgqrs_event_get(&v, store, id, "nope", 30), store);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_event_get(&v, store, id + 99, "stage", 30), store);
    CHECK_ST(PGQRS_EINVAL, pgqrs_event_get(&v, store, id, "", 0), store);
    CHECK_OK(pgqrs_run_send(store, id, "go", "true"), store);
    RUN_ONCE(w, 1);
    CHECK_STATUS("SUCCESS", id);
    release_now(v);
    CHECK_OK(pgqrs_event_get(&v, store, id, "stage", 0), store);
    defer(free_str, v);
    CHECK_JSON("\"done\"", v);
    /* the run ended without setting it: no point waiting */
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_event_get(&v, store, id, "nope", 5000), store);
    CHECK(strstr(pgqrs_errmsg(store), "ended") != NULL);
}

typedef struct bg_run {
    pgqrs_workflow_worker *w;
    pgqrs_status st;
    int executed;
} bg_run;

static void *bg_run_once(void *arg)
{
    bg_run *b = arg;
    struct timespec ts = { 0, 50 * 1000000L };
    nanosleep(&ts, NULL);   /* the waiter is waiting by now (usually) */
    b->st = pgqrs_workflow_worker_run_once(&b->executed, b->w);
    return NULL;
}

static void test_event__a_waiting_reader_is_woken(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    bg_run b = { 0 };
    pthread_t t;
    pgqrs_status st;
    char *v = NULL;
    int64_t id = 0;
    SETUP();
    DEFINE("pub2", publisher, &c, NULL);
    WORKER(w, "pub2");
    TRIGGER("pub2", NULL, &id);
    b.w = w;
    CHECK(pthread_create(&t, NULL, bg_run_once, &b) == 0);
    st = pgqrs_event_get(&v, store, id, "stage", 10000);
    pthread_join(t, NULL);
    defer(free_str, v);
    CHECK_I64(PGQRS_OK, b.st);
    CHECK_I64(1, b.executed);
    CHECK_OK(st, store);
    CHECK(v != NULL);
}

static void test_wait__woken_when_the_run_ends(void)
{
    ctx c = { 0 };
    pgqrs_workflow_worker *w;
    pgqrs_run_info *ri = NULL;
    bg_run b = { 0 };
    pthread_t t;
    pgqrs_status st;
    int64_t id = 0;
    SETUP();
    DEFINE("waited", receiver, &c, NULL);
    WORKER(w, "waited");
    TRIGGER("waited", NULL, &id);
    CHECK_OK(pgqrs_run_send(store, id, "t", "1"), store);
    b.w = w;
    CHECK(pthread_create(&t, NULL, bg_run_once, &b) == 0);
    st = pgqrs_run_wait(&ri, store, id, 10000);
    pthread_join(t, NULL);
    defer(free_run_info, ri);
    CHECK_I64(PGQRS_OK, b.st);
    CHECK_OK(st, store);
    CHECK_STR("SUCCESS", ri->status);
}

/* ---- Child runs ------------------------------------------------------------------- */

static pgqrs_status child_fn(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    char buf[256];
    c->calls++;
    if (c->child_fails) {
        pgqrs_run_fail(run, "{\"why\":\"child broke\"}", 0);
        return PGQRS_ERROR;
    }
    snprintf(buf, sizeof buf, "{\"child_of\":%s}", input ? input : "null");
    *output = pgqrs_strdup(buf);
    return PGQRS_OK;
}

/* starts a child of c->child_wf under "spawn", awaits it under "join" */
static pgqrs_status parent_fn(pgqrs_run *run, const char *input, char **output, void *user)
{
    ctx *c = user;
    char in[64], *out = NULL, buf[512];
    int64_t child = 0;
    pgqrs_status st;
    (void)input;
    c->calls++;
    snprintf(in, sizeof in, "{\"parent\":%lld}", (long long)pgqrs_run_id(run));
    if ((st = c->got[0] = pgqrs_run_start_child(&child, run, "spawn", c->child_wf, in)) != PGQRS_OK)
        return st;
    if (c->child_id && c->child_id != child)
        return PGQRS_ESTATE;   /* a replay must find the same child */
    c->child_id = child;
    if ((st = c->got[1] = pgqrs_run_await_child(&out, run, "join", child, 60000)) != PGQRS_OK)
        return st;
    snprintf(buf, sizeof buf, "{\"child\":%s}", out);
    pgqrs_free(out);
    *output = pgqrs_strdup(buf);
    return PGQRS_OK;
}

static void test_child__start_await_idempotent(void)
{
    ctx pc = { 0 }, cc = { 0 };
    pgqrs_workflow_worker *pw, *cw;
    pgqrs_run_info *ri;
    pgqrs_run_filter f = PGQRS_RUN_FILTER_INIT;
    pgqrs_status st;
    char want[128];
    int64_t id = 0;
    SETUP();
    pc.child_wf = "kid";
    DEFINE("kid", child_fn, &cc, NULL);
    DEFINE("mom", parent_fn, &pc, NULL);
    WORKER(pw, "mom");
    WORKER(cw, "kid");
    TRIGGER("mom", NULL, &id);
    RUN_ONCE(pw, 1);
    CHECK_I64(PGQRS_OK, pc.got[0]);
    CHECK_I64(PGQRS_ESUSPENDED, pc.got[1]);
    CHECK_STATUS("PENDING", id);
    CHECK_QUEUE("workflow:mom", 0, 0, 1);
    RUN_ONCE(cw, 1);   /* the child ends: its parent is woken */
    CHECK_STATUS("SUCCESS", pc.child_id);
    CHECK_QUEUE("workflow:mom", 1, 0, 0);
    RUN_ONCE(pw, 1);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    snprintf(want, sizeof want, "{\"child\":{\"child_of\":{\"parent\":%lld}}}", (long long)id);
    CHECK_JSON(want, ri->output);
    CHECK_I64(2, pc.calls);
    CHECK_I64(1, cc.calls);
    f.workflow = "kid";
    CHECK_I64(1, count_runs(&f, &st));   /* one child, not one per replay */
    CHECK_OK(st, store);
}

static void test_child__failure_is_the_parents_step_failure(void)
{
    ctx pc = { 0 }, cc = { 0 };
    pgqrs_workflow_worker *pw, *cw;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    pc.child_wf = "bad-kid";
    cc.child_fails = 1;
    DEFINE("bad-kid", child_fn, &cc, NULL);
    DEFINE("sad-mom", parent_fn, &pc, NULL);
    WORKER(pw, "sad-mom");
    WORKER(cw, "bad-kid");
    TRIGGER("sad-mom", NULL, &id);
    RUN_ONCE(cw, 0);
    RUN_ONCE(pw, 1);
    RUN_ONCE(cw, 1);
    CHECK_STATUS("ERROR", pc.child_id);
    RUN_ONCE(pw, 1);
    CHECK_I64(PGQRS_ERROR, pc.got[1]);
    RUN_GET(ri, id);
    CHECK_STR("ERROR", ri->status);   /* not retried: the child's failure stands */
    CHECK_I64(2, ri->attempts);
    CHECK(ri->error && strstr(ri->error, "child broke") != NULL);
    CHECK(strstr(ri->error, "child_run_id") != NULL);
}

static void test_child__cancelling_the_parent_cancels_children(void)
{
    ctx pc = { 0 }, cc = { 0 };
    pgqrs_workflow_worker *pw, *cw;
    pgqrs_run_info *ri;
    int64_t id = 0;
    SETUP();
    pc.child_wf = "orphan";
    DEFINE("orphan", child_fn, &cc, NULL);
    DEFINE("boss", parent_fn, &pc, NULL);
    WORKER(pw, "boss");
    WORKER(cw, "orphan");
    TRIGGER("boss", NULL, &id);
    RUN_ONCE(pw, 1);   /* started the child, waits for it */
    CHECK_STATUS("PENDING", pc.child_id);
    CHECK_OK(pgqrs_run_cancel(store, id, "stop"), store);
    CHECK_STATUS("CANCELLED", id);
    RUN_GET(ri, pc.child_id);
    CHECK_STR("CANCELLED", ri->status);
    CHECK(ri->cancel_reason && strstr(ri->cancel_reason, "parent") != NULL);
    RUN_ONCE(cw, 0);   /* the child never runs */
    CHECK_I64(0, cc.calls);
    RUN_ONCE(pw, 0);
    CHECK_QUEUE("workflow:boss", 0, 0, 1);   /* archived when a worker next sees it, at its deadline */
}

/* ---- Crashes: worker processes killed with SIGKILL ---------------------------------- */

#define GEN_S 20   /* each worker generation's clock is this much later than the last */

static char crash_dir[512];

/* Appends "what\n" to the execution log (O_APPEND, fsync): the count of a line
 * is how often that code really ran, across processes. */
static void log_exec(const char *what)
{
    char path[600], buf[64];
    int fd, n = snprintf(buf, sizeof buf, "%s\n", what);
    snprintf(path, sizeof path, "%s/exec.log", crash_dir);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0 || write(fd, buf, (size_t)n) != n || fsync(fd) != 0)
        _exit(40);
    close(fd);
}

static int count_exec(const char *what)
{
    char path[600], line[64];
    int n = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/exec.log", crash_dir);
    if (!(f = fopen(path, "r")))
        return 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        n += strcmp(line, what) == 0;
    }
    fclose(f);
    return n;
}

/* SIGKILL at point `what`, the first time only (a marker file). */
static void die_once(const char *what)
{
    char marker[700];
    int fd;
    snprintf(marker, sizeof marker, "%s/killed.%s", crash_dir, what);
    fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return;
    fsync(fd);
    close(fd);
    raise(SIGKILL);
}

static pgqrs_status logged(pgqrs_run *r, char **out, void *u)
{
    (void)r;
    log_exec(u);
    *out = pgqrs_strdup("true");
    return PGQRS_OK;
}

static const char *kill_at;   /* "recv" or "event": the crash handler's kill point */

/* step "s1"; recv on "t" (dies after it returned, at kill_at "recv"); set_event
 * (dies after it, at "event"); step "s2"; then a second recv that must find
 * nothing (no message was delivered twice). */
static pgqrs_status crash_fn(pgqrs_run *run, const char *input, char **output, void *user)
{
    char *m = NULL, buf[256];
    pgqrs_status st;
    (void)input, (void)user;
    if ((st = pgqrs_run_step(NULL, run, "s1", logged, "s1", NULL)) != PGQRS_OK)
        return st;
    if ((st = pgqrs_run_recv(&m, run, "r1", "t", 120000)) != PGQRS_OK)
        return st;
    if (strcmp(kill_at, "recv") == 0)
        die_once("recv");
    st = pgqrs_run_set_event(run, "got", m);
    if (st == PGQRS_OK && strcmp(kill_at, "event") == 0)
        die_once("event");
    if (st == PGQRS_OK)
        st = pgqrs_run_step(NULL, run, "s2", logged, "s2", NULL);
    if (st == PGQRS_OK) {
        char *dup = NULL;
        pgqrs_status d = pgqrs_run_recv(&dup, run, "r2", "t", 0);
        snprintf(buf, sizeof buf, "{\"got\":%s,\"second\":%s}", m, d == PGQRS_ETIMEOUT ? "null" : dup ? dup : "\"?\"");
        pgqrs_free(dup);
        *output = pgqrs_strdup(buf);
    }
    pgqrs_free(m);
    return st;
}

/* A worker process of generation gen: runs due runs; with idle_ms it then idles
 * in the poll loop that long (to be killed there). Never returns. */
static void crash_worker(int gen, int idle_ms)
{
    pgqrs_connect_options co = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_workflow_options o = PGQRS_WORKFLOW_OPTIONS_INIT;
    pgqrs_poll_options po = PGQRS_POLL_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_workflow_worker *w = NULL;
    int n = 1, rc = 0;
    alarm(30);
    co.heartbeat_interval_s = -1;
    o.vt_seconds = 5;
    o.step_lease_ms = 2000;
    if (pgqrs_connect(&s, th_current_dsn(), &co) != PGQRS_OK)
        _exit(41);
    pgqrs_store_set_time(s, T0 + (int64_t)gen * GEN_S * SEC);
    if (pgqrs_workflow_define(s, "crashy", crash_fn, NULL, &o) != PGQRS_OK ||
        pgqrs_workflow_worker_new(&w, s, "crashy") != PGQRS_OK)
        _exit(42);
    while (n > 0 && rc == 0)
        rc = pgqrs_workflow_worker_run_once(&n, w) != PGQRS_OK;
    if (idle_ms > 0) {
        po.idle_timeout_ms = idle_ms;
        pgqrs_workflow_worker_poll(NULL, w, &po);
    }
    pgqrs_workflow_worker_free(w);
    pgqrs_store_free(s);
    _exit(rc ? 43 : 0);
}

static pid_t spawn_worker(int gen, int idle_ms)
{
    pid_t pid;
    fflush(NULL);
    pid = fork();
    if (pid == 0)
        crash_worker(gen, idle_ms);
    return pid;
}

/* 0: exited 0; 9: killed by SIGKILL; else the exit code or 100 + signal */
static int reap(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status))
        return WTERMSIG(status) == SIGKILL ? 9 : 100 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

/* A fresh database with the crash workflow and one run; the store is closed
 * (stores never cross a fork). */
static pgqrs_status crash_setup(int64_t *id, const char *message)
{
    pgqrs_status st;
    snprintf(crash_dir, sizeof crash_dir, "%s/signals-crash-%d-%lld", th_tmpdir(), (int)getpid(),
             (long long)time(NULL) * 1000 + (long long)(clock() % 1000));
    if (mkdir(crash_dir, 0755) != 0 && errno != EEXIST)
        return PGQRS_ERROR;
    if ((st = open_store()) != PGQRS_OK)
        return st;
    if ((st = pgqrs_workflow_define(store, "crashy", crash_fn, NULL, NULL)) != PGQRS_OK ||
        (st = pgqrs_workflow_trigger(id, NULL, store, "crashy", NULL, NULL)) != PGQRS_OK)
        return st;
    if (message && (st = pgqrs_run_send(store, *id, "t", message)) != PGQRS_OK)
        return st;
    release_now(store);
    store = NULL;
    return PGQRS_OK;
}

static pgqrs_status reopen(void)
{
    pgqrs_connect_options o = test_opts();
    pgqrs_status st = pgqrs_connect(&store, th_current_dsn(), &o);
    if (st == PGQRS_OK)
        defer(free_store, store);
    return st;
}

static void check_crash_outcome(int64_t id, const char *want_got)
{
    pgqrs_run_info *ri;
    char want[256], *v = NULL;
    snprintf(want, sizeof want, "{\"got\":%s,\"second\":null}", want_got);
    RUN_GET(ri, id);
    CHECK_STR("SUCCESS", ri->status);
    CHECK_JSON(want, ri->output);   /* received once, and nothing twice */
    CHECK_I64(1, count_exec("s1"));
    CHECK_I64(1, count_exec("s2"));
    CHECK_OK(pgqrs_event_get(&v, store, id, "got", 0), store);
    defer(free_str, v);
    CHECK_JSON(want_got, v);
}

static void test_crash__kill_while_waiting_in_recv(void)
{
    pgqrs_run_info *ri;
    int64_t id = 0;
    pid_t pid;
    if (th_is_memory())
        SKIP("sqlite::memory: cannot be opened by another process");
    CHECK_OK(crash_setup(&id, NULL), store);
    kill_at = "none";
    pid = spawn_worker(1, 20000);   /* suspends the run in recv, then idles */
    CHECK(pid > 0);
    CHECK_OK(reopen(), store);
    for (int i = 0; i < 500; i++) {   /* until the run is suspended (at most 10 s) */
        pgqrs_run_info *r = NULL;
        bool waiting = pgqrs_run_get(&r, store, id) == PGQRS_OK && strcmp(r->status, "PENDING") == 0 &&
                       r->retry_at_us > 0;
        pgqrs_run_info_free(r);
        if (waiting)
            break;
        usleep(20000);
    }
    kill(pid, SIGKILL);
    CHECK_I64(9, reap(pid));
    RUN_GET(ri, id);
    CHECK_STR("PENDING", ri->status);
    CHECK_OK(pgqrs_run_send(store, id, "t", "{\"k\":\"v\"}"), store);
    release_now(store);
    store = NULL;
    pid = spawn_worker(2, 0);
    CHECK(pid > 0);
    CHECK_I64(0, reap(pid));
    CHECK_OK(reopen(), store);
    check_crash_outcome(id, "{\"k\":\"v\"}");
}

static void test_crash__kill_after_recv_consumed(void)
{
    int64_t id = 0;
    pid_t pid;
    if (th_is_memory())
        SKIP("sqlite::memory: cannot be opened by another process");
    CHECK_OK(crash_setup(&id, "[\"once\"]"), store);
    kill_at = "recv";
    pid = spawn_worker(1, 0);
    CHECK(pid > 0);
    CHECK_I64(9, reap(pid));   /* died after recv returned the message */
    pid = spawn_worker(2, 0);  /* the lease ran out: resumes, recv replays the same message */
    CHECK(pid > 0);
    CHECK_I64(0, reap(pid));
    CHECK_OK(reopen(), store);
    check_crash_outcome(id, "[\"once\"]");
}

static void test_crash__kill_between_event_and_next_step(void)
{
    char *v = NULL;
    int64_t id = 0;
    pid_t pid;
    if (th_is_memory())
        SKIP("sqlite::memory: cannot be opened by another process");
    CHECK_OK(crash_setup(&id, "42"), store);
    kill_at = "event";
    pid = spawn_worker(1, 0);
    CHECK(pid > 0);
    CHECK_I64(9, reap(pid));
    CHECK_OK(reopen(), store);
    CHECK_OK(pgqrs_event_get(&v, store, id, "got", 0), store);   /* committed before the kill */
    defer(free_str, v);
    CHECK_JSON("42", v);
    CHECK_I64(0, count_exec("s2"));
    release_now(store);
    store = NULL;
    pid = spawn_worker(2, 0);
    CHECK(pid > 0);
    CHECK_I64(0, reap(pid));
    CHECK_OK(reopen(), store);
    check_crash_outcome(id, "42");
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "delete__refused_in_flight_then_forced", test_delete__refused_in_flight_then_forced },
        { "delete__finished_runs_need_no_force", test_delete__finished_runs_need_no_force },
        { "delete__queue_delete_points_to_workflow_delete", test_delete__queue_delete_points_to_workflow_delete },
        { "delete__scheduled_workflow_names_its_schedule", test_delete__scheduled_workflow_names_its_schedule },
        { "recv__message_sent_before_the_run_starts", test_recv__message_sent_before_the_run_starts },
        { "recv__suspends_frees_the_worker_and_wakes_on_send", test_recv__suspends_frees_the_worker_and_wakes_on_send },
        { "recv__exactly_once_in_order_and_replayed", test_recv__exactly_once_in_order_and_replayed },
        { "recv__timeout_is_recorded", test_recv__timeout_is_recorded },
        { "recv__timeout_counts_from_the_first_call", test_recv__timeout_counts_from_the_first_call },
        { "recv__bad_arguments", test_recv__bad_arguments },
        { "send__bad_input_writes_nothing", test_send__bad_input_writes_nothing },
        { "event__last_write_wins_and_listing", test_event__last_write_wins_and_listing },
        { "event__a_waiting_reader_is_woken", test_event__a_waiting_reader_is_woken },
        { "wait__woken_when_the_run_ends", test_wait__woken_when_the_run_ends },
        { "child__start_await_idempotent", test_child__start_await_idempotent },
        { "child__failure_is_the_parents_step_failure", test_child__failure_is_the_parents_step_failure },
        { "child__cancelling_the_parent_cancels_children", test_child__cancelling_the_parent_cancels_children },
        { "crash__kill_while_waiting_in_recv", test_crash__kill_while_waiting_in_recv },
        { "crash__kill_after_recv_consumed", test_crash__kill_after_recv_consumed },
        { "crash__kill_between_event_and_next_step", test_crash__kill_between_event_and_next_step },
    };
    int rc = th_main(argc, argv, "test_signals", tests, sizeof tests / sizeof *tests);
    cleanup();
    return rc;
}
