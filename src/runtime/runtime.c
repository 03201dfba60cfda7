/* runtime.c: the worker runtime (pgqrs_runtime_*): handler threads fed by a
 * claiming loop that settles finished jobs in the transaction of the next claim,
 * a lease extender, LISTEN or capped polling when idle, and a shutdown that gives
 * back what had not started. docs/worker.md describes it for users.
 *
 * Threads and what they share (rt->mu guards every list and count):
 *   the caller's thread (run_loop): claims, settles, waits; the only one that
 *     claims or settles, so each queue's consumer handle is used by it alone;
 *   `concurrency` handler threads (handler_main): pop a waiting job, run it,
 *     push it on the done list, wake the claiming loop when it asked for that;
 *   the extender (extender_main): one statement extends every held lease, and
 *     it lets go of handlers past max_run_ms; its failures go to rt->ext (a
 *     handle of its own), never to a consumer.
 * A job is in exactly one place: waiting, running (a thread's slot), done, or
 * the loop's own `pending` list (finished, its settle not yet committed).
 * A scheduler thread (sched.c) runs beside them unless no_scheduler. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "queue/jobs.h"
#include "queue/settle.h"
#include "runtime/sched.h"

enum {
    MAX_CONCURRENCY = 1024,
    DEFAULT_BATCH = 10,
    DEFAULT_IDLE_MIN_MS = 10,
    DEFAULT_IDLE_MAX_MS = 1000,
    ACK_FLUSH_MS = 50,          /* a finished job waits at most this long for its settle to start */
    POLICY_REFRESH_MS = 1000,   /* a queue update reaches a running runtime within this */
    ERR_BASE_MS = 100,
    ERR_CAP_MS = 5000,
};
#define DEFAULT_SHUTDOWN_MS INT64_C(30000)

typedef struct rt_queue {
    char *name;
    pgqrs_job_fn fn;
    void *user;
    pgqrs_consumer *consumer;
    int64_t queue_id;
    pgqrs_retry_policy policy;   /* jitter < 0: none */
    int32_t max_attempts;
    int64_t policy_at_ms;        /* monotonic time of the last read; 0 = never */
    int64_t next_poll_ms;        /* after an empty claim: not before this (monotonic) */
    int idle_round;
    bool empty;                  /* the last claim, after every settle before it, found nothing */
    bool limited;                /* the last claim got nothing because of a queue limit: poll at next_poll_ms */
    int64_t recheck_ms;          /* until_empty: retries were settled; only a claim started at or after
                                  * this (monotonic) shows the queue empty (0: none pending) */
} rt_queue;

struct pgqrs_job {
    pgqrs__handle h;
    struct pgqrs_job *next;
    rt_queue *q;
    pgqrs_message msg;           /* payload owned */
    char *result;                /* JSON or NULL */
    bool has_delay;
    int64_t delay_ms;
    int outcome;
    int64_t started_ms;          /* monotonic; 0 = not started */
    bool let_go;                 /* past max_run_ms: released; its outcome is ignored */
    _Atomic int cancel;          /* a cancel was requested (seen at a lease extension) */
};

typedef struct job_list {
    pgqrs_job *head, *tail;
    size_t n;
} job_list;

typedef struct rt_thread {
    pgqrs_runtime *rt;
    pthread_t tid;
    pgqrs_job *job;              /* running now, or NULL */
    bool started, exited;
} rt_thread;

struct pgqrs_runtime {
    pgqrs__handle h;             /* failures of the calling thread's calls */
    pgqrs__handle ext;           /* failures of the extender thread */
    pgqrs_store *store;
    pgqrs_runtime_options opts;  /* resolved */
    int cap;                     /* most messages held: concurrency + batch_size */
    int claim_min;               /* a claim waits until this much room */
    rt_queue *queues;
    size_t nq;
    int wake[2];                 /* self-pipe: [0] read by run_loop, [1] written by stop and handlers */
    atomic_int stop;
    bool ran;

    pthread_mutex_t mu;
    pthread_cond_t work_cv;      /* handlers: a job is waiting, or quit */
    pthread_cond_t ext_cv;       /* the extender: stop */
    job_list waiting, done;
    rt_thread *threads;
    int n_running;
    int live_threads;            /* handler threads not exited */
    int64_t oldest_done_ms;
    bool loop_waiting;           /* run_loop sleeps on the pipe; wake it when */
    int64_t wake_done;           /*   done.n reaches this, or */
    int64_t wake_inflight;       /*   waiting.n + n_running falls to this */
    bool quit;                   /* handlers exit when nothing waits */
    bool abandoned;              /* shutdown gave up on running handlers: they free their job and exit */
    bool freed;                  /* pgqrs_runtime_free ran while abandoned handlers lived */
    bool ext_stop;
    pthread_t ext_thread;
    bool ext_started;
    int64_t *pending_ids;        /* run_loop's unsettled jobs, published for the extender */
    size_t n_pending, cap_pending;

    _Atomic int64_t n_claimed, n_done, n_retried, n_dead, n_lost, n_overrun, n_given_back, n_cancelled;
    int64_t n_rounds;            /* settle/claim transactions (run_loop's own) */
    pgqrs__rt_sched sched;       /* schedules and retention, on a thread of its own */
};

/* ---- small helpers ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void list_push(job_list *l, pgqrs_job *j)
{
    j->next = NULL;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->n++;
}

static pgqrs_job *list_pop(job_list *l)
{
    pgqrs_job *j = l->head;
    if (j) {
        l->head = j->next;
        if (!l->head)
            l->tail = NULL;
        l->n--;
        j->next = NULL;
    }
    return j;
}

static void list_append(job_list *to, job_list *from)
{
    if (!from->head)
        return;
    if (to->tail)
        to->tail->next = from->head;
    else
        to->head = from->head;
    to->tail = from->tail;
    to->n += from->n;
    memset(from, 0, sizeof *from);
}

static bool list_has(const job_list *l, int64_t id)
{
    for (const pgqrs_job *j = l->head; j; j = j->next)
        if (j->msg.id == id)
            return true;
    return false;
}

static void job_free(pgqrs_job *j)
{
    if (!j)
        return;
    pgqrs__free((char *)j->msg.payload);
    pgqrs__free(j->result);
    j->h.magic = PGQRS__MAGIC_FREED;
    pgqrs__free(j);
}

static void list_free(job_list *l)
{
    pgqrs_job *j;
    while ((j = list_pop(l)) != NULL)
        job_free(j);
}

static void poke(pgqrs_runtime *rt)
{
    char b = 1;
    ssize_t n = write(rt->wake[1], &b, 1);   /* a full pipe already wakes the reader */
    (void)n;
}

static void drain_pipe(pgqrs_runtime *rt)
{
    char buf[64];
    while (read(rt->wake[0], buf, sizeof buf) > 0)
        ;
}

static bool stopping(const pgqrs_runtime *rt) { return atomic_load(&((pgqrs_runtime *)rt)->stop) != 0; }

/* ---- options, new, add, free ---- */

/* Version 1 of pgqrs_runtime_options ended before the scheduler fields. */
#define RUNTIME_OPTIONS_V1_SIZE offsetof(pgqrs_runtime_options, no_scheduler)

PGQRS_EXTERN pgqrs_status pgqrs_runtime_options_init(pgqrs_runtime_options *opts, unsigned int version)
{
    if (version == 1)
        return pgqrs__struct_init(opts, RUNTIME_OPTIONS_V1_SIZE, 1, 1, "runtime options");
    return pgqrs__struct_init(opts, sizeof *opts, version, PGQRS_RUNTIME_OPTIONS_VERSION, "runtime options");
}

PGQRS_EXTERN pgqrs_status pgqrs_runtime_stats_init(pgqrs_runtime_stats *stats, unsigned int version)
{
    return pgqrs__struct_init(stats, sizeof *stats, version, PGQRS_RUNTIME_STATS_VERSION, "runtime stats");
}

static pgqrs_status resolve_options(pgqrs_store *s, pgqrs_runtime_options *o, const pgqrs_runtime_options *in)
{
    pgqrs_status st;
    memset(o, 0, sizeof *o);
    if (in) {
        if (in->version != 1 &&
            (st = pgqrs__check_version(s, "runtime options", in->version, PGQRS_RUNTIME_OPTIONS_VERSION)) != PGQRS_OK)
            return st;
        memcpy(o, in, in->version == 1 ? RUNTIME_OPTIONS_V1_SIZE : sizeof *o);   /* nothing past v1's end read */
    }
    o->version = PGQRS_RUNTIME_OPTIONS_VERSION;
    if (o->concurrency == 0)
        o->concurrency = 1;
    if (o->batch_size == 0)
        o->batch_size = DEFAULT_BATCH < s->opts.max_batch_size ? DEFAULT_BATCH : s->opts.max_batch_size;
    if (o->vt_seconds == 0)
        o->vt_seconds = s->opts.default_vt_seconds;
    if (o->idle_min_ms == 0)
        o->idle_min_ms = DEFAULT_IDLE_MIN_MS;
    if (o->idle_max_ms == 0)
        o->idle_max_ms = o->idle_min_ms > DEFAULT_IDLE_MAX_MS ? o->idle_min_ms : DEFAULT_IDLE_MAX_MS;
    if (o->shutdown_ms == 0)
        o->shutdown_ms = DEFAULT_SHUTDOWN_MS;
    if ((st = pgqrs__check_range(s, "concurrency", o->concurrency, 1, MAX_CONCURRENCY)) != PGQRS_OK ||
        (st = pgqrs__check_range(s, "batch_size", o->batch_size, 1, s->opts.max_batch_size)) != PGQRS_OK ||
        (st = pgqrs__check_range(s, "vt_seconds", o->vt_seconds, 1, PGQRS_MAX_VT_SECONDS)) != PGQRS_OK ||
        (st = pgqrs__check_range(s, "idle_min_ms", o->idle_min_ms, 1, 3600000)) != PGQRS_OK ||
        (st = pgqrs__check_range(s, "idle_max_ms", o->idle_max_ms, o->idle_min_ms, 3600000)) != PGQRS_OK ||
        (st = pgqrs__check_range(s, "max_run_ms", o->max_run_ms, 0, (int64_t)PGQRS_MAX_VT_SECONDS * 1000 * 52)) != PGQRS_OK)
        return st;
    if (o->shutdown_ms < 0)
        o->shutdown_ms = -1;
    return PGQRS_OK;
}

PGQRS_EXTERN pgqrs_status pgqrs_runtime_new(pgqrs_runtime **out, pgqrs_store *s, const pgqrs_runtime_options *opts)
{
    pgqrs_runtime *rt;
    pgqrs_runtime_options o;
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    if ((st = resolve_options(s, &o, opts)) != PGQRS_OK)
        return st;
    if (!(rt = pgqrs__calloc(1, sizeof *rt)))
        return pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    if ((st = pgqrs__rt_sched_new(&rt->sched, s, &o)) != PGQRS_OK) {
        pgqrs__free(rt);
        return st;
    }
    rt->threads = pgqrs__calloc((size_t)o.concurrency, sizeof *rt->threads);
    if (!rt->threads) {
        pgqrs__rt_sched_free(&rt->sched);
        pgqrs__free(rt);
        return pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    }
    if (pipe(rt->wake) != 0) {
        pgqrs__rt_sched_free(&rt->sched);
        pgqrs__free(rt->threads);
        pgqrs__free(rt);
        return pgqrs__fail(s, PGQRS_ERROR, "cannot create the runtime's wake-up pipe: %s", strerror(errno));
    }
    for (int i = 0; i < 2; i++) {
        fcntl(rt->wake[i], F_SETFL, fcntl(rt->wake[i], F_GETFL) | O_NONBLOCK);
        fcntl(rt->wake[i], F_SETFD, FD_CLOEXEC);
    }
    rt->h.magic = PGQRS__MAGIC_RUNTIME;
    rt->h.errs = &s->errs;
    rt->ext.magic = PGQRS__MAGIC_RUNTIME;
    rt->ext.errs = &s->errs;
    rt->store = s;
    rt->opts = o;
    rt->cap = o.concurrency + o.batch_size;
    rt->claim_min = o.batch_size / 2 > 1 ? o.batch_size / 2 : 1;
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->work_cv, NULL);
    pthread_cond_init(&rt->ext_cv, NULL);
    *out = rt;
    return PGQRS_OK;
}

static pgqrs_status check_rt(const pgqrs_runtime *rt)
{
    return pgqrs__check_handle(rt, PGQRS__MAGIC_RUNTIME, "runtime");
}

/* The queue's retry policy and max_attempts, as stored now. */
static void refresh_policy(pgqrs_runtime *rt, rt_queue *q)
{
    pgqrs_queue_info *info = NULL;
    if (pgqrs_queue_get(&info, rt->store, q->name) != PGQRS_OK)
        return;   /* keep the last one; the next settle tries again */
    q->policy.max_attempts = info->max_attempts;
    q->policy.initial_delay_ms = info->retry_initial_delay_ms;
    q->policy.multiplier = info->retry_multiplier;
    q->policy.max_delay_ms = info->retry_max_delay_ms;
    q->policy.jitter = info->retry_jitter > 0 ? info->retry_jitter : -1.0;
    q->max_attempts = info->max_attempts;
    q->policy_at_ms = mono_ms();
    pgqrs__consumer_set_max_attempts(q->consumer, info->max_attempts);
    pgqrs_queue_info_free(info);
}

PGQRS_EXTERN pgqrs_status pgqrs_runtime_add_queue(pgqrs_runtime *rt, const char *queue, pgqrs_job_fn fn, void *user)
{
    pgqrs_consumer *k = NULL;
    rt_queue *grown, *q;
    pgqrs_status st;
    if ((st = check_rt(rt)) != PGQRS_OK)
        return st;
    if (!fn)
        return pgqrs__fail(rt, PGQRS_EMISUSE, "fn is NULL");
    if (rt->ran)
        return pgqrs__fail(rt, PGQRS_ESTATE, "queues are added before pgqrs_runtime_run");
    if ((st = pgqrs__check_name(rt, "queue", queue)) != PGQRS_OK)
        return st;
    for (size_t i = 0; i < rt->nq; i++)
        if (strcmp(rt->queues[i].name, queue) == 0)
            return pgqrs__fail(rt, PGQRS_EEXISTS, "queue '%.128s' was already added", queue);
    if ((st = pgqrs_consumer_new(&k, rt->store, queue)) != PGQRS_OK)
        return pgqrs__copy_err(rt, NULL, st);   /* the store's message, on this thread */
    grown = pgqrs__realloc(rt->queues, (rt->nq + 1) * sizeof *grown);
    if (!grown) {
        pgqrs_consumer_free(k);
        return pgqrs__fail(rt, PGQRS_ENOMEM, "out of memory");
    }
    rt->queues = grown;
    q = &rt->queues[rt->nq];
    memset(q, 0, sizeof *q);
    if (!(q->name = pgqrs__strdup(queue))) {
        pgqrs_consumer_free(k);
        return pgqrs__fail(rt, PGQRS_ENOMEM, "out of memory");
    }
    q->fn = fn;
    q->user = user;
    q->consumer = k;
    q->queue_id = k->w.queue_id;
    q->max_attempts = k->w.max_attempts;
    rt->nq++;
    refresh_policy(rt, q);
    if (q->policy_at_ms == 0) {   /* could not read it: the defaults until the first refresh */
        q->policy.initial_delay_ms = 1000;
        q->policy.jitter = 0.25;
    }
    return PGQRS_OK;
}

/* Frees the runtime's memory (after every thread is gone). */
static void rt_destroy(pgqrs_runtime *rt)
{
    list_free(&rt->waiting);
    list_free(&rt->done);
    pthread_mutex_destroy(&rt->mu);
    pthread_cond_destroy(&rt->work_cv);
    pthread_cond_destroy(&rt->ext_cv);
    close(rt->wake[0]);
    close(rt->wake[1]);
    pgqrs__free(rt->threads);
    pgqrs__free(rt->pending_ids);
    rt->h.magic = PGQRS__MAGIC_FREED;
    pgqrs__free(rt);
}

PGQRS_EXTERN void pgqrs_runtime_free(pgqrs_runtime *rt)
{
    bool orphans;
    if (!rt || rt->h.magic != PGQRS__MAGIC_RUNTIME)
        return;
    for (size_t i = 0; i < rt->nq; i++) {
        pgqrs_consumer_free(rt->queues[i].consumer);
        pgqrs__free(rt->queues[i].name);
    }
    pgqrs__free(rt->queues);
    rt->queues = NULL;
    rt->nq = 0;
    pgqrs__rt_sched_free(&rt->sched);   /* its thread was joined when run returned */
    pthread_mutex_lock(&rt->mu);
    orphans = rt->abandoned && rt->live_threads > 0;
    rt->freed = true;
    rt->h.magic = PGQRS__MAGIC_FREED;   /* a late stop() or stats_get sees a freed handle */
    pthread_mutex_unlock(&rt->mu);
    if (!orphans)
        rt_destroy(rt);
    /* else the last abandoned handler thread to return destroys it */
}

PGQRS_EXTERN void pgqrs_runtime_stop(pgqrs_runtime *rt)
{
    int saved = errno;   /* async-signal-safe: an atomic store and one write(2) */
    if (rt && rt->h.magic == PGQRS__MAGIC_RUNTIME) {
        atomic_store(&rt->stop, 1);
        poke(rt);
    }
    errno = saved;
}

PGQRS_EXTERN pgqrs_status pgqrs_runtime_stats_get(pgqrs_runtime_stats *out, const pgqrs_runtime *rt)
{
    pgqrs_runtime *r = (pgqrs_runtime *)rt;
    pgqrs_status st;
    if ((st = check_rt(rt)) != PGQRS_OK)
        return st;
    if (!out)
        return pgqrs__fail(r, PGQRS_EMISUSE, "out is NULL");
    if (out->version != 1 &&
        (st = pgqrs__check_version(r, "runtime stats", out->version, PGQRS_RUNTIME_STATS_VERSION)) != PGQRS_OK)
        return st;
    out->claimed = atomic_load(&r->n_claimed);
    out->done = atomic_load(&r->n_done);
    out->retried = atomic_load(&r->n_retried);
    out->dead_lettered = atomic_load(&r->n_dead);
    out->lost = atomic_load(&r->n_lost);
    out->overrun = atomic_load(&r->n_overrun);
    out->given_back = atomic_load(&r->n_given_back);
    if (out->version >= 2)
        out->cancelled = atomic_load(&r->n_cancelled);
    pthread_mutex_lock(&r->mu);
    out->running = r->n_running;
    out->held = (int64_t)(r->waiting.n + r->done.n) + r->n_running;
    pthread_mutex_unlock(&r->mu);
    return PGQRS_OK;
}

PGQRS_EXTERN const pgqrs_scheduler *pgqrs_runtime_scheduler(const pgqrs_runtime *rt)
{
    return check_rt(rt) == PGQRS_OK ? rt->sched.sch : NULL;
}

/* ---- the job's accessors ---- */

static const pgqrs_job *live_job(const pgqrs_job *j)
{
    return j && j->h.magic == PGQRS__MAGIC_JOB ? j : NULL;
}

PGQRS_EXTERN int64_t pgqrs_job_id(const pgqrs_job *j) { return live_job(j) ? j->msg.id : 0; }
PGQRS_EXTERN const char *pgqrs_job_queue(const pgqrs_job *j) { return live_job(j) ? j->q->name : NULL; }
PGQRS_EXTERN const char *pgqrs_job_payload(const pgqrs_job *j) { return live_job(j) ? j->msg.payload : NULL; }
PGQRS_EXTERN int32_t pgqrs_job_attempt(const pgqrs_job *j) { return live_job(j) ? j->msg.read_count : 0; }
PGQRS_EXTERN int32_t pgqrs_job_max_attempts(const pgqrs_job *j) { return live_job(j) ? j->q->max_attempts : 0; }
PGQRS_EXTERN const pgqrs_message *pgqrs_job_message(const pgqrs_job *j) { return live_job(j) ? &j->msg : NULL; }

PGQRS_EXTERN pgqrs_status pgqrs_job_set_result(pgqrs_job *j, const char *result_json)
{
    char *copy = NULL;
    pgqrs_status st;
    if ((st = pgqrs__check_handle(j, PGQRS__MAGIC_JOB, "job")) != PGQRS_OK)
        return st;
    if (result_json) {
        json_error_t e;
        json_t *v = json_loads(result_json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
        if (!v)
            return pgqrs__fail(j, PGQRS_EINVAL, "result is not JSON: %s", e.text);
        json_decref(v);
        if (!(copy = pgqrs__strdup(result_json)))
            return pgqrs__fail(j, PGQRS_ENOMEM, "out of memory");
    }
    pgqrs__free(j->result);
    j->result = copy;
    return PGQRS_OK;
}

PGQRS_EXTERN int pgqrs_job_cancel_requested(const pgqrs_job *j)
{
    return live_job(j) ? atomic_load(&((pgqrs_job *)j)->cancel) != 0 : 0;
}

PGQRS_EXTERN pgqrs_status pgqrs_job_set_progress(pgqrs_job *j, const char *progress_json)
{
    pgqrs_status st;
    if ((st = pgqrs__check_handle(j, PGQRS__MAGIC_JOB, "job")) != PGQRS_OK)
        return st;
    return pgqrs__set_progress(j, j->q->consumer->w.store, j->q->consumer->w.worker_id, j->msg.id, progress_json);
}

PGQRS_EXTERN pgqrs_status pgqrs_job_set_retry_delay(pgqrs_job *j, int64_t delay_ms)
{
    pgqrs_status st;
    if ((st = pgqrs__check_handle(j, PGQRS__MAGIC_JOB, "job")) != PGQRS_OK)
        return st;
    if ((st = pgqrs__check_range(j, "delay_ms", delay_ms, 0, PGQRS_MAX_RETRY_DELAY_MS)) != PGQRS_OK)
        return st;
    j->has_delay = true;
    j->delay_ms = delay_ms;
    return PGQRS_OK;
}

/* ---- handler threads ---- */

/* Under rt->mu: wakes run_loop if what it waits for happened. */
static void maybe_wake_loop(pgqrs_runtime *rt)
{
    if (rt->loop_waiting &&
        ((int64_t)rt->done.n >= rt->wake_done || (int64_t)rt->waiting.n + rt->n_running <= rt->wake_inflight)) {
        rt->loop_waiting = false;
        poke(rt);
    }
}

static void *handler_main(void *arg)
{
    rt_thread *t = arg;
    pgqrs_runtime *rt = t->rt;
    bool last = false;
    pthread_mutex_lock(&rt->mu);
    for (;;) {
        pgqrs_job *j;
        int out;
        while (!rt->waiting.head && !rt->quit && !rt->abandoned)
            pthread_cond_wait(&rt->work_cv, &rt->mu);
        if (rt->abandoned || !rt->waiting.head)
            break;
        j = list_pop(&rt->waiting);
        if (rt->waiting.head)
            pthread_cond_signal(&rt->work_cv);   /* more waiting: the next thread */
        t->job = j;
        rt->n_running++;
        j->started_ms = mono_ms();
        pthread_mutex_unlock(&rt->mu);
        /* cancelled before it started: not run (settled as cancelled) */
        out = atomic_load(&j->cancel) ? PGQRS_JOB_DONE : j->q->fn(j, j->q->user);
        pthread_mutex_lock(&rt->mu);
        t->job = NULL;
        rt->n_running--;
        if (rt->abandoned || j->let_go) {
            /* its message was released for another delivery: the outcome stands for nothing */
            job_free(j);
            if (rt->abandoned)
                break;
            maybe_wake_loop(rt);
            continue;
        }
        j->outcome = out == PGQRS_JOB_DONE || out == PGQRS_JOB_FAIL ? out : PGQRS_JOB_RETRY;
        if (!rt->done.head)
            rt->oldest_done_ms = mono_ms();
        list_push(&rt->done, j);
        maybe_wake_loop(rt);
    }
    t->exited = true;
    rt->live_threads--;
    last = rt->abandoned && rt->freed && rt->live_threads == 0;
    if (!rt->abandoned && rt->live_threads == 0)
        poke(rt);   /* run_loop waits for the last one at shutdown */
    pthread_mutex_unlock(&rt->mu);
    if (last)
        rt_destroy(rt);
    return NULL;
}

/* ---- the lease extender ---- */

/* Lets go of the handlers running past max_run_ms: their messages are released
 * now (a delivery elsewhere) and their outcomes will be ignored. */
static void let_go_overruns(pgqrs_runtime *rt)
{
    int64_t now = mono_ms();
    for (size_t qi = 0; qi < rt->nq; qi++) {
        rt_queue *q = &rt->queues[qi];
        int64_t ids[64], zero[64];
        size_t n = 0;
        pthread_mutex_lock(&rt->mu);
        for (int i = 0; i < rt->opts.concurrency && n < 64; i++) {
            pgqrs_job *j = rt->threads[i].job;
            if (j && j->q == q && !j->let_go && now - j->started_ms > rt->opts.max_run_ms) {
                j->let_go = true;
                zero[n] = 0;
                ids[n++] = j->msg.id;
            }
        }
        pthread_mutex_unlock(&rt->mu);
        for (size_t i = 0; i < n; i++)
            pgqrs__log(rt->store, PGQRS_LOG_WARN, "job.overrun",
                       "message %lld of '%.128s' ran past max_run_ms %lld: released for another delivery (the "
                       "handler thread keeps running; its outcome will be ignored)",
                       (long long)ids[i], q->name, (long long)rt->opts.max_run_ms);
        if (n) {
            atomic_fetch_add(&rt->n_overrun, (int64_t)n);
            if (pgqrs__consumer_release_after(NULL, &rt->ext, q->consumer, ids, zero, n) != PGQRS_OK)
                pgqrs__log(rt->store, PGQRS_LOG_WARN, "runtime.retry",
                           "releasing %zu overrun message(s) of '%.128s' failed (their leases run out instead): %s", n,
                           q->name, pgqrs_errmsg(&rt->ext));
        }
    }
}

/* The ids of every message held here, under rt->mu: waiting, running (not let
 * go), finished, and run_loop's unsettled ones. ids has room for rt->cap plus
 * the pending; returns how many. */
static size_t held_ids(pgqrs_runtime *rt, int64_t *ids, size_t room)
{
    size_t n = 0;
    for (const pgqrs_job *j = rt->waiting.head; j && n < room; j = j->next)
        ids[n++] = j->msg.id;
    for (int i = 0; i < rt->opts.concurrency && n < room; i++)
        if (rt->threads[i].job && !rt->threads[i].job->let_go)
            ids[n++] = rt->threads[i].job->msg.id;
    for (const pgqrs_job *j = rt->done.head; j && n < room; j = j->next)
        ids[n++] = j->msg.id;
    for (size_t i = 0; i < rt->n_pending && n < room; i++)
        ids[n++] = rt->pending_ids[i];
    return n;
}

/* One extension of every held lease. */
/* The jobs held here whose message has a cancel request see it (a finished one
 * is settled as cancelled). */
static void mark_cancelled(pgqrs_runtime *rt, const int64_t *ids, size_t n)
{
    pthread_mutex_lock(&rt->mu);
    for (size_t i = 0; i < n; i++) {
        for (pgqrs_job *j = rt->waiting.head; j; j = j->next)
            if (j->msg.id == ids[i])
                atomic_store(&j->cancel, 1);
        for (pgqrs_job *j = rt->done.head; j; j = j->next)
            if (j->msg.id == ids[i])
                atomic_store(&j->cancel, 1);
        for (int t = 0; t < rt->opts.concurrency; t++)
            if (rt->threads[t].job && rt->threads[t].job->msg.id == ids[i])
                atomic_store(&rt->threads[t].job->cancel, 1);
    }
    pthread_mutex_unlock(&rt->mu);
}

static pgqrs_status extend_all(pgqrs_runtime *rt, const int64_t *workers)
{
    int64_t *ids, *cancel = NULL;
    size_t ncancel = 0;
    size_t room, n;
    pgqrs_status st;
    pthread_mutex_lock(&rt->mu);
    room = rt->waiting.n + rt->done.n + rt->n_pending + (size_t)rt->opts.concurrency;
    pthread_mutex_unlock(&rt->mu);
    room += (size_t)rt->cap;   /* what arrives meanwhile (the count is rechecked under the lock) */
    if (!(ids = pgqrs__malloc(room * sizeof *ids)))
        return pgqrs__fail(&rt->ext, PGQRS_ENOMEM, "out of memory");
    pthread_mutex_lock(&rt->mu);
    n = held_ids(rt, ids, room);
    pthread_mutex_unlock(&rt->mu);
    st = pgqrs__extend_held_cancel(&cancel, &ncancel, &rt->ext, rt->store, ids, n, workers, rt->nq,
                                   rt->opts.vt_seconds);
    if (st == PGQRS_OK && ncancel)
        mark_cancelled(rt, cancel, ncancel);
    pgqrs__free(cancel);
    pgqrs__free(ids);
    return st;
}

static void *extender_main(void *arg)
{
    pgqrs_runtime *rt = arg;
    int64_t every = (int64_t)rt->opts.vt_seconds * 1000 / 3, tick, last = mono_ms();
    int64_t *workers = pgqrs__calloc(rt->nq ? rt->nq : 1, sizeof *workers);
    int fails = 0;
    if (every < 50)
        every = 50;
    tick = every;
    if (rt->opts.max_run_ms > 0 && rt->opts.max_run_ms / 4 < tick)
        tick = rt->opts.max_run_ms / 4 > 10 ? rt->opts.max_run_ms / 4 : 10;
    for (size_t i = 0; workers && i < rt->nq; i++)
        workers[i] = pgqrs_consumer_worker_id(rt->queues[i].consumer);
    pthread_mutex_lock(&rt->mu);
    while (!rt->ext_stop) {
        struct timespec ts;
        int64_t now;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(tick / 1000);
        ts.tv_nsec += (long)(tick % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rt->ext_cv, &rt->mu, &ts);
        if (rt->ext_stop)
            break;
        pthread_mutex_unlock(&rt->mu);
        now = mono_ms();
        if (now - last >= every && workers) {
            pgqrs_status st = extend_all(rt, workers);
            if (st == PGQRS_OK) {
                last = now;
                fails = 0;
            } else if (fails++ == 0 || (fails & (fails - 1)) == 0) {
                /* retried at the next tick: leases last vt_seconds, extended every third of it */
                pgqrs__log(rt->store, PGQRS_LOG_WARN, "runtime.retry",
                           "extending the leases failed (trying again in %lld ms): %s", (long long)tick,
                           pgqrs_errmsg(&rt->ext));
            }
        }
        if (rt->opts.max_run_ms > 0)
            let_go_overruns(rt);
        pthread_mutex_lock(&rt->mu);
    }
    pthread_mutex_unlock(&rt->mu);
    pgqrs__free(workers);
    return NULL;
}

/* ---- the claiming loop ---- */

/* What one round settles for one queue: arrays built from its finished jobs. */
typedef struct settle_set {
    pgqrs_job **jobs_done, **jobs_dead, **jobs_retry, **jobs_cancel;
    int64_t *done_ids, *dead_ids, *retry_ids, *delays, *cancel_ids;
    const char **done_res, **dead_res, **cancel_res;
    size_t n_done, n_dead, n_retry, n_cancel, cap;
} settle_set;

static void settle_set_clear(settle_set *s)
{
    pgqrs__free(s->jobs_done);
    pgqrs__free(s->jobs_dead);
    pgqrs__free(s->jobs_retry);
    pgqrs__free(s->done_ids);
    pgqrs__free(s->dead_ids);
    pgqrs__free(s->retry_ids);
    pgqrs__free(s->delays);
    pgqrs__free(s->done_res);
    pgqrs__free(s->dead_res);
    pgqrs__free(s->jobs_cancel);
    pgqrs__free(s->cancel_ids);
    pgqrs__free(s->cancel_res);
    memset(s, 0, sizeof *s);
}

static bool settle_set_reserve(settle_set *s, size_t n)
{
    if (n <= s->cap)
        return true;
#define GROW(field) do { void *p_ = pgqrs__realloc(s->field, n * sizeof *s->field); if (!p_) return false; s->field = p_; } while (0)
    GROW(jobs_done); GROW(jobs_dead); GROW(jobs_retry);
    GROW(done_ids); GROW(dead_ids); GROW(retry_ids); GROW(delays);
    GROW(done_res); GROW(dead_res);
    GROW(jobs_cancel); GROW(cancel_ids); GROW(cancel_res);
#undef GROW
    s->cap = n;
    return true;
}

/* Sorts q's jobs of `from` into s (at most max of them); the others stay in from. */
static void build_settle(pgqrs_runtime *rt, rt_queue *q, job_list *from, settle_set *s, size_t max)
{
    job_list keep = { 0 };
    pgqrs_job *j;
    bool refreshed = false;
    s->n_done = s->n_dead = s->n_retry = s->n_cancel = 0;
    if (max > s->cap)
        max = s->cap;
    if (!s->jobs_done || !s->jobs_dead || !s->jobs_retry || !s->jobs_cancel)
        return;   /* settle_set_reserve failed: nothing is taken */
    while ((j = list_pop(from)) != NULL) {
        if (j->q != q || s->n_done + s->n_dead + s->n_retry + s->n_cancel >= max) {
            list_push(&keep, j);
            continue;
        }
        if (atomic_load(&j->cancel)) {   /* whatever the handler returned */
            s->jobs_cancel[s->n_cancel] = j;
            s->cancel_ids[s->n_cancel] = j->msg.id;
            s->cancel_res[s->n_cancel++] = j->result ? j->result : "null";
            continue;
        }
        if (j->outcome == PGQRS_JOB_RETRY && !refreshed && mono_ms() - q->policy_at_ms >= POLICY_REFRESH_MS) {
            refresh_policy(rt, q);
            refreshed = true;
        }
        if (j->outcome == PGQRS_JOB_DONE) {
            s->jobs_done[s->n_done] = j;
            s->done_ids[s->n_done] = j->msg.id;
            s->done_res[s->n_done++] = j->result ? j->result : "null";
        } else if (j->outcome == PGQRS_JOB_FAIL || j->msg.read_count >= q->max_attempts) {
            s->jobs_dead[s->n_dead] = j;
            s->dead_ids[s->n_dead] = j->msg.id;
            s->dead_res[s->n_dead++] = j->result ? j->result : "null";
        } else {
            s->jobs_retry[s->n_retry] = j;
            s->retry_ids[s->n_retry] = j->msg.id;
            s->delays[s->n_retry++] = j->has_delay ? j->delay_ms : pgqrs_retry_delay_ms(&q->policy, j->msg.read_count);
        }
    }
    *from = keep;
}

/* Logs and frees what a settle applied; puts back (into pending) what it did not. */
static void after_settle(pgqrs_runtime *rt, rt_queue *q, settle_set *s, const pgqrs__settled *done, job_list *pending)
{
    for (size_t i = 0; i < done->n_lost; i++)
        pgqrs__log(rt->store, PGQRS_LOG_WARN, "job.lease_lost",
                   "message %lld of '%.128s' finished after its lease ran out: another delivery took it, its "
                   "outcome here is dropped", (long long)done->lost[i], q->name);
    atomic_fetch_add(&rt->n_lost, (int64_t)done->n_lost);
    atomic_fetch_add(&rt->n_done, (int64_t)done->n_done);
    atomic_fetch_add(&rt->n_dead, (int64_t)done->n_dead);
    atomic_fetch_add(&rt->n_retried, (int64_t)done->n_retry);
    for (size_t i = 0; i < s->n_dead; i++) {
        pgqrs_job *j = s->jobs_dead[i];
        if (done->dead_applied)
            pgqrs__log(rt->store, PGQRS_LOG_WARN, "job.dead_letter", "message %lld of '%.128s' dead-lettered: %s",
                       (long long)j->msg.id, q->name,
                       j->outcome == PGQRS_JOB_FAIL ? "the handler failed it"
                                                    : "it failed its last attempt (max_attempts reached)");
        if (done->dead_applied)
            job_free(j);
        else
            list_push(pending, j);
    }
    for (size_t i = 0; i < s->n_retry; i++) {
        pgqrs_job *j = s->jobs_retry[i];
        if (done->retry_applied)
            pgqrs__log(rt->store, PGQRS_LOG_INFO, "job.retry",
                       "message %lld of '%.128s' failed attempt %d of %d: visible again in %lld ms",
                       (long long)j->msg.id, q->name, (int)j->msg.read_count, (int)q->max_attempts,
                       (long long)s->delays[i]);
        if (done->retry_applied)
            job_free(j);
        else
            list_push(pending, j);
    }
    for (size_t i = 0; i < s->n_done; i++) {
        if (done->done_applied)
            job_free(s->jobs_done[i]);
        else
            list_push(pending, s->jobs_done[i]);
    }
}

/* Archives s's cancel-requested jobs as cancelled (their own statement, before
 * the round's settle); on failure they go back to pending for the next round. */
static void settle_cancelled(pgqrs_runtime *rt, rt_queue *q, settle_set *s, job_list *pending)
{
    size_t settled = 0;
    pgqrs_status st = pgqrs__consumer_settle_cancelled(&settled, rt, q->consumer, s->cancel_ids,
                                                       (const char *const *)s->cancel_res, s->n_cancel);
    if (st != PGQRS_OK)
        pgqrs__log(rt->store, PGQRS_LOG_WARN, "runtime.retry",
                   "archiving %zu cancelled job(s) of '%.128s' failed (kept; trying again): %s", s->n_cancel, q->name,
                   pgqrs_errmsg(rt));
    else {
        atomic_fetch_add(&rt->n_cancelled, (int64_t)settled);
        atomic_fetch_add(&rt->n_lost, (int64_t)(s->n_cancel - settled));
    }
    for (size_t i = 0; i < s->n_cancel; i++) {
        if (st == PGQRS_OK)
            job_free(s->jobs_cancel[i]);
        else
            list_push(pending, s->jobs_cancel[i]);
    }
    s->n_cancel = 0;
}

/* Is message id already held here (a claim of our own message after its lease
 * ran out and before we settled it)? Under rt->mu. */
static bool held_here(pgqrs_runtime *rt, const job_list *pending, int64_t id)
{
    if (list_has(&rt->waiting, id) || list_has(&rt->done, id) || list_has(pending, id))
        return true;
    for (int i = 0; i < rt->opts.concurrency; i++)
        if (rt->threads[i].job && !rt->threads[i].job->let_go && rt->threads[i].job->msg.id == id)
            return true;
    return false;
}

/* Claimed messages become waiting jobs. */
static pgqrs_status hand_out(pgqrs_runtime *rt, rt_queue *q, pgqrs_batch *b, const job_list *pending)
{
    size_t n = pgqrs_batch_count(b);
    job_list fresh = { 0 };
    for (size_t i = 0; i < n; i++) {
        const pgqrs_message *m = pgqrs_batch_at(b, i);
        pgqrs_job *j = pgqrs__calloc(1, sizeof *j);
        if (!j || !(j->msg.payload = pgqrs__strdup(m->payload))) {
            pgqrs__free(j);
            list_free(&fresh);
            /* nothing of this batch is handed out: give it back (else its leases,
             * not extended, run out and it is delivered again) */
            for (size_t k = 0; k < n; k++) {
                int64_t id = pgqrs_batch_at(b, k)->id;
                pgqrs__consumer_unclaim(NULL, rt, q->consumer, &id, 1);
            }
            return pgqrs__fail(rt, PGQRS_ENOMEM, "out of memory");
        }
        j->h.magic = PGQRS__MAGIC_JOB;
        j->q = q;
        j->msg.id = m->id;
        j->msg.queue_id = m->queue_id;
        j->msg.read_count = m->read_count;
        j->msg.enqueued_at_us = m->enqueued_at_us;
        j->msg.vt_us = m->vt_us;
        j->msg.dequeued_at_us = m->dequeued_at_us;
        j->msg.producer_worker_id = m->producer_worker_id;
        j->msg.consumer_worker_id = m->consumer_worker_id;
        j->msg.state = m->state;
        j->msg.cancel_requested_at_us = m->cancel_requested_at_us;
        atomic_store(&j->cancel, m->cancel_requested_at_us != 0);
        list_push(&fresh, j);
    }
    atomic_fetch_add(&rt->n_claimed, (int64_t)n);
    pthread_mutex_lock(&rt->mu);
    for (pgqrs_job *j = list_pop(&fresh); j; j = list_pop(&fresh)) {
        if (held_here(rt, pending, j->msg.id)) {
            job_free(j);   /* already ours: the job we have settles it */
        } else {
            list_push(&rt->waiting, j);
        }
    }
    /* one thread; it wakes the next if work is left when it takes a job (handler_main),
     * so short jobs do not wake every thread and long ones still fan out */
    if (rt->waiting.head)
        pthread_cond_signal(&rt->work_cv);
    pthread_mutex_unlock(&rt->mu);
    return PGQRS_OK;
}

typedef struct loop_state {
    job_list pending;            /* finished, not yet settled (a settle failed, or waiting for a batch) */
    size_t next_q;               /* round-robin start */
    int err_round;
    int64_t err_until_ms;        /* after a failure: no round before this */
    pgqrs__listener *listener;
    bool listen_tried;
    int64_t *queue_ids;          /* of every queue, for the listener */
    uint64_t rng;
} loop_state;

/* Publishes the ids of ls->pending for the extender. */
static void publish_pending(pgqrs_runtime *rt, const loop_state *ls)
{
    pthread_mutex_lock(&rt->mu);
    if (ls->pending.n > rt->cap_pending) {
        int64_t *p = pgqrs__realloc(rt->pending_ids, ls->pending.n * sizeof *p);
        if (p) {
            rt->pending_ids = p;
            rt->cap_pending = ls->pending.n;
        }
    }
    rt->n_pending = 0;
    for (const pgqrs_job *j = ls->pending.head; j && rt->n_pending < rt->cap_pending; j = j->next)
        rt->pending_ids[rt->n_pending++] = j->msg.id;
    pthread_mutex_unlock(&rt->mu);
}

/* One round: settles what finished and claims, queue by queue. Returns true when
 * a claim brought messages (another round may follow at once). */
static bool run_round(pgqrs_runtime *rt, loop_state *ls, bool claim)
{
    settle_set s = { 0 };
    bool got = false;
    int64_t now = mono_ms();
    pthread_mutex_lock(&rt->mu);
    list_append(&ls->pending, &rt->done);
    pthread_mutex_unlock(&rt->mu);
    if (!settle_set_reserve(&s, (size_t)rt->store->opts.max_batch_size)) {
        pgqrs__log(rt->store, PGQRS_LOG_WARN, "runtime.retry", "out of memory settling; trying again");
        return false;
    }
    for (size_t k = 0; k < rt->nq; k++) {
        rt_queue *q = &rt->queues[(ls->next_q + k) % rt->nq];
        pgqrs__settle in;
        pgqrs__settled out;
        pgqrs_batch *b = NULL;
        int want = 0;
        pgqrs_status st;
        build_settle(rt, q, &ls->pending, &s, (size_t)rt->store->opts.max_batch_size);
        if (s.n_cancel)
            settle_cancelled(rt, q, &s, &ls->pending);
        if (claim && now >= q->next_poll_ms) {
            int room;
            /* held: waiting, running, finished since this round began (done), and
             * finished and unsettled (pending); what s settles leaves with this claim */
            pthread_mutex_lock(&rt->mu);
            room = rt->cap - (int)rt->waiting.n - rt->n_running - (int)rt->done.n;
            pthread_mutex_unlock(&rt->mu);
            room -= (int)ls->pending.n;
            if (room >= rt->claim_min)
                want = room < rt->opts.batch_size ? room : rt->opts.batch_size;
        }
        if (want == 0 && s.n_done + s.n_dead + s.n_retry == 0)
            continue;
        in.done_ids = s.done_ids;
        in.done_results = s.done_res;
        in.n_done = s.n_done;
        in.dead_ids = s.dead_ids;
        in.dead_results = s.dead_res;
        in.n_dead = s.n_dead;
        in.retry_ids = s.retry_ids;
        in.retry_delays_ms = s.delays;
        in.n_retry = s.n_retry;
        st = pgqrs__consumer_settle(&b, &out, q->consumer, &in, want, rt->opts.vt_seconds);
        rt->n_rounds++;
        after_settle(rt, q, &s, &out, &ls->pending);
        if (st == PGQRS_OK) {
            if (s.n_done + s.n_dead + s.n_retry > 0)
                q->empty = false;   /* a retry may be visible again already */
            if (s.n_retry > 0)      /* a retry due within idle_min_ms is run before until_empty ends */
                q->recheck_ms = mono_ms() + rt->opts.idle_min_ms;
            if (want > 0) {
                size_t n = pgqrs_batch_count(b);
                if (n == 0 && q->recheck_ms && now >= q->recheck_ms)
                    q->recheck_ms = 0;
                q->limited = false;
                if (n > 0) {
                    q->empty = false;
                    q->idle_round = 0;
                    got = true;
                } else if (pgqrs__consumer_limit_wait_ms(q->consumer) > 0) {
                    /* not empty: held back by a limit until about then */
                    q->empty = false;
                    q->limited = true;
                    q->next_poll_ms = now + pgqrs__consumer_limit_wait_ms(q->consumer);
                } else {
                    q->empty = true;
                    q->next_poll_ms = now + pgqrs__backoff_ms(q->idle_round, rt->opts.idle_min_ms,
                                                              rt->opts.idle_max_ms, &ls->rng);
                    if (q->idle_round < 30)
                        q->idle_round++;
                }
                if (n > 0 && hand_out(rt, q, b, &ls->pending) != PGQRS_OK)
                    pgqrs__log(rt->store, PGQRS_LOG_WARN, "runtime.retry", "%s", pgqrs_errmsg(rt));
            }
            ls->err_round = 0;
        } else {
            int64_t delay = pgqrs__backoff_ms(ls->err_round, ERR_BASE_MS, ERR_CAP_MS, &ls->rng);
            if (ls->err_round < 30)
                ls->err_round++;
            ls->err_until_ms = mono_ms() + delay;
            pgqrs__log(rt->store, PGQRS_LOG_WARN, "runtime.retry",
                       "claiming or settling on '%.128s' failed (%zu finished job(s) kept; trying again in %lld ms): %s",
                       q->name, s.n_done + s.n_dead + s.n_retry, (long long)delay, pgqrs_errmsg(q->consumer));
        }
        pgqrs__settled_clear(&out);
        pgqrs_batch_free(b);
        if (st != PGQRS_OK)
            break;
    }
    ls->next_q = rt->nq ? (ls->next_q + 1) % rt->nq : 0;
    settle_set_clear(&s);
    publish_pending(rt, ls);
    return got;
}

/* Subscribes before looking, so a message enqueued in between wakes the wait. */
static void open_listener(pgqrs_runtime *rt, loop_state *ls)
{
    pgqrs_status st;
    ls->listen_tried = true;
    st = pgqrs__listener_open(&ls->listener, rt->store, rt);
    if (st != PGQRS_OK && st != PGQRS_ENOTSUPPORTED)
        pgqrs__log(rt->store, PGQRS_LOG_WARN, "listen.failed", "falling back to polling: %s", pgqrs_errmsg(rt));
}

/* Sleeps until there is something to do: a handler finished what we wait for,
 * a notification, a poll is due, a stop; at most max_ms. */
static void wait_for_work(pgqrs_runtime *rt, loop_state *ls, bool claiming, int64_t max_ms)
{
    int64_t now = mono_ms(), timeout = rt->opts.idle_max_ms < max_ms ? rt->opts.idle_max_ms : max_ms;
    bool all_idle = true, notify = false;
    for (size_t i = 0; i < rt->nq; i++)
        all_idle &= rt->queues[i].empty;
    pthread_mutex_lock(&rt->mu);
    if (rt->done.n > 0 || ls->pending.n > 0) {
        int64_t oldest = rt->done.n ? rt->oldest_done_ms : now;
        int64_t left = ACK_FLUSH_MS - (now - oldest);
        timeout = left < 0 ? 0 : left;
    }
    if (!claiming) {
        rt->wake_done = 1;
        rt->wake_inflight = 0;
    } else if (all_idle) {
        rt->wake_done = 1;
        rt->wake_inflight = -1;
    } else {
        rt->wake_done = rt->opts.batch_size;
        rt->wake_inflight = rt->cap - rt->claim_min - (int64_t)ls->pending.n;
    }
    if (claiming) {
        for (size_t i = 0; i < rt->nq; i++) {
            int64_t due = rt->queues[i].next_poll_ms - now;
            if ((rt->queues[i].empty || rt->queues[i].limited) && due < timeout)
                timeout = due < 0 ? 0 : due;
        }
    }
    if (ls->err_until_ms > now && ls->err_until_ms - now < timeout)
        timeout = ls->err_until_ms - now;
    rt->loop_waiting = true;
    /* it may already be true */
    if ((int64_t)rt->done.n >= rt->wake_done || (int64_t)rt->waiting.n + rt->n_running <= rt->wake_inflight)
        timeout = 0;
    pthread_mutex_unlock(&rt->mu);
    if (stopping(rt) && claiming)
        timeout = 0;
    if (claiming && all_idle && timeout > 0) {
        /* capped by when the queues' next delayed message is due */
        for (size_t i = 0; i < rt->nq; i++) {
            int64_t due = pgqrs__consumer_next_due_ms(rt->queues[i].consumer, timeout);
            if (due < timeout)
                timeout = due;
        }
        if (!ls->listen_tried)
            open_listener(rt, ls);
        notify = ls->listener != NULL;
    }
    if (timeout > 0 && notify) {
        int woke = pgqrs__listener_wait(ls->listener, ls->queue_ids, rt->nq, timeout, rt->wake[0]);
        if (woke == 1) {
            for (size_t i = 0; i < rt->nq; i++) {
                rt->queues[i].next_poll_ms = 0;
                rt->queues[i].idle_round = 0;
            }
        } else if (woke < 0) {
            pgqrs__log(rt->store, PGQRS_LOG_WARN, "listen.failed", "falling back to polling: %s", pgqrs_errmsg(rt));
            pgqrs__listener_close(ls->listener);
            ls->listener = NULL;
            ls->listen_tried = false;   /* try again at the next idle wait */
        }
    } else if (timeout > 0) {
        struct pollfd p = { rt->wake[0], POLLIN, 0 };
        poll(&p, 1, timeout > 60000 ? 60000 : (int)timeout);
    }
    pthread_mutex_lock(&rt->mu);
    rt->loop_waiting = false;
    pthread_mutex_unlock(&rt->mu);
    drain_pipe(rt);
}

static bool nothing_left(pgqrs_runtime *rt, const loop_state *ls)
{
    bool none;
    pthread_mutex_lock(&rt->mu);
    none = rt->waiting.n == 0 && rt->n_running == 0 && rt->done.n == 0 && ls->pending.n == 0;
    pthread_mutex_unlock(&rt->mu);
    return none;
}

static bool every_queue_empty(const pgqrs_runtime *rt)
{
    for (size_t i = 0; i < rt->nq; i++)
        if (!rt->queues[i].empty || rt->queues[i].recheck_ms)
            return false;
    return true;
}

/* Shutdown, first step: messages claimed and not started go back, uncounted. */
static void give_back_waiting(pgqrs_runtime *rt)
{
    job_list back;
    pthread_mutex_lock(&rt->mu);
    back = rt->waiting;
    memset(&rt->waiting, 0, sizeof rt->waiting);
    rt->quit = true;
    pthread_cond_broadcast(&rt->work_cv);
    pthread_mutex_unlock(&rt->mu);
    for (size_t qi = 0; qi < rt->nq && back.n; qi++) {
        rt_queue *q = &rt->queues[qi];
        int64_t *ids = pgqrs__malloc(back.n * sizeof *ids);
        int64_t given = 0;
        size_t n = 0;
        if (!ids)
            break;   /* their leases run out instead */
        for (pgqrs_job *j = back.head; j; j = j->next)
            if (j->q == q)
                ids[n++] = j->msg.id;
        for (int attempt = 0; n && attempt < 3; attempt++) {
            if (pgqrs__consumer_unclaim(&given, rt, q->consumer, ids, n) == PGQRS_OK)
                break;
            pgqrs__log(rt->store, PGQRS_LOG_WARN, "runtime.retry",
                       "giving back %zu unstarted message(s) of '%.128s' failed: %s", n, q->name, pgqrs_errmsg(rt));
            pgqrs__sleep_ms(100);
        }
        atomic_fetch_add(&rt->n_given_back, given);
        pgqrs__free(ids);
    }
    list_free(&back);
}

/* Shutdown past the deadline: the running handlers' messages are released for
 * another delivery and the threads left to finish on their own. */
static void abandon_running(pgqrs_runtime *rt)
{
    for (size_t qi = 0; qi < rt->nq; qi++) {
        rt_queue *q = &rt->queues[qi];
        int64_t *ids = pgqrs__calloc((size_t)rt->opts.concurrency, sizeof *ids);
        int64_t *zero = pgqrs__calloc((size_t)rt->opts.concurrency, sizeof *zero);
        size_t n = 0;
        pthread_mutex_lock(&rt->mu);
        for (int i = 0; ids && zero && i < rt->opts.concurrency; i++)
            if (rt->threads[i].job && rt->threads[i].job->q == q && !rt->threads[i].job->let_go)
                ids[n++] = rt->threads[i].job->msg.id;
        pthread_mutex_unlock(&rt->mu);
        if (n && pgqrs__consumer_release_after(NULL, rt, q->consumer, ids, zero, n) != PGQRS_OK)
            pgqrs__log(rt->store, PGQRS_LOG_WARN, "runtime.retry", "releasing %zu running message(s) failed: %s", n,
                       pgqrs_errmsg(rt));
        pgqrs__free(ids);
        pgqrs__free(zero);
    }
    pthread_mutex_lock(&rt->mu);
    rt->abandoned = true;
    pthread_cond_broadcast(&rt->work_cv);
    for (int i = 0; i < rt->opts.concurrency; i++) {
        if (!rt->threads[i].started)
            continue;
        if (rt->threads[i].exited)
            pthread_join(rt->threads[i].tid, NULL);   /* it holds no lock: it exited */
        else
            pthread_detach(rt->threads[i].tid);
        rt->threads[i].started = false;
    }
    pthread_mutex_unlock(&rt->mu);
}

static void stop_extender(pgqrs_runtime *rt)
{
    if (!rt->ext_started)
        return;
    pthread_mutex_lock(&rt->mu);
    rt->ext_stop = true;
    pthread_cond_broadcast(&rt->ext_cv);
    pthread_mutex_unlock(&rt->mu);
    pthread_join(rt->ext_thread, NULL);
    rt->ext_started = false;
}

static pgqrs_status start_threads(pgqrs_runtime *rt)
{
    if (pthread_create(&rt->ext_thread, NULL, extender_main, rt) != 0)
        return pgqrs__fail(rt, PGQRS_ERROR, "cannot start the lease extender thread");
    rt->ext_started = true;
    for (int i = 0; i < rt->opts.concurrency; i++) {
        rt->threads[i].rt = rt;
        pthread_mutex_lock(&rt->mu);
        rt->live_threads++;
        pthread_mutex_unlock(&rt->mu);
        if (pthread_create(&rt->threads[i].tid, NULL, handler_main, &rt->threads[i]) != 0) {
            pthread_mutex_lock(&rt->mu);
            rt->live_threads--;
            pthread_mutex_unlock(&rt->mu);
            return pgqrs__fail(rt, PGQRS_ERROR, "cannot start handler thread %d of %d", i + 1, rt->opts.concurrency);
        }
        rt->threads[i].started = true;
    }
    return PGQRS_OK;
}

static void join_threads(pgqrs_runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    rt->quit = true;
    pthread_cond_broadcast(&rt->work_cv);
    pthread_mutex_unlock(&rt->mu);
    for (int i = 0; i < rt->opts.concurrency; i++)
        if (rt->threads[i].started) {
            pthread_join(rt->threads[i].tid, NULL);
            rt->threads[i].started = false;
        }
}

PGQRS_EXTERN pgqrs_status pgqrs_runtime_run(pgqrs_runtime *rt)
{
    loop_state ls;
    pgqrs_status st, result = PGQRS_OK;
    int64_t deadline = 0;
    char names[256] = "";
    bool sched_ready = false;   /* the scheduler's first round has ended (or there is none) */
    if ((st = check_rt(rt)) != PGQRS_OK)
        return st;
    if (rt->ran)
        return pgqrs__fail(rt, PGQRS_ESTATE, "a runtime runs once; make a new one");
    if (rt->nq == 0)
        return pgqrs__fail(rt, PGQRS_ESTATE, "no queue was added (pgqrs_runtime_add_queue)");
    rt->ran = true;
    memset(&ls, 0, sizeof ls);
    ls.rng = pgqrs__rng_seed(rt);
    if (!(ls.queue_ids = pgqrs__calloc(rt->nq, sizeof *ls.queue_ids)))
        return pgqrs__fail(rt, PGQRS_ENOMEM, "out of memory");
    for (size_t i = 0; i < rt->nq; i++)
        ls.queue_ids[i] = rt->queues[i].queue_id;
    open_listener(rt, &ls);
    for (size_t i = 0; i < rt->nq; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s'%.60s'", i ? ", " : "", rt->queues[i].name);
    if ((st = start_threads(rt)) != PGQRS_OK || (st = pgqrs__rt_sched_start(&rt->sched, rt)) != PGQRS_OK) {
        stop_extender(rt);
        join_threads(rt);
        pgqrs__listener_close(ls.listener);
        pgqrs__free(ls.queue_ids);
        return st;
    }
    pgqrs__log(rt->store, PGQRS_LOG_INFO, "runtime.start",
               "runtime on %s: concurrency %d, batch %d, lease %d s (extended every %d ms)%s", names,
               rt->opts.concurrency, rt->opts.batch_size, rt->opts.vt_seconds,
               rt->opts.vt_seconds * 1000 / 3 > 50 ? rt->opts.vt_seconds * 1000 / 3 : 50,
               rt->sched.sch ? ", with a scheduler" : "");
    /* running: claim, settle, wait */
    while (!stopping(rt)) {
        bool got = false;
        if (!sched_ready && (sched_ready = pgqrs__rt_sched_ready(&rt->sched)))
            for (size_t i = 0; i < rt->nq; i++) {   /* until_empty: a claim must look for the jobs it made */
                rt->queues[i].empty = false;
                rt->queues[i].next_poll_ms = 0;
            }
        if (mono_ms() >= ls.err_until_ms)
            got = run_round(rt, &ls, true);
        if (stopping(rt))
            break;
        if (rt->opts.until_empty && sched_ready && every_queue_empty(rt) && nothing_left(rt, &ls))
            break;
        if (!got)
            wait_for_work(rt, &ls, true, INT64_MAX);
    }
    /* shutdown: no new scheduled job; give back what had not started, let the running finish */
    pgqrs__rt_sched_stop(&rt->sched);
    give_back_waiting(rt);
    if (rt->opts.shutdown_ms >= 0)
        deadline = mono_ms() + rt->opts.shutdown_ms;
    for (;;) {
        bool threads_done;
        if (mono_ms() >= ls.err_until_ms)
            run_round(rt, &ls, false);
        pthread_mutex_lock(&rt->mu);
        threads_done = rt->live_threads == 0;
        pthread_mutex_unlock(&rt->mu);
        if (threads_done && nothing_left(rt, &ls))
            break;
        if (threads_done && mono_ms() >= ls.err_until_ms && ls.err_round >= 5)
            break;   /* the database stays away: what is unsettled runs out its lease */
        if (!threads_done && deadline && mono_ms() >= deadline) {
            abandon_running(rt);
            result = pgqrs__fail(rt, PGQRS_ETIMEOUT, "shutdown_ms %lld passed with handlers still running",
                                 (long long)rt->opts.shutdown_ms);
            run_round(rt, &ls, false);   /* what finished before the deadline */
            break;
        }
        wait_for_work(rt, &ls, false, deadline ? deadline - mono_ms() : INT64_MAX);
    }
    if (!rt->abandoned)
        join_threads(rt);
    stop_extender(rt);
    pgqrs__rt_sched_join(&rt->sched);
    pgqrs__listener_close(ls.listener);
    pgqrs__free(ls.queue_ids);
    if (ls.pending.n)
        pgqrs__log(rt->store, PGQRS_LOG_WARN, "runtime.retry",
                   "%zu finished job(s) could not be settled: their leases run out and they are delivered again",
                   ls.pending.n);
    list_free(&ls.pending);
    pgqrs__log(rt->store, rt->abandoned ? PGQRS_LOG_WARN : PGQRS_LOG_INFO, "runtime.stop",
               "runtime on %s stopped%s: %lld claimed, %lld done, %lld retried, %lld dead-lettered, %lld given back, "
               "%lld lost, %lld overrun, in %lld settle/claim rounds", names,
               rt->abandoned ? " after shutdown_ms with handlers still running (their messages were released)" : "",
               (long long)atomic_load(&rt->n_claimed),
               (long long)atomic_load(&rt->n_done), (long long)atomic_load(&rt->n_retried),
               (long long)atomic_load(&rt->n_dead), (long long)atomic_load(&rt->n_given_back),
               (long long)atomic_load(&rt->n_lost), (long long)atomic_load(&rt->n_overrun), (long long)rt->n_rounds);
    return result;
}
