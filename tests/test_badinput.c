/* test_badinput.c: bad input, table-driven (issue 7).
 *
 * Every case is one call with malformed or hostile input: malformed DSNs, invalid
 * JSON, oversize batches, negative and absurd timeouts, unknown queues, runs and
 * workers, ids held by another consumer, empty and overlong names. Each must return
 * its documented status with a non-empty message, and change nothing: a snapshot
 * of the database (queues, live/archived/dead messages per queue, workers, runs)
 * is taken before and compared after every case.
 *
 * Also: names and payloads full of SQL metacharacters round-trip unchanged through
 * queues, workflows, steps and runs (all SQL is parameterised), and no error
 * message carries a password or token: a fake PostgreSQL server asks for the
 * password and refuses it, and real connection failures are checked too. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

static pgqrs_store *store;
static pgqrs_producer *prod;
static pgqrs_consumer *c1, *c2;
static int64_t held_id, free_id, dead_id;

static void teardown(void)
{
    pgqrs_consumer_free(c1);
    pgqrs_consumer_free(c2);
    pgqrs_producer_free(prod);
    pgqrs_store_free(store);
    c1 = c2 = NULL;
    prod = NULL;
    store = NULL;
}

static pgqrs_status noop_wf(pgqrs_run *run, const char *in, char **out, void *user)
{
    (void)run;
    (void)in;
    (void)user;
    *out = NULL;
    return PGQRS_OK;
}

/* q: 3 live messages (one held by c1), 1 dead letter; a workflow "wf" with no runs. */
static pgqrs_status setup(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_batch *b = NULL;
    pgqrs_status st;
    o.heartbeat_interval_s = -1;
    qo.max_attempts = 1;
    teardown();
    if ((st = pgqrs_connect(&store, th_fresh_dsn(), &o)) != PGQRS_OK || (st = pgqrs_schema_install(store)) != PGQRS_OK ||
        (st = pgqrs_queue_create(NULL, store, "q", &qo)) != PGQRS_OK ||
        (st = pgqrs_queue_create(NULL, store, "other", NULL)) != PGQRS_OK ||
        (st = pgqrs_producer_new(&prod, store, "q")) != PGQRS_OK ||
        (st = pgqrs_consumer_new(&c1, store, "q")) != PGQRS_OK ||
        (st = pgqrs_consumer_new(&c2, store, "q")) != PGQRS_OK ||
        (st = pgqrs_workflow_define(store, "wf", noop_wf, NULL, NULL)) != PGQRS_OK)
        return st;
    /* a dead letter: delivered once with max_attempts 1, then due again */
    if ((st = pgqrs_enqueue(&dead_id, prod, "{\"dead\":1}", 0)) != PGQRS_OK ||
        (st = pgqrs_dequeue(&b, c1, 1, 0)) != PGQRS_OK)
        return st;
    pgqrs_batch_free(b);
    b = NULL;
    if ((st = pgqrs_release(c1, dead_id, 0)) != PGQRS_OK || (st = pgqrs_dequeue(&b, c1, 1, 0)) != PGQRS_OK)
        return st;
    pgqrs_batch_free(b);
    b = NULL;
    if ((st = pgqrs_enqueue(&held_id, prod, "{\"held\":1}", 0)) != PGQRS_OK ||
        (st = pgqrs_dequeue(&b, c1, 1, 300)) != PGQRS_OK)
        return st;
    if (pgqrs_batch_count(b) != 1 || pgqrs_batch_at(b, 0)->id != held_id) {
        pgqrs_batch_free(b);
        return PGQRS_ERROR;
    }
    pgqrs_batch_free(b);
    if ((st = pgqrs_enqueue(&free_id, prod, "{\"free\":1}", 0)) != PGQRS_OK ||
        (st = pgqrs_enqueue(NULL, prod, "{\"delayed\":1}", 3600)) != PGQRS_OK)
        return st;
    return PGQRS_OK;
}

/* ---- the snapshot: everything a bad call could have written ---- */
typedef struct snap {
    char text[2048];
} snap;

static pgqrs_status take_snapshot(snap *s)
{
    pgqrs_metrics *ml = NULL;
    pgqrs_workers *wl = NULL;
    pgqrs_runs *rl = NULL;
    pgqrs_queues *ql = NULL;
    pgqrs_status st;
    size_t off = 0;
    s->text[0] = 0;
    if ((st = pgqrs_metrics_list(&ml, store, NULL)) != PGQRS_OK)
        return st;
    for (size_t i = 0; i < pgqrs_metrics_count(ml); i++) {
        const pgqrs_queue_metrics *m = pgqrs_metrics_at(ml, i);
        off += (size_t)snprintf(s->text + off, sizeof s->text - off, "%s:%" PRId64 "/%" PRId64 "/%" PRId64 "/%" PRId64
                                "/%" PRId64 " ", m->name, m->pending, m->in_flight, m->delayed, m->archived,
                                m->dead_lettered);
        if (off >= sizeof s->text)
            break;
    }
    pgqrs_metrics_free(ml);
    if ((st = pgqrs_queue_list(&ql, store)) != PGQRS_OK)
        return st;
    if (off < sizeof s->text)
        off += (size_t)snprintf(s->text + off, sizeof s->text - off, "queues=%zu ", pgqrs_queues_count(ql));
    pgqrs_queues_free(ql);
    if ((st = pgqrs_worker_list(&wl, store, NULL)) != PGQRS_OK)
        return st;
    for (size_t i = 0; i < pgqrs_workers_count(wl) && off < sizeof s->text; i++)
        off += (size_t)snprintf(s->text + off, sizeof s->text - off, "w%" PRId64 "=%s ",
                                pgqrs_workers_at(wl, i)->id, pgqrs_workers_at(wl, i)->status);
    pgqrs_workers_free(wl);
    if ((st = pgqrs_run_list(&rl, store, NULL)) != PGQRS_OK)
        return st;
    if (off < sizeof s->text)
        snprintf(s->text + off, sizeof s->text - off, "runs=%zu", pgqrs_runs_count(rl));
    pgqrs_runs_free(rl);
    return PGQRS_OK;
}

/* ---- the table ---- */
static char big_name[300], long_name[130], deep_json[200010];

static const char *payloads_one[1] = { "{}" };
static const char *payloads_bad_mid[3] = { "{}", "{bad}", "[]" };
static const char *payloads_null_mid[3] = { "{}", NULL, "[]" };
static const char **payloads_many;   /* 1001 x "{}" */
static int64_t ids_many[1001];

typedef struct bcase {
    const char *name;
    pgqrs_status want;
    int which;   /* 0: the status is on store, 1: prod, 2: c1, 3: c2, 4: NULL (pgqrs_errmsg(NULL)) */
} bcase;

static const bcase cases[] = {
    /* invalid JSON payloads */
    { "enqueue empty string", PGQRS_EINVAL, 1 },
    { "enqueue unterminated object", PGQRS_EINVAL, 1 },
    { "enqueue single quotes", PGQRS_EINVAL, 1 },
    { "enqueue trailing comma", PGQRS_EINVAL, 1 },
    { "enqueue trailing garbage", PGQRS_EINVAL, 1 },
    { "enqueue bare word", PGQRS_EINVAL, 1 },
    { "enqueue NaN", PGQRS_EINVAL, 1 },
    { "enqueue number overflow 1e999", PGQRS_EINVAL, 1 },
    { "enqueue lone surrogate", PGQRS_EINVAL, 1 },
    { "enqueue escaped NUL", PGQRS_EINVAL, 1 },
    { "enqueue invalid UTF-8", PGQRS_EINVAL, 1 },
    { "enqueue 100000-deep nesting", PGQRS_EINVAL, 1 },
    { "enqueue NULL payload", PGQRS_EMISUSE, 1 },
    { "enqueue_batch one invalid in the middle", PGQRS_EINVAL, 1 },
    { "enqueue_batch NULL in the middle", PGQRS_EMISUSE, 1 },
    { "trigger invalid input JSON", PGQRS_EINVAL, 0 },
    /* oversize and empty batches */
    { "enqueue_batch n=0", PGQRS_EINVAL, 1 },
    { "enqueue_batch n=1001 > max_batch_size", PGQRS_EINVAL, 1 },
    { "enqueue_batch n=SIZE_MAX", PGQRS_EINVAL, 1 },
    { "dequeue max=0", PGQRS_EINVAL, 2 },
    { "dequeue max=-1", PGQRS_EINVAL, 2 },
    { "dequeue max=1001", PGQRS_EINVAL, 2 },
    { "dequeue max=INT_MAX", PGQRS_EINVAL, 2 },
    { "archive_batch n=1001", PGQRS_EINVAL, 2 },
    { "delete_batch n=SIZE_MAX", PGQRS_EINVAL, 2 },
    { "message_list limit=0", PGQRS_EINVAL, 0 },
    { "message_list limit=10001", PGQRS_EINVAL, 0 },
    { "dlq_list limit=-1", PGQRS_EINVAL, 0 },
    /* negative and absurd timeouts */
    { "enqueue delay=-1", PGQRS_EINVAL, 1 },
    { "enqueue delay=INT_MAX", PGQRS_EINVAL, 1 },
    { "dequeue vt=-1", PGQRS_EINVAL, 2 },
    { "dequeue vt=INT_MAX", PGQRS_EINVAL, 2 },
    { "extend_vt vt=-5", PGQRS_EINVAL, 2 },
    { "extend_vt vt=INT_MAX", PGQRS_EINVAL, 2 },
    { "release delay=-1", PGQRS_EINVAL, 2 },
    { "release_batch delay=INT_MIN", PGQRS_EINVAL, 2 },
    { "archive_purge older_than=-1", PGQRS_EINVAL, 0 },
    { "reclaim_zombies older_than=-1", PGQRS_EINVAL, 0 },
    { "worker_purge_stale older_than=-1", PGQRS_EINVAL, 0 },
    { "worker_health stale_after=-1", PGQRS_EINVAL, 0 },
    { "connect pool_size=-1", PGQRS_EINVAL, 4 },
    { "connect connect_timeout_s=-1", PGQRS_EINVAL, 4 },
    { "connect pool_wait_ms=INT_MIN", PGQRS_EINVAL, 4 },
    { "connect default_vt_seconds=INT_MAX", PGQRS_EINVAL, 4 },
    /* unknown queues, runs, workers, messages */
    { "queue_get unknown", PGQRS_ENOTFOUND, 0 },
    { "queue_delete unknown", PGQRS_ENOTFOUND, 0 },
    { "queue_purge unknown", PGQRS_ENOTFOUND, 0 },
    { "metrics unknown queue", PGQRS_ENOTFOUND, 0 },
    { "message_list unknown queue", PGQRS_ENOTFOUND, 0 },
    { "dlq_replay unknown queue", PGQRS_ENOTFOUND, 0 },
    { "dlq_replay_all unknown queue", PGQRS_ENOTFOUND, 0 },
    { "producer_new unknown queue", PGQRS_ENOTFOUND, 0 },
    { "consumer_new unknown queue", PGQRS_ENOTFOUND, 0 },
    { "dlq_replay unknown id", PGQRS_ENOTFOUND, 0 },
    { "dlq_replay id of another queue's message", PGQRS_ENOTFOUND, 0 },
    { "run_get unknown", PGQRS_ENOTFOUND, 0 },
    { "run_cancel unknown", PGQRS_ENOTFOUND, 0 },
    { "run_cancel negative id", PGQRS_ENOTFOUND, 0 },
    { "trigger unknown workflow", PGQRS_ENOTFOUND, 0 },
    { "worker_get unknown", PGQRS_ENOTFOUND, 0 },
    { "archive unknown id", PGQRS_ENOTFOUND, 2 },
    { "archive id 0", PGQRS_ENOTFOUND, 2 },
    { "archive INT64_MIN", PGQRS_ENOTFOUND, 2 },
    /* ids not owned */
    { "archive a message c1 holds, from c2", PGQRS_ENOTOWNED, 3 },
    { "delete a message c1 holds, from c2", PGQRS_ENOTOWNED, 3 },
    { "release a message c1 holds, from c2", PGQRS_ENOTOWNED, 3 },
    { "extend_vt a message c1 holds, from c2", PGQRS_ENOTOWNED, 3 },
    { "archive a pending message nobody holds", PGQRS_ENOTOWNED, 3 },
    { "archive_batch of c1's ids, from c2", PGQRS_ENOTOWNED, 3 },
    { "archive a dead letter", PGQRS_ENOTFOUND, 2 },
    /* names */
    { "queue_create empty name", PGQRS_EINVAL, 0 },
    { "queue_create 129-byte name", PGQRS_EINVAL, 0 },
    { "queue_create 299-byte name", PGQRS_EINVAL, 0 },
    { "queue_create invalid UTF-8 name", PGQRS_EINVAL, 0 },
    { "queue_create overlong UTF-8 encoding", PGQRS_EINVAL, 0 },
    { "queue_create NULL name", PGQRS_EMISUSE, 0 },
    { "queue_create max_attempts=-1", PGQRS_EINVAL, 0 },
    { "queue_create existing name", PGQRS_EEXISTS, 0 },
    { "producer_new empty name", PGQRS_EINVAL, 0 },
    { "consumer_new 129-byte name", PGQRS_EINVAL, 0 },
    { "workflow_define empty name", PGQRS_EINVAL, 0 },
    { "workflow_define 120-byte name", PGQRS_EINVAL, 0 },
    { "workflow_define NULL handler", PGQRS_EMISUSE, 0 },
    { "trigger empty workflow name", PGQRS_EINVAL, 0 },
    { "list_runs unknown status", PGQRS_EINVAL, 0 },
    { "list_runs limit=-1", PGQRS_EINVAL, 0 },
    /* handles */
    { "enqueue on a NULL producer", PGQRS_EMISUSE, 4 },
    { "dequeue on a store passed as a consumer", PGQRS_EMISUSE, 4 },
    { "dequeue NULL out", PGQRS_EMISUSE, 2 },
};

static pgqrs_status run_case(size_t i)
{
    pgqrs_batch *b = NULL;
    pgqrs_queue_info *qi = NULL;
    pgqrs_metrics *ml = NULL;
    pgqrs_run_info *ri = NULL;
    pgqrs_worker_info *wi = NULL;
    pgqrs_producer *p = NULL;
    pgqrs_consumer *c = NULL;
    pgqrs_store *s = NULL;
    pgqrs_runs *rl = NULL;
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_run_filter rf = PGQRS_RUN_FILTER_INIT;
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_worker_health wh = PGQRS_WORKER_HEALTH_INIT;
    pgqrs_status res[2];
    int64_t n64 = 0, run = 0, two[2] = { held_id, held_id };
    const char *name = cases[i].name;
    pgqrs_status st = PGQRS_ERROR;
    o.heartbeat_interval_s = -1;

#define IS(s_) (strcmp(name, (s_)) == 0)
    if (IS("enqueue empty string")) st = pgqrs_enqueue(NULL, prod, "", 0);
    else if (IS("enqueue unterminated object")) st = pgqrs_enqueue(NULL, prod, "{\"a\":1", 0);
    else if (IS("enqueue single quotes")) st = pgqrs_enqueue(NULL, prod, "{'a':1}", 0);
    else if (IS("enqueue trailing comma")) st = pgqrs_enqueue(NULL, prod, "[1,2,]", 0);
    else if (IS("enqueue trailing garbage")) st = pgqrs_enqueue(NULL, prod, "{\"a\":1} x", 0);
    else if (IS("enqueue bare word")) st = pgqrs_enqueue(NULL, prod, "hello", 0);
    else if (IS("enqueue NaN")) st = pgqrs_enqueue(NULL, prod, "NaN", 0);
    else if (IS("enqueue number overflow 1e999")) st = pgqrs_enqueue(NULL, prod, "{\"n\":1e999}", 0);
    else if (IS("enqueue lone surrogate")) st = pgqrs_enqueue(NULL, prod, "\"\\ud800\"", 0);
    else if (IS("enqueue escaped NUL")) st = pgqrs_enqueue(NULL, prod, "\"a\\u0000b\"", 0);
    else if (IS("enqueue invalid UTF-8")) st = pgqrs_enqueue(NULL, prod, "\"\xff\xfe\"", 0);
    else if (IS("enqueue 100000-deep nesting")) st = pgqrs_enqueue(NULL, prod, deep_json, 0);
    else if (IS("enqueue NULL payload")) st = pgqrs_enqueue(NULL, prod, NULL, 0);
    else if (IS("enqueue_batch one invalid in the middle")) st = pgqrs_enqueue_batch(NULL, prod, payloads_bad_mid, 3, 0);
    else if (IS("enqueue_batch NULL in the middle")) st = pgqrs_enqueue_batch(NULL, prod, payloads_null_mid, 3, 0);
    else if (IS("trigger invalid input JSON")) st = pgqrs_workflow_trigger(&run, NULL, store, "wf", "{x}", NULL);
    else if (IS("enqueue_batch n=0")) st = pgqrs_enqueue_batch(NULL, prod, payloads_one, 0, 0);
    else if (IS("enqueue_batch n=1001 > max_batch_size")) st = pgqrs_enqueue_batch(ids_many, prod, payloads_many, 1001, 0);
    else if (IS("enqueue_batch n=SIZE_MAX")) st = pgqrs_enqueue_batch(NULL, prod, payloads_one, SIZE_MAX, 0);
    else if (IS("dequeue max=0")) st = pgqrs_dequeue(&b, c1, 0, 30);
    else if (IS("dequeue max=-1")) st = pgqrs_dequeue(&b, c1, -1, 30);
    else if (IS("dequeue max=1001")) st = pgqrs_dequeue(&b, c1, 1001, 30);
    else if (IS("dequeue max=INT_MAX")) st = pgqrs_dequeue(&b, c1, INT_MAX, 30);
    else if (IS("archive_batch n=1001")) st = pgqrs_archive_batch(NULL, c1, ids_many, 1001);
    else if (IS("delete_batch n=SIZE_MAX")) st = pgqrs_delete_batch(NULL, c1, ids_many, SIZE_MAX);
    else if (IS("message_list limit=0")) st = pgqrs_message_list(&b, store, "q", 0, 0);
    else if (IS("message_list limit=10001")) st = pgqrs_message_list(&b, store, "q", 0, 10001);
    else if (IS("dlq_list limit=-1")) st = pgqrs_dlq_list(&b, store, "q", 0, -1);
    else if (IS("enqueue delay=-1")) st = pgqrs_enqueue(NULL, prod, "{}", -1);
    else if (IS("enqueue delay=INT_MAX")) st = pgqrs_enqueue(NULL, prod, "{}", INT_MAX);
    else if (IS("dequeue vt=-1")) st = pgqrs_dequeue(&b, c1, 1, -1);
    else if (IS("dequeue vt=INT_MAX")) st = pgqrs_dequeue(&b, c1, 1, INT_MAX);
    else if (IS("extend_vt vt=-5")) st = pgqrs_extend_vt(NULL, c1, held_id, -5);
    else if (IS("extend_vt vt=INT_MAX")) st = pgqrs_extend_vt(NULL, c1, held_id, INT_MAX);
    else if (IS("release delay=-1")) st = pgqrs_release(c1, held_id, -1);
    else if (IS("release_batch delay=INT_MIN")) st = pgqrs_release_batch(NULL, c1, &held_id, 1, INT_MIN);
    else if (IS("archive_purge older_than=-1")) st = pgqrs_archive_purge(&n64, store, "q", -1);
    else if (IS("reclaim_zombies older_than=-1")) st = pgqrs_worker_reclaim_zombies(&n64, store, -1);
    else if (IS("worker_purge_stale older_than=-1")) st = pgqrs_worker_purge_stale(&n64, store, -1);
    else if (IS("worker_health stale_after=-1")) st = pgqrs_worker_health_get(&wh, store, -1);
    else if (IS("connect pool_size=-1")) { o.pool_size = -1; st = pgqrs_connect(&s, th_current_dsn(), &o); }
    else if (IS("connect connect_timeout_s=-1")) { o.connect_timeout_s = -1; st = pgqrs_connect(&s, th_current_dsn(), &o); }
    else if (IS("connect pool_wait_ms=INT_MIN")) { o.pool_wait_ms = INT_MIN; st = pgqrs_connect(&s, th_current_dsn(), &o); }
    else if (IS("connect default_vt_seconds=INT_MAX")) { o.default_vt_seconds = INT_MAX; st = pgqrs_connect(&s, th_current_dsn(), &o); }
    else if (IS("queue_get unknown")) st = pgqrs_queue_get(&qi, store, "nope");
    else if (IS("queue_delete unknown")) st = pgqrs_queue_delete(store, "nope", 1);
    else if (IS("queue_purge unknown")) st = pgqrs_queue_purge(&n64, store, "nope");
    else if (IS("metrics unknown queue")) st = pgqrs_metrics_list(&ml, store, "nope");
    else if (IS("message_list unknown queue")) st = pgqrs_message_list(&b, store, "nope", 0, 10);
    else if (IS("dlq_replay unknown queue")) st = pgqrs_dlq_replay(store, "nope", dead_id);
    else if (IS("dlq_replay_all unknown queue")) st = pgqrs_dlq_replay_all(&n64, store, "nope");
    else if (IS("producer_new unknown queue")) st = pgqrs_producer_new(&p, store, "nope");
    else if (IS("consumer_new unknown queue")) st = pgqrs_consumer_new(&c, store, "nope");
    else if (IS("dlq_replay unknown id")) st = pgqrs_dlq_replay(store, "q", dead_id + 1000000);
    else if (IS("dlq_replay id of another queue's message")) st = pgqrs_dlq_replay(store, "other", dead_id);
    else if (IS("run_get unknown")) st = pgqrs_run_get(&ri, store, 987654321);
    else if (IS("run_cancel unknown")) st = pgqrs_run_cancel(store, 987654321, "x");
    else if (IS("run_cancel negative id")) st = pgqrs_run_cancel(store, -1, "x");
    else if (IS("trigger unknown workflow")) st = pgqrs_workflow_trigger(&run, NULL, store, "nope", "{}", NULL);
    else if (IS("worker_get unknown")) st = pgqrs_worker_get(&wi, store, 987654321);
    else if (IS("archive unknown id")) st = pgqrs_archive(c1, held_id + 1000000);
    else if (IS("archive id 0")) st = pgqrs_archive(c1, 0);
    else if (IS("archive INT64_MIN")) st = pgqrs_archive(c1, INT64_MIN);
    else if (IS("archive a message c1 holds, from c2")) st = pgqrs_archive(c2, held_id);
    else if (IS("delete a message c1 holds, from c2")) st = pgqrs_delete(c2, held_id);
    else if (IS("release a message c1 holds, from c2")) st = pgqrs_release(c2, held_id, 0);
    else if (IS("extend_vt a message c1 holds, from c2")) st = pgqrs_extend_vt(NULL, c2, held_id, 10);
    else if (IS("archive a pending message nobody holds")) st = pgqrs_archive(c2, free_id);
    else if (IS("archive_batch of c1's ids, from c2")) st = pgqrs_archive_batch(res, c2, two, 2);
    else if (IS("archive a dead letter")) st = pgqrs_archive(c1, dead_id);
    else if (IS("queue_create empty name")) st = pgqrs_queue_create(NULL, store, "", NULL);
    else if (IS("queue_create 129-byte name")) st = pgqrs_queue_create(NULL, store, long_name, NULL);
    else if (IS("queue_create 299-byte name")) st = pgqrs_queue_create(NULL, store, big_name, NULL);
    else if (IS("queue_create invalid UTF-8 name")) st = pgqrs_queue_create(NULL, store, "q\x80", NULL);
    else if (IS("queue_create overlong UTF-8 encoding")) st = pgqrs_queue_create(NULL, store, "\xc0\xaf", NULL);
    else if (IS("queue_create NULL name")) st = pgqrs_queue_create(NULL, store, NULL, NULL);
    else if (IS("queue_create max_attempts=-1")) { qo.max_attempts = -1; st = pgqrs_queue_create(NULL, store, "neg", &qo); }
    else if (IS("queue_create existing name")) st = pgqrs_queue_create(NULL, store, "q", NULL);
    else if (IS("producer_new empty name")) st = pgqrs_producer_new(&p, store, "");
    else if (IS("consumer_new 129-byte name")) st = pgqrs_consumer_new(&c, store, long_name);
    else if (IS("workflow_define empty name")) st = pgqrs_workflow_define(store, "", noop_wf, NULL, NULL);
    else if (IS("workflow_define 120-byte name")) {
        char n120[121];
        memset(n120, 'w', 120);
        n120[120] = 0;
        st = pgqrs_workflow_define(store, n120, noop_wf, NULL, NULL);
    }
    else if (IS("workflow_define NULL handler")) st = pgqrs_workflow_define(store, "wf2", NULL, NULL, NULL);
    else if (IS("trigger empty workflow name")) st = pgqrs_workflow_trigger(&run, NULL, store, "", "{}", NULL);
    else if (IS("list_runs unknown status")) { rf.status = "RUNNING'; --"; st = pgqrs_run_list(&rl, store, &rf); }
    else if (IS("list_runs limit=-1")) { rf.limit = -1; st = pgqrs_run_list(&rl, store, &rf); }
    else if (IS("enqueue on a NULL producer")) st = pgqrs_enqueue(NULL, NULL, "{}", 0);
    else if (IS("dequeue on a store passed as a consumer")) st = pgqrs_dequeue(&b, (pgqrs_consumer *)(void *)store, 1, 30);
    else if (IS("dequeue NULL out")) st = pgqrs_dequeue(NULL, c1, 1, 30);
    else fprintf(stderr, "    no such case: %s\n", name);
#undef IS
    /* whatever a failing call handed out must be NULL; free it anyway */
    if (b || qi || ml || ri || wi || p || c || s || rl) {
        fprintf(stderr, "    %s: a failed call returned an object\n", name);
        st = st == PGQRS_OK ? PGQRS_OK : (pgqrs_status)999;
    }
    pgqrs_batch_free(b);
    pgqrs_queue_info_free(qi);
    pgqrs_metrics_free(ml);
    pgqrs_run_info_free(ri);
    pgqrs_worker_info_free(wi);
    pgqrs_producer_free(p);
    pgqrs_consumer_free(c);
    pgqrs_store_free(s);
    pgqrs_runs_free(rl);
    return st;
}

static void init_inputs(void)
{
    static const char *many[1001];
    memset(long_name, 'n', 129);
    long_name[129] = 0;
    memset(big_name, 'b', 299);
    big_name[299] = 0;
    for (int i = 0; i < 100000; i++) {
        deep_json[i] = '[';
        deep_json[100000 + i] = ']';
    }
    deep_json[200000] = 0;
    for (int i = 0; i < 1001; i++)
        many[i] = "{}";
    payloads_many = many;
    for (int i = 0; i < 1001; i++)
        ids_many[i] = held_id;
}

static void test_badinput__each_case_its_code_and_nothing_written(void)
{
    snap before, after;
    int bad = 0;
    CHECK_OK(setup(), store);
    init_inputs();
    CHECK_OK(take_snapshot(&before), store);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pgqrs_status st = run_case(i);
        const void *h = cases[i].which == 0 ? (const void *)store : cases[i].which == 1 ? (const void *)prod
                      : cases[i].which == 2 ? (const void *)c1 : cases[i].which == 3 ? (const void *)c2 : NULL;
        const char *msg = pgqrs_errmsg(h);
        if (st != cases[i].want) {
            th_fail(__FILE__, __LINE__, "%s: got %d (%s), want %d (%s): %s", cases[i].name, (int)st, pgqrs_errstr(st),
                    (int)cases[i].want, pgqrs_errstr(cases[i].want), msg);
            bad++;
        } else if (!msg || !*msg) {
            th_fail(__FILE__, __LINE__, "%s: status right but no message", cases[i].name);
            bad++;
        }
        if (take_snapshot(&after) != PGQRS_OK) {
            th_fail(__FILE__, __LINE__, "snapshot after %s: %s", cases[i].name, pgqrs_errmsg(store));
            break;
        }
        if (strcmp(before.text, after.text) != 0) {
            th_fail(__FILE__, __LINE__, "%s wrote something:\n      before %s\n      after  %s", cases[i].name,
                    before.text, after.text);
            bad++;
            before = after;
        }
    }
    if (getenv("PGQRS_TEST_VERBOSE"))
        fprintf(stderr, "    %zu bad-input cases, %d wrong\n", sizeof cases / sizeof *cases, bad);
    teardown();
}

static void test_badinput__malformed_dsns(void)
{
    static const struct {
        const char *dsn;
        pgqrs_status want;
    } dsns[] = {
        { "", PGQRS_EINVAL },
        { " ", PGQRS_EINVAL },
        { "postgres", PGQRS_EINVAL },
        { "postgres:", PGQRS_EINVAL },
        { "mysql://u:s3cretpw@h/db", PGQRS_EINVAL },
        { "POSTGRES://u:s3cretpw@h/db?schema=bad-name", PGQRS_EINVAL },
        { "postgres://u:s3cretpw@h:99999999999/db?schema=x;y", PGQRS_EINVAL },
        { "postgres://u:s3cretpw@h/db?schema=", PGQRS_EINVAL },
        { "postgres://u:s3cretpw@h/db?schema=a%00b", PGQRS_EINVAL },
        { "postgres://u:s3cretpw@h/db?schema=" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", PGQRS_EINVAL },
        { "postgres://u:s3cretpw@h/db?schema=x&schema=y';--", PGQRS_EINVAL },
        { "postgres://u:s3cretpw@h/db?pgbouncer=maybe", PGQRS_EINVAL },
        { "postgres://u:s3cretpw@h/db?pgbouncer=true&schema=app", PGQRS_EINVAL },
        { "sqlite:", PGQRS_EINVAL },
        { "sqlite:/", PGQRS_EINVAL },
        { "sqlite://", PGQRS_EINVAL },
        { "sqlite:memory:", PGQRS_EINVAL },
        /* built without SQLite, a valid SQLite DSN is "not built with" instead */
        { "sqlite:///nonexistent-dir-pgqrs/x/y.db", PGQRS_WITH_SQLITE ? PGQRS_ECONN : PGQRS_ENOTSUPPORTED },
        { "\xff\xfe", PGQRS_EINVAL },
    };
    for (size_t i = 0; i < sizeof dsns / sizeof *dsns; i++) {
        pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
        pgqrs_store *s = (pgqrs_store *)1;
        pgqrs_status st;
        const char *msg;
        o.connect_timeout_s = 1;
        st = pgqrs_connect(&s, dsns[i].dsn, &o);
        msg = pgqrs_errmsg(NULL);
        if (st == PGQRS_OK)
            pgqrs_store_free(s);
        CHECK_MSG(st == dsns[i].want, "connect(\"%s\"): got %d (%s), want %s: %s", dsns[i].dsn, (int)st,
                  pgqrs_errstr(st), pgqrs_errstr(dsns[i].want), msg);
        CHECK_MSG(s == NULL, "connect(\"%s\") failed but *out is set", dsns[i].dsn);
        CHECK_MSG(msg && *msg, "connect(\"%s\"): empty message", dsns[i].dsn);
        CHECK_MSG(!strstr(msg, "s3cretpw"), "connect(\"%s\"): the message has the password: %s", dsns[i].dsn, msg);
    }
}

/* ---- SQL injection: hostile names, inputs and step ids round-trip ---- */
static const char *const hostile[] = {
    "x'); DROP TABLE pgqrs_messages; --",
    "\"; DELETE FROM pgqrs_queues; /*",
    "*/ SELECT 1; --",
    "q' OR '1'='1",
    "$$; DROP SCHEMA public CASCADE; $$",
    "E'\\x00' \\\\ %s %n ?",
    "\xe5\x90\x8d\xe5\x89\x8d \xf0\x9f\x92\xa3 caf\xc3\xa9",
};

static pgqrs_status echo_step(pgqrs_run *run, char **out, void *user)
{
    (void)run;
    *out = pgqrs_strdup((const char *)user);
    return PGQRS_OK;
}

static pgqrs_status hostile_wf(pgqrs_run *run, const char *in, char **out, void *user)
{
    (void)user;
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        char *o = NULL;
        pgqrs_status st = pgqrs_run_step(&o, run, hostile[i], echo_step, (void *)in, NULL);
        if (st != PGQRS_OK)
            return st;
        pgqrs_free(o);
    }
    *out = pgqrs_strdup(in);
    return PGQRS_OK;
}

static void test_badinput__sql_metacharacters_round_trip(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    o.heartbeat_interval_s = -1;
    teardown();
    CHECK_OK(pgqrs_connect(&store, th_fresh_dsn(), &o), NULL);
    CHECK_OK(pgqrs_schema_install(store), store);
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        char payload[512], *esc = payload;
        pgqrs_producer *p = NULL;
        pgqrs_consumer *c = NULL;
        pgqrs_batch *b = NULL;
        pgqrs_workflow_worker *w = NULL;
        pgqrs_run_info *ri = NULL;
        pgqrs_steps *sl = NULL;
        int64_t id = 0, run = 0;
        int executed = 0;
        /* the name itself as a JSON string (escape quotes and backslashes) */
        *esc++ = '{';
        esc += sprintf(esc, "\"k\":\"");
        for (const char *q = hostile[i]; *q; q++) {
            if (*q == '"' || *q == '\\')
                *esc++ = '\\';
            *esc++ = *q;
        }
        strcpy(esc, "\"}");
        CHECK_OK(pgqrs_queue_create(NULL, store, hostile[i], NULL), store);
        CHECK_OK(pgqrs_producer_new(&p, store, hostile[i]), store);
        CHECK_OK(pgqrs_enqueue(&id, p, payload, 0), p);
        pgqrs_producer_free(p);
        CHECK_OK(pgqrs_consumer_new(&c, store, hostile[i]), store);
        if (pgqrs_dequeue(&b, c, 10, 30) != PGQRS_OK || pgqrs_batch_count(b) != 1 ||
            pgqrs_batch_at(b, 0)->id != id || !strstr(pgqrs_batch_at(b, 0)->payload, "\"k\"")) {
            th_fail(__FILE__, __LINE__, "queue %s: dequeue: %s", hostile[i], pgqrs_errmsg(c));
            pgqrs_batch_free(b);
            pgqrs_consumer_free(c);
            return;
        }
        {   /* the payload comes back with the same string value */
            const char *got = pgqrs_batch_at(b, 0)->payload;
            int same = strstr(got, payload + 6) != NULL || strcmp(got, payload) == 0;
            if (!same)
                th_fail(__FILE__, __LINE__, "payload changed: sent %s got %s", payload, got);
        }
        pgqrs_batch_free(b);
        CHECK_OK(pgqrs_archive(c, id), c);
        pgqrs_consumer_free(c);
        /* the same name as a workflow, its input, and every step id */
        if (strlen(hostile[i]) <= 119) {
            CHECK_OK(pgqrs_workflow_define(store, hostile[i], hostile_wf, NULL, NULL), store);
            CHECK_OK(pgqrs_workflow_trigger(&run, NULL, store, hostile[i], payload, NULL), store);
            CHECK_OK(pgqrs_workflow_worker_new(&w, store, hostile[i]), store);
            pgqrs_status st = pgqrs_workflow_worker_run_once(&executed, w);
            pgqrs_workflow_worker_free(w);
            CHECK_MSG(st == PGQRS_OK && executed == 1, "workflow %s: run_once %d executed %d", hostile[i], (int)st,
                      executed);
            CHECK_OK(pgqrs_run_get(&ri, store, run), store);
            CHECK_MSG(strcmp(ri->status, "SUCCESS") == 0, "run status %s", ri->status);
            pgqrs_run_info_free(ri);
            CHECK_OK(pgqrs_step_list(&sl, store, run), store);
            CHECK_I64((int64_t)(sizeof hostile / sizeof *hostile), pgqrs_steps_count(sl));
            for (size_t k = 0; k < pgqrs_steps_count(sl); k++) {
                bool found = false;
                for (size_t m = 0; m < sizeof hostile / sizeof *hostile; m++)
                    found = found || strcmp(pgqrs_steps_at(sl, k)->step_id, hostile[m]) == 0;
                if (!found)
                    th_fail(__FILE__, __LINE__, "step id changed: %s", pgqrs_steps_at(sl, k)->step_id);
            }
            pgqrs_steps_free(sl);
        }
    }
    {   /* every table is still there, every queue name listed unchanged */
        pgqrs_queues *ql = NULL;
        CHECK_OK(pgqrs_schema_verify(store), store);
        CHECK_OK(pgqrs_queue_list(&ql, store), store);
        for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
            bool found = false;
            for (size_t k = 0; k < pgqrs_queues_count(ql); k++)
                found = found || strcmp(pgqrs_queues_at(ql, k)->name, hostile[i]) == 0;
            if (!found)
                th_fail(__FILE__, __LINE__, "queue %s not listed unchanged", hostile[i]);
        }
        pgqrs_queues_free(ql);
    }
    teardown();
}

/* ---- no secret in any message ---- */

/* A fake PostgreSQL server on a unix socket: answers the startup packet with
 * AuthenticationCleartextPassword, reads the password, and refuses it the way
 * PostgreSQL does (SQLSTATE 28P01). It records the password it received, so the
 * test knows libpq really sent it. */
typedef struct fake_pg {
    int lfd;
    char dir[96];
    char got_password[128];
} fake_pg;

static int read_full(int fd, void *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = read(fd, (char *)buf + off, n - off);
        if (r <= 0)
            return -1;
        off += (size_t)r;
    }
    return 0;
}

static void *fake_pg_main(void *arg)
{
    fake_pg *f = arg;
    for (int conn = 0; conn < 4; conn++) {
        unsigned char hdr[8], buf[4096];
        uint32_t len, code;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        for (;;) {   /* startup packet; answer 'N' to an SSL/GSS request */
            if (read_full(fd, hdr, 8) != 0)
                break;
            len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
            code = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
            if (len < 8 || len > sizeof buf || read_full(fd, buf, len - 8) != 0)
                break;
            if (code == 80877103 || code == 80877104) {
                if (write(fd, "N", 1) != 1)
                    break;
                continue;
            }
            {   /* R: AuthenticationCleartextPassword */
                static const unsigned char auth[] = { 'R', 0, 0, 0, 8, 0, 0, 0, 3 };
                if (write(fd, auth, sizeof auth) != (ssize_t)sizeof auth)
                    break;
            }
            if (read_full(fd, hdr, 5) != 0 || hdr[0] != 'p')
                break;
            len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
            if (len < 4 || len - 4 > sizeof buf - 1 || read_full(fd, buf, len - 4) != 0)
                break;
            buf[len - 4] = 0;
            snprintf(f->got_password, sizeof f->got_password, "%.120s", (char *)buf);
            {
                static const char fields[] = "SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "
                                             "\"alice\"\0\0";
                unsigned char e[256];
                uint32_t n = (uint32_t)sizeof fields - 1 + 4;
                e[0] = 'E';
                e[1] = (unsigned char)(n >> 24);
                e[2] = (unsigned char)(n >> 16);
                e[3] = (unsigned char)(n >> 8);
                e[4] = (unsigned char)n;
                memcpy(e + 5, fields, sizeof fields - 1);
                if (write(fd, e, 5 + sizeof fields - 1) < 0)
                    break;
            }
            break;
        }
        close(fd);
    }
    return NULL;
}

static void test_badinput__wrong_password_not_in_message(void)
{
#if !PGQRS_WITH_POSTGRES
    {
        /* built without PostgreSQL: the "not built with" error must not echo the DSN's password either */
        pgqrs_store *none = NULL;
        CHECK(pgqrs_connect(&none, "postgres://alice:s3cretpw@/db", NULL) == PGQRS_ENOTSUPPORTED);
        CHECK(none == NULL && strstr(pgqrs_errmsg(NULL), "s3cretpw") == NULL);
        return;
    }
#endif
    static fake_pg f;
    struct sockaddr_un sa;
    pthread_t th;
    char dsn[512];
    static const char *const secrets[] = { "Pa55w0rd-XYZZY", "tok-Secret-4242" };
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_status st;
    const char *msg;
    if (!th_is_postgres() && strcmp(th_backend(), "sqlite") != 0)
        SKIP("backend-independent (a fake PostgreSQL server on a unix socket): runs on sqlite and postgres");
    memset(&f, 0, sizeof f);
    snprintf(f.dir, sizeof f.dir, "%s/fakepg", th_tmpdir());
    CHECK(mkdir(f.dir, 0700) == 0 || errno == EEXIST);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%.80s/.s.PGSQL.5432", f.dir);
    unlink(sa.sun_path);
    f.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(f.lfd >= 0);
    CHECK(bind(f.lfd, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(listen(f.lfd, 4) == 0);
    CHECK(pthread_create(&th, NULL, fake_pg_main, &f) == 0);
    o.connect_timeout_s = 5;
    o.heartbeat_interval_s = -1;

    /* 1: the password in the URI */
    snprintf(dsn, sizeof dsn, "postgres://alice:%s@/db?host=%s&sslmode=disable", secrets[0], f.dir);
    st = pgqrs_connect(&s, dsn, &o);
    msg = pgqrs_errmsg(NULL);
    if (st == PGQRS_OK)
        pgqrs_store_free(s);
    CHECK_MSG(st == PGQRS_ECONN, "wrong password: got %d (%s), want ECONN: %s", (int)st, pgqrs_errstr(st), msg);
    CHECK_MSG(strcmp(f.got_password, secrets[0]) == 0, "the fake server did not receive the password (got '%s')",
              f.got_password);
    CHECK_MSG(strstr(msg, "password authentication failed") != NULL, "message does not say why: %s", msg);
    CHECK_MSG(!strstr(msg, secrets[0]), "message leaks the password: %s", msg);
    /* 2: the password as a parameter, with a token-style parameter beside it */
    f.got_password[0] = 0;
    snprintf(dsn, sizeof dsn, "postgresql:///db?host=%s&user=alice&password=%s&sslmode=disable&application_name=%s",
             f.dir, secrets[1], "app");
    s = NULL;
    st = pgqrs_connect(&s, dsn, &o);
    msg = pgqrs_errmsg(NULL);
    if (st == PGQRS_OK)
        pgqrs_store_free(s);
    CHECK_MSG(st == PGQRS_ECONN, "wrong password param: got %d (%s): %s", (int)st, pgqrs_errstr(st), msg);
    CHECK_MSG(strcmp(f.got_password, secrets[1]) == 0, "the fake server did not receive the password (got '%s')",
              f.got_password);
    CHECK_MSG(!strstr(msg, secrets[1]), "message leaks the password: %s", msg);
    shutdown(f.lfd, SHUT_RDWR);
    close(f.lfd);
    pthread_cancel(th);
    pthread_join(th, NULL);
}

/* On the real server: an unknown role and an unknown database with a password in
 * the DSN; and a store opened with a password whose later errors never show it. */
static void test_badinput__real_server_errors_hide_secrets(void)
{
    const char *base = getenv("PGQRS_TEST_PG_DSN"), *host;
    char dsn[1024];
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_status st;
    const char *msg;
    if (!th_is_postgres())
        SKIP("needs a real PostgreSQL server");
    if (!base || !(host = strstr(base, "host=")))
        SKIP("PGQRS_TEST_PG_DSN has no host= (scripts/with-postgres.sh sets one)");
    o.heartbeat_interval_s = -1;
    o.connect_timeout_s = 5;
    snprintf(dsn, sizeof dsn, "postgres://nosuchrole:Hunter2-QQ@/postgres?%s", host);
    st = pgqrs_connect(&s, dsn, &o);
    if (st == PGQRS_OK) {
        /* trust auth connects lazily? then the first call must fail */
        pgqrs_status st2 = pgqrs_schema_install(s);
        msg = pgqrs_errmsg(s);
        CHECK_MSG(st2 != PGQRS_OK, "a role that does not exist could install");
        CHECK_MSG(!strstr(msg, "Hunter2-QQ"), "message leaks the password: %s", msg);
        pgqrs_store_free(s);
    } else {
        msg = pgqrs_errmsg(NULL);
        CHECK_MSG(st == PGQRS_ECONN, "unknown role: got %d (%s): %s", (int)st, pgqrs_errstr(st), msg);
        CHECK_MSG(!strstr(msg, "Hunter2-QQ"), "message leaks the password: %s", msg);
    }
    s = NULL;
    snprintf(dsn, sizeof dsn, "postgres://postgres:Hunter2-QQ@/no_such_db_pgqrs?%s", host);
    st = pgqrs_connect(&s, dsn, &o);
    msg = st == PGQRS_OK ? pgqrs_errmsg(s) : pgqrs_errmsg(NULL);
    CHECK_MSG(st == PGQRS_ECONN, "unknown database: got %d (%s): %s", (int)st, pgqrs_errstr(st), msg);
    CHECK_MSG(!strstr(msg, "Hunter2-QQ"), "message leaks the password: %s", msg);
    pgqrs_store_free(st == PGQRS_OK ? s : NULL);
    /* trust auth ignores the password: connect with one, then make errors */
    {
        const char *fresh = th_fresh_dsn();
        const char *at = strstr(fresh, "postgres@");
        pgqrs_queue_info *qi = NULL;
        CHECK(at != NULL);
        snprintf(dsn, sizeof dsn, "%.*spostgres:Hunter2-QQ@%s", (int)(at - fresh), fresh, at + strlen("postgres@"));
        s = NULL;
        CHECK_OK(pgqrs_connect(&s, dsn, &o), NULL);
        st = pgqrs_queue_get(&qi, s, "nope");
        msg = pgqrs_errmsg(s);
        CHECK_MSG(!strstr(msg, "Hunter2-QQ"), "message leaks the password: %s", msg);
        st = pgqrs_schema_install(s);
        st = pgqrs_queue_create(NULL, s, "", NULL);
        msg = pgqrs_errmsg(s);
        CHECK_MSG(!strstr(msg, "Hunter2-QQ"), "message leaks the password: %s", msg);
        pgqrs_store_free(s);
    }
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "badinput__each_case_its_code_and_nothing_written", test_badinput__each_case_its_code_and_nothing_written },
        { "badinput__malformed_dsns", test_badinput__malformed_dsns },
        { "badinput__sql_metacharacters_round_trip", test_badinput__sql_metacharacters_round_trip },
        { "badinput__wrong_password_not_in_message", test_badinput__wrong_password_not_in_message },
        { "badinput__real_server_errors_hide_secrets", test_badinput__real_server_errors_hide_secrets },
    };
    int rc = th_main(argc, argv, "test_badinput", tests, sizeof tests / sizeof *tests);
    teardown();
    return rc;
}
