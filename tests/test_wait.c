/* test_wait.c: pgqrs_dequeue_wait on every backend: returns at once when a
 * message is there, wakes for one enqueued meanwhile (LISTEN/NOTIFY on
 * PostgreSQL, polling elsewhere) or falling due, and returns an empty batch at
 * the timeout. Time bounds here are loose correctness bounds ("woke before the
 * timeout"), not performance figures: those are in make bench. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#if PGQRS_WITH_POSTGRES
#include <libpq-fe.h>
#endif

static pgqrs_store *store;
static pgqrs_producer *producer;
static pgqrs_consumer *consumer;

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void teardown(void)
{
    pgqrs_consumer_free(consumer);
    pgqrs_producer_free(producer);
    pgqrs_store_free(store);
    consumer = NULL, producer = NULL, store = NULL;
}

#define SETUP()                                                                            \
    do {                                                                                   \
        pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;                              \
        teardown();                                                                        \
        o.heartbeat_interval_s = -1;                                                       \
        CHECK_OK(pgqrs_connect(&store, th_fresh_dsn(), &o), NULL);                         \
        CHECK_OK(pgqrs_schema_install(store), store);                                             \
        CHECK_OK(pgqrs_queue_create(NULL, store, "w", NULL), store);                       \
        CHECK_OK(pgqrs_producer_new(&producer, store, "w"), store);                        \
        CHECK_OK(pgqrs_consumer_new(&consumer, store, "w"), store);                        \
    } while (0)

static void test_wait__returns_available_message_at_once(void)
{
    pgqrs_batch *b = NULL;
    int64_t id = 0;
    SETUP();
    CHECK_OK(pgqrs_enqueue(&id, producer, "{\"a\":1}", 0), producer);
    CHECK_OK(pgqrs_dequeue_wait(&b, consumer, 10, 30, 60000), consumer);
    CHECK_I64(1, (int64_t)pgqrs_batch_count(b));
    CHECK_I64(id, pgqrs_batch_at(b, 0)->id);
    pgqrs_batch_free(b);
}

static void test_wait__empty_batch_after_timeout(void)
{
    pgqrs_batch *b = NULL;
    int64_t t0;
    SETUP();
    t0 = ms_now();
    CHECK_OK(pgqrs_dequeue_wait(&b, consumer, 10, 30, 100), consumer);
    CHECK(b != NULL);
    CHECK_I64(0, (int64_t)pgqrs_batch_count(b));
    CHECK(ms_now() - t0 >= 100);
    pgqrs_batch_free(b);
    /* a zero timeout is one plain dequeue */
    CHECK_OK(pgqrs_dequeue_wait(&b, consumer, 10, 30, 0), consumer);
    CHECK_I64(0, (int64_t)pgqrs_batch_count(b));
    pgqrs_batch_free(b);
}

static void *enqueue_later(void *arg)
{
    (void)arg;
    usleep(200 * 1000);
    pgqrs_enqueue(NULL, producer, "{\"late\":true}", 0);
    return NULL;
}

static void test_wait__wakes_for_a_message_enqueued_meanwhile(void)
{
    pgqrs_batch *b = NULL;
    pthread_t t;
    int64_t t0;
    SETUP();
    t0 = ms_now();
    CHECK(pthread_create(&t, NULL, enqueue_later, NULL) == 0);
    CHECK_OK(pgqrs_dequeue_wait(&b, consumer, 10, 30, 20000), consumer);
    pthread_join(t, NULL);
    CHECK_I64(1, (int64_t)pgqrs_batch_count(b));
    CHECK(strstr(pgqrs_batch_at(b, 0)->payload, "late") != NULL);
    /* woke for the message, long before the 20 s timeout */
    CHECK_MSG(ms_now() - t0 < 10000, "took %lld ms", (long long)(ms_now() - t0));
    pgqrs_batch_free(b);
}

#if PGQRS_WITH_POSTGRES
/* Notifications with payload queue_id that arrive on l within ms. */
static int notifications(PGconn *l, int64_t queue_id, int ms)
{
    char want[24];
    int n = 0;
    int64_t end = ms_now() + ms;
    snprintf(want, sizeof want, "%lld", (long long)queue_id);
    while (ms_now() < end) {
        PGnotify *nf;
        PQconsumeInput(l);
        while ((nf = PQnotifies(l)) != NULL) {
            n += strcmp(nf->extra, want) == 0;
            PQfreemem(nf);
        }
        usleep(5000);
    }
    return n;
}

/* A session LISTENing on the channel every queue notifies on; NULL, with the
 * reason recorded as the running test's failure, when LISTEN fails. */
static PGconn *listen_messages(void)
{
    PGconn *l = PQconnectdb(getenv("PGQRS_TEST_PG_DSN"));
    PGresult *r = PQexec(l, "LISTEN pgqrs_messages");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        th_fail(__FILE__, __LINE__, "LISTEN: %s", PQerrorMessage(l));
    PQclear(r);
    if (!ok) {
        PQfinish(l);
        return NULL;
    }
    return l;
}
#endif

/* An enqueue notifies only when it makes a message visible in a queue that had
 * no visible message (a NOTIFY serialises the commits of every notifying
 * transaction; migrations 0003 and 0004). */
static void test_wait__enqueue_notifies_only_an_empty_queue(void)
{
#if PGQRS_WITH_POSTGRES
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs_queue_info *q = NULL;
    pgqrs_batch *b = NULL;
    PGconn *l;
    int64_t qid;
    SETUP();
    CHECK_OK(pgqrs_store_capabilities(&caps, store), store);
    if (!caps.notifications)
        SKIP("capabilities.notifications is 0 here (no LISTEN/NOTIFY)");
    CHECK_OK(pgqrs_queue_get(&q, store, "w"), store);
    qid = q->id;
    pgqrs_queue_info_free(q);
    if (!(l = listen_messages()))
        return;
    CHECK_OK(pgqrs_enqueue(NULL, producer, "1", 0), producer);   /* empty: notifies */
    CHECK_I64(1, notifications(l, qid, 200));
    CHECK_OK(pgqrs_enqueue(NULL, producer, "2", 0), producer);   /* one visible already: quiet */
    CHECK_I64(0, notifications(l, qid, 200));
    CHECK_OK(pgqrs_dequeue(&b, consumer, 10, 30), consumer);     /* both in flight: none visible */
    CHECK_I64(2, (int64_t)pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_enqueue(NULL, producer, "3", 60), producer);  /* delayed: nothing to wake for */
    CHECK_I64(0, notifications(l, qid, 200));
    CHECK_OK(pgqrs_enqueue(NULL, producer, "4", 0), producer);   /* the only visible one: notifies */
    CHECK_I64(1, notifications(l, qid, 200));
    b = NULL;
    CHECK_OK(pgqrs_dequeue(&b, consumer, 10, 30), consumer);     /* in flight again: none visible */
    CHECK_I64(1, (int64_t)pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    b = NULL;
    {   /* a batch into an empty queue notifies once */
        const char *two[] = { "5", "6" };
        CHECK_OK(pgqrs_enqueue_batch(NULL, producer, two, 2, 0), producer);
    }
    CHECK_I64(1, notifications(l, qid, 200));
    PQfinish(l);
#else
    SKIP("LISTEN/NOTIFY is PostgreSQL's: this build has no PostgreSQL");
#endif
}

/* The wake-up probe looks for a visible message at every priority level, not
 * only the highest (migration 0012: it walks the levels of the claim index). */
static void test_wait__enqueue_probe_walks_priority_levels(void)
{
#if PGQRS_WITH_POSTGRES
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs_enqueue_options high = PGQRS_ENQUEUE_OPTIONS_INIT, low = PGQRS_ENQUEUE_OPTIONS_INIT;
    pgqrs_queue_info *q = NULL;
    pgqrs_batch *b = NULL;
    PGconn *l;
    int64_t qid;
    SETUP();
    CHECK_OK(pgqrs_store_capabilities(&caps, store), store);
    if (!caps.notifications)
        SKIP("capabilities.notifications is 0 here (no LISTEN/NOTIFY)");
    CHECK_OK(pgqrs_queue_get(&q, store, "w"), store);
    qid = q->id;
    pgqrs_queue_info_free(q);
    if (!(l = listen_messages()))
        return;
    high.priority = 5;
    high.delay_ms = 60000;
    low.priority = -3;
    CHECK_OK(pgqrs_enqueue_with(NULL, NULL, producer, "\"high, delayed\"", &high), producer);
    CHECK_I64(0, notifications(l, qid, 200));   /* delayed: nothing to wake for */
    CHECK_OK(pgqrs_enqueue_with(NULL, NULL, producer, "\"low\"", &low), producer);
    CHECK_I64(1, notifications(l, qid, 200));   /* the top level holds nothing visible */
    CHECK_OK(pgqrs_enqueue(NULL, producer, "\"zero\"", 0), producer);
    CHECK_I64(0, notifications(l, qid, 200));   /* level -3 holds a visible one: quiet */
    CHECK_OK(pgqrs_dequeue(&b, consumer, 10, 30), consumer);
    CHECK_I64(2, (int64_t)pgqrs_batch_count(b));
    CHECK_I64(-3, (int64_t)pgqrs_batch_at(b, 0)->priority + pgqrs_batch_at(b, 1)->priority);   /* 0 and -3 */
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_enqueue(NULL, producer, "\"again\"", 0), producer);
    CHECK_I64(1, notifications(l, qid, 200));   /* nothing visible at any level */
    PQfinish(l);
#else
    SKIP("LISTEN/NOTIFY is PostgreSQL's: this build has no PostgreSQL");
#endif
}

#if PGQRS_WITH_POSTGRES
static pgqrs_status noop_workflow(pgqrs_run *run, const char *input_json, char **output_json, void *user)
{
    (void)run, (void)input_json, (void)output_json, (void)user;
    return PGQRS_OK;
}
#endif

/* The other statements that insert messages notify the same way: a dead letter
 * replayed into an empty queue, a workflow run triggered (migration 0004). */
static void test_wait__replay_and_trigger_notify_an_empty_queue(void)
{
#if PGQRS_WITH_POSTGRES
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_queue_info *q = NULL;
    pgqrs_producer *p1 = NULL;
    pgqrs_consumer *c1 = NULL;
    pgqrs_batch *b = NULL;
    int64_t qid, wqid, replayed = 0, t0;
    PGconn *l;
    SETUP();
    CHECK_OK(pgqrs_store_capabilities(&caps, store), store);
    if (!caps.notifications)
        SKIP("capabilities.notifications is 0 here (no LISTEN/NOTIFY)");
    qo.max_attempts = 1;
    CHECK_OK(pgqrs_queue_create(&q, store, "once", &qo), store);
    qid = q->id;
    pgqrs_queue_info_free(q);
    CHECK_OK(pgqrs_producer_new(&p1, store, "once"), store);
    CHECK_OK(pgqrs_consumer_new(&c1, store, "once"), store);
    t0 = (int64_t)time(NULL) * 1000000;
    pgqrs_store_set_time(store, t0);
    CHECK_OK(pgqrs_enqueue(NULL, p1, "1", 0), p1);
    CHECK_OK(pgqrs_dequeue(&b, c1, 10, 1), c1);                   /* its only delivery */
    CHECK_I64(1, (int64_t)pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    b = NULL;
    pgqrs_store_set_time(store, t0 + 5000000);
    CHECK_OK(pgqrs_dequeue(&b, c1, 10, 1), c1);                   /* expired at max_attempts: dead-lettered */
    CHECK_I64(0, (int64_t)pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    b = NULL;
    pgqrs_store_set_time(store, 0);

    if (!(l = listen_messages()))
        return;
    CHECK_OK(pgqrs_dlq_replay_all(&replayed, store, "once"), store);
    CHECK_I64(1, replayed);
    CHECK_I64(1, notifications(l, qid, 200));

    CHECK_OK(pgqrs_workflow_define(store, "wf", noop_workflow, NULL, NULL), store);
    CHECK_OK(pgqrs_queue_get(&q, store, "workflow:wf"), store);
    wqid = q->id;
    pgqrs_queue_info_free(q);
    CHECK_OK(pgqrs_workflow_trigger(NULL, NULL, store, "wf", NULL, NULL), store);
    CHECK_I64(1, notifications(l, wqid, 200));
    CHECK_OK(pgqrs_workflow_trigger(NULL, NULL, store, "wf", NULL, NULL), store);   /* one visible already */
    CHECK_I64(0, notifications(l, wqid, 200));
    PQfinish(l);
    pgqrs_consumer_free(c1);
    pgqrs_producer_free(p1);
#else
    SKIP("LISTEN/NOTIFY is PostgreSQL's: this build has no PostgreSQL");
#endif
}

#if PGQRS_WITH_POSTGRES
typedef struct waiter {
    pgqrs_batch *b;
    pgqrs_status st;
    int64_t ms;
} waiter;

static void *wait_main(void *arg)
{
    waiter *w = arg;
    int64_t t0 = ms_now();
    w->st = pgqrs_dequeue_wait(&w->b, consumer, 10, 30, 20000);
    w->ms = ms_now() - t0;
    return NULL;
}

static int64_t fired(const pgqrs_scheduler *sch)
{
    pgqrs_scheduler_stats st = PGQRS_SCHEDULER_STATS_INIT;
    return pgqrs_scheduler_stats_get(&st, sch) == PGQRS_OK ? st.fired : -1;
}
#endif

/* A scheduled tick's job notifies as an enqueue does (schedule_fire, migration
 * 0004): its message made visible in an empty queue notifies, one in a queue
 * with a visible message does not; a workflow target's run notifies its queue;
 * and a consumer waiting in pgqrs_dequeue_wait wakes for a tick. */
static void test_wait__scheduled_tick_notifies_an_empty_queue(void)
{
#if PGQRS_WITH_POSTGRES
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs_schedule_options so = PGQRS_SCHEDULE_OPTIONS_INIT;
    pgqrs_scheduler_options sco = PGQRS_SCHEDULER_OPTIONS_INIT;
    pgqrs_scheduler *sch = NULL;
    pgqrs_queue_info *q = NULL;
    pgqrs_batch *b = NULL;
    waiter w = { NULL, PGQRS_OK, 0 };
    pthread_t th;
    pgqrs_schedule_info *si = NULL;
    int64_t qid, wqid, t1;
    PGconn *l;
    SETUP();
    CHECK_OK(pgqrs_store_capabilities(&caps, store), store);
    if (!caps.notifications)
        SKIP("capabilities.notifications is 0 here (no LISTEN/NOTIFY)");
    CHECK_OK(pgqrs_queue_get(&q, store, "w"), store);
    qid = q->id;
    pgqrs_queue_info_free(q);
    CHECK_OK(pgqrs_workflow_define(store, "wf", noop_workflow, NULL, NULL), store);
    CHECK_OK(pgqrs_queue_get(&q, store, "workflow:wf"), store);
    wqid = q->id;
    pgqrs_queue_info_free(q);
    so.cron = "@every 1s";
    so.queue = "w";
    so.overlap = "allow";
    CHECK_OK(pgqrs_schedule_create(&si, store, "every-second", &so), store);
    t1 = si->next_at_us;                                          /* its first tick */
    pgqrs_schedule_info_free(si);
    sco.retention_interval_s = -1;
    CHECK_OK(pgqrs_scheduler_new(&sch, store, &sco), store);

    if (!(l = listen_messages()))
        return;
    /* two ticks due (t1, t1 + 1 s): the first one's message finds the queue empty, the second one's does not */
    CHECK_OK(pgqrs_scheduler_run_once(NULL, sch, t1 + 1500000), sch);
    CHECK_I64(2, fired(sch));
    CHECK_I64(1, notifications(l, qid, 200));
    CHECK_OK(pgqrs_dequeue(&b, consumer, 10, 30), consumer);      /* both in flight: none visible */
    CHECK_I64(2, (int64_t)pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    b = NULL;
    /* a consumer waiting on the empty queue wakes for the next tick */
    CHECK(pthread_create(&th, NULL, wait_main, &w) == 0);
    usleep(300 * 1000);                                           /* it is listening by now */
    pgqrs_scheduler_run_once(NULL, sch, t1 + 2500000);
    pthread_join(th, NULL);
    CHECK_OK(w.st, consumer);
    CHECK_I64(1, (int64_t)pgqrs_batch_count(w.b));
    pgqrs_batch_free(w.b);
    CHECK_MSG(w.ms < 10000, "the waiter took %lld ms", (long long)w.ms);
    CHECK_I64(1, notifications(l, qid, 200));
    /* a workflow target: the run's message notifies the workflow's queue */
    so.queue = NULL;
    so.workflow = "wf";
    so.overlap = NULL;
    CHECK_OK(pgqrs_schedule_create(NULL, store, "wf-every-second", &so), store);
    CHECK_OK(pgqrs_scheduler_run_once(NULL, sch, t1 + 4500000), sch);
    CHECK_I64(1, notifications(l, wqid, 200));
    PQfinish(l);
    pgqrs_scheduler_free(sch);
#else
    SKIP("LISTEN/NOTIFY is PostgreSQL's: this build has no PostgreSQL");
#endif
}

static void test_wait__wakes_when_a_delayed_message_falls_due(void)
{
    pgqrs_batch *b = NULL;
    int64_t t0;
    SETUP();
    CHECK_OK(pgqrs_enqueue(NULL, producer, "{\"delayed\":true}", 1), producer);
    t0 = ms_now();
    CHECK_OK(pgqrs_dequeue_wait(&b, consumer, 10, 30, 20000), consumer);
    CHECK_I64(1, (int64_t)pgqrs_batch_count(b));
    CHECK_MSG(ms_now() - t0 >= 800, "returned after %lld ms, before the delay", (long long)(ms_now() - t0));
    CHECK_MSG(ms_now() - t0 < 10000, "took %lld ms", (long long)(ms_now() - t0));
    pgqrs_batch_free(b);
}

static void test_wait__bad_arguments(void)
{
    pgqrs_batch *b = NULL;
    SETUP();
    CHECK_ST(PGQRS_EINVAL, pgqrs_dequeue_wait(&b, consumer, 10, 30, -1), consumer);
    CHECK_ST(PGQRS_EINVAL, pgqrs_dequeue_wait(&b, consumer, 0, 30, 10), consumer);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_dequeue_wait(NULL, consumer, 1, 30, 10), NULL);
    CHECK_OK(pgqrs_consumer_suspend(consumer), consumer);
    CHECK_ST(PGQRS_ESTATE, pgqrs_dequeue_wait(&b, consumer, 1, 30, 10), consumer);
    CHECK(b == NULL);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "wait__returns_available_message_at_once", test_wait__returns_available_message_at_once },
        { "wait__empty_batch_after_timeout", test_wait__empty_batch_after_timeout },
        { "wait__wakes_for_a_message_enqueued_meanwhile", test_wait__wakes_for_a_message_enqueued_meanwhile },
        { "wait__wakes_when_a_delayed_message_falls_due", test_wait__wakes_when_a_delayed_message_falls_due },
        { "wait__enqueue_notifies_only_an_empty_queue", test_wait__enqueue_notifies_only_an_empty_queue },
        { "wait__enqueue_probe_walks_priority_levels", test_wait__enqueue_probe_walks_priority_levels },
        { "wait__replay_and_trigger_notify_an_empty_queue", test_wait__replay_and_trigger_notify_an_empty_queue },
        { "wait__scheduled_tick_notifies_an_empty_queue", test_wait__scheduled_tick_notifies_an_empty_queue },
        { "wait__bad_arguments", test_wait__bad_arguments },
    };
    int rc = th_main(argc, argv, "test_wait", tests, sizeof tests / sizeof *tests);
    teardown();
    return rc;
}
