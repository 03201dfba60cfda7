/* chaos.c: fault injection with real processes on real databases (issue 7).
 *
 *   pgqrs-chaos [--short] MODE BACKEND
 *     MODE     consumer-crash | pg-restart | busy-storm | workflow-crash
 *     BACKEND  postgres (PGQRS_TEST_PG_DSN; pg-restart also PGQRS_TEST_PG_DIR and
 *              PGQRS_TEST_PG_BIN, as scripts/with-postgres.sh exports) | sqlite
 *   --short    the small version `make test` runs; without it, the full sizes of
 *              `make chaos`.
 *
 * Every worker is a separate process: fork + exec of this binary with a hidden
 * child mode, so nothing of the parent (store, sockets, locks) crosses. The
 * parent is the chaos driver: it SIGKILLs and restarts workers, stops and starts
 * PostgreSQL, or holds the SQLite write lock, and afterwards checks the database
 * against what was enqueued. Prints one "chaos MODE[BACKEND]: ..." line of figures
 * and "chaos-MODE[BACKEND]: N passed, N failed, 0 skipped" (one count per check).
 * Exit status 0 only on success.
 * docs/reliability.md says what each mode proves. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgqrs.h"

/* ---- the library's sleeps, counted ----------------------------------------------
 * libpgqrs sleeps only through nanosleep (its SQLite busy handler and connection
 * backoff), so defining nanosleep here counts every busy retry and its length. The
 * test's own waits use clock_nanosleep and are not counted. */
static long lib_sleeps;
static int64_t lib_sleep_max_us, lib_sleep_total_us;

int nanosleep(const struct timespec *req, struct timespec *rem)
{
    int64_t us = (int64_t)req->tv_sec * 1000000 + req->tv_nsec / 1000;
    int rc;
    lib_sleeps++;
    lib_sleep_total_us += us;
    if (us > lib_sleep_max_us)
        lib_sleep_max_us = us;
    rc = clock_nanosleep(CLOCK_MONOTONIC, 0, req, rem);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return 0;
}

/* ---- small helpers ---------------------------------------------------------------- */
static bool short_run;
static const char *backend;   /* "postgres" or "sqlite" */
static char tmpdir[256];
static char self_exe[4096];
static int checks_failed, checks_passed;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t rnd_between(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

/* Jittered, capped backoff of the test's own retries: 10 ms doubling to 1 s. */
static void backoff(int attempt)
{
    int64_t d = 10;
    for (int i = 0; i < attempt && d < 1000; i++)
        d *= 2;
    if (d > 1000)
        d = 1000;
    sleep_ms(d / 2 + rnd_between(0, d / 2));
}

static void check(bool ok, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void check(bool ok, const char *fmt, ...)
{
    va_list ap;
    if (ok) {
        checks_passed++;
        return;
    }
    checks_failed++;
    fprintf(stderr, "    FAIL: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* After a run: the killed workers are reclaimed and purged like any stale
 * worker, and no message or archived message names a missing queue or worker
 * (pgqrs_schema_verify scans for them). */
static void no_orphans(pgqrs_store *s)
{
    int64_t n = 0;
    pgqrs_status st = pgqrs_worker_reclaim_zombies(&n, s, 1);
    if (st == PGQRS_OK)
        st = pgqrs_worker_purge_stale(&n, s, 1);
    check(st == PGQRS_OK, "reclaim and purge after the run: %s", pgqrs_errmsg(s));
    st = pgqrs_schema_verify(s);
    check(st == PGQRS_OK, "orphans after the run: %s", pgqrs_errmsg(s));
}

static bool transient(pgqrs_status st)
{
    return st == PGQRS_ECONN || st == PGQRS_EBUSY || st == PGQRS_ETIMEOUT || st == PGQRS_ERROR;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* A fresh database: a new schema on PostgreSQL, a new file on SQLite. */
static void fresh_dsn(char *out, size_t len, const char *tag)
{
    static int seq;
    seq++;
    if (strcmp(backend, "postgres") == 0) {
        const char *base = getenv("PGQRS_TEST_PG_DSN");
        char sql[128];
        PGconn *c;
        PGresult *r;
        if (!base) {
            fprintf(stderr, "chaos: PGQRS_TEST_PG_DSN is not set (run through scripts/with-postgres.sh)\n");
            exit(2);
        }
        c = PQconnectdb(base);
        snprintf(sql, sizeof sql, "CREATE SCHEMA chaos_%s_%d_%d", tag, (int)getpid(), seq);
        r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "chaos: %s: %s", sql, PQerrorMessage(c));
            exit(2);
        }
        PQclear(r);
        PQfinish(c);
        snprintf(out, len, "%s%sschema=chaos_%s_%d_%d", base, strchr(base, '?') ? "&" : "?", tag, (int)getpid(), seq);
    } else {
        snprintf(out, len, "sqlite://%s/%s-%d.db", tmpdir, tag, seq);
    }
}

static pgqrs_status connect_retry(pgqrs_store **s, const char *dsn, const pgqrs_connect_options *o)
{
    pgqrs_status st = PGQRS_OK;
    double deadline = now_s() + 60;
    for (int a = 0; now_s() < deadline; a++) {
        st = pgqrs_connect(s, dsn, o);
        if (st == PGQRS_OK || !transient(st))
            return st;
        backoff(a);
    }
    return st;
}

/* ---- child processes ------------------------------------------------------------- */
static pid_t spawn(char *const argv[])
{
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        execv(self_exe, argv);
        _exit(127);
    }
    return pid;
}

/* Waits for pid at most timeout_s; kills it and returns -1 if it hangs. */
static int wait_bounded(pid_t pid, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    int ws = 0;
    for (;;) {
        pid_t r = waitpid(pid, &ws, WNOHANG);
        if (r == pid) {
            int rc = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
            if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM)
                rc = 0;   /* stopped by our SIGTERM before it installed its handler (just spawned) */
            if (rc != 0)
                fprintf(stderr, "    child %d exited with %d\n", (int)pid, rc);
            return rc;
        }
        if (r < 0 && errno != EINTR)
            return -2;
        if (now_s() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &ws, 0);
            return -1;
        }
        sleep_ms(10);
    }
}

static volatile sig_atomic_t stop_flag;
static pgqrs_workflow_worker *volatile the_worker;
static void on_term(int sig)
{
    (void)sig;
    stop_flag = 1;
    if (the_worker)
        pgqrs_workflow_worker_interrupt(the_worker);
}

static void install_term(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
}

static void append_ids(int fd, const int64_t *ids, size_t n)
{
    if (n && write(fd, ids, n * sizeof *ids) != (ssize_t)(n * sizeof *ids))
        _exit(90);
}

/* child: consumer DSN QUEUE OUTFILE VT WORK_MS STATSFILE
 * Drains until SIGTERM: dequeue 10, "work", archive_batch; appends the ids whose
 * archive returned OK to OUTFILE. Retries transient errors with backoff. */
static int child_consumer(char **av)
{
    const char *dsn = av[0], *queue = av[1], *out = av[2], *stats = av[5];
    int vt = atoi(av[3]), work_ms = atoi(av[4]);
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_consumer *c = NULL;
    long errors = 0, notowned = 0, recreated = 0, archived = 0;
    double worst_outage = 0, outage_start = 0;
    int fd, a = 0;
    pgqrs_status st;
    install_term();
    rng_state ^= (uint64_t)getpid() * 2654435761ULL;
    o.pool_size = 1;
    o.heartbeat_interval_s = 1;
    o.zombie_after_s = 3;
    o.connect_timeout_s = 2;
    fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return 80;
    if ((st = connect_retry(&s, dsn, &o)) != PGQRS_OK) {
        fprintf(stderr, "consumer %d: connect: %s: %s\n", (int)getpid(), pgqrs_errstr(st), pgqrs_errmsg(NULL));
        return 81;
    }
    while (!stop_flag) {
        pgqrs_batch *b = NULL;
        int64_t ids[10];
        pgqrs_status res[10];
        size_t n;
        if (!c) {
            st = pgqrs_consumer_new(&c, s, queue);
            if (st != PGQRS_OK) {
                errors++;
                if (!outage_start)
                    outage_start = now_s();
                backoff(a++);
                continue;
            }
        }
        st = pgqrs_dequeue(&b, c, 10, vt);
        if (st == PGQRS_ESTATE) {   /* our worker row was reclaimed as a zombie: register again */
            pgqrs_consumer_free(c);
            c = NULL;
            recreated++;
            continue;
        }
        if (st != PGQRS_OK) {
            errors++;
            if (!outage_start)
                outage_start = now_s();
            backoff(a++);
            continue;
        }
        if (outage_start && now_s() - outage_start > worst_outage)
            worst_outage = now_s() - outage_start;
        outage_start = 0;
        a = 0;
        n = pgqrs_batch_count(b);
        for (size_t i = 0; i < n && i < 10; i++)
            ids[i] = pgqrs_batch_at(b, i)->id;
        pgqrs_batch_free(b);
        if (n == 0) {
            sleep_ms(20);
            continue;
        }
        if (work_ms)
            sleep_ms(work_ms);
        for (size_t i = 0; i < n; i++)
            res[i] = PGQRS_ERROR;
        st = pgqrs_archive_batch(res, c, ids, n);
        if (st == PGQRS_OK || st == PGQRS_ENOTOWNED || st == PGQRS_ENOTFOUND) {
            int64_t ok[10];
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                if (res[i] == PGQRS_OK)
                    ok[k++] = ids[i];
                else
                    notowned++;
            }
            append_ids(fd, ok, k);
            archived += (long)k;
        } else {
            errors++;   /* unknown outcome (connection lost): the message comes back after its vt */
            backoff(a++);
        }
    }
    close(fd);
    pgqrs_consumer_free(c);
    pgqrs_store_free(s);
    if (stats) {
        FILE *f = fopen(stats, "a");
        if (f) {
            fprintf(f, "consumer %ld %ld %ld %ld %.3f\n", archived, errors, notowned, recreated, worst_outage);
            fclose(f);
        }
    }
    return 0;
}

/* Counts one PGQRS_EBUSY that took d seconds to come back. */
static void note_busy(double d, long *n, double *min, double *max)
{
    (*n)++;
    *min = d < *min ? d : *min;
    *max = d > *max ? d : *max;
}

/* child: producer DSN QUEUE IDX COUNT BUSY_MS STATSFILE PACE_MS
 * Enqueues COUNT payloads {"p":IDX,"i":j} one by one, retrying every failure with
 * backoff, and records the API-level busy errors and how long each took. */
static int child_producer(char **av)
{
    const char *dsn = av[0], *queue = av[1], *stats = av[5];
    int idx = atoi(av[2]), count = atoi(av[3]), busy_ms = atoi(av[4]), pace_ms = atoi(av[6]);
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_producer *p = NULL;
    long errors = 0, ebusy = 0, econn = 0;
    double busy_min = 1e9, busy_max = 0, worst_outage = 0, t_start = now_s();
    struct rusage ru;
    pgqrs_status st;
    o.pool_size = 1;
    o.heartbeat_interval_s = -1;
    o.connect_timeout_s = 2;
    if (busy_ms > 0)
        o.busy_timeout_ms = busy_ms;
    rng_state ^= (uint64_t)getpid() * 2654435761ULL;
    if ((st = connect_retry(&s, dsn, &o)) != PGQRS_OK) {
        fprintf(stderr, "producer %d: connect: %s: %s\n", idx, pgqrs_errstr(st), pgqrs_errmsg(NULL));
        return 81;
    }
    for (int a = 0;; a++) {
        double t0 = now_s();
        if ((st = pgqrs_producer_new(&p, s, queue)) == PGQRS_OK)
            break;
        if (!transient(st) || a > 200) {
            fprintf(stderr, "producer %d: producer_new: %s: %s\n", idx, pgqrs_errstr(st), pgqrs_errmsg(s));
            return 82;
        }
        errors++;
        if (st == PGQRS_EBUSY)
            note_busy(now_s() - t0, &ebusy, &busy_min, &busy_max);
        backoff(a);
    }
    for (int j = 0; j < count; j++) {
        char payload[64];
        double first_fail = 0;
        snprintf(payload, sizeof payload, "{\"p\":%d,\"i\":%d}", idx, j);
        for (int a = 0;; a++) {
            double t0 = now_s();
            st = pgqrs_enqueue(NULL, p, payload, 0);
            if (st == PGQRS_OK)
                break;
            if (!transient(st)) {
                fprintf(stderr, "producer %d: enqueue: %s: %s\n", idx, pgqrs_errstr(st), pgqrs_errmsg(p));
                return 83;
            }
            errors++;
            if (st == PGQRS_EBUSY)
                note_busy(now_s() - t0, &ebusy, &busy_min, &busy_max);
            if (st == PGQRS_ECONN)
                econn++;
            if (!first_fail)
                first_fail = t0;
            if (now_s() - first_fail > 120) {
                fprintf(stderr, "producer %d: giving up after 120 s: %s\n", idx, pgqrs_errmsg(p));
                return 84;
            }
            backoff(a);
        }
        if (first_fail && now_s() - first_fail > worst_outage)
            worst_outage = now_s() - first_fail;
        if (pace_ms)
            sleep_ms(pace_ms);
    }
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
    getrusage(RUSAGE_SELF, &ru);
    {
        FILE *f = fopen(stats, "a");
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                     ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
        if (f) {
            fprintf(f, "producer %d %ld %ld %ld %.4f %.4f %ld %" PRId64 " %.3f %.3f %.3f\n", idx, errors, ebusy, econn,
                    ebusy ? busy_min : 0.0, busy_max, lib_sleeps, lib_sleep_max_us, cpu, now_s() - t_start,
                    worst_outage);
            fclose(f);
        }
    }
    return 0;
}

/* child: lockholder PATH MS READY: holds SQLite's write lock (BEGIN IMMEDIATE) for
 * MS ms; creates the file READY once it holds it. */
static int child_lockholder(char **av)
{
    sqlite3 *db = NULL;
    int ms = atoi(av[1]), fd;
    if (sqlite3_open(av[0], &db) != SQLITE_OK)
        return 70;
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return 71;
    if ((fd = open(av[2], O_WRONLY | O_CREAT, 0600)) < 0)
        return 72;
    close(fd);
    sleep_ms(ms);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return 0;
}

/* ---- workflow worker -------------------------------------------------------------- */
/* The execution log, written outside the database (O_APPEND, so it survives the
 * SIGKILL): "E run step token" when a step function starts, "C run step token"
 * after pgqrs_run_step returned OK (its completion committed), "F run step token"
 * when pgqrs_run_step returned a failure after the step function had run (the
 * completion was not recorded: a lost step lease, EBUSY). A token is
 * incarnation * 1000000 + sequence: the driver numbers every worker process it
 * starts (pids are reused: pid_max may be 32768), so a token names the process
 * that executed the step. */
static int wf_log_fd = -1;
static int64_t wf_token_seq, wf_incarnation, wf_last_token;
#define WF_TOKEN_SPAN 1000000

static void wf_log(const char *kind, int64_t run, int step, int64_t token)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%s %" PRId64 " %d %" PRId64 "\n", kind, run, step, token);
    if (write(wf_log_fd, line, (size_t)n) != n)
        _exit(91);
}

static pgqrs_status wf_step(pgqrs_run *run, char **out, void *user)
{
    int step = (int)(intptr_t)user;
    int64_t token = wf_incarnation * WF_TOKEN_SPAN + ++wf_token_seq;
    char buf[64];
    wf_last_token = token;
    wf_log("E", pgqrs_run_id(run), step, token);
    sleep_ms(rnd_between(5, 40));   /* the step's "side effect" takes a while: kills land inside it */
    snprintf(buf, sizeof buf, "{\"token\":%" PRId64 "}", token);
    *out = pgqrs_strdup(buf);
    return *out ? PGQRS_OK : PGQRS_ENOMEM;
}

static int64_t token_of(const char *json)
{
    json_error_t e;
    json_t *j = json ? json_loads(json, JSON_DECODE_ANY, &e) : NULL;
    int64_t t = j ? (int64_t)json_integer_value(json_object_get(j, "token")) : -1;
    json_decref(j);
    return t;
}

#define WF_STEPS 3
static pgqrs_status wf_handler(pgqrs_run *run, const char *input, char **output, void *user)
{
    (void)input;
    (void)user;
    for (int k = 0; k < WF_STEPS; k++) {
        char id[16], *out = NULL;
        pgqrs_status st;
        snprintf(id, sizeof id, "s%d", k);
        wf_last_token = 0;
        st = pgqrs_run_step(&out, run, id, wf_step, (void *)(intptr_t)k, NULL);
        if (st != PGQRS_OK) {
            if (wf_last_token)   /* the function ran; its completion was not recorded */
                wf_log("F", pgqrs_run_id(run), k, wf_last_token);
            return st;
        }
        wf_log("C", pgqrs_run_id(run), k, token_of(out));
        pgqrs_free(out);
    }
    *output = pgqrs_strdup("{\"done\":true}");
    return PGQRS_OK;
}

static pgqrs_workflow_options wf_options(void)
{
    pgqrs_workflow_options wo = PGQRS_WORKFLOW_OPTIONS_INIT;
    wo.retry.max_attempts = 1000;      /* EBUSY (a dead holder's step lease) is retried, never fatal */
    wo.retry.initial_delay_ms = 100;
    wo.retry.max_delay_ms = 500;
    wo.max_deliveries = 1000;          /* crashes are what this test does: no crash-loop cut-off */
    wo.vt_seconds = 2;
    wo.step_lease_ms = 1500;
    return wo;
}

/* child: wfworker DSN LOGFILE INCARNATION */
static int child_wfworker(char **av)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_workflow_options wo = wf_options();
    pgqrs_poll_options po = PGQRS_POLL_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_workflow_worker *w = NULL;
    pgqrs_status st;
    install_term();
    rng_state ^= (uint64_t)getpid() * 2654435761ULL;
    wf_incarnation = atoll(av[2]);
    wf_log_fd = open(av[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (wf_log_fd < 0)
        return 80;
    o.pool_size = 2;
    o.heartbeat_interval_s = 1;
    o.zombie_after_s = 3;
    if ((st = connect_retry(&s, av[0], &o)) != PGQRS_OK)
        return 81;
    for (int a = 0; a < 100; a++) {   /* SQLite: the other workers' writes may hold the lock (EBUSY) */
        if ((st = pgqrs_workflow_define(s, "chaos_wf", wf_handler, NULL, &wo)) == PGQRS_OK &&
            (st = pgqrs_workflow_worker_new(&w, s, "chaos_wf")) == PGQRS_OK)
            break;
        if (!transient(st) || stop_flag)
            break;
        backoff(a);
    }
    if (st != PGQRS_OK) {
        fprintf(stderr, "wfworker: %s: %s\n", pgqrs_errstr(st), pgqrs_errmsg(s));
        pgqrs_store_free(s);
        return 82;
    }
    the_worker = w;
    po.poll_interval_ms = 20;
    while (!stop_flag) {
        st = pgqrs_workflow_worker_poll(NULL, w, &po);
        if (st != PGQRS_OK && !stop_flag)
            backoff(3);
    }
    the_worker = NULL;
    pgqrs_workflow_worker_free(w);
    pgqrs_store_free(s);
    return 0;
}

/* ---- archive reading ------------------------------------------------------------- */
typedef struct arch {
    int64_t *ids;
    int32_t *reads;
    char **payloads;
    size_t n;
} arch;

static pgqrs_status read_archive(pgqrs_store *s, const char *queue, arch *a, bool keep_payloads)
{
    int64_t after = 0;
    size_t cap = 0;
    memset(a, 0, sizeof *a);
    for (;;) {
        pgqrs_batch *b = NULL;
        size_t n;
        pgqrs_status st = PGQRS_OK;
        for (int t = 0; t < 50; t++) {
            st = pgqrs_archive_list(&b, s, queue, after, 1000);
            if (st == PGQRS_OK || !transient(st))
                break;
            backoff(t);
        }
        if (st != PGQRS_OK)
            return st;
        n = pgqrs_batch_count(b);
        if (a->n + n > cap) {
            cap = (a->n + n) * 2;
            a->ids = realloc(a->ids, cap * sizeof *a->ids);
            a->reads = realloc(a->reads, cap * sizeof *a->reads);
            a->payloads = realloc(a->payloads, cap * sizeof *a->payloads);
            if (!a->ids || !a->reads || !a->payloads)
                abort();
        }
        for (size_t i = 0; i < n; i++) {
            const pgqrs_message *m = pgqrs_batch_at(b, i);
            a->ids[a->n] = m->id;
            a->reads[a->n] = m->read_count;
            a->payloads[a->n] = keep_payloads ? strdup(m->payload) : NULL;
            a->n++;
            after = m->id;
        }
        pgqrs_batch_free(b);
        if (n < 1000)
            return PGQRS_OK;
    }
}

static void arch_free(arch *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->payloads[i]);
    free(a->ids);
    free(a->reads);
    free(a->payloads);
}

static pgqrs_status metrics(pgqrs_store *s, const char *queue, pgqrs_queue_metrics *out)
{
    pgqrs_metrics *ml = NULL;
    pgqrs_status st = pgqrs_metrics_list(&ml, s, queue);
    if (st == PGQRS_OK && pgqrs_metrics_count(ml) == 1) {
        *out = *pgqrs_metrics_at(ml, 0);
        out->name = NULL;
    } else if (st == PGQRS_OK) {
        st = PGQRS_ERROR;
    }
    pgqrs_metrics_free(ml);
    return st;
}

/* Reads every int64 of the files path_0..path_{n-1}; returns the sorted array. */
static int64_t *read_id_files(char (*paths)[512], int n, size_t *count)
{
    size_t cap = 1024, k = 0;
    int64_t *v = malloc(cap * sizeof *v), id;
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(paths[i], "rb");
        if (!f)
            continue;
        while (fread(&id, sizeof id, 1, f) == 1) {
            if (k == cap)
                v = realloc(v, (cap *= 2) * sizeof *v);
            v[k++] = id;
        }
        fclose(f);
    }
    qsort(v, k, sizeof *v, cmp_i64);
    *count = k;
    return v;
}

/* ---- mode: consumer-crash ------------------------------------------------------------ */
#define MAX_INC 4096
static int mode_consumer_crash(void)
{
    int n_msgs = short_run ? 2000 : 20000;
    int n_cons = strcmp(backend, "postgres") == 0 ? (short_run ? 4 : 8) : 4;
    double max_wall = short_run ? 90 : 400;
    char dsn[1024], stats[512], vt[8] = "3", work[8];
    static char paths[MAX_INC][512];
    pid_t pids[16];
    int inc = 0, kills = 0, hung = 0, bad_exit = 0;
    int64_t reclaimed = 0, *enq, *client;
    size_t nclient;
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_producer *p = NULL;
    pgqrs_queue_metrics m;
    arch a;
    double t0, next_kill, next_reclaim;
    bool drained = false;

    snprintf(work, sizeof work, "%d", short_run ? 10 : 15);
    fresh_dsn(dsn, sizeof dsn, "crash");
    snprintf(stats, sizeof stats, "%s/crash.stats", tmpdir);
    o.heartbeat_interval_s = -1;
    qo.max_attempts = 100;   /* a message killed with its consumer several times is not dead-lettered */
    if (pgqrs_connect(&s, dsn, &o) != PGQRS_OK || pgqrs_schema_install(s) != PGQRS_OK ||
        pgqrs_queue_create(NULL, s, "jobs", &qo) != PGQRS_OK || pgqrs_producer_new(&p, s, "jobs") != PGQRS_OK) {
        fprintf(stderr, "setup: %s\n", s ? pgqrs_errmsg(s) : pgqrs_errmsg(NULL));
        return 1;
    }
    enq = malloc((size_t)n_msgs * sizeof *enq);
    {
        static char buf[1000][40];
        const char *pl[1000];
        for (int c = 0; c < n_msgs; c += 1000) {
            int k = n_msgs - c < 1000 ? n_msgs - c : 1000;
            for (int i = 0; i < k; i++) {
                snprintf(buf[i], sizeof buf[i], "{\"n\":%d}", c + i);
                pl[i] = buf[i];
            }
            if (pgqrs_enqueue_batch(enq + c, p, pl, (size_t)k, 0) != PGQRS_OK) {
                fprintf(stderr, "enqueue: %s\n", pgqrs_errmsg(p));
                return 1;
            }
        }
    }
    pgqrs_producer_free(p);

    t0 = now_s();
    for (int i = 0; i < n_cons; i++) {
        snprintf(paths[inc], sizeof paths[inc], "%s/crash-%d.ids", tmpdir, inc);
        char *av[] = { self_exe, "--child", "consumer", dsn, "jobs", paths[inc], vt, work, stats, NULL };
        pids[i] = spawn(av);
        inc++;
    }
    next_kill = t0 + 0.2;
    next_reclaim = t0 + 1;
    while (now_s() - t0 < max_wall) {
        double t = now_s();
        if (t >= next_kill) {
            /* SIGKILL a random consumer and start a new one in its place */
            int victim = (int)rnd_between(0, n_cons - 1);
            int ws;
            kill(pids[victim], SIGKILL);
            waitpid(pids[victim], &ws, 0);
            kills++;
            if (inc < MAX_INC) {
                snprintf(paths[inc], sizeof paths[inc], "%s/crash-%d.ids", tmpdir, inc);
                char *av[] = { self_exe, "--child", "consumer", dsn, "jobs", paths[inc], vt, work, stats, NULL };
                pids[victim] = spawn(av);
                inc++;
            }
            next_kill = t + (double)rnd_between(100, 300) / 1000.0;
        }
        if (t >= next_reclaim) {
            int64_t r = 0;
            if (pgqrs_worker_reclaim_zombies(&r, s, 3) == PGQRS_OK)
                reclaimed += r;
            if (metrics(s, "jobs", &m) == PGQRS_OK && m.pending + m.in_flight + m.delayed == 0) {
                drained = true;
                break;
            }
            next_reclaim = t + 0.5;
        }
        sleep_ms(10);
    }
    for (int i = 0; i < n_cons; i++)
        kill(pids[i], SIGTERM);
    for (int i = 0; i < n_cons; i++) {
        int rc = wait_bounded(pids[i], 20);
        hung += rc == -1;
        bad_exit += rc != 0;
    }
    double wall = now_s() - t0;

    /* what the database says. The archive's id is its primary key, so the
     * archive cannot hold an id twice; exactly once is: every enqueued id is
     * there (none lost), nothing else is (none unknown), and every archive a
     * consumer was told OK for is there and was told OK once. */
    client = read_id_files(paths, inc, &nclient);
    int64_t client_dups = 0, lost = 0, unknown = 0, client_missing = 0, redeliveries = 0, redelivered_msgs = 0,
            dlq = -1;
    for (size_t i = 1; i < nclient; i++)
        client_dups += client[i] == client[i - 1];
    if (read_archive(s, "jobs", &a, false) != PGQRS_OK) {
        fprintf(stderr, "archive_list: %s\n", pgqrs_errmsg(s));
        return 1;
    }
    qsort(enq, (size_t)n_msgs, sizeof *enq, cmp_i64);
    {
        int64_t *ids = malloc(a.n * sizeof *ids);
        memcpy(ids, a.ids, a.n * sizeof *ids);
        qsort(ids, a.n, sizeof *ids, cmp_i64);
        for (size_t i = 0; i < a.n; i++)
            if (!bsearch(&ids[i], enq, (size_t)n_msgs, sizeof *enq, cmp_i64))
                unknown++;
        for (int i = 0; i < n_msgs; i++)
            if (!bsearch(&enq[i], ids, a.n, sizeof *ids, cmp_i64))
                lost++;
        for (size_t i = 0; i < nclient; i++)   /* a client-reported archive the database does not have */
            if (!bsearch(&client[i], ids, a.n, sizeof *ids, cmp_i64))
                client_missing++;
        free(ids);
    }
    for (size_t i = 0; i < a.n; i++) {
        redeliveries += a.reads[i] > 1 ? a.reads[i] - 1 : 0;
        redelivered_msgs += a.reads[i] > 1;
    }
    pgqrs_dlq_count(&dlq, s, "jobs");
    memset(&m, 0, sizeof m);
    metrics(s, "jobs", &m);
    printf("chaos consumer-crash[%s]: messages=%d consumers=%d kills=%d redeliveries=%" PRId64
           " (messages redelivered=%" PRId64 ") zombies_reclaimed=%" PRId64 " lost=%" PRId64 " unknown=%" PRId64
           " archive_ok_twice=%" PRId64 " archive_ok_missing=%" PRId64 " wall=%.1fs\n",
           backend, n_msgs, n_cons, kills, redeliveries, redelivered_msgs, reclaimed, lost, unknown, client_dups,
           client_missing, wall);
    check(drained, "queue not drained within %.0f s: pending=%" PRId64 " in_flight=%" PRId64, max_wall, m.pending,
          m.in_flight);
    check(hung == 0, "%d consumers did not stop within 20 s of SIGTERM", hung);
    check(bad_exit == 0, "%d consumers exited with an error", bad_exit);
    check(lost == 0, "enqueued ids not in the archive: %" PRId64, lost);
    check(unknown == 0, "archived ids that were never enqueued: %" PRId64, unknown);
    check(client_dups == 0, "two consumers were told OK for the same archive: %" PRId64, client_dups);
    check(client_missing == 0, "archives that returned OK but are not in the archive: %" PRId64, client_missing);
    check(m.archived == n_msgs && m.pending == 0 && m.in_flight == 0 && m.delayed == 0 && m.dead_lettered == 0,
          "metrics: archived=%" PRId64 " pending=%" PRId64 " in_flight=%" PRId64 " dead=%" PRId64, m.archived,
          m.pending, m.in_flight, m.dead_lettered);
    check(dlq == 0, "dead letters: %" PRId64, dlq);
    check(kills > 0, "no kill happened");
    check(kills < 3 || redeliveries > 0, "%d kills but no redelivery", kills);
    no_orphans(s);
    arch_free(&a);
    free(client);
    free(enq);
    pgqrs_store_free(s);
    return 0;
}

/* ---- mode: pg-restart ------------------------------------------------------------------ */
static int pg_ctl(const char *action)
{
    const char *dir = getenv("PGQRS_TEST_PG_DIR"), *bin = getenv("PGQRS_TEST_PG_BIN");
    char cmd[2048];
    const char *as = getuid() == 0 ? "runuser -u postgres -- " : "";
    if (strcmp(action, "stop") == 0)
        snprintf(cmd, sizeof cmd, "%s'%s/pg_ctl' -D '%s/data' -m fast -w -t 60 stop >/dev/null", as, bin, dir);
    else
        snprintf(cmd, sizeof cmd,
                 "%s'%s/pg_ctl' -D '%s/data' -l '%s/server.log' -w -t 60 -o \"-c listen_addresses='' "
                 "-c unix_socket_directories='%s' -c max_connections=200 -c fsync=off -c full_page_writes=off\" "
                 "start >/dev/null",
                 as, bin, dir, dir, dir);
    return system(cmd);
}

static int mode_pg_restart(void)
{
    int n_prod = 2, n_cons = 2, per_prod = short_run ? 1500 : 5000, restarts = short_run ? 1 : 3;
    double max_wall = short_run ? 120 : 300;
    char dsn[1024], stats[512], count[16], idx[8][8], vt[8] = "3", work[8] = "2";
    static char paths[16][512];
    pid_t prod[8], cons[8];
    int hung = 0, bad = 0, restarted = 0;
    double downtime = 0, t0, wall;
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_queue_metrics m;
    arch a;
    bool drained = false;

    if (strcmp(backend, "postgres") != 0 || !getenv("PGQRS_TEST_PG_DIR") || !getenv("PGQRS_TEST_PG_BIN")) {
        fprintf(stderr, "pg-restart needs the postgres backend and scripts/with-postgres.sh\n");
        return 1;
    }
    fresh_dsn(dsn, sizeof dsn, "restart");
    snprintf(stats, sizeof stats, "%s/restart.stats", tmpdir);
    snprintf(count, sizeof count, "%d", per_prod);
    o.heartbeat_interval_s = -1;
    o.connect_timeout_s = 2;
    qo.max_attempts = 100;
    if (pgqrs_connect(&s, dsn, &o) != PGQRS_OK || pgqrs_schema_install(s) != PGQRS_OK ||
        pgqrs_queue_create(NULL, s, "jobs", &qo) != PGQRS_OK) {
        fprintf(stderr, "setup: %s\n", s ? pgqrs_errmsg(s) : pgqrs_errmsg(NULL));
        return 1;
    }
    t0 = now_s();
    for (int i = 0; i < n_prod; i++) {
        snprintf(idx[i], sizeof idx[i], "%d", i);
        char *av[] = { self_exe, "--child", "producer", dsn, "jobs", idx[i], count, "0", stats, "1", NULL };
        prod[i] = spawn(av);
    }
    for (int i = 0; i < n_cons; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/restart-%d.ids", tmpdir, i);
        char *av[] = { self_exe, "--child", "consumer", dsn, "jobs", paths[i], vt, work, stats, NULL };
        cons[i] = spawn(av);
    }
    for (int r = 0; r < restarts; r++) {
        double t;
        sleep_ms(short_run ? 500 : 1500);
        t = now_s();
        if (pg_ctl("stop") != 0) {
            fprintf(stderr, "pg_ctl stop failed\n");
            break;
        }
        sleep_ms(1000);   /* the server stays down a full second */
        if (pg_ctl("start") != 0) {
            fprintf(stderr, "pg_ctl start failed: the cluster is down\n");
            break;
        }
        downtime += now_s() - t;
        restarted++;
    }
    for (int i = 0; i < n_prod; i++) {
        int rc = wait_bounded(prod[i], max_wall - (now_s() - t0));
        hung += rc == -1;
        bad += rc != 0;
    }
    while (now_s() - t0 < max_wall) {
        pgqrs_status st = metrics(s, "jobs", &m);   /* the monitor's own pooled connection reconnects too */
        if (st == PGQRS_OK && m.pending + m.in_flight + m.delayed == 0) {
            drained = true;
            break;
        }
        sleep_ms(200);
    }
    for (int i = 0; i < n_cons; i++)
        kill(cons[i], SIGTERM);
    for (int i = 0; i < n_cons; i++) {
        int rc = wait_bounded(cons[i], 20);
        hung += rc == -1;
        bad += rc != 0;
    }
    wall = now_s() - t0;

    /* by payload: every (p, i) archived at least once, and nothing else archived
     * (the archive's primary key already rules out an id archived twice) */
    int64_t lost = 0, dup_payloads = 0, unknown = 0, client_dups = 0, client_missing = 0;
    long p_err = 0, p_conn = 0, c_err = 0;
    double p_outage = 0, c_outage = 0;
    size_t nclient;
    int64_t *client = read_id_files(paths, n_cons, &nclient);
    for (size_t i = 1; i < nclient; i++)
        client_dups += client[i] == client[i - 1];
    if (read_archive(s, "jobs", &a, true) != PGQRS_OK) {
        fprintf(stderr, "archive_list: %s\n", pgqrs_errmsg(s));
        return 1;
    }
    {
        int *seen = calloc((size_t)(n_prod * per_prod), sizeof *seen);
        int64_t *ids = malloc(a.n * sizeof *ids);
        for (size_t i = 0; i < a.n; i++) {
            json_error_t e;
            json_t *j = json_loads(a.payloads[i], 0, &e);
            int pi = (int)json_integer_value(json_object_get(j, "p")), ii = (int)json_integer_value(json_object_get(j, "i"));
            if (j && json_object_get(j, "p") && json_object_get(j, "i") && pi >= 0 && pi < n_prod && ii >= 0 &&
                ii < per_prod)
                seen[pi * per_prod + ii]++;
            else
                unknown++;
            json_decref(j);
            ids[i] = a.ids[i];
        }
        for (int i = 0; i < n_prod * per_prod; i++) {
            lost += seen[i] == 0;
            dup_payloads += seen[i] > 1 ? seen[i] - 1 : 0;
        }
        qsort(ids, a.n, sizeof *ids, cmp_i64);
        for (size_t i = 0; i < nclient; i++)   /* an archive that returned OK must have survived the restart */
            if (!bsearch(&client[i], ids, a.n, sizeof *ids, cmp_i64))
                client_missing++;
        free(ids);
        free(seen);
    }
    {
        FILE *f = fopen(stats, "r");
        char kind[16];
        while (f && fscanf(f, "%15s", kind) == 1) {
            if (strcmp(kind, "producer") == 0) {
                int i;
                long e, b, c, sl;
                double mn, mx, cpu, w, out;
                int64_t slmax;
                if (fscanf(f, "%d %ld %ld %ld %lf %lf %ld %" SCNd64 " %lf %lf %lf", &i, &e, &b, &c, &mn, &mx, &sl,
                           &slmax, &cpu, &w, &out) == 11) {
                    p_err += e;
                    p_conn += c;
                    if (out > p_outage)
                        p_outage = out;
                }
            } else {
                long ar, e, no, rec;
                double out;
                if (fscanf(f, "%ld %ld %ld %ld %lf", &ar, &e, &no, &rec, &out) == 5) {
                    c_err += e;
                    if (out > c_outage)
                        c_outage = out;
                }
            }
        }
        if (f)
            fclose(f);
    }
    printf("chaos pg-restart[postgres]: messages=%d restarts=%d downtime=%.1fs producer_errors=%ld (econn=%ld) "
           "consumer_errors=%ld longest_client_outage=%.1fs lost=%" PRId64 " unknown=%" PRId64
           " archive_ok_twice=%" PRId64 " archive_ok_missing=%" PRId64 " duplicate_enqueues=%" PRId64
           " hung=%d wall=%.1fs\n",
           n_prod * per_prod, restarted, downtime, p_err, p_conn, c_err, p_outage > c_outage ? p_outage : c_outage,
           lost, unknown, client_dups, client_missing, dup_payloads, hung, wall);
    check(restarted == restarts, "only %d of %d restarts done", restarted, restarts);
    check(hung == 0, "%d processes hung", hung);
    check(bad == 0, "%d processes failed", bad);
    check(drained, "queue not drained within %.0f s", max_wall);
    check(lost == 0, "payloads never archived: %" PRId64, lost);
    check(unknown == 0, "archived payloads no producer sent: %" PRId64, unknown);
    check(client_dups == 0, "two consumers were told OK for the same archive: %" PRId64, client_dups);
    check(client_missing == 0, "archives that returned OK but are not in the archive: %" PRId64, client_missing);
    check(p_err + c_err > 0, "no client saw the restart (nothing was tested)");
    no_orphans(s);
    arch_free(&a);
    free(client);
    pgqrs_store_free(s);
    return 0;
}

/* ---- mode: busy-storm (SQLite) ---------------------------------------------------------- */
static int mode_busy_storm(void)
{
    int writers = 8, per = short_run ? 150 : 1000, hold_ms = 1500, busy_ms = 300;
    char dsn[1024], path[1024], stats[512], count[16], idx[8][8], busy[16];
    pid_t pids[8], holder;
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_queue_metrics m;
    int hung = 0, bad = 0;
    long ebusy = 0, errors = 0, sleeps = 0;
    double busy_min = 1e9, busy_max = 0, cpu = 0, wall_sum = 0, t0, wall;
    int64_t sleep_max = 0;

    if (strcmp(backend, "sqlite") != 0) {
        fprintf(stderr, "busy-storm is a SQLite test\n");
        return 1;
    }
    fresh_dsn(dsn, sizeof dsn, "busy");
    snprintf(path, sizeof path, "%s", dsn + strlen("sqlite://"));
    snprintf(stats, sizeof stats, "%s/busy.stats", tmpdir);
    snprintf(count, sizeof count, "%d", per);
    snprintf(busy, sizeof busy, "%d", busy_ms);
    o.heartbeat_interval_s = -1;
    if (pgqrs_connect(&s, dsn, &o) != PGQRS_OK || pgqrs_schema_install(s) != PGQRS_OK ||
        pgqrs_queue_create(NULL, s, "jobs", NULL) != PGQRS_OK) {
        fprintf(stderr, "setup: %s\n", s ? pgqrs_errmsg(s) : pgqrs_errmsg(NULL));
        return 1;
    }
    /* the storm: one process holds the write lock for hold_ms, far past every
     * writer's busy_timeout_ms, and the writers start while it does (so the storm
     * cannot miss them, however fast they are): each writer's call must come back
     * with PGQRS_EBUSY after about busy_timeout_ms (not hang, not spin), be
     * retried, and succeed once the lock is gone */
    {
        char ms[16], ready[1100];
        snprintf(ms, sizeof ms, "%d", hold_ms);
        snprintf(ready, sizeof ready, "%s/busy.locked", tmpdir);
        char *av[] = { self_exe, "--child", "lockholder", path, ms, ready, NULL };
        holder = spawn(av);
        for (int i = 0; i < 500 && access(ready, F_OK) != 0; i++)
            sleep_ms(10);
        if (access(ready, F_OK) != 0) {
            fprintf(stderr, "busy-storm: the lock holder never took the lock\n");
            bad++;
        }
    }
    t0 = now_s();
    for (int i = 0; i < writers; i++) {
        snprintf(idx[i], sizeof idx[i], "%d", i);
        char *av[] = { self_exe, "--child", "producer", dsn, "jobs", idx[i], count, busy, stats, "0", NULL };
        pids[i] = spawn(av);
    }
    bad += wait_bounded(holder, 30) != 0;
    for (int i = 0; i < writers; i++) {
        int rc = wait_bounded(pids[i], short_run ? 120 : 300);
        hung += rc == -1;
        bad += rc != 0;
    }
    wall = now_s() - t0;
    {
        FILE *f = fopen(stats, "r");
        char kind[16];
        while (f && fscanf(f, "%15s", kind) == 1) {
            int i;
            long e, b, c, sl;
            double mn, mx, cp, w, out;
            int64_t slmax;
            if (fscanf(f, "%d %ld %ld %ld %lf %lf %ld %" SCNd64 " %lf %lf %lf", &i, &e, &b, &c, &mn, &mx, &sl, &slmax,
                       &cp, &w, &out) != 11)
                break;
            errors += e;
            ebusy += b;
            if (b && mn < busy_min)
                busy_min = mn;
            if (mx > busy_max)
                busy_max = mx;
            sleeps += sl;
            if (slmax > sleep_max)
                sleep_max = slmax;
            cpu += cp;
            wall_sum += w;
        }
        if (f)
            fclose(f);
    }
    int64_t lost = 0, dups = 0;
    {   /* every payload exactly once among the live messages */
        int *seen = calloc((size_t)(writers * per), sizeof *seen);
        int64_t after = 0;
        for (;;) {
            pgqrs_batch *b = NULL;
            size_t n;
            if (pgqrs_message_list(&b, s, "jobs", after, 1000) != PGQRS_OK)
                return 1;
            n = pgqrs_batch_count(b);
            for (size_t i = 0; i < n; i++) {
                json_error_t e;
                json_t *j = json_loads(pgqrs_batch_at(b, i)->payload, 0, &e);
                int pi = (int)json_integer_value(json_object_get(j, "p")), ii = (int)json_integer_value(json_object_get(j, "i"));
                if (j && pi >= 0 && pi < writers && ii >= 0 && ii < per)
                    seen[pi * per + ii]++;
                json_decref(j);
                after = pgqrs_batch_at(b, i)->id;
            }
            pgqrs_batch_free(b);
            if (n < 1000)
                break;
        }
        for (int i = 0; i < writers * per; i++) {
            lost += seen[i] == 0;
            dups += seen[i] > 1 ? seen[i] - 1 : 0;
        }
        free(seen);
    }
    memset(&m, 0, sizeof m);
    metrics(s, "jobs", &m);
    printf("chaos busy-storm[sqlite]: writers=%d messages=%d lock_held=%dms busy_timeout=%dms "
           "busy_handler_retries=%ld longest_retry_sleep=%.1fms api_EBUSY=%ld (each after %.0f..%.0fms) "
           "app_retries=%ld cpu/wall=%.2f lost=%" PRId64 " duplicates=%" PRId64 " hung=%d wall=%.1fs\n",
           writers, writers * per, hold_ms, busy_ms, sleeps, (double)sleep_max / 1000.0, ebusy,
           ebusy ? busy_min * 1000 : 0, busy_max * 1000, errors, wall_sum > 0 ? cpu / wall_sum : 0, lost, dups, hung,
           wall);
    check(hung == 0 && bad == 0, "hung=%d failed=%d", hung, bad);
    check(lost == 0 && dups == 0, "lost=%" PRId64 " duplicates=%" PRId64, lost, dups);
    check(m.pending == writers * per, "pending=%" PRId64 ", want %d", m.pending, writers * per);
    check(ebusy > 0, "the lock holder produced no EBUSY (nothing was tested)");
    /* documented: EBUSY after busy_timeout_ms in total; allow scheduling slack */
    check(!ebusy || (busy_min * 1000 >= busy_ms * 0.9 && busy_max * 1000 <= busy_ms + 250),
          "EBUSY after %.0f..%.0f ms, documented %d ms", busy_min * 1000, busy_max * 1000, busy_ms);
    check(sleep_max <= 50 * 1000 + 1000, "a busy sleep of %" PRId64 " us exceeds the 50 ms cap", sleep_max);
    check(wall_sum <= 0 || cpu / wall_sum < 0.5, "writers burned %.2f CPU per wall second: spinning", cpu / wall_sum);
    no_orphans(s);
    pgqrs_store_free(s);
    return 0;
}

/* ---- mode: workflow-crash ---------------------------------------------------------------- */
/* One logged step execution (tests/chaos: the E lines of the execution log). */
typedef struct wf_exec {
    int64_t run, token;
    int step;
} wf_exec;

static bool has_token(const int64_t *v, size_t n, int64_t t)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == t)
            return true;
    return false;
}

/* The re-execution bound asserted here, from docs/workflows.md ("the crash
 * boundary") and what pgqrs_run_step guarantees:
 *   - a step whose SUCCESS committed is never executed again (no E after its C);
 *   - an execution whose output was not the one stored was cut off: either its
 *     worker was SIGKILLed while the step ran, or pgqrs_run_step reported a failure
 *     to the handler after the function had run (an F line: its lease ran out
 *     and another worker took the step over, or the completion hit EBUSY);
 *     nothing else re-executes a step;
 *   - a worker executes one step at a time, so one kill cuts at most one step
 *     execution: re-executions after a crash <= kills, at most one per kill. */
static int mode_workflow_crash(void)
{
    int n_runs = short_run ? 20 : 100, n_workers = 4;
    double max_wall = short_run ? 120 : 400;
    char dsn[1024], logpath[512];
    pid_t pids[8];
    int64_t incarnation[8], next_incarnation = 1;
    int kills = 0, hung = 0, bad = 0;
    int64_t reclaimed = 0, run_ids[200];
    unsigned char *killed = NULL;   /* killed[incarnation]: that worker process was SIGKILLed */
    size_t killed_cap = 0;
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_workflow_options wo = wf_options();
    pgqrs_store *s = NULL;
    double t0, next_kill, next_check;
    int terminal = 0, success = 0, errored = 0, cancelled = 0;

    fresh_dsn(dsn, sizeof dsn, "wf");
    snprintf(logpath, sizeof logpath, "%s/wf.log", tmpdir);
    o.heartbeat_interval_s = -1;
    if (pgqrs_connect(&s, dsn, &o) != PGQRS_OK || pgqrs_schema_install(s) != PGQRS_OK ||
        pgqrs_workflow_define(s, "chaos_wf", wf_handler, NULL, &wo) != PGQRS_OK) {
        fprintf(stderr, "setup: %s\n", s ? pgqrs_errmsg(s) : pgqrs_errmsg(NULL));
        return 1;
    }
    for (int i = 0; i < n_runs; i++) {
        char in[32];
        snprintf(in, sizeof in, "{\"n\":%d}", i);
        if (pgqrs_workflow_trigger(&run_ids[i], NULL, s, "chaos_wf", in, NULL) != PGQRS_OK) {
            fprintf(stderr, "trigger: %s\n", pgqrs_errmsg(s));
            return 1;
        }
    }
    t0 = now_s();
    for (int i = 0; i < n_workers; i++) {
        char inc[24];
        incarnation[i] = next_incarnation++;
        snprintf(inc, sizeof inc, "%" PRId64, incarnation[i]);
        char *av[] = { self_exe, "--child", "wfworker", dsn, logpath, inc, NULL };
        pids[i] = spawn(av);
    }
    next_kill = t0 + 0.15;
    next_check = t0 + 0.5;
    while (now_s() - t0 < max_wall) {
        double t = now_s();
        if (t >= next_kill) {
            int victim = (int)rnd_between(0, n_workers - 1), ws;
            char inc[24];
            kill(pids[victim], SIGKILL);
            waitpid(pids[victim], &ws, 0);
            kills++;
            if ((size_t)incarnation[victim] >= killed_cap) {
                size_t cap = killed_cap ? killed_cap * 2 : 1024;
                while (cap <= (size_t)incarnation[victim])
                    cap *= 2;
                killed = realloc(killed, cap);
                if (!killed)
                    abort();
                memset(killed + killed_cap, 0, cap - killed_cap);
                killed_cap = cap;
            }
            killed[incarnation[victim]] = 1;
            incarnation[victim] = next_incarnation++;
            snprintf(inc, sizeof inc, "%" PRId64, incarnation[victim]);
            char *av[] = { self_exe, "--child", "wfworker", dsn, logpath, inc, NULL };
            pids[victim] = spawn(av);
            next_kill = t + (double)rnd_between(50, 250) / 1000.0;
        }
        if (t >= next_check) {
            int64_t r = 0;
            if (pgqrs_worker_reclaim_zombies(&r, s, 3) == PGQRS_OK)
                reclaimed += r;
            terminal = success = errored = cancelled = 0;
            for (int i = 0; i < n_runs; i++) {
                pgqrs_run_info *ri = NULL;
                if (pgqrs_run_get(&ri, s, run_ids[i]) == PGQRS_OK) {
                    bool ok = strcmp(ri->status, "SUCCESS") == 0, er = strcmp(ri->status, "ERROR") == 0,
                         ca = strcmp(ri->status, "CANCELLED") == 0;
                    terminal += ok || er || ca;
                    success += ok;
                    errored += er;
                    cancelled += ca;
                }
                pgqrs_run_info_free(ri);
            }
            if (terminal == n_runs)
                break;
            next_check = t + 0.5;
        }
        sleep_ms(5);
    }
    for (int i = 0; i < n_workers; i++)
        kill(pids[i], SIGTERM);
    for (int i = 0; i < n_workers; i++) {
        int rc = wait_bounded(pids[i], 20);
        hung += rc == -1;
        bad += rc != 0;
    }
    double wall = now_s() - t0;

    /* the execution log against the stored steps */
    int64_t executions = 0, dup_completed = 0, crash_reexec = 0, reported_reexec = 0, unexplained = 0,
            multi_cut = 0, foreign_output = 0, lost_runs = 0;
    {
        enum { MAXR = 200 };
        static int completed[MAXR][WF_STEPS];
        static int64_t stored[MAXR][WF_STEPS];
        wf_exec *ex = NULL;
        int64_t *failed_tokens = NULL;
        size_t n_ex = 0, cap_ex = 0, n_failed = 0, cap_failed = 0;
        unsigned char *cuts = calloc((size_t)next_incarnation, 1);   /* cut executions per incarnation */
        FILE *f = fopen(logpath, "r");
        char kind[4];
        int64_t run, token;
        int step;
        memset(completed, 0, sizeof completed);
        if (!cuts)
            abort();
        while (f && fscanf(f, "%3s %" SCNd64 " %d %" SCNd64, kind, &run, &step, &token) == 4) {
            int ri = -1;
            for (int i = 0; i < n_runs; i++)
                if (run_ids[i] == run)
                    ri = i;
            if (ri < 0 || step < 0 || step >= WF_STEPS)
                continue;
            if (kind[0] == 'E') {
                executions++;
                if (completed[ri][step])
                    dup_completed++;
                if (n_ex == cap_ex && !(ex = realloc(ex, (cap_ex = cap_ex ? cap_ex * 2 : 1024) * sizeof *ex)))
                    abort();
                ex[n_ex++] = (wf_exec){ ri, token, step };
            } else if (kind[0] == 'F') {
                if (n_failed == cap_failed &&
                    !(failed_tokens = realloc(failed_tokens, (cap_failed = cap_failed ? cap_failed * 2 : 64) *
                                                                 sizeof *failed_tokens)))
                    abort();
                failed_tokens[n_failed++] = token;
            } else {
                completed[ri][step] = 1;
            }
        }
        if (f)
            fclose(f);
        for (int i = 0; i < n_runs; i++) {
            pgqrs_steps *sl = NULL;
            int done = 0;
            for (int k = 0; k < WF_STEPS; k++)
                stored[i][k] = -1;
            if (pgqrs_step_list(&sl, s, run_ids[i]) == PGQRS_OK) {
                for (size_t k = 0; k < pgqrs_steps_count(sl); k++) {
                    const pgqrs_step_info *si = pgqrs_steps_at(sl, k);
                    if (strcmp(si->status, "SUCCESS") == 0)
                        done++;
                    if (si->step_id[0] == 's' && si->step_id[1] >= '0' && si->step_id[1] < '0' + WF_STEPS)
                        stored[i][si->step_id[1] - '0'] = token_of(si->output);
                }
            }
            pgqrs_steps_free(sl);
            lost_runs += done != WF_STEPS;
        }
        /* every stored output comes from one logged execution of that step */
        for (int i = 0; i < n_runs; i++)
            for (int k = 0; k < WF_STEPS; k++) {
                bool found = false;
                for (size_t e = 0; e < n_ex && !found; e++)
                    found = ex[e].run == i && ex[e].step == k && ex[e].token == stored[i][k];
                foreign_output += !found;
            }
        /* every other execution was cut off by a kill or reported as failed */
        for (size_t e = 0; e < n_ex; e++) {
            int64_t inc = ex[e].token / WF_TOKEN_SPAN;
            if (ex[e].token == stored[ex[e].run][ex[e].step])
                continue;
            if (has_token(failed_tokens, n_failed, ex[e].token)) {
                reported_reexec++;
            } else if (inc > 0 && inc < next_incarnation && (size_t)inc < killed_cap && killed[inc]) {
                crash_reexec++;
                if (++cuts[inc] == 2)
                    multi_cut++;
            } else {
                unexplained++;
                fprintf(stderr, "    run %" PRId64 " step s%d: execution %" PRId64
                                " was neither stored, nor cut by a kill, nor reported failed\n",
                        run_ids[ex[e].run], ex[e].step, ex[e].token);
            }
        }
        free(ex);
        free(failed_tokens);
        free(cuts);
    }
    free(killed);
    printf("chaos workflow-crash[%s]: runs=%d workers=%d kills=%d zombies_reclaimed=%" PRId64
           " step_executions=%" PRId64 " (re-executed after a crash mid-step=%" PRId64
           ", after a reported step failure=%" PRId64 ", unexplained=%" PRId64 ") duplicated_completed_steps=%" PRId64
           " lost_runs=%" PRId64 " terminal=%d (success=%d error=%d cancelled=%d) hung=%d wall=%.1fs\n",
           backend, n_runs, n_workers, kills, reclaimed, executions, crash_reexec, reported_reexec, unexplained,
           dup_completed, lost_runs, terminal, success, errored, cancelled, hung, wall);
    check(terminal == n_runs, "%d of %d runs terminal", terminal, n_runs);
    check(success == n_runs, "%d of %d runs SUCCESS", success, n_runs);
    check(dup_completed == 0, "duplicated completed steps: %" PRId64, dup_completed);
    check(lost_runs == 0, "runs without all steps SUCCESS: %" PRId64, lost_runs);
    check(foreign_output == 0, "stored step outputs from no logged execution of that step: %" PRId64, foreign_output);
    check(unexplained == 0, "re-executions without a crash or a reported failure: %" PRId64, unexplained);
    check(multi_cut == 0, "workers that had more than one step execution cut by their one kill: %" PRId64, multi_cut);
    check(crash_reexec <= kills, "%" PRId64 " re-executions after a crash, more than the %d kills", crash_reexec,
          kills);
    check(hung == 0 && bad == 0, "workers hung=%d failed=%d", hung, bad);
    check(kills > 0, "no kill happened");
    no_orphans(s);
    pgqrs_store_free(s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode;
    int rc;
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0) {
        perror("readlink /proc/self/exe");
        return 2;
    }
    self_exe[n] = 0;
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 3 && strcmp(argv[1], "--child") == 0) {
        if (strcmp(argv[2], "consumer") == 0 && argc >= 9)
            return child_consumer(argv + 3);
        if (strcmp(argv[2], "producer") == 0 && argc >= 10)
            return child_producer(argv + 3);
        if (strcmp(argv[2], "lockholder") == 0 && argc >= 6)
            return child_lockholder(argv + 3);
        if (strcmp(argv[2], "wfworker") == 0 && argc >= 6)
            return child_wfworker(argv + 3);
        return 64;
    }
    if (argc >= 2 && strcmp(argv[1], "--short") == 0) {
        short_run = true;
        argv++;
        argc--;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: pgqrs-chaos [--short] consumer-crash|pg-restart|busy-storm|workflow-crash "
                        "postgres|sqlite\n");
        return 64;
    }
    mode = argv[1];
    backend = argv[2];
    if (strcmp(backend, "postgres") != 0 && strcmp(backend, "sqlite") != 0)
        return 64;
    rng_state ^= (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pgqrs-chaos.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    if (strcmp(mode, "consumer-crash") == 0)
        rc = mode_consumer_crash();
    else if (strcmp(mode, "pg-restart") == 0)
        rc = mode_pg_restart();
    else if (strcmp(mode, "busy-storm") == 0)
        rc = mode_busy_storm();
    else if (strcmp(mode, "workflow-crash") == 0)
        rc = mode_workflow_crash();
    else
        rc = 64;
    if (rc != 0)
        checks_failed++;
    if (!getenv("PGQRS_TEST_KEEP")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("chaos-%s[%s]: %d passed, %d failed, 0 skipped\n", mode, backend, checks_passed, checks_failed);
    return checks_failed ? 1 : 0;
}
