/* bench/pgqrs_bench.c: the pgqrs-c side of `make bench`.
 *   pgqrs_bench drain   DSN CONSUMERS BATCH MESSAGES TMPDIR
 *   pgqrs_bench enqueue DSN PRODUCERS BATCH MESSAGES TMPDIR
 *       PGQRS_BENCH_PRIORITIES=N (drain): the backlog has priorities 0..N-1 mixed
 *       (message i: i % N), so the claim walks N priority levels;
 *       PGQRS_BENCH_UNIQUE=1 (enqueue): every message has its own unique key
 *   pgqrs_bench latency DSN RATE SECONDS CONSUMERS BATCH POLL_MS TMPDIR
 *       POLL_MS > 0: sleep that long when the queue is empty (fixed-interval polling);
 *       POLL_MS = -1: pgqrs_dequeue_wait (LISTEN/NOTIFY on PostgreSQL, backoff polling on SQLite)
 *   pgqrs_bench runtime DSN CONCURRENCY BATCH MESSAGES TMPDIR
 *       the worker runtime in this one process (pgqrs_runtime: CONCURRENCY handler
 *       threads, batch_size BATCH, a no-op handler returning PGQRS_JOB_DONE) drains
 *       a prefilled backlog of MESSAGES (until_empty); time from pgqrs_runtime_run
 *       to its return, which is after the last settle committed
 *   pgqrs_bench workflow DSN WORKERS RUNS REPLAY TMPDIR
 *       RUNS runs of a 3-step workflow executed by WORKERS processes; REPLAY = 1: the
 *       first attempt of every run fails after its 3 steps (retry due in 1 ms), so
 *       the second attempt replays 3 completed steps before it succeeds
 *   pgqrs_bench wakeup DSN RUNS GAP_MS TMPDIR
 *       wake-up latency of an idle system: one worker process sits in
 *       pgqrs_workflow_worker_poll; this process triggers RUNS runs one at a time,
 *       GAP_MS (0.5x..1.5x, random) apart, and waits for each with pgqrs_run_wait.
 *       pickup: trigger -> the handler starts (the worker's idle wait);
 *       wait_wake: the handler returns -> pgqrs_run_wait returns (includes the
 *       run_finish commit); e2e: trigger -> pgqrs_run_wait returns
 *   pgqrs_bench sendrecv DSN RUNS TMPDIR
 *       the send-to-recv round trip of a run suspended in pgqrs_run_recv (one idle
 *       worker process; see cmd_sendrecv)
 * The database behind DSN must be empty (a fresh schema or file): the driver
 * installs pgqrs and creates the queue. Every consumer/producer is its own
 * process with its own store (pgqrs_connect after fork). Prints one JSON line. */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include "common.h"
#include "pgqrs.h"

#define QUEUE "bench"
typedef struct { double end_us; long done; long errors; } child_result;

static pgqrs_store *open_store(const char *dsn)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    o.pool_size = 1;
    /* PGQRS_BENCH_RELAXED=1: the relaxed_durability option (SQLite synchronous=NORMAL,
     * PostgreSQL synchronous_commit=off), to compare with peers that run that way */
    o.relaxed_durability = getenv("PGQRS_BENCH_RELAXED") && atoi(getenv("PGQRS_BENCH_RELAXED")) == 1;
    pgqrs_store *s = NULL;
    if (pgqrs_connect(&s, dsn, &o) != PGQRS_OK) {
        fprintf(stderr, "connect: %s\n", pgqrs_errmsg(NULL));
        _exit(2);
    }
    return s;
}

static void setup(const char *dsn)
{
    pgqrs_store *s = open_store(dsn);
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    /* PGQRS_BENCH_CONCURRENCY_LIMIT=N, PGQRS_BENCH_RATE_LIMIT=N (per second): the
     * queue gets that limit, so its claims take the limited path (docs/benchmarks.md) */
    if (getenv("PGQRS_BENCH_CONCURRENCY_LIMIT"))
        qo.concurrency_limit = atoi(getenv("PGQRS_BENCH_CONCURRENCY_LIMIT"));
    if (getenv("PGQRS_BENCH_RATE_LIMIT")) {
        qo.rate_limit = atoi(getenv("PGQRS_BENCH_RATE_LIMIT"));
        qo.rate_period_ms = 1000;
    }
    if (pgqrs_schema_install(s) != PGQRS_OK || pgqrs_queue_create(NULL, s, QUEUE, &qo) != PGQRS_OK) {
        fprintf(stderr, "setup: %s\n", pgqrs_errmsg(s));
        exit(2);
    }
    pgqrs_store_free(s);
}

static void fmt_payload(char *buf, size_t len, long i) { snprintf(buf, len, "{\"task\":\"send_email\",\"n\":%ld}", i); }

static void prefill(const char *dsn, long n)
{
    pgqrs_store *s = open_store(dsn);
    pgqrs_producer *p;
    if (pgqrs_producer_new(&p, s, QUEUE) != PGQRS_OK) { fprintf(stderr, "producer: %s\n", pgqrs_errmsg(s)); exit(2); }
    enum { CHUNK = 1000 };
    static char bufs[CHUNK][64];
    const char *ptrs[CHUNK];
    for (long i = 0; i < n;) {
        size_t k = 0;
        for (; k < CHUNK && i < n; k++, i++) { fmt_payload(bufs[k], sizeof bufs[k], i); ptrs[k] = bufs[k]; }
        /* PGQRS_BENCH_PRIORITIES=N: message i gets priority i % N (the priority claim cell) */
        static pgqrs_enqueue_options opts[CHUNK];
        const char *pe = getenv("PGQRS_BENCH_PRIORITIES");
        int np = pe ? atoi(pe) : 0;
        for (size_t j = 0; np > 0 && j < k; j++) {
            opts[j] = (pgqrs_enqueue_options)PGQRS_ENQUEUE_OPTIONS_INIT;
            opts[j].priority = (int32_t)((i - (long)k + (long)j) % np);
        }
        pgqrs_status st = np > 0 ? pgqrs_enqueue_batch_with(NULL, NULL, p, ptrs, k, opts)
                                 : pgqrs_enqueue_batch(NULL, p, ptrs, k, 0);
        if (st != PGQRS_OK) { fprintf(stderr, "prefill: %s\n", pgqrs_errmsg(p)); exit(2); }
    }
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

/* ---- drain ---- */
static void drain_child(const char *dsn, int batch, const char *tmp, barrier *b, int ready_fd, int res_fd)
{
    pgqrs_store *s = open_store(dsn);
    pgqrs_consumer *c;
    if (pgqrs_consumer_new(&c, s, QUEUE) != PGQRS_OK) { fprintf(stderr, "consumer: %s\n", pgqrs_errmsg(s)); _exit(2); }
    samples dq = {0}, ar = {0};
    child_result r = {0};
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)batch);
    if (write(ready_fd, "r", 1) != 1) _exit(2);
    barrier_wait_child(b);
    /* PGQRS_BENCH_PIPELINE=1: archive each batch in the call that claims the next
     * (pgqrs_archive_and_dequeue: one commit per batch); its latency is recorded
     * as the dequeue's */
    int pipeline = getenv("PGQRS_BENCH_PIPELINE") && atoi(getenv("PGQRS_BENCH_PIPELINE")) == 1;
    size_t held = 0;
    int empty_in_row = 0;
    for (;;) {
        pgqrs_batch *bt = NULL;
        double t0 = now_us();
        pgqrs_status st = pipeline ? pgqrs_archive_and_dequeue(&bt, NULL, c, ids, held, batch, 30)
                                   : pgqrs_dequeue(&bt, c, batch, 30);
        double t1 = now_us();
        if (st != PGQRS_OK) {
            r.errors++;
            fprintf(stderr, "dequeue: %s\n", pgqrs_errmsg(c));
            if (r.errors > 100) break;
            continue;
        }
        samples_add(&dq, t1 - t0);
        if (held) {   /* this call archived the last batch */
            r.done += (long)held;
            r.end_us = t1;
            held = 0;
        }
        size_t n = pgqrs_batch_count(bt);
        if (n == 0) {
            pgqrs_batch_free(bt);
            /* SQLite: an empty claim is final; PostgreSQL SKIP LOCKED may skip rows another
             * consumer is claiming right now, so look twice before leaving */
            if (++empty_in_row >= 2) break;
            usleep(2000);
            continue;
        }
        empty_in_row = 0;
        for (size_t i = 0; i < n; i++) ids[i] = pgqrs_batch_at(bt, i)->id;
        pgqrs_batch_free(bt);
        if (pipeline) {
            held = n;
            continue;
        }
        t0 = now_us();
        st = pgqrs_archive_batch(NULL, c, ids, n);
        t1 = now_us();
        if (st != PGQRS_OK) { r.errors++; fprintf(stderr, "archive: %s\n", pgqrs_errmsg(c)); }
        else r.done += (long)n;
        samples_add(&ar, t1 - t0);
        r.end_us = t1;
    }
    samples_save(&dq, tmp, "dequeue");
    samples_save(&ar, tmp, "archive");
    pgqrs_consumer_free(c);
    pgqrs_store_free(s);
    if (write(res_fd, &r, sizeof r) != sizeof r) _exit(2);
    _exit(0);
}

static int run_children(int n, void (*fn)(void *, barrier *, int, int), void *arg, const char *what, const char *dsn,
                        const char *backend_extra)
{
    (void)what; (void)dsn; (void)backend_extra;
    barrier b;
    barrier_init(&b);
    int ready[2], res[2];
    if (pipe(ready) || pipe(res)) { perror("pipe"); exit(2); }
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); exit(2); }
        if (pid == 0) { close(ready[0]); close(res[0]); fn(arg, &b, ready[1], res[1]); _exit(0); }
    }
    close(ready[1]);
    close(res[1]);
    close(b.rd);
    ready_wait(ready[0], n);
    return res[0] * 0 + (b.wr << 16 | res[0]);   /* caller releases with release_children */
}

typedef struct { const char *dsn; int batch; const char *tmp; } drain_arg;
static void drain_trampoline(void *a, barrier *b, int ready_fd, int res_fd)
{
    drain_arg *d = a;
    drain_child(d->dsn, d->batch, d->tmp, b, ready_fd, res_fd);
}

static void collect(int res_fd, int n, double *end, long *done, long *errors)
{
    child_result r;
    *end = 0; *done = 0; *errors = 0;
    for (int i = 0; i < n; i++) {
        if (read(res_fd, &r, sizeof r) != sizeof r) { (*errors)++; continue; }
        if (r.end_us > *end) *end = r.end_us;
        *done += r.done;
        *errors += r.errors;
    }
}

static int cmd_drain(const char *dsn, int consumers, int batch, long messages, const char *tmp)
{
    setup(dsn);
    double p0 = now_us();
    prefill(dsn, messages);
    double prefill_s = (now_us() - p0) / 1e6;
    /* BENCH_AFTER_PREFILL: a shell command run after the prefill and before the
     * consumers connect (bench/profile.sh resets statistics or alters the schema there) */
    const char *hook = getenv("BENCH_AFTER_PREFILL");
    if (hook && *hook && system(hook) != 0) { fprintf(stderr, "BENCH_AFTER_PREFILL failed\n"); return 2; }
    drain_arg a = { dsn, batch, tmp };
    int h = run_children(consumers, drain_trampoline, &a, "drain", dsn, NULL);
    int bw = h >> 16, res = h & 0xffff;
    double start = now_us();
    close(bw);   /* go */
    double end; long done, errors;
    collect(res, consumers, &end, &done, &errors);
    int bad = wait_children(consumers);
    double secs = (end - start) / 1e6;
    samples dq = {0}, ar = {0};
    samples_load(&dq, tmp, "dequeue");
    samples_load(&ar, tmp, "archive");
    printf("{\"messages\":%ld,\"drained\":%ld,\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"prefill_s\":%.2f,\"errors\":%ld",
           messages, done, secs, done / secs, prefill_s, errors + bad + (done != messages));
    print_lat(stdout, "dequeue", &dq);
    print_lat(stdout, "archive", &ar);
    printf("}\n");
    return 0;
}

/* ---- enqueue ---- */
typedef struct { const char *dsn; int batch; long per; const char *tmp; } enq_arg;
static void enq_trampoline(void *a, barrier *b, int ready_fd, int res_fd)
{
    enq_arg *e = a;
    pgqrs_store *s = open_store(e->dsn);
    pgqrs_producer *p;
    if (pgqrs_producer_new(&p, s, QUEUE) != PGQRS_OK) { fprintf(stderr, "producer: %s\n", pgqrs_errmsg(s)); _exit(2); }
    char (*bufs)[64] = malloc(64 * (size_t)e->batch);
    const char **ptrs = malloc(sizeof(char *) * (size_t)e->batch);
    const char *ue = getenv("PGQRS_BENCH_UNIQUE");
    int unique = ue && *ue == '1';
    char (*keys)[48] = malloc(48 * (size_t)e->batch);
    pgqrs_enqueue_options *opts = malloc(sizeof *opts * (size_t)e->batch);
    samples lat = {0};
    child_result r = {0};
    if (write(ready_fd, "r", 1) != 1) _exit(2);
    barrier_wait_child(b);
    for (long i = 0; i < e->per;) {
        size_t k = 0;
        for (; k < (size_t)e->batch && i < e->per; k++, i++) { fmt_payload(bufs[k], 64, i); ptrs[k] = bufs[k]; }
        /* PGQRS_BENCH_UNIQUE=1: every message with its own unique key (the unique-key
         * enqueue cell: the key check, each key new so each is created) */
        if (unique) {
            for (size_t j = 0; j < k; j++) {
                snprintf(keys[j], sizeof keys[j], "k-%d-%ld", (int)getpid(), i - (long)k + (long)j);
                opts[j] = (pgqrs_enqueue_options)PGQRS_ENQUEUE_OPTIONS_INIT;
                opts[j].unique_key = keys[j];
            }
        }
        double t0 = now_us();
        pgqrs_status st = unique ? (k == 1 ? pgqrs_enqueue_with(NULL, NULL, p, ptrs[0], &opts[0])
                                           : pgqrs_enqueue_batch_with(NULL, NULL, p, ptrs, k, opts))
                        : k == 1 ? pgqrs_enqueue(NULL, p, ptrs[0], 0) : pgqrs_enqueue_batch(NULL, p, ptrs, k, 0);
        double t1 = now_us();
        samples_add(&lat, t1 - t0);
        if (st != PGQRS_OK) { r.errors++; fprintf(stderr, "enqueue: %s\n", pgqrs_errmsg(p)); }
        else r.done += (long)k;
        r.end_us = t1;
    }
    samples_save(&lat, e->tmp, "enqueue");
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
    if (write(res_fd, &r, sizeof r) != sizeof r) _exit(2);
    _exit(0);
}

static int cmd_enqueue(const char *dsn, int producers, int batch, long messages, const char *tmp)
{
    setup(dsn);
    /* BENCH_AFTER_PREFILL here: after the setup, before the producers connect */
    const char *hook = getenv("BENCH_AFTER_PREFILL");
    if (hook && *hook && system(hook) != 0) { fprintf(stderr, "BENCH_AFTER_PREFILL failed\n"); return 2; }
    enq_arg a = { dsn, batch, messages / producers, tmp };
    int h = run_children(producers, enq_trampoline, &a, "enqueue", dsn, NULL);
    int bw = h >> 16, res = h & 0xffff;
    double start = now_us();
    close(bw);
    double end; long done, errors;
    collect(res, producers, &end, &done, &errors);
    int bad = wait_children(producers);
    double secs = (end - start) / 1e6;
    samples lat = {0};
    samples_load(&lat, tmp, "enqueue");
    printf("{\"messages\":%ld,\"enqueued\":%ld,\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"errors\":%ld", a.per * producers,
           done, secs, done / secs, errors + bad);
    print_lat(stdout, "call", &lat);
    printf("}\n");
    return 0;
}

/* ---- latency under steady load ---- */
typedef struct { const char *dsn; int batch; int poll_ms; double stop_wall; const char *tmp; } lat_arg;
static void lat_consumer(void *a, barrier *b, int ready_fd, int res_fd)
{
    lat_arg *l = a;
    pgqrs_store *s = open_store(l->dsn);
    pgqrs_consumer *c;
    if (pgqrs_consumer_new(&c, s, QUEUE) != PGQRS_OK) { fprintf(stderr, "consumer: %s\n", pgqrs_errmsg(s)); _exit(2); }
    samples e2e = {0};
    child_result r = {0};
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)l->batch);
    double *sent = malloc(sizeof(double) * (size_t)l->batch);
    if (write(ready_fd, "r", 1) != 1) _exit(2);
    barrier_wait_child(b);
    for (;;) {
        pgqrs_batch *bt = NULL;
        pgqrs_status st = l->poll_ms < 0 ? pgqrs_dequeue_wait(&bt, c, l->batch, 30, 1000)
                                         : pgqrs_dequeue(&bt, c, l->batch, 30);
        if (st != PGQRS_OK) { r.errors++; usleep(1000); continue; }
        size_t n = pgqrs_batch_count(bt);
        if (n == 0) {
            pgqrs_batch_free(bt);
            if (wall_us() > l->stop_wall) break;
            if (l->poll_ms > 0)
                usleep((useconds_t)l->poll_ms * 1000);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            const pgqrs_message *m = pgqrs_batch_at(bt, i);
            ids[i] = m->id;
            const char *t = strstr(m->payload, "\"t\":");
            sent[i] = t ? strtod(t + 4, NULL) : 0;
        }
        pgqrs_batch_free(bt);
        if (pgqrs_archive_batch(NULL, c, ids, n) != PGQRS_OK) r.errors++;
        double done_at = wall_us();
        for (size_t i = 0; i < n; i++) samples_add(&e2e, done_at - sent[i]);
        r.done += (long)n;
    }
    samples_save(&e2e, l->tmp, "e2e");
    pgqrs_consumer_free(c);
    pgqrs_store_free(s);
    if (write(res_fd, &r, sizeof r) != sizeof r) _exit(2);
    _exit(0);
}

static int cmd_latency(const char *dsn, int rate, int seconds, int consumers, int batch, int poll_ms, const char *tmp)
{
    setup(dsn);
    lat_arg a = { dsn, batch, poll_ms, wall_us() + (seconds + 3) * 1e6 + 2e6, tmp };
    int h = run_children(consumers, lat_consumer, &a, "latency", dsn, NULL);
    int bw = h >> 16, res = h & 0xffff;
    close(bw);
    /* the producer: this process, one enqueue per tick at a fixed rate */
    pgqrs_store *s = open_store(dsn);
    pgqrs_producer *p;
    if (pgqrs_producer_new(&p, s, QUEUE) != PGQRS_OK) { fprintf(stderr, "producer: %s\n", pgqrs_errmsg(s)); exit(2); }
    long total = (long)rate * seconds, late = 0, perr = 0;
    double start = now_us(), interval = 1e6 / rate;
    char buf[128];
    for (long i = 0; i < total; i++) {
        double due = start + i * interval, now = now_us();
        if (due > now) usleep((useconds_t)(due - now));
        else if (now - due > 10000) late++;
        snprintf(buf, sizeof buf, "{\"task\":\"send_email\",\"n\":%ld,\"t\":%.0f}", i, wall_us());
        if (pgqrs_enqueue(NULL, p, buf, 0) != PGQRS_OK) perr++;
    }
    double achieved = total / ((now_us() - start) / 1e6);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
    double end; long done, errors;
    collect(res, consumers, &end, &done, &errors);
    int bad = wait_children(consumers);
    samples e2e = {0};
    samples_load(&e2e, tmp, "e2e");
    printf("{\"rate\":%d,\"achieved_rate\":%.1f,\"seconds\":%d,\"sent\":%ld,\"archived\":%ld,\"producer_late\":%ld,"
           "\"errors\":%ld",
           rate, achieved, seconds, total, done, late, errors + bad + perr + (done != total));
    print_lat(stdout, "e2e", &e2e);
    printf("}\n");
    return 0;
}

/* ---- workflows: a 3-step workflow, runs/s and the cost of a replayed step ---- */
#define WORKFLOW "bench_wf"
static int step_ran;              /* set by the step body: this pgqrs_run_step call executed it */
static int replay_mode;
static samples step_exec, step_replay;

static pgqrs_status bench_step(pgqrs_run *run, char **out, void *user)
{
    (void)run, (void)user;
    step_ran = 1;
    *out = pgqrs_strdup("{\"ok\":true}");
    return *out ? PGQRS_OK : PGQRS_ENOMEM;
}

static pgqrs_status bench_handler(pgqrs_run *run, const char *input, char **output, void *user)
{
    static const char *const ids[] = { "fetch", "transform", "store" };
    (void)input, (void)user;
    for (size_t i = 0; i < 3; i++) {
        step_ran = 0;
        double t0 = now_us();
        pgqrs_status st = pgqrs_run_step(NULL, run, ids[i], bench_step, NULL, NULL);
        double t1 = now_us();
        if (st != PGQRS_OK)
            return st;
        samples_add(step_ran ? &step_exec : &step_replay, t1 - t0);
    }
    if (replay_mode && pgqrs_run_attempt(run) == 1) {
        pgqrs_run_fail(run, "{\"bench\":\"fail the first attempt to replay its steps\"}", 1);
        return PGQRS_ERROR;
    }
    *output = pgqrs_strdup("{\"done\":true}");
    return PGQRS_OK;
}

static void define_workflow(pgqrs_store *s)
{
    pgqrs_workflow_options o = PGQRS_WORKFLOW_OPTIONS_INIT;
    o.retry.max_attempts = 3;
    o.retry.initial_delay_ms = 1;
    o.retry.jitter = -1;
    if (pgqrs_workflow_define(s, WORKFLOW, bench_handler, NULL, &o) != PGQRS_OK) {
        fprintf(stderr, "define: %s\n", pgqrs_errmsg(s));
        _exit(2);
    }
}

typedef struct { const char *dsn; const char *tmp; } wf_arg;
static void wf_worker(void *a, barrier *b, int ready_fd, int res_fd)
{
    wf_arg *w = a;
    pgqrs_store *s = open_store(w->dsn);
    define_workflow(s);
    pgqrs_workflow_worker *wk;
    if (pgqrs_workflow_worker_new(&wk, s, WORKFLOW) != PGQRS_OK) { fprintf(stderr, "worker: %s\n", pgqrs_errmsg(s)); _exit(2); }
    child_result r = {0};
    if (write(ready_fd, "r", 1) != 1) _exit(2);
    barrier_wait_child(b);
    /* idle three times in a row (5 ms apart) = done: retries are due 1 ms after a failure */
    for (int idle = 0; idle < 3;) {
        int executed = 0;
        pgqrs_status st = pgqrs_workflow_worker_run_once(&executed, wk);
        if (st != PGQRS_OK) {
            fprintf(stderr, "run_once: %s\n", pgqrs_errmsg(wk));
            if (++r.errors > 100) break;
            continue;
        }
        if (!executed) { idle++; usleep(5000); continue; }
        idle = 0;
        r.done++;
        r.end_us = now_us();
    }
    samples_save(&step_exec, w->tmp, "step_exec");
    samples_save(&step_replay, w->tmp, "step_replay");
    pgqrs_workflow_worker_free(wk);
    pgqrs_store_free(s);
    if (write(res_fd, &r, sizeof r) != sizeof r) _exit(2);
    _exit(0);
}

static long count_runs(const char *dsn, const char *status)
{
    pgqrs_store *s = open_store(dsn);
    pgqrs_run_filter f = PGQRS_RUN_FILTER_INIT;
    pgqrs_runs *l = NULL;
    f.workflow = WORKFLOW;
    f.status = status;
    f.limit = 10000;
    long n = pgqrs_run_list(&l, s, &f) == PGQRS_OK ? (long)pgqrs_runs_count(l) : -1;
    pgqrs_runs_free(l);
    pgqrs_store_free(s);
    return n;
}

static int cmd_workflow(const char *dsn, int workers, long runs, int replay, const char *tmp)
{
    if (runs < 1 || runs > 10000) { fprintf(stderr, "workflow: RUNS must be 1..10000\n"); return 2; }
    replay_mode = replay;
    setup(dsn);
    pgqrs_store *s = open_store(dsn);
    define_workflow(s);
    double t0 = now_us();
    for (long i = 0; i < runs; i++) {
        char in[64];
        snprintf(in, sizeof in, "{\"n\":%ld}", i);
        if (pgqrs_workflow_trigger(NULL, NULL, s, WORKFLOW, in, NULL) != PGQRS_OK) {
            fprintf(stderr, "trigger: %s\n", pgqrs_errmsg(s));
            exit(2);
        }
    }
    double trigger_s = (now_us() - t0) / 1e6;
    pgqrs_store_free(s);
    wf_arg a = { dsn, tmp };
    int h = run_children(workers, wf_worker, &a, "workflow", dsn, NULL);
    int bw = h >> 16, res = h & 0xffff;
    double start = now_us();
    close(bw);
    double end; long executed, errors;
    collect(res, workers, &end, &executed, &errors);
    int bad = wait_children(workers);
    double secs = (end - start) / 1e6;
    long ok = count_runs(dsn, "SUCCESS");
    samples ex = {0}, rp = {0};
    samples_load(&ex, tmp, "step_exec");
    samples_load(&rp, tmp, "step_replay");
    printf("{\"runs\":%ld,\"succeeded\":%ld,\"executions\":%ld,\"seconds\":%.3f,\"runs_per_s\":%.1f,"
           "\"triggers_per_s\":%.1f,\"errors\":%ld",
           runs, ok, executed, secs, ok / secs, runs / trigger_s, errors + bad + (ok != runs));
    print_lat(stdout, "step_exec", &ex);
    print_lat(stdout, "step_replay", &rp);
    printf("}\n");
    return 0;
}

/* ---- wake-up latency of an idle worker and of pgqrs_run_wait ---- */
#define WAKE_WF "wake_wf"
static pgqrs_status wake_handler(pgqrs_run *run, const char *input, char **output, void *user)
{
    char buf[160];
    double started = wall_us();
    const char *t = input ? strstr(input, "\"t\":") : NULL;
    (void)run, (void)user;
    snprintf(buf, sizeof buf, "{\"t\":%.0f,\"started\":%.0f,\"finished\":%.0f}", t ? strtod(t + 4, NULL) : 0, started,
             wall_us());
    *output = pgqrs_strdup(buf);
    return *output ? PGQRS_OK : PGQRS_ENOMEM;
}

static void define_wake(pgqrs_store *s)
{
    if (pgqrs_workflow_define(s, WAKE_WF, wake_handler, NULL, NULL) != PGQRS_OK) {
        fprintf(stderr, "define: %s\n", pgqrs_errmsg(s));
        _exit(2);
    }
}

/* send -> recv: a run that waits in pgqrs_run_recv, then returns when it received */
#define RECV_WF "recv_wf"
static pgqrs_status recv_handler(pgqrs_run *run, const char *input, char **output, void *user)
{
    char buf[96], *m = NULL;
    pgqrs_status st;
    (void)input, (void)user;
    if ((st = pgqrs_run_recv(&m, run, "r", "t", 60000)) != PGQRS_OK)
        return st;
    snprintf(buf, sizeof buf, "{\"recv\":%.0f,\"m\":%s}", wall_us(), m);
    pgqrs_free(m);
    *output = pgqrs_strdup(buf);
    return *output ? PGQRS_OK : PGQRS_ENOMEM;
}

static void define_recv(pgqrs_store *s)
{
    if (pgqrs_workflow_define(s, RECV_WF, recv_handler, NULL, NULL) != PGQRS_OK) {
        fprintf(stderr, "define: %s\n", pgqrs_errmsg(s));
        _exit(2);
    }
}

typedef struct { const char *dsn; long runs; const char *wf; void (*define)(pgqrs_store *); } wake_arg;
static void wake_worker(void *a, barrier *b, int ready_fd, int res_fd)
{
    wake_arg *w = a;
    pgqrs_store *s = open_store(w->dsn);
    pgqrs_workflow_worker *wk;
    pgqrs_poll_options po = PGQRS_POLL_OPTIONS_INIT;
    child_result r = {0};
    int64_t executed = 0;
    w->define(s);
    if (pgqrs_workflow_worker_new(&wk, s, w->wf) != PGQRS_OK) { fprintf(stderr, "worker: %s\n", pgqrs_errmsg(s)); _exit(2); }
    if (write(ready_fd, "r", 1) != 1) _exit(2);
    barrier_wait_child(b);
    po.max_runs = (int)w->runs;   /* handler executions: a recv run executes twice */
    po.idle_timeout_ms = 30000;
    if (pgqrs_workflow_worker_poll(&executed, wk, &po) != PGQRS_OK) { fprintf(stderr, "poll: %s\n", pgqrs_errmsg(wk)); r.errors++; }
    r.done = (long)executed;
    r.end_us = now_us();
    pgqrs_workflow_worker_free(wk);
    pgqrs_store_free(s);
    if (write(res_fd, &r, sizeof r) != sizeof r) _exit(2);
    _exit(0);
}

static double json_num(const char *json, const char *key)
{
    char k[32];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = json ? strstr(json, k) : NULL;
    return p ? strtod(p + strlen(k), NULL) : 0;
}

static int cmd_wakeup(const char *dsn, long runs, int gap_ms, const char *tmp)
{
    (void)tmp;
    if (runs < 1 || runs > 100000 || gap_ms < 1) { fprintf(stderr, "wakeup: RUNS 1..100000, GAP_MS >= 1\n"); return 2; }
    setup(dsn);
    pgqrs_store *s = open_store(dsn);
    define_wake(s);
    wake_arg a = { dsn, runs, WAKE_WF, define_wake };
    int h = run_children(1, wake_worker, &a, "wakeup", dsn, NULL);
    int bw = h >> 16, res = h & 0xffff;
    close(bw);
    samples pickup = {0}, wake = {0}, e2e = {0};
    long errors = 0;
    srand((unsigned)getpid());
    usleep(300000);   /* the worker is idle before the first run */
    for (long i = 0; i < runs; i++) {
        char in[64];
        int64_t id = 0;
        pgqrs_run_info *ri = NULL;
        usleep((useconds_t)(gap_ms * 1000 / 2 + rand() % (gap_ms * 1000 + 1)));
        double t = wall_us();
        snprintf(in, sizeof in, "{\"t\":%.0f}", t);
        if (pgqrs_workflow_trigger(&id, NULL, s, WAKE_WF, in, NULL) != PGQRS_OK ||
            pgqrs_run_wait(&ri, s, id, 10000) != PGQRS_OK) {
            fprintf(stderr, "run %ld: %s\n", i, pgqrs_errmsg(s));
            errors++;
            continue;
        }
        double back = wall_us();
        double started = json_num(ri->output, "started"), finished = json_num(ri->output, "finished");
        if (started > 0 && finished > 0) {
            samples_add(&pickup, started - t);
            samples_add(&wake, back - finished);
            samples_add(&e2e, back - t);
        } else {
            errors++;
        }
        pgqrs_run_info_free(ri);
    }
    pgqrs_store_free(s);
    double end; long done, cerr;
    collect(res, 1, &end, &done, &cerr);
    int bad = wait_children(1);
    qsort(pickup.v, pickup.n, sizeof(double), cmp_d);
    qsort(wake.v, wake.n, sizeof(double), cmp_d);
    qsort(e2e.v, e2e.n, sizeof(double), cmp_d);
    printf("{\"runs\":%ld,\"executed\":%ld,\"gap_ms\":%d,\"errors\":%ld", runs, done, gap_ms,
           errors + cerr + bad + (done != runs));
    print_lat(stdout, "pickup", &pickup);
    print_lat(stdout, "wait_wake", &wake);
    print_lat(stdout, "e2e", &e2e);
    printf("}\n");
    return 0;
}

/* The send-to-recv round trip: RUNS times, one at a time, trigger a run whose
 * handler waits in pgqrs_run_recv, wait until it is suspended (PENDING with its
 * deadline), then pgqrs_run_send; the worker process (idle in
 * pgqrs_workflow_worker_poll) is woken, executes the run again and recv returns.
 * send_to_recv: send called -> recv returned in the handler; send_to_result:
 * send called -> pgqrs_run_wait returned. */
static int cmd_sendrecv(const char *dsn, long runs, const char *tmp)
{
    (void)tmp;
    if (runs < 1 || runs > 10000) { fprintf(stderr, "sendrecv: RUNS 1..10000\n"); return 2; }
    setup(dsn);
    pgqrs_store *s = open_store(dsn);
    define_recv(s);
    wake_arg a = { dsn, runs * 2, RECV_WF, define_recv };
    int h = run_children(1, wake_worker, &a, "sendrecv", dsn, NULL);
    int bw = h >> 16, res = h & 0xffff;
    close(bw);
    samples rt = {0}, done = {0};
    long errors = 0;
    for (long i = 0; i < runs; i++) {
        char msg[48];
        int64_t id = 0;
        pgqrs_run_info *ri = NULL;
        if (pgqrs_workflow_trigger(&id, NULL, s, RECV_WF, NULL, NULL) != PGQRS_OK) { errors++; continue; }
        for (int k = 0; k < 5000; k++) {   /* until it waits in recv (at most ~5 s) */
            pgqrs_run_info *w = NULL;
            int waiting = pgqrs_run_get(&w, s, id) == PGQRS_OK && strcmp(w->status, "PENDING") == 0 && w->retry_at_us;
            pgqrs_run_info_free(w);
            if (waiting)
                break;
            usleep(1000);
        }
        snprintf(msg, sizeof msg, "{\"i\":%ld}", i);
        double t = wall_us();
        if (pgqrs_run_send(s, id, "t", msg) != PGQRS_OK || pgqrs_run_wait(&ri, s, id, 10000) != PGQRS_OK) {
            fprintf(stderr, "run %ld: %s\n", i, pgqrs_errmsg(s));
            errors++;
            continue;
        }
        double back = wall_us(), recv = json_num(ri->output, "recv");
        if (recv > 0) {
            samples_add(&rt, recv - t);
            samples_add(&done, back - t);
        } else {
            errors++;
        }
        pgqrs_run_info_free(ri);
    }
    pgqrs_store_free(s);
    double end; long executed, cerr;
    collect(res, 1, &end, &executed, &cerr);
    int bad = wait_children(1);
    qsort(rt.v, rt.n, sizeof(double), cmp_d);
    qsort(done.v, done.n, sizeof(double), cmp_d);
    printf("{\"n\":%ld,\"errors\":%ld", runs, errors + cerr + bad);
    print_lat(stdout, "send_to_recv", &rt);
    print_lat(stdout, "send_to_result", &done);
    printf("}\n");
    return 0;
}

/* ---- runtime ---- */
static _Atomic long rt_handled;

static int noop_job(pgqrs_job *job, void *user)
{
    (void)job;
    (void)user;
    atomic_fetch_add(&rt_handled, 1);
    return PGQRS_JOB_DONE;
}

static int cmd_runtime(const char *dsn, int concurrency, int batch, long n, const char *tmp)
{
    pgqrs_connect_options co = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_runtime_options ro = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime_stats st = PGQRS_RUNTIME_STATS_INIT;
    pgqrs_runtime *rt = NULL;
    pgqrs_metrics *ml = NULL;
    pgqrs_store *s = NULL;
    double t0, t1, p0;
    long left = -1, archived = -1;
    (void)tmp;
    setup(dsn);
    p0 = now_us();
    prefill(dsn, n);
    p0 = (now_us() - p0) / 1e6;
    co.pool_size = 4;   /* the claiming thread, the lease extender, a spare (LISTEN has its own) */
    co.relaxed_durability = getenv("PGQRS_BENCH_RELAXED") && atoi(getenv("PGQRS_BENCH_RELAXED")) == 1;
    if (pgqrs_connect(&s, dsn, &co) != PGQRS_OK) { fprintf(stderr, "connect: %s\n", pgqrs_errmsg(NULL)); return 2; }
    ro.concurrency = concurrency;
    ro.batch_size = batch;
    ro.vt_seconds = 30;
    ro.until_empty = 1;
    if (pgqrs_runtime_new(&rt, s, &ro) != PGQRS_OK || pgqrs_runtime_add_queue(rt, QUEUE, noop_job, NULL) != PGQRS_OK) {
        fprintf(stderr, "runtime: %s\n", rt ? pgqrs_errmsg(rt) : pgqrs_errmsg(s));
        return 2;
    }
    t0 = now_us();
    if (pgqrs_runtime_run(rt) != PGQRS_OK) { fprintf(stderr, "run: %s\n", pgqrs_errmsg(rt)); return 2; }
    t1 = now_us();
    pgqrs_runtime_stats_get(&st, rt);
    pgqrs_runtime_free(rt);
    if (pgqrs_metrics_list(&ml, s, QUEUE) == PGQRS_OK && pgqrs_metrics_count(ml) == 1) {
        left = pgqrs_metrics_at(ml, 0)->pending + pgqrs_metrics_at(ml, 0)->in_flight + pgqrs_metrics_at(ml, 0)->delayed;
        archived = pgqrs_metrics_at(ml, 0)->archived;
    }
    pgqrs_metrics_free(ml);
    pgqrs_store_free(s);
    printf("{\"messages\":%ld,\"drained\":%lld,\"handled\":%ld,\"seconds\":%.3f,\"msgs_per_s\":%.1f,"
           "\"prefill_s\":%.2f,\"left\":%ld,\"archived\":%ld,\"lost\":%lld,\"errors\":%d,"
           "\"mapping\":\"pgqrs_runtime: concurrency %d, batch_size %d, vt 30 s\"}\n",
           n, (long long)st.done, atomic_load(&rt_handled), (t1 - t0) / 1e6, st.done / ((t1 - t0) / 1e6), p0, left,
           archived, (long long)st.lost, !(st.done == n && left == 0 && archived == n), concurrency, batch);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc == 7 && !strcmp(argv[1], "drain")) return cmd_drain(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]), argv[6]);
    if (argc == 7 && !strcmp(argv[1], "enqueue")) return cmd_enqueue(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]), argv[6]);
    if (argc == 9 && !strcmp(argv[1], "latency"))
        return cmd_latency(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]), argv[8]);
    if (argc == 7 && !strcmp(argv[1], "runtime"))
        return cmd_runtime(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]), argv[6]);
    if (argc == 7 && !strcmp(argv[1], "workflow"))
        return cmd_workflow(argv[2], atoi(argv[3]), atol(argv[4]), atoi(argv[5]), argv[6]);
    if (argc == 5 && !strcmp(argv[1], "sendrecv"))
        return cmd_sendrecv(argv[2], atol(argv[3]), argv[4]);
    if (argc == 6 && !strcmp(argv[1], "wakeup"))
        return cmd_wakeup(argv[2], atol(argv[3]), atoi(argv[4]), argv[5]);
    fprintf(stderr, "usage: see the top of bench/pgqrs_bench.c\n");
    return 2;
}
