/* test_workflow_crash.c: workflows under real process crashes.
 *
 * Worker processes are forked; each child opens its own store on the test's
 * database (a store never crosses a fork: the parent frees its own first), defines
 * the workflow, and runs a worker. Crashes are SIGKILLs raised by the child itself
 * at the first line of a step function, so every earlier step has committed. Each
 * step function appends "<run> <step> start|done <pid>" to an execution log
 * (O_APPEND, fsync) at its first and last line: "done" lines are completed
 * executions, so a step completed twice for one run is a duplicate.
 *
 * A resumed worker must get past the dead worker's leases: each generation of
 * workers runs on a clock (pgqrs_store_set_time) 20 s past the previous one, well
 * past the run's message lease (vt_seconds 5) and the step lease (step_lease_ms 2000).
 *
 *   step4_kill_resumes_once        one run, killed at step 4, resumed by a new process
 *   random_kills_20_runs           20 runs, each killed once at a random step
 *   two_workers_one_step           a second worker reaches a step another live worker
 *                                  is executing: PGQRS_EBUSY, the step runs once
 *   crash_loop_ends_in_error       a run that kills every worker ends in ERROR
 *   kill_between_steps_no_rerun    5 runs, each killed once in the handler after step k
 *                                  committed and before step k+1 started (k = 1..5; 5:
 *                                  before the run's completion): no step runs twice
 *
 * sqlite::memory: is one private database per connection, so separate processes
 * cannot share it: these tests SKIP there. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

#define SEC 1000000LL
#define N_STEPS 5
#define N_RUNS 20
#define MAX_GENERATIONS 60
#define GEN_STEP_S 20   /* each worker generation's clock is this much later */

static char dir[512];          /* this test's scratch directory */
static char logpath[600];
static char dsn_copy[1024];

/* The kill plan, filled by the parent before it forks (children inherit it). */
static int64_t plan_run[64];
static int plan_step[64];      /* 0: never killed; -1: kill at step 1 every time */
static int plan_n;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * SEC + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void log_line(int64_t run_id, const char *step, const char *what)
{
    char buf[160];
    int fd, n;
    n = snprintf(buf, sizeof buf, "%lld %s %s %d\n", (long long)run_id, step, what, (int)getpid());
    fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0 || write(fd, buf, (size_t)n) != n || fsync(fd) != 0) {
        perror("crash log");
        _exit(40);
    }
    close(fd);
}

static int kill_step_of(int64_t run_id)
{
    for (int i = 0; i < plan_n; i++)
        if (plan_run[i] == run_id)
            return plan_step[i];
    return 0;
}

/* Raises SIGKILL when the plan says so: once per run (a marker file), or always. */
static void maybe_die(int64_t run_id, int step)
{
    char marker[700];
    int k = kill_step_of(run_id), fd;
    if (k == -1 && step == 1)
        raise(SIGKILL);
    if (k != step)
        return;
    snprintf(marker, sizeof marker, "%s/killed.%lld", dir, (long long)run_id);
    fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return;   /* killed here before: this execution goes on */
    fsync(fd);
    close(fd);
    raise(SIGKILL);
}

/* Kill plan of kill_between_steps_no_rerun: run plan_run[i] dies (once, a marker
 * file) right after pgqrs_run_step returned OK for step plan_between[i]. */
static int plan_between[64];

static void maybe_die_between(int64_t run_id, int step)
{
    char marker[700];
    int fd;
    for (int i = 0; i < plan_n; i++) {
        if (plan_run[i] != run_id || plan_between[i] != step)
            continue;
        snprintf(marker, sizeof marker, "%s/killed-between.%lld", dir, (long long)run_id);
        fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            return;   /* killed here before: this execution goes on */
        fsync(fd);
        close(fd);
        raise(SIGKILL);
    }
}

static const char *const step_names[N_STEPS + 1] = { "", "s1", "s2", "s3", "s4", "s5" };
static int step_index[N_STEPS + 1] = { 0, 1, 2, 3, 4, 5 };

static pgqrs_status logged_step(pgqrs_run *run, char **out, void *user)
{
    int i = *(int *)user;
    char buf[32];
    int64_t id = pgqrs_run_id(run);
    log_line(id, step_names[i], "start");
    maybe_die(id, i);
    snprintf(buf, sizeof buf, "{\"i\":%d}", i);
    *out = pgqrs_strdup(buf);
    log_line(id, step_names[i], "done");
    return PGQRS_OK;
}

static pgqrs_status five_steps(pgqrs_run *run, const char *input, char **output, void *user)
{
    pgqrs_status st;
    (void)input, (void)user;
    for (int i = 1; i <= N_STEPS; i++)
        if ((st = pgqrs_run_step(NULL, run, step_names[i], logged_step, &step_index[i], NULL)) != PGQRS_OK)
            return st;
    *output = pgqrs_strdup("{\"steps\":5}");
    return PGQRS_OK;
}

/* five_steps with a kill point after each step's commit (its pgqrs_run_step returned
 * OK: its SUCCESS row is committed) and before the next step is claimed. */
static pgqrs_status five_steps_between(pgqrs_run *run, const char *input, char **output, void *user)
{
    pgqrs_status st;
    (void)input, (void)user;
    for (int i = 1; i <= N_STEPS; i++) {
        if ((st = pgqrs_run_step(NULL, run, step_names[i], logged_step, &step_index[i], NULL)) != PGQRS_OK)
            return st;
        maybe_die_between(pgqrs_run_id(run), i);
    }
    *output = pgqrs_strdup("{\"steps\":5}");
    return PGQRS_OK;
}

static pgqrs_workflow_options crash_opts(void)
{
    pgqrs_workflow_options o = PGQRS_WORKFLOW_OPTIONS_INIT;
    o.vt_seconds = 5;
    o.step_lease_ms = 2000;
    return o;
}

static int max_deliveries;   /* of the next workflow prepared; 0 = the default */

static pgqrs_status open_db(pgqrs_store **s)
{
    pgqrs_connect_options co = PGQRS_CONNECT_OPTIONS_INIT;
    co.heartbeat_interval_s = -1;   /* no background thread: forks stay simple */
    *s = NULL;
    return pgqrs_connect(s, dsn_copy, &co);
}

/* A worker process of generation `gen`: runs due runs until none is left.
 * Never returns. */
static void worker_child(const char *name, pgqrs_workflow_fn fn, int gen)
{
    pgqrs_store *s = NULL;
    pgqrs_workflow_worker *w = NULL;
    pgqrs_workflow_options o = crash_opts();
    pgqrs_status st;
    int rc = 0;
    o.max_deliveries = max_deliveries;
    alarm(30);   /* a hung child dies of SIGALRM, which the parent reports */
    if ((st = open_db(&s)) != PGQRS_OK) {
        fprintf(stderr, "    child: connect: %s\n", pgqrs_errmsg(NULL));
        _exit(20);
    }
    if (gen > 0)
        pgqrs_store_set_time(s, now_us() + (int64_t)gen * GEN_STEP_S * SEC);
    if ((st = pgqrs_workflow_define(s, name, fn, NULL, &o)) != PGQRS_OK ||
        (st = pgqrs_workflow_worker_new(&w, s, name)) != PGQRS_OK) {
        fprintf(stderr, "    child: define/worker: %s\n", pgqrs_errmsg(s));
        _exit(21);
    }
    for (;;) {
        int ex = 0;
        st = pgqrs_workflow_worker_run_once(&ex, w);
        if (st != PGQRS_OK) {
            fprintf(stderr, "    child: run_once: %s: %s\n", pgqrs_errstr(st), pgqrs_errmsg(w));
            rc = 22;
            break;
        }
        if (!ex)
            break;
    }
    pgqrs_workflow_worker_free(w);
    pgqrs_store_free(s);
    _exit(rc);
}

/* Forks a worker generation and waits for it: 0 = it finished normally,
 * 1 = it died of SIGKILL, -1 = anything else. */
static int run_generation(const char *name, pgqrs_workflow_fn fn, int gen)
{
    int ws = 0;
    pid_t pid;
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        worker_child(name, fn, gen);
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
        return 0;
    if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL)
        return 1;
    fprintf(stderr, "    generation %d: %s %d\n", gen, WIFEXITED(ws) ? "exit" : "signal",
            WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
    return -1;
}

/* A fresh database and scratch directory; the workflow defined and n runs
 * triggered by a store that is freed again before any fork. */
static pgqrs_status prepare(const char *name, pgqrs_workflow_fn fn, int n, int64_t *ids)
{
    static int seq;
    pgqrs_store *s = NULL;
    pgqrs_workflow_options o = crash_opts();
    pgqrs_status st;
    o.max_deliveries = max_deliveries;
    snprintf(dsn_copy, sizeof dsn_copy, "%s", th_fresh_dsn());
    snprintf(dir, sizeof dir, "%s/crash%d", th_tmpdir(), ++seq);
    if (mkdir(dir, 0755) != 0)
        return PGQRS_ERROR;
    snprintf(logpath, sizeof logpath, "%s/exec.log", dir);
    plan_n = 0;
    memset(plan_between, 0, sizeof plan_between);
    if ((st = open_db(&s)) != PGQRS_OK) {
        fprintf(stderr, "    connect: %s\n", pgqrs_errmsg(NULL));
        return st;
    }
    if ((st = pgqrs_schema_install(s)) == PGQRS_OK && (st = pgqrs_workflow_define(s, name, fn, NULL, &o)) == PGQRS_OK)
        for (int i = 0; i < n && st == PGQRS_OK; i++)
            st = pgqrs_workflow_trigger(&ids[i], NULL, s, name, "{}", NULL);
    if (st != PGQRS_OK)
        fprintf(stderr, "    prepare: %s\n", pgqrs_errmsg(s));
    pgqrs_store_free(s);
    return st;
}

/* Counts "<run> <step> <what>" lines of the log. */
static int count_log(int64_t run_id, const char *step, const char *what)
{
    FILE *f = fopen(logpath, "r");
    char line[200], st[64], wh[16];
    long long r;
    int pid, n = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%lld %63s %15s %d", &r, st, wh, &pid) == 4 && r == run_id && strcmp(st, step) == 0 &&
            strcmp(wh, what) == 0)
            n++;
    fclose(f);
    return n;
}

/* Copies the run's status into buf ("" when it cannot be read). */
static pgqrs_status run_status(int64_t id, char *buf, size_t n, int32_t *attempts)
{
    pgqrs_store *s = NULL;
    pgqrs_run_info *ri = NULL;
    pgqrs_status st = open_db(&s);
    buf[0] = 0;
    if (st == PGQRS_OK && (st = pgqrs_run_get(&ri, s, id)) == PGQRS_OK) {
        snprintf(buf, n, "%s", ri->status);
        if (attempts)
            *attempts = ri->attempts;
    }
    if (st != PGQRS_OK)
        fprintf(stderr, "    run_get %lld: %s\n", (long long)id, s ? pgqrs_errmsg(s) : pgqrs_errmsg(NULL));
    pgqrs_run_info_free(ri);
    pgqrs_store_free(s);
    return st;
}

#define SKIP_ON_MEMORY() do { if (th_is_memory()) \
    SKIP("forks worker processes: sqlite::memory: is private to one connection of one process"); } while (0)

/* ---- (1) one run killed right after step 3 committed ------------------------------- */

static void test_crash__step4_kill_resumes_once(void)
{
    int64_t id = 0;
    char status[32];
    int32_t attempts = 0;
    int r;
    SKIP_ON_MEMORY();
    CHECK_OK(prepare("five", five_steps, 1, &id), NULL);
    plan_run[0] = id;
    plan_step[0] = 4;
    plan_n = 1;
    r = run_generation("five", five_steps, 0);
    CHECK_MSG(r == 1, "first worker: want SIGKILL at step 4, got %d", r);
    CHECK_OK(run_status(id, status, sizeof status, NULL), NULL);
    CHECK_STR("RUNNING", status);   /* the dead worker's run, not finished */
    r = run_generation("five", five_steps, 1);
    CHECK_MSG(r == 0, "second worker: want a normal exit, got %d", r);
    CHECK_OK(run_status(id, status, sizeof status, &attempts), NULL);
    CHECK_STR("SUCCESS", status);
    CHECK_I64(2, attempts);
    for (int i = 1; i <= N_STEPS; i++) {
        CHECK_MSG(count_log(id, step_names[i], "done") == 1, "step %d completed %d times", i,
                  count_log(id, step_names[i], "done"));
        CHECK_MSG(count_log(id, step_names[i], "start") == (i == 4 ? 2 : 1), "step %d started %d times", i,
                  count_log(id, step_names[i], "start"));
    }
}

/* ---- (2) 20 runs, each killed once at a random step ------------------------------- */

static void test_crash__random_kills_20_runs(void)
{
    int64_t ids[N_RUNS];
    unsigned seed;
    int kills = 0, gens = 0, r = 1, duplicated = 0, missing = 0, lost = 0;
    const char *env = getenv("PGQRS_CRASH_SEED");
    SKIP_ON_MEMORY();
    seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "    workflow-crash[%s]: seed %u (PGQRS_CRASH_SEED to repeat)\n", th_backend(), seed);
    CHECK_OK(prepare("five", five_steps, N_RUNS, ids), NULL);
    srand(seed);
    for (int i = 0; i < N_RUNS; i++) {
        plan_run[i] = ids[i];
        plan_step[i] = 1 + rand() % N_STEPS;
    }
    plan_n = N_RUNS;
    while (r != 0 && gens < MAX_GENERATIONS) {
        r = run_generation("five", five_steps, gens++);
        CHECK_MSG(r >= 0, "worker generation %d failed", gens - 1);
        kills += r;
    }
    CHECK_MSG(r == 0, "workers still being killed after %d generations", gens);
    for (int i = 0; i < N_RUNS; i++) {
        char status[32];
        for (int s = 1; s <= N_STEPS; s++) {
            int done = count_log(ids[i], step_names[s], "done");
            int started = count_log(ids[i], step_names[s], "start");
            if (done > 1)
                duplicated++;
            if (done < 1)
                missing++;
            if (started != (s == plan_step[i] ? 2 : 1)) {
                fprintf(stderr, "    run %lld step %d (kill at %d): started %d times\n", (long long)ids[i], s,
                        plan_step[i], started);
                duplicated++;
            }
        }
        CHECK_OK(run_status(ids[i], status, sizeof status, NULL), NULL);
        if (strcmp(status, "SUCCESS") != 0) {
            fprintf(stderr, "    run %lld: %s\n", (long long)ids[i], status);
            lost++;
        }
    }
    printf("workflow-crash[%s]: %d runs, %d kills, duplicated_steps=%d, lost_runs=%d\n", th_backend(), N_RUNS, kills,
           duplicated, lost);
    CHECK_I64(N_RUNS, kills);
    CHECK_I64(0, duplicated);
    CHECK_I64(0, missing);
    CHECK_I64(0, lost);
}

/* ---- (2b) killed between one step's commit and the next step's start ------------ */

static void test_crash__kill_between_steps_no_rerun(void)
{
    enum { RUNS = N_STEPS };
    int64_t ids[RUNS];
    int kills = 0, gens = 0, r = 1;
    SKIP_ON_MEMORY();
    CHECK_OK(prepare("between", five_steps_between, RUNS, ids), NULL);
    for (int i = 0; i < RUNS; i++) {
        plan_run[i] = ids[i];
        plan_step[i] = 0;           /* never inside a step */
        plan_between[i] = i + 1;    /* after step i+1 committed */
    }
    plan_n = RUNS;
    while (r != 0 && gens < MAX_GENERATIONS) {
        r = run_generation("between", five_steps_between, gens++);
        CHECK_MSG(r >= 0, "worker generation %d failed", gens - 1);
        kills += r;
    }
    CHECK_MSG(r == 0, "workers still being killed after %d generations", gens);
    CHECK_I64(RUNS, kills);
    for (int i = 0; i < RUNS; i++) {
        char status[32];
        int32_t attempts = 0;
        /* the execution log is written outside the database (fsync'd appends), so
         * it survives the SIGKILL: the committed step (i+1) and every other step
         * started and completed exactly once */
        for (int k = 1; k <= N_STEPS; k++) {
            int started = count_log(ids[i], step_names[k], "start"), done = count_log(ids[i], step_names[k], "done");
            CHECK_MSG(started == 1 && done == 1, "run %lld (killed after step %d): step %d started %d, done %d times",
                      (long long)ids[i], i + 1, k, started, done);
        }
        CHECK_OK(run_status(ids[i], status, sizeof status, &attempts), NULL);
        CHECK_STR("SUCCESS", status);
        CHECK_I64(2, attempts);   /* the killed attempt and the resumed one */
    }
}

/* ---- (3) two live workers, one step --------------------------------------------------- */

static char status_path[700];

static void append_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        perror(path);
        _exit(41);
    }
    fsync(fd);
    close(fd);
}

static pgqrs_status slow_step(pgqrs_run *run, char **out, void *user)
{
    char marker[700];
    (void)user;
    log_line(pgqrs_run_id(run), "s", "start");
    snprintf(marker, sizeof marker, "%s/in-step", dir);
    append_file(marker, "1");
    sleep_ms(2500);   /* the run's message lease (1 s) runs out meanwhile */
    *out = pgqrs_strdup("\"slow\"");
    log_line(pgqrs_run_id(run), "s", "done");
    return PGQRS_OK;
}

static pgqrs_status fast_step(pgqrs_run *run, char **out, void *user)
{
    (void)user;
    log_line(pgqrs_run_id(run), "t", "start");
    *out = pgqrs_strdup("\"fast\"");
    log_line(pgqrs_run_id(run), "t", "done");
    return PGQRS_OK;
}

static pgqrs_status race_handler(pgqrs_run *run, const char *input, char **output, void *user)
{
    char line[64];
    pgqrs_status st;
    (void)input, (void)user;
    st = pgqrs_run_step(NULL, run, "s", slow_step, NULL, NULL);
    snprintf(line, sizeof line, "%d %d\n", (int)getpid(), (int)st);
    append_file(status_path, line);
    if (st != PGQRS_OK)
        return st;
    if ((st = pgqrs_run_step(NULL, run, "t", fast_step, NULL, NULL)) != PGQRS_OK)
        return st;
    *output = pgqrs_strdup("\"raced\"");
    return PGQRS_OK;
}

static pgqrs_workflow_options race_opts(void)
{
    pgqrs_workflow_options o = PGQRS_WORKFLOW_OPTIONS_INIT;
    o.vt_seconds = 1;   /* the run's message: leased for 1 s only */
    return o;           /* the step lease: the default 10 minutes */
}

/* Process A (first) executes the run once; process B keeps trying until it gets
 * the run's message (after A's 1 s lease ran out). Never returns. */
static void race_child(int is_b)
{
    pgqrs_store *s = NULL;
    pgqrs_workflow_worker *w = NULL;
    pgqrs_workflow_options o = race_opts();
    int ex = 0, rc = 0;
    int64_t deadline = now_us() + 5 * SEC;
    alarm(30);
    if (open_db(&s) != PGQRS_OK) {
        fprintf(stderr, "    race child: connect: %s\n", pgqrs_errmsg(NULL));
        _exit(20);
    }
    if (pgqrs_workflow_define(s, "race", race_handler, NULL, &o) != PGQRS_OK ||
        pgqrs_workflow_worker_new(&w, s, "race") != PGQRS_OK) {
        fprintf(stderr, "    race child: %s\n", pgqrs_errmsg(s));
        _exit(21);
    }
    for (;;) {
        pgqrs_status st = pgqrs_workflow_worker_run_once(&ex, w);
        if (st != PGQRS_OK) {
            fprintf(stderr, "    race child %c: run_once: %s: %s\n", is_b ? 'B' : 'A', pgqrs_errstr(st),
                    pgqrs_errmsg(w));
            rc = 22;
            break;
        }
        if (ex || !is_b)
            break;
        if (now_us() > deadline) {
            rc = 23;   /* B never got the message */
            break;
        }
        sleep_ms(50);
    }
    if (!ex && !rc)
        rc = 24;
    pgqrs_workflow_worker_free(w);
    pgqrs_store_free(s);
    _exit(rc);
}

static int wait_pid(pid_t pid)
{
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static pgqrs_status never_called(pgqrs_run *run, const char *input, char **output, void *user)
{
    (void)run, (void)input, (void)output;
    (*(int *)user)++;
    return PGQRS_ERROR;
}

static void test_crash__two_workers_one_step(void)
{
    int64_t id = 0;
    pid_t a, b;
    int ca, cb, a_st = 99, b_st = 99, n = 0, parent_calls = 0;
    pid_t pa = 0, pb = 0;
    char marker[700], status[32], line[64];
    FILE *f;
    SKIP_ON_MEMORY();
    CHECK_OK(prepare("race", race_handler, 0, NULL), NULL);
    {
        pgqrs_store *s = NULL;
        pgqrs_workflow_options o = race_opts();
        CHECK_OK(open_db(&s), NULL);
        if (pgqrs_workflow_define(s, "race", race_handler, NULL, &o) != PGQRS_OK ||
            pgqrs_workflow_trigger(&id, NULL, s, "race", NULL, NULL) != PGQRS_OK) {
            th_fail(__FILE__, __LINE__, "trigger: %s", pgqrs_errmsg(s));
            pgqrs_store_free(s);
            return;
        }
        pgqrs_store_free(s);
    }
    snprintf(status_path, sizeof status_path, "%s/step-status", dir);
    snprintf(marker, sizeof marker, "%s/in-step", dir);
    fflush(NULL);
    if ((a = fork()) == 0)
        race_child(0);
    CHECK(a > 0);
    /* B starts once A is inside the step */
    for (int i = 0; i < 200 && access(marker, F_OK) != 0; i++)
        sleep_ms(10);
    if (access(marker, F_OK) != 0) {
        kill(a, SIGKILL);
        wait_pid(a);
        CHECK_MSG(0, "worker A never entered the step");
    }
    if ((b = fork()) == 0)
        race_child(1);
    CHECK(b > 0);
    ca = wait_pid(a);
    cb = wait_pid(b);
    CHECK_MSG(ca == 0, "worker A exited with %d", ca);
    CHECK_MSG(cb == 0, "worker B exited with %d (23: it never got the run's message)", cb);
    f = fopen(status_path, "r");
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f)) {
        int pid, st;
        if (sscanf(line, "%d %d", &pid, &st) != 2)
            continue;
        if (pid == (int)a)
            a_st = st, pa = pid;
        else if (pid == (int)b)
            b_st = st, pb = pid;
        n++;
    }
    fclose(f);
    CHECK_I64(2, n);
    CHECK(pa == a && pb == b);
    CHECK_I64(PGQRS_OK, a_st);
    CHECK_I64(PGQRS_EBUSY, b_st);   /* A still held the step with a live lease */
    CHECK_I64(1, count_log(id, "s", "start"));   /* B never called the step function */
    CHECK_I64(1, count_log(id, "s", "done"));
    CHECK_I64(1, count_log(id, "t", "done"));
    CHECK_OK(run_status(id, status, sizeof status, NULL), NULL);
    CHECK_STR("SUCCESS", status);
    /* later: the message B was left holding is settled without executing anything */
    {
        pgqrs_store *s = NULL;
        pgqrs_workflow_worker *w = NULL;
        pgqrs_metrics *ml = NULL;
        pgqrs_workflow_options o = race_opts();
        int ex = 0;
        int64_t live = -1;
        CHECK_OK(open_db(&s), NULL);
        pgqrs_store_set_time(s, now_us() + 60 * SEC);
        if (pgqrs_workflow_define(s, "race", never_called, &parent_calls, &o) == PGQRS_OK &&
            pgqrs_workflow_worker_new(&w, s, "race") == PGQRS_OK) {
            for (int i = 0; i < 3; i++)
                pgqrs_workflow_worker_run_once(&ex, w);
            if (pgqrs_metrics_list(&ml, s, "workflow:race") == PGQRS_OK && pgqrs_metrics_count(ml) == 1)
                live = pgqrs_metrics_at(ml, 0)->pending + pgqrs_metrics_at(ml, 0)->in_flight +
                       pgqrs_metrics_at(ml, 0)->delayed;
        }
        pgqrs_metrics_free(ml);
        pgqrs_workflow_worker_free(w);
        pgqrs_store_free(s);
        CHECK_I64(0, parent_calls);
        CHECK_I64(0, live);
    }
    CHECK_OK(run_status(id, status, sizeof status, NULL), NULL);
    CHECK_STR("SUCCESS", status);
}

/* ---- (4) a run that kills every worker ----------------------------------------------- */

static pgqrs_status crash_loop_handler(pgqrs_run *run, const char *input, char **output, void *user)
{
    pgqrs_status st;
    (void)input, (void)user;
    if ((st = pgqrs_run_step(NULL, run, "s1", logged_step, &step_index[1], NULL)) != PGQRS_OK)
        return st;
    *output = pgqrs_strdup("1");
    return PGQRS_OK;
}

static void test_crash__crash_loop_ends_in_error(void)
{
    int64_t id = 0;
    int kills = 0, r = 1, gens = 0;
    char status[32];
    SKIP_ON_MEMORY();
    max_deliveries = 2;   /* the third delivery ends the run */
    CHECK_OK(prepare("loop", crash_loop_handler, 1, &id), NULL);
    plan_run[0] = id;
    plan_step[0] = -1;   /* every execution of s1 dies */
    plan_n = 1;
    while (r != 0 && gens < 10) {
        r = run_generation("loop", crash_loop_handler, gens++);
        CHECK_MSG(r >= 0, "worker generation %d failed", gens - 1);
        kills += r;
    }
    max_deliveries = 0;
    CHECK_I64(2, kills);
    CHECK_I64(2, count_log(id, "s1", "start"));
    CHECK_I64(0, count_log(id, "s1", "done"));
    {
        pgqrs_store *s = NULL;
        pgqrs_run_info *ri = NULL;
        CHECK_OK(open_db(&s), NULL);
        if (pgqrs_run_get(&ri, s, id) == PGQRS_OK) {
            snprintf(status, sizeof status, "%s", ri->status);
            if (!ri->error || !strstr(ri->error, "crash"))
                snprintf(status, sizeof status, "no crash message");
        }
        pgqrs_run_info_free(ri);
        pgqrs_store_free(s);
    }
    CHECK_STR("ERROR", status);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "step4_kill_resumes_once", test_crash__step4_kill_resumes_once },
        { "random_kills_20_runs", test_crash__random_kills_20_runs },
        { "kill_between_steps_no_rerun", test_crash__kill_between_steps_no_rerun },
        { "two_workers_one_step", test_crash__two_workers_one_step },
        { "crash_loop_ends_in_error", test_crash__crash_loop_ends_in_error },
    };
    return th_main(argc, argv, "test_workflow_crash", tests, sizeof tests / sizeof *tests);
}
