/* test_runtime_crash.c: kill -9 of a runtime process with many handlers in flight.
 *
 * A child process runs a runtime (concurrency 16, batch 10) over 3,000 jobs; its
 * handler appends "S <id> <pid>" when it starts and "D <id> <pid>" when it is
 * done (O_APPEND: a killed process loses nothing it wrote). The parent SIGKILLs
 * it after 1,000 jobs are done, reads from the database which messages the dead
 * worker still held, reclaims it as a zombie, and drains the rest with a runtime
 * of its own. Then (docs/worker.md, "Crashes"):
 *   - lost = 0: every job is archived, none is live or dead-lettered;
 *   - the jobs done twice are exactly the jobs the dead worker had finished and
 *     still held: their settle had not committed (at-least-once, nothing more);
 *   - every job started twice was held by the dead worker (running, finished, or
 *     claimed and waiting); held <= concurrency + batch_size bounds them.
 * The figures are printed: "crash[BACKEND]: ...". sqlite::memory: cannot be shared
 * by two processes: SKIP there. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

#define N_JOBS 3000
#define KILL_AFTER 1000
#define CONCURRENCY 16
#define BATCH 10

static char logpath[600];
static char dsn[1024];

static void log_line(char what, int64_t id)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%c %lld %d\n", what, (long long)id, (int)getpid());
    int fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0 || write(fd, buf, (size_t)n) != n) {
        perror("crash log");
        _exit(40);
    }
    close(fd);
}

static int job(pgqrs_job *j, void *user)
{
    struct timespec ts = { 0, (long)(rand() % 3000) * 1000L };   /* 0 to 3 ms of work */
    (void)user;
    log_line('S', pgqrs_job_id(j));
    nanosleep(&ts, NULL);
    log_line('D', pgqrs_job_id(j));
    return PGQRS_JOB_DONE;
}

static pgqrs_store *connect_store(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    o.pool_size = 4;
    if (pgqrs_connect(&s, dsn, &o) != PGQRS_OK) {
        fprintf(stderr, "connect: %s\n", pgqrs_errmsg(NULL));
        return NULL;
    }
    return s;
}

static pgqrs_status run_runtime(pgqrs_store *s, int until_empty)
{
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime *rt = NULL;
    pgqrs_status st;
    o.concurrency = CONCURRENCY;
    o.batch_size = BATCH;
    o.until_empty = until_empty;
    o.idle_max_ms = 50;
    st = pgqrs_runtime_new(&rt, s, &o);
    if (st == PGQRS_OK)
        st = pgqrs_runtime_add_queue(rt, "jobs", job, NULL);
    if (st == PGQRS_OK)
        st = pgqrs_runtime_run(rt);
    if (st != PGQRS_OK)
        fprintf(stderr, "runtime: %s\n", rt ? pgqrs_errmsg(rt) : pgqrs_errmsg(s));
    pgqrs_runtime_free(rt);
    return st;
}

/* The child: a runtime that runs until it is killed. */
static void child_main(void)
{
    pgqrs_store *s = connect_store();
    srand((unsigned)getpid());
    if (!s)
        _exit(41);
    run_runtime(s, 0);
    _exit(42);   /* not reached: the parent kills it */
}

/* Per job: starts and completions, by the child and by anyone. */
typedef struct {
    int started, done, child_started, child_done;
} tally;

static int read_log(tally *t, int64_t first_id, pid_t child)
{
    FILE *f = fopen(logpath, "r");
    char what;
    long long id;
    int pid, done = 0;
    if (!f)
        return 0;
    while (fscanf(f, " %c %lld %d", &what, &id, &pid) == 3) {
        int64_t k = id - first_id;
        if (k < 0 || k >= N_JOBS)
            continue;
        if (what == 'S') {
            t[k].started++;
            t[k].child_started += pid == child;
        } else {
            t[k].done++;
            t[k].child_done += pid == child;
            done++;
        }
    }
    fclose(f);
    return done;
}

static void test_crash__kill_9_with_handlers_in_flight(void)
{
    static tally t[N_JOBS];
    static bool held[N_JOBS];
    pgqrs_store *s;
    pgqrs_producer *p = NULL;
    pgqrs_workers *wl = NULL;
    pgqrs_batch *b = NULL;
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    int64_t ids[500], first_id = 0, child_worker = 0, n = 0, archived = 0, after = 0;
    const char *payloads[500];
    pid_t pid;
    int status, n_held = 0, held_waiting = 0, held_running = 0, held_finished = 0, twice_done = 0, twice_started = 0;
    if (th_is_memory())
        SKIP("forks a runtime process: sqlite::memory: is private to one connection of one process");
    snprintf(dsn, sizeof dsn, "%s", th_fresh_dsn());
    snprintf(logpath, sizeof logpath, "%s/crash-%d.log", th_tmpdir(), (int)getpid());
    unlink(logpath);
    memset(t, 0, sizeof t);
    memset(held, 0, sizeof held);
    /* the jobs, from a store the parent frees before forking */
    CHECK((s = connect_store()));
    CHECK_OK(pgqrs_schema_install(s), s);
    qo.max_attempts = 10;
    CHECK_OK(pgqrs_queue_create(NULL, s, "jobs", &qo), s);
    CHECK_OK(pgqrs_producer_new(&p, s, "jobs"), s);
    for (int i = 0; i < 500; i++)
        payloads[i] = "{\"work\":1}";
    for (int i = 0; i < N_JOBS / 500; i++) {
        CHECK_OK(pgqrs_enqueue_batch(ids, p, payloads, 500, 0), p);
        if (i == 0)
            first_id = ids[0];
    }
    CHECK_I64(first_id + N_JOBS - 1, ids[499]);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);

    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        child_main();
    for (int i = 0; i < 3000; i++) {   /* up to 60 s */
        memset(t, 0, sizeof t);
        if (read_log(t, first_id, pid) >= KILL_AFTER)
            break;
        usleep(20000);
    }
    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    memset(t, 0, sizeof t);
    CHECK_MSG(read_log(t, first_id, pid) >= KILL_AFTER, "the child did fewer than %d jobs", KILL_AFTER);

    /* what the dead worker held: its ack had not committed */
    CHECK((s = connect_store()));
    CHECK_OK(pgqrs_worker_list(&wl, s, "jobs"), s);
    for (size_t i = 0; i < pgqrs_workers_count(wl); i++)
        if (pgqrs_workers_at(wl, i)->pid == pid && strcmp(pgqrs_workers_at(wl, i)->kind, "consumer") == 0)
            child_worker = pgqrs_workers_at(wl, i)->id;
    pgqrs_workers_free(wl);
    CHECK(child_worker > 0);
    for (;;) {
        size_t k;
        CHECK_OK(pgqrs_message_list(&b, s, "jobs", after, 1000), s);
        k = pgqrs_batch_count(b);
        for (size_t i = 0; i < k; i++) {
            const pgqrs_message *m = pgqrs_batch_at(b, i);
            int64_t x = m->id - first_id;
            after = m->id;
            if (m->consumer_worker_id == child_worker && x >= 0 && x < N_JOBS) {
                held[x] = true;
                n_held++;
                if (t[x].child_done)
                    held_finished++;
                else if (t[x].child_started)
                    held_running++;
                else
                    held_waiting++;
            }
        }
        pgqrs_batch_free(b);
        b = NULL;
        if (k < 1000)
            break;
    }
    CHECK_MSG(n_held > 0 && n_held <= CONCURRENCY + BATCH, "held at the kill: %d", n_held);

    /* recovery: the dead worker is a zombie an hour later; a new runtime drains */
    pgqrs_store_set_time(s, (int64_t)time(NULL) * 1000000 + 3600LL * 1000000);
    CHECK_OK(pgqrs_worker_reclaim_zombies(&n, s, 60), s);
    CHECK(n >= 1);
    CHECK_OK(run_runtime(s, 1), s);

    /* the verdict */
    memset(t, 0, sizeof t);
    read_log(t, first_id, pid);
    for (int i = 0; i < N_JOBS; i++) {
        CHECK_MSG(t[i].done >= 1, "job %lld never completed", (long long)(first_id + i));
        if (t[i].done > 1) {
            twice_done++;
            CHECK_MSG(held[i] && t[i].child_done == 1 && t[i].done == 2,
                      "job %lld completed %d times, held at the kill: %d", (long long)(first_id + i), t[i].done,
                      (int)held[i]);
        } else {
            CHECK_MSG(!(held[i] && t[i].child_done), "job %lld finished and held at the kill ran only once",
                      (long long)(first_id + i));
        }
        if (t[i].started > 1) {
            twice_started++;
            CHECK_MSG(held[i], "job %lld started %d times and was not held at the kill", (long long)(first_id + i),
                      t[i].started);
        }
    }
    CHECK_I64(held_finished, twice_done);
    CHECK_I64(held_finished + held_running, twice_started);
    CHECK_OK(pgqrs_message_list(&b, s, "jobs", 0, 10), s);
    CHECK_I64(0, pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_dlq_count(&n, s, "jobs"), s);
    CHECK_I64(0, n);
    for (after = 0;;) {   /* every job archived exactly once: lost = 0 */
        size_t k;
        CHECK_OK(pgqrs_archive_list(&b, s, "jobs", after, 1000), s);
        k = pgqrs_batch_count(b);
        archived += (int64_t)k;
        if (k)
            after = pgqrs_batch_at(b, k - 1)->id;
        pgqrs_batch_free(b);
        b = NULL;
        if (k < 1000)
            break;
    }
    CHECK_I64(N_JOBS, archived);
    printf("  crash[%s]: %d jobs done before the kill; in flight at the kill %d (%d finished unsettled, %d running, "
           "%d claimed not started); completed twice %d, started twice %d; bound %d (held), "
           "concurrency + batch %d; lost %lld\n",
           th_backend(), KILL_AFTER, n_held, held_finished, held_running, held_waiting, twice_done, twice_started,
           n_held, CONCURRENCY + BATCH, (long long)(N_JOBS - archived));
    pgqrs_store_free(s);
    unlink(logpath);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "crash__kill_9_with_handlers_in_flight", test_crash__kill_9_with_handlers_in_flight },
    };
    return th_main(argc, argv, "test_runtime_crash", tests, sizeof tests / sizeof *tests);
}
