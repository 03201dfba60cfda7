/* test_concurrency.c: several processes on one database.
 *
 * drain: the parent installs, enqueues 5,000 messages and frees its store; then
 * 4 forked consumer processes, each with its own store (a store never crosses a
 * fork), drain the queue with batch dequeue + archive_batch until a dequeue
 * returns nothing twice in a row. Each child writes the ids it archived to a
 * file; the parent checks every id was archived exactly once.
 *
 * Also: install and queue creation raced from several processes, and threads
 * sharing one store (valid on every backend, sqlite::memory: included).
 *
 * sqlite::memory: is one private database per connection, so separate
 * processes cannot share it: the multi-process tests SKIP there. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

#define N_MESSAGES 5000
#define N_PROCS 4
#define BATCH 10
#define VT 30

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* A start barrier: children block reading until the parent closes the pipe. */
static int gate[2] = { -1, -1 };

static void gate_open_pipe(void)
{
    if (pipe(gate) != 0) {
        perror("pipe");
        exit(2);
    }
}

static void gate_wait(void)
{
    char ch;
    close(gate[1]);
    while (read(gate[0], &ch, 1) < 0 && errno == EINTR)
        ;
    close(gate[0]);
}

static void gate_release(void)
{
    close(gate[0]);
    close(gate[1]);
    gate[0] = gate[1] = -1;
}

/* Waits for n children; returns how many exited with a non-zero status. */
static int wait_children(const pid_t *pids, int n, int *codes)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int ws = 0;
        codes[i] = -1;
        if (pids[i] <= 0)
            continue;
        while (waitpid(pids[i], &ws, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(ws))
            codes[i] = WEXITSTATUS(ws);
        else
            codes[i] = 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    }
    for (int i = 0; i < n; i++)
        bad += codes[i] != 0;
    return bad;
}

/* ---- drain ---------------------------------------------------------------------- */

/* A child: drains "jobs" and writes the archived ids to path. Never returns. */
static void drain_child(int idx, const char *dsn, const char *path)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_consumer *c = NULL;
    FILE *f = NULL;
    int empties = 0, rc = 0;
    long archived = 0;
    pgqrs_status st;

    gate_wait();
    o.pool_size = 2;
    st = pgqrs_connect(&s, dsn, &o);
    if (st != PGQRS_OK) {
        fprintf(stderr, "    child %d: connect: %s: %s\n", idx, pgqrs_errstr(st), pgqrs_errmsg(NULL));
        _exit(10);
    }
    st = pgqrs_consumer_new(&c, s, "jobs");
    if (st != PGQRS_OK) {
        fprintf(stderr, "    child %d: consumer_new: %s: %s\n", idx, pgqrs_errstr(st), pgqrs_errmsg(s));
        pgqrs_store_free(s);
        _exit(11);
    }
    f = fopen(path, "wb");
    if (!f) {
        perror(path);
        _exit(12);
    }
    while (empties < 2) {
        pgqrs_batch *b = NULL;
        int64_t ids[BATCH];
        pgqrs_status res[BATCH];
        size_t n;
        st = pgqrs_dequeue(&b, c, BATCH, VT);
        if (st != PGQRS_OK) {
            fprintf(stderr, "    child %d: dequeue: %s: %s\n", idx, pgqrs_errstr(st), pgqrs_errmsg(c));
            rc = 13;
            break;
        }
        n = pgqrs_batch_count(b);
        if (n == 0) {
            empties++;
            pgqrs_batch_free(b);
            continue;
        }
        empties = 0;
        if (n > BATCH) {
            fprintf(stderr, "    child %d: dequeue returned %zu > %d messages\n", idx, n, BATCH);
            pgqrs_batch_free(b);
            rc = 14;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const pgqrs_message *m = pgqrs_batch_at(b, i);
            ids[i] = m->id;
            if (m->read_count != 1) {
                fprintf(stderr, "    child %d: message %" PRId64 " delivered with read_count %d\n", idx, m->id,
                        (int)m->read_count);
                rc = 15;
            }
        }
        pgqrs_batch_free(b);
        st = pgqrs_archive_batch(res, c, ids, n);
        if (st != PGQRS_OK) {
            fprintf(stderr, "    child %d: archive_batch: %s: %s\n", idx, pgqrs_errstr(st), pgqrs_errmsg(c));
            for (size_t i = 0; i < n; i++)
                if (res[i] == PGQRS_OK && fwrite(&ids[i], sizeof ids[i], 1, f) != 1)
                    rc = 16;
            rc = 17;
            break;
        }
        if (fwrite(ids, sizeof ids[0], n, f) != n) {
            perror("fwrite");
            rc = 16;
            break;
        }
        archived += (long)n;
    }
    if (fclose(f) != 0)
        rc = 16;
    pgqrs_consumer_free(c);
    pgqrs_store_free(s);
    if (getenv("PGQRS_TEST_VERBOSE"))
        fprintf(stderr, "    child %d: archived %ld\n", idx, archived);
    _exit(rc);
}

static void test_concurrency__four_processes_drain_exactly_once(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_producer *p = NULL;
    pgqrs_metrics *ml = NULL;
    static int64_t enq[N_MESSAGES], got[N_MESSAGES * 2];
    static char payload_buf[1000][48];
    const char *payloads[1000];
    char paths[N_PROCS][512];
    pid_t pids[N_PROCS];
    int codes[N_PROCS], bad;
    size_t ngot = 0;
    int64_t dups = 0, lost = 0, extra = 0, in_archive = 0, after = 0;
    double t0, wall;
    const char *dsn;
    char dsn_copy[1024];

    if (th_is_memory())
        SKIP("forks processes: sqlite::memory: is private to one connection of one process");

    dsn = th_fresh_dsn();
    snprintf(dsn_copy, sizeof dsn_copy, "%s", dsn);
    CHECK_OK(pgqrs_connect(&s, dsn_copy, &o), NULL);
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "jobs", NULL), s);
    CHECK_OK(pgqrs_producer_new(&p, s, "jobs"), s);
    for (int chunk = 0; chunk < N_MESSAGES / 1000; chunk++) {
        for (int i = 0; i < 1000; i++) {
            snprintf(payload_buf[i], sizeof payload_buf[i], "{\"n\": %d}", chunk * 1000 + i);
            payloads[i] = payload_buf[i];
        }
        pgqrs_status st = pgqrs_enqueue_batch(enq + chunk * 1000, p, payloads, 1000, 0);
        if (st != PGQRS_OK) {
            th_fail(__FILE__, __LINE__, "enqueue_batch: %s: %s", pgqrs_errstr(st), pgqrs_errmsg(p));
            pgqrs_producer_free(p);
            pgqrs_store_free(s);
            return;
        }
    }
    pgqrs_producer_free(p);
    /* the parent's store is closed before fork: nothing of it crosses */
    pgqrs_store_free(s);
    s = NULL;

    fflush(stdout);
    fflush(stderr);
    gate_open_pipe();
    for (int i = 0; i < N_PROCS; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/drain-%d-%d.ids", th_tmpdir(), (int)getpid(), i);
        pids[i] = fork();
        if (pids[i] == 0)
            drain_child(i, dsn_copy, paths[i]);
        if (pids[i] < 0)
            perror("fork");
    }
    t0 = now_s();
    gate_release();
    bad = wait_children(pids, N_PROCS, codes);
    wall = now_s() - t0;
    for (int i = 0; i < N_PROCS; i++)
        CHECK_MSG(codes[i] == 0, "child %d exited with %d", i, codes[i]);
    CHECK(bad == 0);

    for (int i = 0; i < N_PROCS; i++) {
        FILE *f = fopen(paths[i], "rb");
        int64_t id;
        CHECK_MSG(f != NULL, "cannot open %s", paths[i]);
        while (fread(&id, sizeof id, 1, f) == 1) {
            if (ngot < sizeof got / sizeof *got)
                got[ngot] = id;
            ngot++;
        }
        fclose(f);
        remove(paths[i]);
    }
    CHECK_MSG(ngot <= sizeof got / sizeof *got, "children archived %zu ids", ngot);
    qsort(got, ngot, sizeof *got, cmp_i64);
    qsort(enq, N_MESSAGES, sizeof *enq, cmp_i64);
    for (size_t i = 1; i < ngot; i++)
        dups += got[i] == got[i - 1];
    {
        /* merge: enqueued ids missing from the archived set, and archived ids never enqueued */
        size_t a = 0, b = 0;
        while (a < N_MESSAGES || b < ngot) {
            if (b < ngot && b > 0 && got[b] == got[b - 1]) {
                b++;
                continue;
            }
            if (a < N_MESSAGES && (b >= ngot || enq[a] < got[b])) {
                lost++;
                a++;
            } else if (a >= N_MESSAGES || got[b] < enq[a]) {
                extra++;
                b++;
            } else {
                a++;
                b++;
            }
        }
    }
    printf("concurrency[%s]: %d messages, %d processes, duplicates=%" PRId64 ", lost=%" PRId64 ", wall=%.2fs\n",
           th_is_postgres() ? "postgres" : "sqlite", N_MESSAGES, N_PROCS, dups, lost, wall);
    fflush(stdout);
    CHECK_I64(0, dups);
    CHECK_I64(0, lost);
    CHECK_I64(0, extra);
    CHECK_I64(N_MESSAGES, (int64_t)ngot);

    /* the database agrees */
    CHECK_OK(pgqrs_connect(&s, dsn_copy, &o), NULL);
    for (;;) {
        pgqrs_batch *b = NULL;
        size_t n;
        pgqrs_status st = pgqrs_archive_list(&b, s, "jobs", after, 1000);
        if (st != PGQRS_OK) {
            th_fail(__FILE__, __LINE__, "archive_list: %s: %s", pgqrs_errstr(st), pgqrs_errmsg(s));
            pgqrs_store_free(s);
            return;
        }
        n = pgqrs_batch_count(b);
        for (size_t i = 0; i < n; i++) {
            const pgqrs_message *m = pgqrs_batch_at(b, i);
            if (m->id <= after || !bsearch(&m->id, enq, N_MESSAGES, sizeof *enq, cmp_i64) || m->read_count != 1)
                extra++;
            after = m->id;
        }
        in_archive += (int64_t)n;
        pgqrs_batch_free(b);
        if (n < 1000)
            break;
    }
    if (pgqrs_metrics_list(&ml, s, "jobs") != PGQRS_OK || pgqrs_metrics_count(ml) != 1) {
        th_fail(__FILE__, __LINE__, "metrics: %s", pgqrs_errmsg(s));
        pgqrs_metrics_free(ml);
        pgqrs_store_free(s);
        return;
    }
    {
        const pgqrs_queue_metrics *m = pgqrs_metrics_at(ml, 0);
        int64_t pending = m->pending, in_flight = m->in_flight, archived = m->archived, dead = m->dead_lettered;
        pgqrs_metrics_free(ml);
        pgqrs_store_free(s);
        CHECK_I64(N_MESSAGES, in_archive);
        CHECK_I64(0, extra);
        CHECK_I64(0, pending);
        CHECK_I64(0, in_flight);
        CHECK_I64(N_MESSAGES, archived);
        CHECK_I64(0, dead);
    }
}

/* ---- install and create races --------------------------------------------------------- */

static void test_concurrency__install_from_many_processes(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pid_t pids[N_PROCS];
    int codes[N_PROCS];
    char dsn[1024];
    if (th_is_memory())
        SKIP("forks processes: sqlite::memory: is private to one connection of one process");
    snprintf(dsn, sizeof dsn, "%s", th_fresh_dsn());
    fflush(stdout);
    fflush(stderr);
    gate_open_pipe();
    for (int i = 0; i < N_PROCS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            pgqrs_status st;
            gate_wait();
            st = pgqrs_connect(&s, dsn, &o);
            if (st == PGQRS_OK)
                st = pgqrs_schema_install(s);
            if (st != PGQRS_OK)
                fprintf(stderr, "    child %d: %s: %s\n", i, pgqrs_errstr(st), s ? pgqrs_errmsg(s) : pgqrs_errmsg(NULL));
            pgqrs_store_free(s);
            _exit(st == PGQRS_OK ? 0 : 1);
        }
    }
    gate_release();
    wait_children(pids, N_PROCS, codes);
    for (int i = 0; i < N_PROCS; i++)
        CHECK_MSG(codes[i] == 0, "child %d exited with %d", i, codes[i]);
    CHECK_OK(pgqrs_connect(&s, dsn, &o), NULL);
    {
        pgqrs_status st = pgqrs_schema_verify(s);
        if (st != PGQRS_OK)
            th_fail(__FILE__, __LINE__, "verify: %s: %s", pgqrs_errstr(st), pgqrs_errmsg(s));
    }
    pgqrs_store_free(s);
}

static void test_concurrency__queue_create_race_has_one_winner(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_queues *ql = NULL;
    pid_t pids[N_PROCS];
    int codes[N_PROCS], ok = 0, exists = 0;
    char dsn[1024];
    if (th_is_memory())
        SKIP("forks processes: sqlite::memory: is private to one connection of one process");
    snprintf(dsn, sizeof dsn, "%s", th_fresh_dsn());
    CHECK_OK(pgqrs_connect(&s, dsn, &o), NULL);
    if (pgqrs_schema_install(s) != PGQRS_OK) {
        th_fail(__FILE__, __LINE__, "install: %s", pgqrs_errmsg(s));
        pgqrs_store_free(s);
        return;
    }
    pgqrs_store_free(s);
    s = NULL;
    fflush(stdout);
    fflush(stderr);
    gate_open_pipe();
    for (int i = 0; i < N_PROCS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            pgqrs_status st;
            gate_wait();
            st = pgqrs_connect(&s, dsn, &o);
            if (st == PGQRS_OK)
                st = pgqrs_queue_create(NULL, s, "race", NULL);
            if (st != PGQRS_OK && st != PGQRS_EEXISTS)
                fprintf(stderr, "    child %d: %s: %s\n", i, pgqrs_errstr(st), s ? pgqrs_errmsg(s) : pgqrs_errmsg(NULL));
            pgqrs_store_free(s);
            _exit(st == PGQRS_OK ? 0 : st == PGQRS_EEXISTS ? 3 : 1);
        }
    }
    gate_release();
    wait_children(pids, N_PROCS, codes);
    for (int i = 0; i < N_PROCS; i++) {
        CHECK_MSG(codes[i] == 0 || codes[i] == 3, "child %d exited with %d", i, codes[i]);
        ok += codes[i] == 0;
        exists += codes[i] == 3;
    }
    CHECK_I64(1, ok);
    CHECK_I64(N_PROCS - 1, exists);
    CHECK_OK(pgqrs_connect(&s, dsn, &o), NULL);
    if (pgqrs_queue_list(&ql, s) != PGQRS_OK) {
        th_fail(__FILE__, __LINE__, "list_queues: %s", pgqrs_errmsg(s));
        pgqrs_store_free(s);
        return;
    }
    ok = (int)pgqrs_queues_count(ql);
    pgqrs_queues_free(ql);
    pgqrs_store_free(s);
    CHECK_I64(1, ok);
}

/* ---- threads sharing one store --------------------------------------------------------- */

#define T_MESSAGES 2000
#define T_THREADS 4

typedef struct drainer {
    pgqrs_store *store;
    int64_t ids[T_MESSAGES];
    size_t n;
    int failed;
    char msg[300];
} drainer;

static void *drain_thread(void *arg)
{
    drainer *d = arg;
    pgqrs_consumer *c = NULL;
    int empties = 0;
    pgqrs_status st = pgqrs_consumer_new(&c, d->store, "jobs");
    if (st != PGQRS_OK) {
        snprintf(d->msg, sizeof d->msg, "consumer_new: %s: %s", pgqrs_errstr(st), pgqrs_errmsg(d->store));
        d->failed = 1;
        return NULL;
    }
    while (empties < 2) {
        pgqrs_batch *b = NULL;
        int64_t ids[BATCH];
        size_t n;
        st = pgqrs_dequeue(&b, c, BATCH, VT);
        if (st != PGQRS_OK) {
            snprintf(d->msg, sizeof d->msg, "dequeue: %s: %s", pgqrs_errstr(st), pgqrs_errmsg(c));
            d->failed = 1;
            break;
        }
        n = pgqrs_batch_count(b);
        empties = n == 0 ? empties + 1 : 0;
        for (size_t i = 0; i < n && i < BATCH; i++)
            ids[i] = pgqrs_batch_at(b, i)->id;
        pgqrs_batch_free(b);
        if (n == 0)
            continue;
        st = pgqrs_archive_batch(NULL, c, ids, n);
        if (st != PGQRS_OK) {
            snprintf(d->msg, sizeof d->msg, "archive_batch: %s: %s", pgqrs_errstr(st), pgqrs_errmsg(c));
            d->failed = 1;
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (d->n < T_MESSAGES)
                d->ids[d->n++] = ids[i];
            else
                d->failed = 1;
    }
    pgqrs_consumer_free(c);
    return NULL;
}

static void test_concurrency__threads_share_one_store(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_producer *p = NULL;
    pgqrs_metrics *ml = NULL;
    static drainer ds[T_THREADS];
    static int64_t enq[T_MESSAGES], got[T_MESSAGES * T_THREADS];
    static char buf[1000][32];
    const char *payloads[1000];
    pthread_t tids[T_THREADS];
    size_t ngot = 0;
    int64_t dups = 0, pending = -1, archived = -1;
    pgqrs_status st = PGQRS_OK;

    CHECK_OK(pgqrs_connect(&s, th_fresh_dsn(), &o), NULL);
    st = pgqrs_schema_install(s);
    if (st == PGQRS_OK)
        st = pgqrs_queue_create(NULL, s, "jobs", NULL);
    if (st == PGQRS_OK)
        st = pgqrs_producer_new(&p, s, "jobs");
    for (int chunk = 0; st == PGQRS_OK && chunk < T_MESSAGES / 1000; chunk++) {
        for (int i = 0; i < 1000; i++) {
            snprintf(buf[i], sizeof buf[i], "%d", chunk * 1000 + i);
            payloads[i] = buf[i];
        }
        st = pgqrs_enqueue_batch(enq + chunk * 1000, p, payloads, 1000, 0);
    }
    pgqrs_producer_free(p);
    if (st != PGQRS_OK) {
        th_fail(__FILE__, __LINE__, "setup: %s: %s", pgqrs_errstr(st), pgqrs_errmsg(s));
        pgqrs_store_free(s);
        return;
    }
    for (int i = 0; i < T_THREADS; i++) {
        memset(&ds[i], 0, sizeof ds[i]);
        ds[i].store = s;
        if (pthread_create(&tids[i], NULL, drain_thread, &ds[i]) != 0) {
            ds[i].failed = 1;
            tids[i] = pthread_self();
        }
    }
    for (int i = 0; i < T_THREADS; i++)
        if (!pthread_equal(tids[i], pthread_self()))
            pthread_join(tids[i], NULL);
    if (pgqrs_metrics_list(&ml, s, "jobs") == PGQRS_OK && pgqrs_metrics_count(ml) == 1) {
        pending = pgqrs_metrics_at(ml, 0)->pending + pgqrs_metrics_at(ml, 0)->in_flight;
        archived = pgqrs_metrics_at(ml, 0)->archived;
    }
    pgqrs_metrics_free(ml);
    pgqrs_store_free(s);
    for (int i = 0; i < T_THREADS; i++) {
        CHECK_MSG(!ds[i].failed, "thread %d: %s", i, ds[i].msg[0] ? ds[i].msg : "failed");
        memcpy(got + ngot, ds[i].ids, ds[i].n * sizeof *got);
        ngot += ds[i].n;
    }
    qsort(got, ngot, sizeof *got, cmp_i64);
    qsort(enq, T_MESSAGES, sizeof *enq, cmp_i64);
    for (size_t i = 1; i < ngot; i++)
        dups += got[i] == got[i - 1];
    CHECK_I64(0, dups);
    CHECK_I64(T_MESSAGES, (int64_t)ngot);
    CHECK(memcmp(got, enq, sizeof enq) == 0);
    CHECK_I64(0, pending);
    CHECK_I64(T_MESSAGES, archived);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "concurrency__four_processes_drain_exactly_once", test_concurrency__four_processes_drain_exactly_once },
        { "concurrency__install_from_many_processes", test_concurrency__install_from_many_processes },
        { "concurrency__queue_create_race_has_one_winner", test_concurrency__queue_create_race_has_one_winner },
        { "concurrency__threads_share_one_store", test_concurrency__threads_share_one_store },
    };
    return th_main(argc, argv, "test_concurrency", tests, sizeof tests / sizeof *tests);
}
