/* test_events.c: every log event docs/operations.md lists fires, with its
 * level, on every backend where it can happen; where it cannot, the test says
 * why (SKIP) and asserts the capability that makes it so. The list of events
 * is read from docs/operations.md itself, so a documented event without a test
 * here fails; scripts/test_docs.py checks the other way (every event the code
 * logs is documented). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#if PGQRS_WITH_SQLITE
#include <sqlite3.h>
#endif

#include "harness.h"
#include "queue/dashboard.h"   /* pgqrs serve's store calls (test_events__dashboard) */
#include "proxy.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

/* ---- what the store logged ---- */

enum { MAX_SEEN = 4096 };
static struct {
    pthread_mutex_t mu;
    int n;
    char event[MAX_SEEN][40];
    int level[MAX_SEEN];
} seen = { PTHREAD_MUTEX_INITIALIZER, 0, { { 0 } }, { 0 } };

static void on_log(int level, const char *event, const char *message, void *user)
{
    (void)message;
    (void)user;
    pthread_mutex_lock(&seen.mu);
    if (seen.n < MAX_SEEN) {
        snprintf(seen.event[seen.n], sizeof seen.event[0], "%s", event);
        seen.level[seen.n++] = level;
    }
    pthread_mutex_unlock(&seen.mu);
}

static void forget(void)
{
    pthread_mutex_lock(&seen.mu);
    seen.n = 0;
    pthread_mutex_unlock(&seen.mu);
}

/* The level event was logged at, or -1 if it was not. */
static int logged(const char *event)
{
    int level = -1;
    pthread_mutex_lock(&seen.mu);
    for (int i = 0; i < seen.n && level < 0; i++)
        if (strcmp(seen.event[i], event) == 0)
            level = seen.level[i];
    pthread_mutex_unlock(&seen.mu);
    return level;
}

#define CHECK_LOGGED(event, lvl)                                                                           \
    do {                                                                                                   \
        int got_ = logged(event);                                                                          \
        CHECK_MSG(got_ >= 0, "event %s was not logged", event);                                            \
        CHECK_MSG(got_ == (lvl), "event %s logged at level %d, documented at %d", event, got_, (int)(lvl)); \
    } while (0)

/* A store that logs everything to on_log; no background heartbeat unless asked. */
static pgqrs_store *open_store(const char *dsn, int heartbeat_s, int busy_ms)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    o.heartbeat_interval_s = heartbeat_s ? heartbeat_s : -1;
    if (heartbeat_s > 0)
        o.zombie_after_s = 3 * heartbeat_s;
    o.busy_timeout_ms = busy_ms;
    if (pgqrs_connect(&s, dsn, &o) != PGQRS_OK) {
        fprintf(stderr, "connect: %s\n", pgqrs_errmsg(NULL));
        return NULL;
    }
    pgqrs_store_set_log_callback(s, on_log, NULL, PGQRS_LOG_DEBUG);
    forget();
    return s;
}

static const int64_t T0 = INT64_C(1900000000000000);   /* a fixed instant, 2030 */
#define SEC INT64_C(1000000)

/* ---- the events of the queue and its workers ---- */

static void test_events__queue_and_workers(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn(), 0, 0);
    pgqrs_producer *p = NULL;
    pgqrs_consumer *c = NULL, *c2 = NULL;
    pgqrs_batch *b = NULL;
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    const char *payloads[2] = { "{\"n\":1}", "{\"n\":2}" };
    int64_t id = 0, n = 0;
    CHECK(s);
    CHECK_OK(pgqrs_schema_install(s), s);
    qo.max_attempts = 1;
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", &qo), s);
    qo.retry_initial_delay_ms = 500;
    CHECK_OK(pgqrs_queue_update(NULL, s, "q", &qo), s);
    CHECK_LOGGED("queue.update", PGQRS_LOG_INFO);
    pgqrs_store_set_time(s, T0);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    CHECK_LOGGED("worker.register", PGQRS_LOG_INFO);
    CHECK_OK(pgqrs_enqueue(&id, p, "{\"n\":0}", 0), p);
    CHECK_LOGGED("message.enqueue", PGQRS_LOG_DEBUG);
    CHECK_OK(pgqrs_enqueue_batch(NULL, p, payloads, 2, 0), p);
    CHECK_LOGGED("message.enqueue_batch", PGQRS_LOG_DEBUG);
    CHECK_OK(pgqrs_consumer_new(&c, s, "q"), s);
    CHECK_OK(pgqrs_dequeue(&b, c, 1, 5), c);
    CHECK_LOGGED("message.dequeue", PGQRS_LOG_DEBUG);
    pgqrs_batch_free(b);
    /* delivered once, max_attempts 1: at its next delivery it is dead-lettered */
    pgqrs_store_set_time(s, T0 + 10 * SEC);
    CHECK_OK(pgqrs_dequeue(&b, c, 3, 5), c);
    pgqrs_batch_free(b);
    CHECK_LOGGED("message.dead_letter", PGQRS_LOG_WARN);
    CHECK_OK(pgqrs_dlq_replay_all(&n, s, "q"), s);
    CHECK_I64(1, n);
    CHECK_LOGGED("dlq.replay", PGQRS_LOG_INFO);
    CHECK_OK(pgqrs_consumer_suspend(c), c);
    CHECK_LOGGED("worker.transition", PGQRS_LOG_INFO);
    CHECK_OK(pgqrs_consumer_resume(c), c);
    CHECK_OK(pgqrs_consumer_new(&c2, s, "q"), s);
    pgqrs_consumer_free(c2);
    CHECK_LOGGED("worker.shutdown", PGQRS_LOG_INFO);
    /* the consumer holds two messages and stops beating: a zombie */
    pgqrs_store_set_time(s, T0 + 1000 * SEC);
    CHECK_OK(pgqrs_worker_reclaim_zombies(&n, s, 60), s);
    CHECK_MSG(n >= 1, "reclaimed %lld", (long long)n);
    CHECK_LOGGED("worker.reclaim", PGQRS_LOG_WARN);
    pgqrs_consumer_free(c);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

/* ---- the events of workflows ---- */

static int attempts_seen;

static pgqrs_status ok_step(pgqrs_run *run, char **out, void *user)
{
    (void)run;
    (void)user;
    *out = pgqrs_strdup("1");
    return PGQRS_OK;
}

static pgqrs_status failing_step(pgqrs_run *run, char **out, void *user)
{
    (void)run;
    (void)out;
    (void)user;
    return PGQRS_ERROR;
}

/* attempt 1: step a succeeds, step b fails (the run is retried); attempt 2: a is
 * replayed, b succeeds, then a durable sleep; attempt 3 finishes */
static pgqrs_status flow(pgqrs_run *run, const char *input, char **output, void *user)
{
    pgqrs_step_options so = PGQRS_STEP_OPTIONS_INIT;
    pgqrs_status st;
    (void)input;
    (void)user;
    attempts_seen = pgqrs_run_attempt(run);
    if ((st = pgqrs_run_step(NULL, run, "a", ok_step, NULL, NULL)) != PGQRS_OK)
        return st;
    so.retry.max_attempts = 3;
    so.retry.initial_delay_ms = 1000;
    so.retry.jitter = -1;
    st = pgqrs_run_step(NULL, run, "b", pgqrs_run_attempt(run) == 1 ? failing_step : ok_step, NULL, &so);
    if (st != PGQRS_OK)
        return st;
    if ((st = pgqrs_run_sleep(run, "nap", 5)) != PGQRS_OK)
        return st;
    *output = pgqrs_strdup("\"done\"");
    return PGQRS_OK;
}

static pgqrs_status forever(pgqrs_run *run, const char *input, char **output, void *user)
{
    (void)run;
    (void)input;
    (void)output;
    (void)user;
    return PGQRS_OK;
}

static void test_events__workflows(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn(), 0, 0);
    pgqrs_workflow_worker *w = NULL;
    pgqrs_run_info *r = NULL;
    int64_t run_id = 0, other = 0;
    int ran = 0;
    CHECK(s);
    CHECK_OK(pgqrs_schema_install(s), s);
    pgqrs_store_set_time(s, T0);
    CHECK_OK(pgqrs_workflow_define(s, "flow", flow, NULL, NULL), s);
    CHECK_LOGGED("workflow.define", PGQRS_LOG_INFO);
    CHECK_OK(pgqrs_workflow_trigger(&run_id, NULL, s, "flow", NULL, NULL), s);
    CHECK_LOGGED("run.trigger", PGQRS_LOG_INFO);
    CHECK_OK(pgqrs_workflow_worker_new(&w, s, "flow"), s);
    CHECK_OK(pgqrs_workflow_worker_run_once(&ran, w), w);
    CHECK_I64(1, ran);
    CHECK_LOGGED("run.start", PGQRS_LOG_INFO);
    CHECK_LOGGED("step.start", PGQRS_LOG_DEBUG);
    CHECK_LOGGED("step.error", PGQRS_LOG_WARN);
    CHECK_LOGGED("run.retry", PGQRS_LOG_WARN);
    pgqrs_store_set_time(s, T0 + 60 * SEC);
    CHECK_OK(pgqrs_workflow_worker_run_once(&ran, w), w);
    CHECK_I64(1, ran);
    CHECK_I64(2, attempts_seen);
    CHECK_LOGGED("run.resume", PGQRS_LOG_INFO);
    CHECK_LOGGED("step.replay", PGQRS_LOG_DEBUG);
    CHECK_LOGGED("run.sleep", PGQRS_LOG_INFO);
    pgqrs_store_set_time(s, T0 + 120 * SEC);
    CHECK_OK(pgqrs_workflow_worker_run_once(&ran, w), w);
    CHECK_I64(1, ran);
    CHECK_OK(pgqrs_run_get(&r, s, run_id), s);
    CHECK_STR("SUCCESS", r->status);
    pgqrs_run_info_free(r);
    CHECK_LOGGED("run.finish", PGQRS_LOG_INFO);
    /* a cancel is logged where it is asked for */
    CHECK_OK(pgqrs_workflow_define(s, "other", forever, NULL, NULL), s);
    CHECK_OK(pgqrs_workflow_trigger(&other, NULL, s, "other", NULL, NULL), s);
    forget();
    CHECK_OK(pgqrs_run_cancel(s, other, "not needed"), s);
    CHECK_LOGGED("run.cancel", PGQRS_LOG_INFO);
    pgqrs_workflow_worker_free(w);
    pgqrs_store_free(s);
}

/* ---- the events of the worker runtime ---- */

static _Atomic int gate_open;

/* payload {"k": "done" | "retry" | "fail" | "slow" | "gated"} */
static int event_job(pgqrs_job *job, void *user)
{
    const char *p = pgqrs_job_payload(job);
    (void)user;
    if (strstr(p, "retry"))
        return PGQRS_JOB_RETRY;
    if (strstr(p, "fail"))
        return PGQRS_JOB_FAIL;
    if (strstr(p, "slow"))
        usleep(300 * 1000);
    while (strstr(p, "gated") && !atomic_load(&gate_open))
        usleep(2000);
    return PGQRS_JOB_DONE;
}

typedef struct {
    pgqrs_runtime *rt;
    pthread_t th;
    pgqrs_status st;
} bg_runtime;

static void *bg_main(void *arg)
{
    bg_runtime *b = arg;
    b->st = pgqrs_runtime_run(b->rt);
    return NULL;
}

static pgqrs_runtime *new_runtime(pgqrs_store *s, const char *queue, int until_empty, int64_t max_run_ms, int idle_ms)
{
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime *rt = NULL;
    o.concurrency = 2;
    o.until_empty = until_empty;
    o.max_run_ms = max_run_ms;
    o.idle_min_ms = idle_ms;
    o.idle_max_ms = idle_ms;
    if (pgqrs_runtime_new(&rt, s, &o) != PGQRS_OK || pgqrs_runtime_add_queue(rt, queue, event_job, NULL) != PGQRS_OK) {
        fprintf(stderr, "runtime: %s\n", pgqrs_errmsg(rt ? (void *)rt : (void *)s));
        pgqrs_runtime_free(rt);
        return NULL;
    }
    return rt;
}

static void test_events__runtime(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn(), 0, 0);
    pgqrs_producer *p = NULL;
    pgqrs_consumer *other = NULL;
    pgqrs_batch *b = NULL;
    pgqrs_runtime *rt = NULL;
    bg_runtime bg = { NULL, 0, PGQRS_OK };
    pgqrs_runtime_stats st = PGQRS_RUNTIME_STATS_INIT;
    CHECK(s);
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    CHECK_OK(pgqrs_enqueue(NULL, p, "{\"k\":\"done\"}", 0), p);
    CHECK_OK(pgqrs_enqueue(NULL, p, "{\"k\":\"retry\"}", 0), p);
    CHECK_OK(pgqrs_enqueue(NULL, p, "{\"k\":\"fail\"}", 0), p);
    CHECK_OK(pgqrs_enqueue(NULL, p, "{\"k\":\"slow\"}", 0), p);
    forget();
    CHECK((rt = new_runtime(s, "q", 1, 50, 10)));
    CHECK_OK(pgqrs_runtime_run(rt), rt);
    pgqrs_runtime_free(rt);
    CHECK_LOGGED("runtime.start", PGQRS_LOG_INFO);
    CHECK_LOGGED("job.retry", PGQRS_LOG_INFO);
    CHECK_LOGGED("job.dead_letter", PGQRS_LOG_WARN);
    CHECK_LOGGED("job.overrun", PGQRS_LOG_WARN);      /* "slow" ran past max_run_ms 50 */
    CHECK_LOGGED("runtime.stop", PGQRS_LOG_INFO);
    /* a handler that finishes after another consumer took its message over */
    CHECK_OK(pgqrs_queue_purge(NULL, s, "q"), s);
    CHECK_OK(pgqrs_enqueue(NULL, p, "{\"k\":\"gated\"}", 0), p);
    CHECK_OK(pgqrs_consumer_new(&other, s, "q"), s);
    pgqrs_store_set_time(s, T0);
    atomic_store(&gate_open, 0);
    CHECK((bg.rt = new_runtime(s, "q", 0, 0, 60000)));   /* it does not look again */
    CHECK(pthread_create(&bg.th, NULL, bg_main, &bg) == 0);
    for (int i = 0; i < 2000; i++) {
        CHECK_OK(pgqrs_runtime_stats_get(&st, bg.rt), bg.rt);
        if (st.running == 1)
            break;
        usleep(5000);
    }
    /* past the 30 s lease (not extended for 10 s of real time); the runtime's second
     * claim, right after its first, may take it back once at the moved clock */
    for (int k = 1; k <= 5; k++) {
        size_t got;
        pgqrs_store_set_time(s, T0 + 100 * k * SEC);
        CHECK_OK(pgqrs_dequeue(&b, other, 1, 30), other);
        got = pgqrs_batch_count(b);
        pgqrs_batch_free(b);
        b = NULL;
        if (got == 1)
            break;
        usleep(100 * 1000);
    }
    atomic_store(&gate_open, 1);
    for (int i = 0; i < 2000 && logged("job.lease_lost") < 0; i++)
        usleep(5000);
    pgqrs_runtime_stop(bg.rt);
    pthread_join(bg.th, NULL);
    pgqrs_runtime_free(bg.rt);
    CHECK_LOGGED("job.lease_lost", PGQRS_LOG_WARN);
    pgqrs_consumer_free(other);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

/* ---- the events of connections, busy databases and the heartbeat thread ---- */

static void test_events__connection_reconnect(void)
{
    pgqrs_store *s;
    pgqrs_queues *l = NULL;
    pgqrs_status st;
    if (!th_is_postgres())
        SKIP("a lost session is a PostgreSQL event: SQLite has no session, and each Turso call is its own request");
    if (th_is_pgbouncer())
        SKIP("through PgBouncer the client session survives a lost server connection (PgBouncer opens another)");
    CHECK((s = open_store(th_fresh_dsn(), 0, 0)));
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_MSG(th_pg_terminate_sessions() >= 1, "no session was terminated");
    /* the first call may meet the dead session; the next re-establishes it */
    st = pgqrs_queue_list(&l, s);
    pgqrs_queues_free(l);
    l = NULL;
    if (st != PGQRS_OK)
        CHECK_OK(pgqrs_queue_list(&l, s), s);
    pgqrs_queues_free(l);
    CHECK_LOGGED("connection.reconnect", PGQRS_LOG_WARN);
    pgqrs_store_free(s);
}

static void test_events__listen_failed(void)
{
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs_store *s;
    pgqrs_consumer *c = NULL;
    pgqrs_batch *b = NULL;
    CHECK((s = open_store(th_fresh_dsn(), 0, 0)));
    CHECK_OK(pgqrs_store_capabilities(&caps, s), s);
    if (!caps.notifications) {
        pgqrs_store_free(s);
        SKIP("capabilities.notifications is 0 here: pgqrs_dequeue_wait polls and never LISTENs");
    }
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK_OK(pgqrs_consumer_new(&c, s, "q"), s);
    CHECK_OK(pgqrs_dequeue_wait(&b, c, 1, 30, 50), c);   /* opens the LISTEN session */
    pgqrs_batch_free(b);
    b = NULL;
    CHECK(logged("listen.failed") < 0);
    CHECK_MSG(th_pg_terminate_sessions() >= 1, "no session was terminated");
    /* the pooled session comes back at the first or second call; the LISTEN
     * session is only found gone when the wait uses it */
    if (pgqrs_dequeue(&b, c, 1, 30) != PGQRS_OK)
        CHECK_OK(pgqrs_dequeue(&b, c, 1, 30), c);
    pgqrs_batch_free(b);
    b = NULL;
    CHECK_OK(pgqrs_dequeue_wait(&b, c, 1, 30, 300), c);   /* the LISTEN session is gone: polls */
    pgqrs_batch_free(b);
    CHECK_LOGGED("listen.failed", PGQRS_LOG_WARN);
    pgqrs_consumer_free(c);
    pgqrs_store_free(s);
}

#if PGQRS_WITH_SQLITE
/* Holds SQLite's write lock on the current database from a connection of its own. */
static sqlite3 *lock_sqlite_file(void)
{
    sqlite3 *db = NULL;
    const char *dsn = th_current_dsn();
    const char *path = strncmp(dsn, "sqlite://", 9) == 0 ? dsn + 9 : NULL;
    /* the library's own connections may hold the write lock a moment: wait for it */
    if (!path || sqlite3_open(path, &db) != SQLITE_OK || sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}
#endif

static void test_events__sqlite_busy(void)
{
#if PGQRS_WITH_SQLITE
    pgqrs_store *s;
    pgqrs_producer *p = NULL;
    sqlite3 *lock;
    if (strcmp(th_backend(), "sqlite") != 0)
        SKIP("the SQLite busy handler: a SQLite file shared by connections (not :memory:, not a server)");
    CHECK((s = open_store(th_fresh_dsn(), 0, 200)));
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    CHECK((lock = lock_sqlite_file()));
    CHECK_ST(PGQRS_EBUSY, pgqrs_enqueue(NULL, p, "{}", 0), p);
    sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(lock);
    CHECK_LOGGED("sqlite.busy", PGQRS_LOG_WARN);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
#else
    SKIP("built without SQLite");
#endif
}

static void test_events__turso_retry(void)
{
    proxy px = { 0, -1, -1, 0 };
    char upstream[256], dsn[300];
    pgqrs_store *direct = NULL, *s = NULL;
    pgqrs_queues *l = NULL;
    if (!th_is_turso())
        SKIP("the Turso driver's retries: needs a tursodb server (PGQRS_TEST_BACKEND=turso)");
    snprintf(upstream, sizeof upstream, "%s", th_fresh_dsn());
    CHECK((direct = open_store(upstream, 0, 0)));
    CHECK_OK(pgqrs_schema_install(direct), direct);
    CHECK_MSG(proxy_start(&px, upstream), "cannot start tests/turso_proxy.py");
    snprintf(dsn, sizeof dsn, "http://127.0.0.1:%d", px.port);
    s = open_store(dsn, 0, 0);
    if (s && proxy_cmd(&px, NULL, 0, "fault status 2 503")) {
        forget();
        if (pgqrs_queue_list(&l, s) != PGQRS_OK)
            fprintf(stderr, "queue_list through the proxy: %s\n", pgqrs_errmsg(s));
        pgqrs_queues_free(l);
    }
    pgqrs_store_free(s);
    pgqrs_store_free(direct);
    proxy_stop(&px);
    CHECK(s);
    CHECK_LOGGED("turso.retry", PGQRS_LOG_WARN);
}

static void test_events__worker_heartbeat_failure(void)
{
    pgqrs_store *s;
    pgqrs_consumer *c = NULL;
    bool failing = false;
#if PGQRS_WITH_SQLITE
    sqlite3 *lock = NULL;
#endif
    if (th_is_memory())
        SKIP("sqlite::memory: is private to its connection: nothing outside can make a heartbeat fail");
    if (th_is_pgbouncer())
        SKIP("through PgBouncer a lost server connection is replaced unseen: the heartbeat does not fail");
    CHECK((s = open_store(th_fresh_dsn(), 1, 100)));
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK_OK(pgqrs_consumer_new(&c, s, "q"), s);
    forget();
    /* make the database unusable for longer than a heartbeat interval */
    if (th_is_postgres()) {
        failing = th_pg_terminate_sessions() >= 1;
    } else if (th_is_turso()) {
        th_turso_kill();
        failing = true;
    } else {
#if PGQRS_WITH_SQLITE
        failing = (lock = lock_sqlite_file()) != NULL;
#endif
    }
    for (int i = 0; failing && i < 40 && logged("worker.heartbeat") < 0; i++)
        usleep(100000);
#if PGQRS_WITH_SQLITE
    if (lock) {
        sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(lock);
    }
#endif
    if (th_is_turso())
        th_turso_restart();
    CHECK(failing);
    CHECK_LOGGED("worker.heartbeat", PGQRS_LOG_WARN);
    pgqrs_consumer_free(c);
    pgqrs_store_free(s);
}

static void test_events__runtime_retry(void)
{
    /* the database goes away under an idle runtime: its claims fail, are logged
     * and retried with backoff, and it carries on when the database is back */
    pgqrs_store *s;
    bg_runtime bg = { NULL, 0, PGQRS_OK };
    bool failing = false;
#if PGQRS_WITH_SQLITE
    sqlite3 *lock = NULL;
#endif
    if (th_is_memory())
        SKIP("sqlite::memory: is private to its connection: nothing outside can make a claim fail");
    if (th_is_pgbouncer())
        SKIP("through PgBouncer a lost server connection is replaced unseen: the claim does not fail");
    CHECK((s = open_store(th_fresh_dsn(), 0, 100)));
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK((bg.rt = new_runtime(s, "q", 0, 0, 10)));
    CHECK(pthread_create(&bg.th, NULL, bg_main, &bg) == 0);
    usleep(100 * 1000);
    forget();
    if (th_is_postgres()) {
        failing = th_pg_terminate_sessions() >= 1;
    } else if (th_is_turso()) {
        th_turso_kill();
        failing = true;
    } else {
#if PGQRS_WITH_SQLITE
        failing = (lock = lock_sqlite_file()) != NULL;
#endif
    }
    for (int i = 0; failing && i < 400 && logged("runtime.retry") < 0; i++) {
        usleep(10000);
        /* a pooled session is re-established by the first call that finds it gone,
         * which need not be a claim (the idle wait's look at the next due time
         * shrugs a failure off): keep terminating them until a claim meets one */
        if (th_is_postgres())
            th_pg_terminate_sessions();
    }
#if PGQRS_WITH_SQLITE
    if (lock) {
        sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(lock);
    }
#endif
    if (th_is_turso())
        th_turso_restart();
    pgqrs_runtime_stop(bg.rt);
    pthread_join(bg.th, NULL);
    pgqrs_runtime_free(bg.rt);
    CHECK(failing);
    CHECK_OK(bg.st, s);
    CHECK_LOGGED("runtime.retry", PGQRS_LOG_WARN);
    pgqrs_store_free(s);
}

/* ---- schedules and retention ---- */

#define MIN (60 * SEC)

static void test_events__schedules(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn(), 0, 0);
    pgqrs_scheduler *sch = NULL;
    pgqrs_scheduler_options so = PGQRS_SCHEDULER_OPTIONS_INIT;
    pgqrs_schedule_options o = PGQRS_SCHEDULE_OPTIONS_INIT;
    pgqrs_retention_policy pol = PGQRS_RETENTION_POLICY_INIT;
    pgqrs_consumer *c = NULL;
    pgqrs_batch *b = NULL;
    CHECK(s);
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    pgqrs_store_set_time(s, T0);
    o.cron = "* * * * *";
    o.queue = "q";
    CHECK_OK(pgqrs_schedule_create(NULL, s, "every-minute", &o), s);
    CHECK_LOGGED("schedule.create", PGQRS_LOG_INFO);
    so.retention_interval_s = -1;
    CHECK_OK(pgqrs_scheduler_new(&sch, s, &so), s);
    pgqrs_store_set_time(s, T0 + MIN);
    CHECK_OK(pgqrs_scheduler_run_once(NULL, sch, 0), sch);
    CHECK_LOGGED("schedule.fire", PGQRS_LOG_DEBUG);
    pgqrs_store_set_time(s, T0 + 2 * MIN);
    CHECK_OK(pgqrs_scheduler_run_once(NULL, sch, 0), sch);   /* the first job is pending: overlap skip */
    CHECK_LOGGED("schedule.skip", PGQRS_LOG_INFO);
    CHECK_OK(pgqrs_schedule_pause(s, "every-minute"), s);
    CHECK_LOGGED("schedule.pause", PGQRS_LOG_INFO);
    CHECK_OK(pgqrs_schedule_resume(s, "every-minute"), s);
    CHECK_LOGGED("schedule.resume", PGQRS_LOG_INFO);
    pgqrs_store_set_time(s, T0 + 60 * MIN);                  /* down for most of an hour */
    CHECK_OK(pgqrs_scheduler_run_once(NULL, sch, 0), sch);
    CHECK_LOGGED("schedule.misfire", PGQRS_LOG_WARN);
    /* retention of the job the schedule made */
    CHECK_OK(pgqrs_consumer_new(&c, s, "q"), s);
    CHECK_OK(pgqrs_dequeue(&b, c, 10, 30), c);
    for (size_t i = 0; i < pgqrs_batch_count(b); i++)
        CHECK_OK(pgqrs_archive(c, pgqrs_batch_at(b, i)->id), c);
    pgqrs_batch_free(b);
    pol.archive_max_rows = -1;
    pol.archive_max_age_s = 1;
    CHECK_OK(pgqrs_retention_set(s, "q", &pol), s);
    CHECK_LOGGED("retention.set", PGQRS_LOG_INFO);
    pgqrs_store_set_time(s, T0 + 120 * MIN);
    CHECK_OK(pgqrs_retention_run(NULL, s, NULL), s);
    CHECK_LOGGED("retention.purge", PGQRS_LOG_INFO);
    CHECK_OK(pgqrs_schedule_delete(s, "every-minute"), s);
    CHECK_LOGGED("schedule.delete", PGQRS_LOG_INFO);
    pgqrs_consumer_free(c);
    pgqrs_scheduler_free(sch);
    pgqrs_store_free(s);
}

/* A schedule whose zone this process cannot load: another process created it
 * with a TZDIR that has the zone. */
static void test_events__schedule_error(void)
{
    pgqrs_store *s;
    pgqrs_scheduler *sch = NULL;
    char dir[512], cmd[1200];
    pid_t pid;
    int status = 0;
    if (th_is_memory())
        SKIP("sqlite::memory: is private to one process: no other process can create the schedule");
    CHECK((s = open_store(th_fresh_dsn(), 0, 0)));
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    snprintf(dir, sizeof dir, "%s/tz-%d", th_tmpdir(), (int)getpid());
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/Pgqrs' && cp /usr/share/zoneinfo/UTC '%s/Pgqrs/Gone'", dir, dir);
    CHECK(system(cmd) == 0);
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        pgqrs_store *cs = NULL;
        pgqrs_schedule_options o = PGQRS_SCHEDULE_OPTIONS_INIT;
        setenv("TZDIR", dir, 1);
        o.cron = "* * * * *";
        o.queue = "q";
        o.timezone = "Pgqrs/Gone";
        int ok = pgqrs_connect(&cs, th_current_dsn(), NULL) == PGQRS_OK &&
                 pgqrs_schedule_create(NULL, cs, "elsewhere", &o) == PGQRS_OK;
        pgqrs_store_free(cs);
        _exit(ok ? 0 : 1);
    }
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_OK(pgqrs_scheduler_new(&sch, s, NULL), s);
    CHECK_OK(pgqrs_scheduler_run_once(NULL, sch, INT64_C(4102444800) * SEC), sch);   /* 2100: due */
    CHECK_LOGGED("schedule.error", PGQRS_LOG_WARN);
    pgqrs_scheduler_free(sch);
    pgqrs_store_free(s);
}

/* ---- the events of workflows that talk ---- */

static pgqrs_store *sig_store;   /* for the handler that deletes its own workflow */

/* waits for a message, publishes an event, starts a child */
static pgqrs_status talker(pgqrs_run *run, const char *input, char **output, void *user)
{
    char *m = NULL;
    int64_t child = 0;
    pgqrs_status st;
    (void)input;
    (void)user;
    if ((st = pgqrs_run_recv(&m, run, "r", "t", 60000)) != PGQRS_OK)
        return st;
    pgqrs_free(m);
    if ((st = pgqrs_run_set_event(run, "k", "1")) != PGQRS_OK ||
        (st = pgqrs_run_start_child(&child, run, "c", "other", NULL)) != PGQRS_OK)
        return st;
    *output = pgqrs_strdup("null");
    return PGQRS_OK;
}

/* deletes its own workflow, forced, while it runs */
static pgqrs_status self_delete(pgqrs_run *run, const char *input, char **output, void *user)
{
    (void)run;
    (void)input;
    (void)user;
    *output = pgqrs_strdup("null");
    return pgqrs_workflow_delete(sig_store, "gone", 1);
}

/* Renames pgqrs_workflow_waits away (back when restore), from a connection of the
 * test's own, so the next wake-up statement fails. false where it cannot. */
static bool break_waits(bool restore)
{
    const char *sql = restore ? "ALTER TABLE w_broken RENAME TO pgqrs_workflow_waits"
                              : "ALTER TABLE pgqrs_workflow_waits RENAME TO w_broken";
    if (th_is_postgres())
        return th_pg_exec(sql);
#if PGQRS_WITH_SQLITE
    {
        const char *dsn = th_current_dsn();
        sqlite3 *db = NULL;
        bool ok;
        if (th_is_memory() || th_is_turso() || strncmp(dsn, "sqlite://", 9) != 0)
            return false;
        ok = sqlite3_open(dsn + 9, &db) == SQLITE_OK && sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
             sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
        sqlite3_close(db);
        return ok;
    }
#else
    return false;
#endif
}

static void test_events__signals(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn(), 0, 0);
    pgqrs_workflow_worker *w = NULL, *g = NULL;
    int64_t id = 0, id2 = 0, gid = 0;
    int ran = 0;
    CHECK(s);
    sig_store = s;
    CHECK_OK(pgqrs_schema_install(s), s);
    pgqrs_store_set_time(s, T0);
    CHECK_OK(pgqrs_workflow_define(s, "talk", talker, NULL, NULL), s);
    CHECK_OK(pgqrs_workflow_define(s, "other", forever, NULL, NULL), s);
    CHECK_OK(pgqrs_workflow_trigger(&id, NULL, s, "talk", NULL, NULL), s);
    CHECK_OK(pgqrs_workflow_worker_new(&w, s, "talk"), s);
    CHECK_OK(pgqrs_workflow_worker_run_once(&ran, w), w);
    CHECK_LOGGED("run.wait", PGQRS_LOG_INFO);
    CHECK_OK(pgqrs_run_send(s, id, "t", "1"), s);
    CHECK_LOGGED("run.send", PGQRS_LOG_DEBUG);
    CHECK_OK(pgqrs_workflow_worker_run_once(&ran, w), w);
    CHECK_I64(1, ran);
    CHECK_LOGGED("run.event", PGQRS_LOG_DEBUG);
    CHECK_LOGGED("run.child", PGQRS_LOG_INFO);
    /* a wake-up that fails is logged (the run wakes at its deadline) */
    CHECK_OK(pgqrs_workflow_trigger(&id2, NULL, s, "talk", NULL, NULL), s);
    CHECK_OK(pgqrs_workflow_worker_run_once(&ran, w), w);
    if (break_waits(false)) {
        forget();
        pgqrs_status st = pgqrs_run_send(s, id2, "t", "2");
        bool restored = break_waits(true);
        CHECK_OK(st, s);
        CHECK(restored);
        CHECK_LOGGED("run.wake", PGQRS_LOG_WARN);
    } /* else: sqlite::memory:, Turso and PgBouncer give the test no second connection to break it with */
    pgqrs_workflow_worker_free(w);
    /* a forced delete under a running run */
    CHECK_OK(pgqrs_workflow_define(s, "gone", self_delete, NULL, NULL), s);
    CHECK_OK(pgqrs_workflow_trigger(&gid, NULL, s, "gone", NULL, NULL), s);
    CHECK_OK(pgqrs_workflow_worker_new(&g, s, "gone"), s);
    forget();
    CHECK_OK(pgqrs_workflow_worker_run_once(&ran, g), g);
    CHECK_LOGGED("workflow.delete", PGQRS_LOG_INFO);
    CHECK_LOGGED("run.gone", PGQRS_LOG_WARN);
    pgqrs_workflow_worker_free(g);
    pgqrs_store_free(s);
}

/* ---- the list in docs/operations.md ---- */

/* Every event named in the first column of the events table of
 * docs/operations.md, and the test above that fires it. */
/* The dashboard's operator actions on one message (queue/dashboard.h, used by
 * `pgqrs serve`): listing by state, cancel, requeue and delete, with their events. */
static void test_events__dashboard(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn(), 0, 0);
    pgqrs_producer *p = NULL;
    pgqrs_consumer *c = NULL;
    pgqrs_batch *b = NULL;
    int64_t a = 0, d = 0, held = 0, runs[PGQRS__DASH_N_RUN_STATUSES], workers[PGQRS__DASH_N_WORKER_STATUSES];
    int outcome = PGQRS_CANCEL_REMOVED;
    static const struct {
        const char *state;
        int n;
    } by_state[] = { { "pending", 1 }, { "delayed", 1 }, { "in_flight", 1 },
                     { "archived", 0 }, { "dead_letter", 0 }, { "cancelled", 0 } };
    CHECK(s);
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    pgqrs_store_set_time(s, T0);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    CHECK_OK(pgqrs_enqueue(&held, p, "{\"n\":0}", 0), p);
    CHECK_OK(pgqrs_enqueue(&a, p, "{\"n\":1}", 0), p);
    CHECK_OK(pgqrs_enqueue(&d, p, "{\"n\":2}", 60), p);
    CHECK_OK(pgqrs_consumer_new(&c, s, "q"), s);
    CHECK_OK(pgqrs_dequeue(&b, c, 1, 30), c);
    CHECK_I64(1, (int64_t)pgqrs_batch_count(b));
    CHECK_I64(held, pgqrs_batch_at(b, 0)->id);
    pgqrs_batch_free(b);
    for (size_t i = 0; i < sizeof by_state / sizeof by_state[0]; i++) {
        CHECK_OK(pgqrs__dash_message_list(&b, s, "q", by_state[i].state, 0, 10), s);
        CHECK_I64(by_state[i].n, (int64_t)pgqrs_batch_count(b));
        pgqrs_batch_free(b);
    }
    CHECK_I64(PGQRS_EINVAL, pgqrs__dash_message_list(&b, s, "q", "bogus", 0, 10));
    CHECK_I64(PGQRS_ENOTFOUND, pgqrs__dash_message_list(&b, s, "nope", "pending", 0, 10));
    /* in flight: not deleted; a cancel (the dashboard's is pgqrs_message_cancel) is a request */
    CHECK_I64(PGQRS_ESTATE, pgqrs__dash_message_remove(s, "q", held));
    CHECK_OK(pgqrs_message_cancel(&outcome, s, "q", held), s);
    CHECK_I64(PGQRS_CANCEL_REQUESTED, (int64_t)outcome);
    CHECK_OK(pgqrs__dash_message_list(&b, s, "q", "in_flight", 0, 10), s);
    CHECK_I64(1, (int64_t)pgqrs_batch_count(b));
    CHECK(pgqrs_batch_at(b, 0)->cancel_requested_at_us > 0);
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_archive_cancelled(c, held), c);   /* its holder settles it */
    CHECK_LOGGED("message.cancelled", PGQRS_LOG_INFO);
    CHECK_OK(pgqrs_message_cancel(&outcome, s, "q", a), s);
    CHECK_I64(PGQRS_CANCEL_REMOVED, (int64_t)outcome);
    CHECK_LOGGED("message.cancel", PGQRS_LOG_INFO);
    CHECK_OK(pgqrs__dash_message_list(&b, s, "q", "cancelled", 0, 10), s);
    CHECK_I64(2, (int64_t)pgqrs_batch_count(b));   /* held (by its holder) and a */
    CHECK_STR("cancelled", pgqrs_batch_at(b, 0)->state);
    CHECK_STR("cancelled", pgqrs_batch_at(b, 1)->state);
    pgqrs_batch_free(b);
    CHECK_I64(PGQRS_ESTATE, pgqrs_message_cancel(&outcome, s, "q", a));   /* finished */
    CHECK_OK(pgqrs__dash_message_requeue(s, "q", a), s);
    CHECK_LOGGED("message.requeue", PGQRS_LOG_INFO);
    CHECK_I64(PGQRS_ENOTFOUND, pgqrs__dash_message_requeue(s, "q", a));
    CHECK_OK(pgqrs__dash_message_list(&b, s, "q", "pending", 0, 10), s);
    CHECK_I64(1, (int64_t)pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs__dash_message_remove(s, "q", d), s);
    CHECK_LOGGED("message.delete", PGQRS_LOG_INFO);
    CHECK_I64(PGQRS_ENOTFOUND, pgqrs__dash_message_remove(s, "q", d));
    CHECK_OK(pgqrs__dash_worker_counts(workers, s), s);
    CHECK_I64(2, workers[0]);   /* ready: the producer and the consumer */
    CHECK_OK(pgqrs__dash_run_counts(runs, s), s);
    CHECK_I64(0, runs[0]);
    pgqrs_consumer_free(c);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

static const struct { const char *event; const char *test; } covered[] = {
    { "queue.update", "queue_and_workers" },
    { "worker.register", "queue_and_workers" }, { "worker.transition", "queue_and_workers" },
    { "worker.shutdown", "queue_and_workers" }, { "worker.reclaim", "queue_and_workers" },
    { "message.dead_letter", "queue_and_workers" }, { "dlq.replay", "queue_and_workers" },
    { "message.enqueue", "queue_and_workers" }, { "message.enqueue_batch", "queue_and_workers" },
    { "message.dequeue", "queue_and_workers" },
    { "workflow.define", "workflows" }, { "run.trigger", "workflows" }, { "run.start", "workflows" },
    { "run.resume", "workflows" }, { "run.cancel", "workflows" }, { "run.retry", "workflows" },
    { "run.sleep", "workflows" }, { "run.finish", "workflows" }, { "step.start", "workflows" },
    { "step.replay", "workflows" }, { "step.error", "workflows" },
    { "run.wait", "signals" }, { "run.send", "signals" }, { "run.event", "signals" }, { "run.child", "signals" },
    { "run.wake", "signals" }, { "run.gone", "signals" }, { "workflow.delete", "signals" },
    { "connection.reconnect", "connection_reconnect" }, { "sqlite.busy", "sqlite_busy" },
    { "turso.retry", "turso_retry" }, { "worker.heartbeat", "worker_heartbeat_failure" },
    { "listen.failed", "listen_failed" },
    { "runtime.start", "runtime" }, { "runtime.stop", "runtime" }, { "job.retry", "runtime" },
    { "job.dead_letter", "runtime" }, { "job.overrun", "runtime" }, { "job.lease_lost", "runtime" },
    { "runtime.retry", "runtime_retry" },
    { "schedule.create", "schedules" }, { "schedule.fire", "schedules" }, { "schedule.skip", "schedules" },
    { "schedule.pause", "schedules" }, { "schedule.resume", "schedules" }, { "schedule.misfire", "schedules" },
    { "schedule.delete", "schedules" }, { "retention.set", "schedules" }, { "retention.purge", "schedules" },
    { "schedule.error", "schedule_error" },
    { "message.delete", "dashboard" }, { "message.cancel", "dashboard" }, { "message.cancelled", "dashboard" }, { "message.requeue", "dashboard" },
};

static void test_events__every_documented_event_has_a_test(void)
{
    FILE *f = fopen("docs/operations.md", "r");
    char line[1024];
    int in_table = 0, documented = 0;
    CHECK_MSG(f, "cannot open docs/operations.md (run from the repository root)");
    while (fgets(line, sizeof line, f)) {
        char *p = line, *end;
        if (strncmp(line, "| event |", 9) == 0) {
            in_table = 1;
            continue;
        }
        if (in_table && line[0] != '|')
            break;
        if (!in_table || strncmp(line, "|---", 4) == 0)
            continue;
        end = strchr(line + 1, '|');   /* the first cell */
        while (end && (p = strchr(p, '`')) != NULL && p < end) {
            char *q = strchr(p + 1, '`');
            bool found = false;
            if (!q)
                break;
            *q = '\0';
            for (size_t i = 0; i < sizeof covered / sizeof covered[0] && !found; i++)
                found = strcmp(covered[i].event, p + 1) == 0;
            documented++;
            if (!found) {
                fclose(f);
                CHECK_MSG(found, "docs/operations.md lists event %s, and no test here fires it", p + 1);
            }
            p = q + 1;
        }
    }
    fclose(f);
    CHECK_I64((int64_t)(sizeof covered / sizeof covered[0]), documented);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "events__queue_and_workers", test_events__queue_and_workers },
        { "events__workflows", test_events__workflows },
        { "events__signals", test_events__signals },
        { "events__runtime", test_events__runtime },
        { "events__runtime_retry", test_events__runtime_retry },
        { "events__connection_reconnect", test_events__connection_reconnect },
        { "events__listen_failed", test_events__listen_failed },
        { "events__sqlite_busy", test_events__sqlite_busy },
        { "events__turso_retry", test_events__turso_retry },
        { "events__worker_heartbeat_failure", test_events__worker_heartbeat_failure },
        { "events__schedules", test_events__schedules },
        { "events__schedule_error", test_events__schedule_error },
        { "events__dashboard", test_events__dashboard },
        { "events__every_documented_event_has_a_test", test_events__every_documented_event_has_a_test },
    };
    return th_main(argc, argv, "test_events", tests, sizeof tests / sizeof *tests);
}
