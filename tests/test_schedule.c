/* test_schedule.c: schedules, the scheduler and retention on every backend.
 * Time is moved with pgqrs_store_set_time and given to each round; nothing sleeps
 * for a tick. The racing test forks four scheduler processes on one database. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

#define SEC INT64_C(1000000)
#define MIN (60 * SEC)
#define HOUR (3600 * SEC)
static const int64_t T0 = INT64_C(1900000800) * INT64_C(1000000);   /* 2030-03-17 16:00:00 UTC, a whole hour */

/* 2024-... instants in UTC microseconds */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return (int64_t)timegm(&tm) * SEC;
}

static pgqrs_store *open_store(const char *dsn)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    o.heartbeat_interval_s = -1;
    if (pgqrs_connect(&s, dsn, &o) != PGQRS_OK) {
        fprintf(stderr, "connect: %s\n", pgqrs_errmsg(NULL));
        return NULL;
    }
    if (pgqrs_schema_install(s) != PGQRS_OK) {
        fprintf(stderr, "install: %s\n", pgqrs_errmsg(s));
        pgqrs_store_free(s);
        return NULL;
    }
    return s;
}

static pgqrs_status mk(pgqrs_store *s, const char *name, const char *cron, const char *tz, const char *queue,
                       const char *overlap, const char *misfire)
{
    pgqrs_schedule_options o = PGQRS_SCHEDULE_OPTIONS_INIT;
    o.cron = cron;
    o.timezone = tz;
    o.queue = queue;
    o.payload_json = "{\"job\":\"tick\"}";
    o.overlap = overlap;
    o.misfire = misfire;
    return pgqrs_schedule_create(NULL, s, name, &o);
}

static int64_t live_count(pgqrs_store *s, const char *queue)
{
    pgqrs_batch *b = NULL;
    int64_t n = -1;
    if (pgqrs_message_list(&b, s, queue, 0, 10000) == PGQRS_OK)
        n = (int64_t)pgqrs_batch_count(b);
    pgqrs_batch_free(b);
    return n;
}

static int64_t last_tick(pgqrs_store *s, const char *name)
{
    pgqrs_schedule_info *i = NULL;
    int64_t t = -1;
    if (pgqrs_schedule_get(&i, s, name) == PGQRS_OK)
        t = i->last_tick_at_us;
    pgqrs_schedule_info_free(i);
    return t;
}

static int64_t next_at(pgqrs_store *s, const char *name)
{
    pgqrs_schedule_info *i = NULL;
    int64_t t = -1;
    if (pgqrs_schedule_get(&i, s, name) == PGQRS_OK)
        t = i->next_at_us;
    pgqrs_schedule_info_free(i);
    return t;
}

static pgqrs_scheduler *new_scheduler(pgqrs_store *s)
{
    pgqrs_scheduler_options o = PGQRS_SCHEDULER_OPTIONS_INIT;
    pgqrs_scheduler *sch = NULL;
    o.retention_interval_s = -1;
    if (pgqrs_scheduler_new(&sch, s, &o) != PGQRS_OK)
        fprintf(stderr, "scheduler: %s\n", pgqrs_errmsg(s));
    return sch;
}

static pgqrs_status round_at(pgqrs_scheduler *sch, pgqrs_store *s, int64_t now)
{
    pgqrs_store_set_time(s, now);
    return pgqrs_scheduler_run_once(NULL, sch, now);
}

/* ---- exactly once per tick ---- */

enum { RACERS = 4, TICKS = 200 };

/* Forked before the parent opens anything, so a child owns every handle it
 * holds (and frees it: valgrind checks each process). */
static void race_child(const char *dsn, int go_fd, int out_fd)
{
    pgqrs_store *s;
    pgqrs_scheduler *sch;
    pgqrs_scheduler_stats st = PGQRS_SCHEDULER_STATS_INIT;
    char c = 0;
    int rc = 0;
    if (read(go_fd, &c, 1) != 1)   /* the parent has created the schedule */
        _exit(3);
    s = open_store(dsn);
    sch = s ? new_scheduler(s) : NULL;
    if (!sch) {
        pgqrs_store_free(s);
        _exit(3);
    }
    for (int k = 1; k <= TICKS && rc == 0; k++)
        if (round_at(sch, s, T0 + k * SEC) != PGQRS_OK) {
            fprintf(stderr, "round %d: %s\n", k, pgqrs_errmsg(sch));
            rc = 4;
        }
    pgqrs_scheduler_stats_get(&st, sch);
    if (write(out_fd, &st, sizeof st) != (ssize_t)sizeof st)
        rc = 5;
    pgqrs_scheduler_free(sch);
    pgqrs_store_free(s);
    _exit(rc);
}

static void test_schedule__four_schedulers_one_job_per_tick(void)
{
    pgqrs_store *s;
    int go[2], out[2];
    pid_t pids[RACERS];
    pgqrs_scheduler_stats st[RACERS];
    int64_t fired = 0, lost = 0;
    struct timespec a, b;
    const char *dsn;
    if (th_is_memory())
        SKIP("sqlite::memory: is one connection in one process: there is nothing to race");
    dsn = th_fresh_dsn();
    CHECK(pipe(go) == 0 && pipe(out) == 0);
    fflush(NULL);
    for (int i = 0; i < RACERS; i++) {
        pids[i] = fork();
        CHECK(pids[i] >= 0);
        if (pids[i] == 0)
            race_child(dsn, go[0], out[1]);
    }
    s = open_store(dsn);
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "ticks", NULL), s);
    pgqrs_store_set_time(s, T0);
    CHECK_OK(mk(s, "every-second", "@every 1s", NULL, "ticks", "allow", NULL), s);
    CHECK_I64(T0 + SEC, next_at(s, "every-second"));
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK(write(go[1], "gggg", RACERS) == RACERS);   /* all start at once */
    for (int i = 0; i < RACERS; i++) {
        int status = 0;
        CHECK(waitpid(pids[i], &status, 0) == pids[i]);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "scheduler process %d failed (status %d)", i, status);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    for (int i = 0; i < RACERS; i++) {
        CHECK(read(out[0], &st[i], sizeof st[i]) == (ssize_t)sizeof st[i]);
        fired += st[i].fired;
        lost += st[i].lost;
    }
    printf("  race[%s]: %d schedulers, %d ticks: fired %lld (%lld/%lld/%lld/%lld), lost races %lld, %.2f s\n",
           th_backend(), RACERS, TICKS, (long long)fired, (long long)st[0].fired, (long long)st[1].fired,
           (long long)st[2].fired, (long long)st[3].fired, (long long)lost,
           (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    CHECK_I64(TICKS, fired);
    CHECK_I64(TICKS, live_count(s, "ticks"));
    CHECK_I64(T0 + TICKS * SEC, last_tick(s, "every-second"));
    CHECK_I64(T0 + (TICKS + 1) * SEC, next_at(s, "every-second"));
    close(go[0]), close(go[1]), close(out[0]), close(out[1]);
    pgqrs_store_free(s);
}

/* The key refuses a tick fired twice even when next_at is put back. */
static void test_schedule__a_tick_fires_once_even_if_replayed(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_scheduler *sch;
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    pgqrs_store_set_time(s, T0);
    CHECK_OK(mk(s, "m", "* * * * *", NULL, "q", "allow", NULL), s);
    CHECK((sch = new_scheduler(s)));
    CHECK_OK(round_at(sch, s, T0 + MIN), sch);
    CHECK_I64(1, live_count(s, "q"));
    /* the same round again, and an older one: nothing new */
    CHECK_OK(round_at(sch, s, T0 + MIN), sch);
    CHECK_OK(round_at(sch, s, T0 + 30 * SEC), sch);
    CHECK_I64(1, live_count(s, "q"));
    pgqrs_scheduler_free(sch);
    pgqrs_store_free(s);
}

/* ---- DST ---- */

/* Rounds every 10 minutes from `from` to `to`; records each new last tick. */
static int collect_ticks(pgqrs_store *s, pgqrs_scheduler *sch, const char *name, int64_t from, int64_t to,
                         int64_t *ticks, int max)
{
    int n = 0;
    int64_t seen = 0;
    for (int64_t t = from; t <= to; t += 10 * MIN) {
        if (round_at(sch, s, t) != PGQRS_OK)
            return -1;
        int64_t lt = last_tick(s, name);
        if (lt > 0 && lt != seen && n < max)
            ticks[n++] = seen = lt;
    }
    return n;
}

static void test_schedule__dst_europe_berlin(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_scheduler *sch;
    int64_t got[16];
    int n;
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK((sch = new_scheduler(s)));
    /* spring forward, 2024-03-31 02:00 CET -> 03:00 CEST: 02:30 does not exist and
     * fires at 03:30 CEST (01:30 UTC); 03:30 itself fires once at that instant */
    pgqrs_store_set_time(s, utc(2024, 3, 29, 12, 0));
    CHECK_OK(mk(s, "b1", "30 2 * * *", "Europe/Berlin", "q", "allow", NULL), s);
    CHECK_OK(mk(s, "b2", "30 3 * * *", "Europe/Berlin", "q", "allow", NULL), s);
    n = collect_ticks(s, sch, "b1", utc(2024, 3, 29, 12, 0), utc(2024, 4, 1, 12, 0), got, 16);
    CHECK_I64(3, n);
    CHECK_I64(utc(2024, 3, 30, 1, 30), got[0]);   /* 02:30 CET */
    CHECK_I64(utc(2024, 3, 31, 1, 30), got[1]);   /* the gap: 03:30 CEST */
    CHECK_I64(utc(2024, 4, 1, 0, 30), got[2]);    /* 02:30 CEST */
    CHECK_I64(utc(2024, 4, 1, 1, 30), last_tick(s, "b2"));
    /* fall back, 2024-10-27 03:00 CEST -> 02:00 CET: 02:30 happens twice, fires once (the first) */
    CHECK_OK(pgqrs_schedule_delete(s, "b1"), s);
    CHECK_OK(pgqrs_schedule_delete(s, "b2"), s);
    pgqrs_store_set_time(s, utc(2024, 10, 25, 12, 0));
    CHECK_OK(mk(s, "b3", "30 2 * * *", "Europe/Berlin", "q", "allow", NULL), s);
    n = collect_ticks(s, sch, "b3", utc(2024, 10, 25, 12, 0), utc(2024, 10, 28, 12, 0), got, 16);
    CHECK_I64(3, n);
    CHECK_I64(utc(2024, 10, 26, 0, 30), got[0]);  /* 02:30 CEST */
    CHECK_I64(utc(2024, 10, 27, 0, 30), got[1]);  /* the first 02:30 (CEST), not the second (CET) */
    CHECK_I64(utc(2024, 10, 28, 1, 30), got[2]);  /* 02:30 CET */
    pgqrs_scheduler_free(sch);
    pgqrs_store_free(s);
}

static void test_schedule__dst_america_new_york(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_scheduler *sch;
    int64_t got[32];
    int n;
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK((sch = new_scheduler(s)));
    /* fall back, 2024-11-03 02:00 EDT -> 01:00 EST: every half hour fires 01:00 and
     * 01:30 once (EDT), then 02:00 EST, 90 minutes after 01:30 EDT */
    pgqrs_store_set_time(s, utc(2024, 11, 3, 3, 50));   /* 23:50 EDT */
    CHECK_OK(mk(s, "ny", "*/30 * * * *", "America/New_York", "q", "allow", NULL), s);
    n = collect_ticks(s, sch, "ny", utc(2024, 11, 3, 4, 0), utc(2024, 11, 3, 7, 50), got, 32);
    CHECK_I64(6, n);
    CHECK_I64(utc(2024, 11, 3, 4, 0), got[0]);    /* 00:00 EDT */
    CHECK_I64(utc(2024, 11, 3, 4, 30), got[1]);   /* 00:30 EDT */
    CHECK_I64(utc(2024, 11, 3, 5, 0), got[2]);    /* 01:00 EDT */
    CHECK_I64(utc(2024, 11, 3, 5, 30), got[3]);   /* 01:30 EDT */
    CHECK_I64(utc(2024, 11, 3, 7, 0), got[4]);    /* 02:00 EST */
    CHECK_I64(utc(2024, 11, 3, 7, 30), got[5]);   /* 02:30 EST */
    /* spring forward, 2024-03-10 02:00 EST -> 03:00 EDT: a daily 09:00 stays 09:00
     * local (13:00 UTC, not 14:00), and 02:15 fires at 03:15 EDT */
    CHECK_OK(pgqrs_schedule_delete(s, "ny"), s);
    pgqrs_store_set_time(s, utc(2024, 3, 9, 12, 0));
    CHECK_OK(mk(s, "nine", "0 9 * * *", "America/New_York", "q", "allow", NULL), s);
    /* the rounds are 10 minutes apart, past the 60 s grace: "latest" fires it late, once */
    CHECK_OK(mk(s, "gap", "15 2 * * *", "America/New_York", "q", "allow", "latest"), s);
    n = collect_ticks(s, sch, "nine", utc(2024, 3, 9, 12, 0), utc(2024, 3, 11, 14, 0), got, 32);
    CHECK_I64(3, n);
    CHECK_I64(utc(2024, 3, 9, 14, 0), got[0]);    /* 09:00 EST */
    CHECK_I64(utc(2024, 3, 10, 13, 0), got[1]);   /* 09:00 EDT */
    CHECK_I64(utc(2024, 3, 11, 13, 0), got[2]);
    CHECK_I64(utc(2024, 3, 11, 6, 15), last_tick(s, "gap"));
    CHECK_I64(utc(2024, 3, 12, 6, 15), next_at(s, "gap"));
    {   /* and the day of the change itself, asked directly */
        int64_t t[2];
        size_t cnt = 0;
        CHECK_OK(pgqrs_cron_next(t, &cnt, "15 2 * * *", "America/New_York", utc(2024, 3, 10, 0, 0), 2), NULL);
        CHECK_I64(2, cnt);
        CHECK_I64(utc(2024, 3, 10, 7, 15), t[0]);   /* 03:15 EDT */
        CHECK_I64(utc(2024, 3, 11, 6, 15), t[1]);
    }
    pgqrs_scheduler_free(sch);
    pgqrs_store_free(s);
}

/* ---- pause, resume, misfire, overlap ---- */

static void test_schedule__pause_and_resume(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_scheduler *sch;
    pgqrs_schedule_info *info = NULL;
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK((sch = new_scheduler(s)));
    pgqrs_store_set_time(s, T0);
    CHECK_OK(mk(s, "p", "@every 60s", NULL, "q", "allow", NULL), s);
    CHECK_OK(round_at(sch, s, T0 + 60 * SEC), sch);
    CHECK_I64(1, live_count(s, "q"));
    CHECK_OK(pgqrs_schedule_pause(s, "p"), s);
    CHECK_OK(pgqrs_schedule_pause(s, "p"), s);   /* again: not an error */
    CHECK_OK(pgqrs_schedule_get(&info, s, "p"), s);
    CHECK(info->paused);
    pgqrs_schedule_info_free(info);
    CHECK_OK(round_at(sch, s, T0 + 120 * SEC), sch);
    CHECK_OK(round_at(sch, s, T0 + 185 * SEC), sch);
    CHECK_I64(1, live_count(s, "q"));
    pgqrs_store_set_time(s, T0 + 190 * SEC);
    CHECK_OK(pgqrs_schedule_resume(s, "p"), s);
    CHECK_I64(T0 + 240 * SEC, next_at(s, "p"));   /* the pause's ticks are not fired late */
    CHECK_OK(round_at(sch, s, T0 + 200 * SEC), sch);
    CHECK_I64(1, live_count(s, "q"));
    CHECK_OK(round_at(sch, s, T0 + 240 * SEC), sch);
    CHECK_I64(2, live_count(s, "q"));
    pgqrs_store_set_time(s, T0 + 250 * SEC);
    CHECK_OK(pgqrs_schedule_resume(s, "p"), s);    /* active: its next tick stays */
    CHECK_I64(T0 + 300 * SEC, next_at(s, "p"));
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_schedule_pause(s, "nope"), s);
    pgqrs_scheduler_free(sch);
    pgqrs_store_free(s);
}

static void test_schedule__misfire_after_outage(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_scheduler *sch;
    pgqrs_scheduler_stats st = PGQRS_SCHEDULER_STATS_INIT;
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "skip", NULL), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "latest", NULL), s);
    CHECK((sch = new_scheduler(s)));
    pgqrs_store_set_time(s, T0);
    CHECK_OK(mk(s, "s", "*/5 * * * *", NULL, "skip", "allow", "skip"), s);
    CHECK_OK(mk(s, "l", "*/5 * * * *", NULL, "latest", "allow", "latest"), s);
    CHECK_OK(round_at(sch, s, T0 + 5 * MIN), sch);
    CHECK_I64(1, live_count(s, "skip"));
    CHECK_I64(1, live_count(s, "latest"));
    /* down from T0+5min to T0+67min: the ticks T0+10min .. T0+65min are missed by
     * more than the 60 s grace */
    CHECK_OK(round_at(sch, s, T0 + 67 * MIN), sch);
    CHECK_I64(1, live_count(s, "skip"));                    /* skip: none of them */
    CHECK_I64(T0 + 70 * MIN, next_at(s, "s"));
    CHECK_I64(2, live_count(s, "latest"));                  /* latest: one, the latest */
    CHECK_I64(T0 + 65 * MIN, last_tick(s, "l"));
    CHECK_I64(T0 + 70 * MIN, next_at(s, "l"));
    CHECK_OK(pgqrs_scheduler_stats_get(&st, sch), sch);
    CHECK_I64(2, st.missed);
    /* a tick within the grace is not a misfire: both fire it */
    CHECK_OK(round_at(sch, s, T0 + 70 * MIN + 30 * SEC), sch);
    CHECK_I64(2, live_count(s, "skip"));
    CHECK_I64(3, live_count(s, "latest"));
    pgqrs_scheduler_free(sch);
    pgqrs_store_free(s);
}

static void test_schedule__overlap_skip(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_scheduler *sch;
    pgqrs_consumer *c = NULL;
    pgqrs_batch *b = NULL;
    pgqrs_scheduler_stats st = PGQRS_SCHEDULER_STATS_INIT;
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK((sch = new_scheduler(s)));
    pgqrs_store_set_time(s, T0);
    CHECK_OK(mk(s, "o", "* * * * *", NULL, "q", NULL, NULL), s);   /* overlap skip is the default */
    CHECK_OK(round_at(sch, s, T0 + MIN), sch);
    CHECK_I64(1, live_count(s, "q"));
    CHECK_OK(round_at(sch, s, T0 + 2 * MIN), sch);             /* pending: skipped */
    CHECK_I64(1, live_count(s, "q"));
    CHECK_OK(pgqrs_consumer_new(&c, s, "q"), s);
    CHECK_OK(pgqrs_dequeue(&b, c, 1, 600), c);
    CHECK_I64(1, pgqrs_batch_count(b));
    CHECK_OK(round_at(sch, s, T0 + 3 * MIN), sch);             /* in flight: skipped */
    CHECK_I64(1, live_count(s, "q"));
    CHECK_OK(pgqrs_archive(c, pgqrs_batch_at(b, 0)->id), c);
    CHECK_OK(round_at(sch, s, T0 + 4 * MIN), sch);             /* done: fires */
    CHECK_I64(1, live_count(s, "q"));
    CHECK_OK(pgqrs_scheduler_stats_get(&st, sch), sch);
    CHECK_I64(2, st.fired);
    CHECK_I64(2, st.skipped_overlap);
    pgqrs_batch_free(b);
    pgqrs_consumer_free(c);
    pgqrs_scheduler_free(sch);
    pgqrs_store_free(s);
}

static pgqrs_status wf_noop(pgqrs_run *run, const char *input, char **output, void *user)
{
    (void)run, (void)input, (void)user;
    *output = pgqrs_strdup("{\"ok\":true}");
    return PGQRS_OK;
}

static void test_schedule__workflow_target(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_scheduler *sch;
    pgqrs_schedule_options o = PGQRS_SCHEDULE_OPTIONS_INIT;
    pgqrs_workflow_worker *w = NULL;
    pgqrs_runs *runs = NULL;
    int ran = 0;
    CHECK(s);
    CHECK_OK(pgqrs_workflow_define(s, "report", wf_noop, NULL, NULL), s);
    CHECK((sch = new_scheduler(s)));
    pgqrs_store_set_time(s, T0);
    o.cron = "@hourly";
    o.workflow = "report";
    o.payload_json = "{\"kind\":\"daily\"}";
    CHECK_OK(pgqrs_schedule_create(NULL, s, "hourly-report", &o), s);
    CHECK_OK(round_at(sch, s, T0 + HOUR), sch);
    CHECK_OK(round_at(sch, s, T0 + 2 * HOUR), sch);            /* the first run is PENDING: skipped */
    CHECK_OK(pgqrs_run_list(&runs, s, NULL), s);
    CHECK_I64(1, pgqrs_runs_count(runs));
    CHECK(strstr(pgqrs_runs_at(runs, 0)->input, "daily") != NULL);
    pgqrs_runs_free(runs);
    CHECK_OK(pgqrs_workflow_worker_new(&w, s, "report"), s);
    CHECK_OK(pgqrs_workflow_worker_run_once(&ran, w), w);
    CHECK_I64(1, ran);
    CHECK_OK(round_at(sch, s, T0 + 3 * HOUR), sch);            /* finished: fires */
    CHECK_OK(pgqrs_run_list(&runs, s, NULL), s);
    CHECK_I64(2, pgqrs_runs_count(runs));
    pgqrs_runs_free(runs);
    pgqrs_workflow_worker_free(w);
    pgqrs_scheduler_free(sch);
    pgqrs_store_free(s);
}

/* ---- bad input: a clear error, nothing written ---- */

static void test_schedule__bad_input_writes_nothing(void)
{
    static const struct {
        const char *cron, *tz, *queue, *workflow, *payload, *overlap;
        pgqrs_status want;
        const char *msg;
    } cases[] = {
        { "61 * * * *", NULL, "q", NULL, NULL, NULL, PGQRS_EINVAL, "minute field" },
        { "* * * *", NULL, "q", NULL, NULL, NULL, PGQRS_EINVAL, "5 fields" },
        { "@every 0s", NULL, "q", NULL, NULL, NULL, PGQRS_EINVAL, "at least 1s" },
        { "0 0 30 2 *", NULL, "q", NULL, NULL, NULL, PGQRS_EINVAL, "never fires" },
        { "* * * * *", "Mars/Olympus_Mons", "q", NULL, NULL, NULL, PGQRS_EINVAL, "unknown time zone 'Mars/Olympus_Mons'" },
        { "* * * * *", "../etc/passwd", "q", NULL, NULL, NULL, PGQRS_EINVAL, "not a time zone name" },
        { "* * * * *", NULL, "missing", NULL, NULL, NULL, PGQRS_ENOTFOUND, "queue 'missing' does not exist" },
        { "* * * * *", NULL, NULL, "nowf", NULL, NULL, PGQRS_ENOTFOUND, "workflow 'nowf' does not exist" },
        { "* * * * *", NULL, NULL, NULL, NULL, NULL, PGQRS_EINVAL, "exactly one target" },
        { "* * * * *", NULL, "q", NULL, "{bad", NULL, PGQRS_EINVAL, "payload" },
        { "* * * * *", NULL, "q", NULL, NULL, "sometimes", PGQRS_EINVAL, "overlap must be" },
    };
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_schedules *l = NULL;
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pgqrs_schedule_options o = PGQRS_SCHEDULE_OPTIONS_INIT;
        pgqrs_schedule_info *info = (pgqrs_schedule_info *)&o;   /* set to NULL on entry */
        o.cron = cases[i].cron;
        o.timezone = cases[i].tz;
        o.queue = cases[i].queue;
        o.workflow = cases[i].workflow;
        o.payload_json = cases[i].payload;
        o.overlap = cases[i].overlap;
        CHECK_ST(cases[i].want, pgqrs_schedule_create(&info, s, "bad", &o), s);
        CHECK(info == NULL);
        CHECK_MSG(strstr(pgqrs_errmsg(s), cases[i].msg), "case %zu: message '%s' lacks '%s'", i, pgqrs_errmsg(s),
                  cases[i].msg);
    }
    CHECK_OK(pgqrs_schedule_list(&l, s), s);
    CHECK_I64(0, pgqrs_schedules_count(l));
    pgqrs_schedules_free(l);
    /* a taken name, and a scheduled queue cannot be deleted */
    CHECK_OK(mk(s, "once", "* * * * *", NULL, "q", NULL, NULL), s);
    CHECK_ST(PGQRS_EEXISTS, mk(s, "once", "* * * * *", NULL, "q", NULL, NULL), s);
    CHECK_ST(PGQRS_ESTATE, pgqrs_queue_delete(s, "q", 1), s);
    CHECK(strstr(pgqrs_errmsg(s), "schedule 'once'"));
    CHECK_OK(pgqrs_schedule_delete(s, "once"), s);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_schedule_delete(s, "once"), s);
    CHECK_OK(pgqrs_queue_delete(s, "q", 1), s);
    pgqrs_store_free(s);
}

static void test_schedule__list_shows_next_fire_time(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_schedules *l = NULL;
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    pgqrs_store_set_time(s, T0 + 10 * SEC);
    CHECK_OK(mk(s, "b", "0 12 * * *", "Asia/Tokyo", "q", NULL, NULL), s);
    CHECK_OK(mk(s, "a", "@every 15m", NULL, "q", NULL, NULL), s);
    CHECK_OK(pgqrs_schedule_list(&l, s), s);
    CHECK_I64(2, pgqrs_schedules_count(l));
    CHECK_STR("a", pgqrs_schedules_at(l, 0)->name);
    CHECK_I64(T0 + 15 * MIN, pgqrs_schedules_at(l, 0)->next_at_us);
    CHECK_STR("Asia/Tokyo", pgqrs_schedules_at(l, 1)->timezone);
    CHECK_STR("skip", pgqrs_schedules_at(l, 1)->overlap);
    CHECK_STR("q", pgqrs_schedules_at(l, 1)->target);
    CHECK_I64(utc(2030, 3, 18, 3, 0), pgqrs_schedules_at(l, 1)->next_at_us);   /* 12:00 JST */
    pgqrs_schedules_free(l);
    pgqrs_store_free(s);
}

/* ---- retention ---- */

static void archive_all(pgqrs_consumer *c, int n)
{
    pgqrs_batch *b = NULL;
    while (n > 0 && pgqrs_dequeue(&b, c, 100, 30) == PGQRS_OK && pgqrs_batch_count(b) > 0) {
        for (size_t i = 0; i < pgqrs_batch_count(b); i++, n--)
            pgqrs_archive(c, pgqrs_batch_at(b, i)->id);
        pgqrs_batch_free(b);
        b = NULL;
    }
    pgqrs_batch_free(b);
}

static int64_t archived_count(pgqrs_store *s, const char *queue)
{
    pgqrs_metrics *m = NULL;
    int64_t n = -1;
    if (pgqrs_metrics_list(&m, s, queue) == PGQRS_OK && pgqrs_metrics_count(m) == 1)
        n = pgqrs_metrics_at(m, 0)->archived;
    pgqrs_metrics_free(m);
    return n;
}

static void test_retention__age_and_count(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_producer *p = NULL;
    pgqrs_consumer *c = NULL;
    pgqrs_retention_policy pol = PGQRS_RETENTION_POLICY_INIT, got = PGQRS_RETENTION_POLICY_INIT;
    pgqrs_retention_options ro = PGQRS_RETENTION_OPTIONS_INIT;
    pgqrs_retention_report rep = PGQRS_RETENTION_REPORT_INIT;
    pgqrs_counters cnt = PGQRS_COUNTERS_INIT;
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "old", NULL), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "many", NULL), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "kept", NULL), s);
    for (int q = 0; q < 3; q++) {
        const char *name = q == 0 ? "old" : q == 1 ? "many" : "kept";
        CHECK_OK(pgqrs_producer_new(&p, s, name), s);
        CHECK_OK(pgqrs_consumer_new(&c, s, name), s);
        for (int k = 0; k < 30; k++) {   /* archived a minute apart, from T0 on */
            pgqrs_store_set_time(s, T0 + k * MIN);
            CHECK_OK(pgqrs_enqueue(NULL, p, "{}", 0), p);
            archive_all(c, 1);
        }
        pgqrs_consumer_free(c);
        pgqrs_producer_free(p);
    }
    /* the default: keep an hour; "many": the newest 7 at any age; "kept": keep */
    pol.archive_max_age_s = 3600;
    CHECK_OK(pgqrs_retention_set(s, NULL, &pol), s);
    memset(&pol, 0, sizeof pol);
    pol.version = PGQRS_RETENTION_POLICY_VERSION;
    pol.archive_max_rows = 7;
    pol.archive_max_age_s = -1;
    CHECK_OK(pgqrs_retention_set(s, "many", &pol), s);
    pol.archive_max_rows = 0;
    CHECK_OK(pgqrs_retention_set(s, "kept", &pol), s);
    CHECK_OK(pgqrs_retention_get(&got, s, "many", 0), s);
    CHECK_I64(7, got.archive_max_rows);
    CHECK_I64(-1, got.archive_max_age_s);
    CHECK_OK(pgqrs_retention_get(&got, s, "old", 1), s);
    CHECK_I64(3600, got.archive_max_age_s);
    /* at T0 + 89.5 min the first 60 min of "old" are past an hour: k = 0..29 are
     * archived at T0 .. T0+29min, all older than T0+29.5min */
    pgqrs_store_set_time(s, T0 + 89 * MIN + 30 * SEC);
    ro.batch_size = 4;   /* several statements per queue */
    CHECK_OK(pgqrs_retention_run(&rep, s, &ro), s);
    CHECK_I64(30 + 23, rep.archived);
    CHECK(rep.statements > 10);
    CHECK(rep.complete);
    CHECK_I64(0, archived_count(s, "old"));
    CHECK_I64(7, archived_count(s, "many"));
    CHECK_I64(30, archived_count(s, "kept"));
    CHECK_OK(pgqrs_store_counters(&cnt, s), s);
    CHECK_I64(53, cnt.purged_archived);
    /* nothing more due */
    CHECK_OK(pgqrs_retention_run(&rep, s, NULL), s);
    CHECK_I64(0, rep.archived);
    CHECK_ST(PGQRS_EINVAL, (pol.dlq_max_rows = -2, pgqrs_retention_set(s, NULL, &pol)), s);
    CHECK_ST(PGQRS_ENOTFOUND, (pol.dlq_max_rows = 0, pgqrs_retention_set(s, "nope", &pol)), s);
    pgqrs_store_free(s);
}

static void test_retention__dead_letters_and_budget(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_producer *p = NULL;
    pgqrs_consumer *c = NULL;
    pgqrs_batch *b = NULL;
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_retention_policy pol = PGQRS_RETENTION_POLICY_INIT;
    pgqrs_retention_options ro = PGQRS_RETENTION_OPTIONS_INIT;
    pgqrs_retention_report rep = PGQRS_RETENTION_REPORT_INIT;
    int64_t dlq = 0;
    CHECK(s);
    qo.max_attempts = 1;
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", &qo), s);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    CHECK_OK(pgqrs_consumer_new(&c, s, "q"), s);
    pgqrs_store_set_time(s, T0);
    for (int k = 0; k < 20; k++)
        CHECK_OK(pgqrs_enqueue(NULL, p, "{}", 0), p);
    CHECK_OK(pgqrs_dequeue(&b, c, 20, 5), c);   /* one delivery each, then the lease ends */
    pgqrs_batch_free(b);
    pgqrs_store_set_time(s, T0 + MIN);
    CHECK_OK(pgqrs_dequeue(&b, c, 20, 5), c);   /* dead-lettered instead of delivered again */
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_dlq_count(&dlq, s, "q"), s);
    CHECK_I64(20, dlq);
    pol.dlq_max_rows = 5;
    CHECK_OK(pgqrs_retention_set(s, "q", &pol), s);
    ro.batch_size = 3;
    ro.max_rows = 6;   /* stops after two batches */
    CHECK_OK(pgqrs_retention_run(&rep, s, &ro), s);
    CHECK_I64(6, rep.dead_letters);
    CHECK(!rep.complete);
    CHECK_OK(pgqrs_retention_run(&rep, s, NULL), s);
    CHECK_I64(9, rep.dead_letters);
    CHECK(rep.complete);
    CHECK_OK(pgqrs_dlq_count(&dlq, s, "q"), s);
    CHECK_I64(5, dlq);
    pgqrs_consumer_free(c);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

static pgqrs_status step_one(pgqrs_run *run, char **out, void *user)
{
    (void)run, (void)user;
    *out = pgqrs_strdup("1");
    return PGQRS_OK;
}

static pgqrs_status wf_steps(pgqrs_run *run, const char *input, char **output, void *user)
{
    pgqrs_status st;
    (void)input, (void)user;
    if ((st = pgqrs_run_step(NULL, run, "a", step_one, NULL, NULL)) != PGQRS_OK ||
        (st = pgqrs_run_step(NULL, run, "b", step_one, NULL, NULL)) != PGQRS_OK)
        return st;
    *output = pgqrs_strdup("2");
    return PGQRS_OK;
}

static void test_retention__finished_runs_with_steps(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_workflow_worker *w = NULL;
    pgqrs_retention_policy pol = PGQRS_RETENTION_POLICY_INIT;
    pgqrs_retention_report rep = PGQRS_RETENTION_REPORT_INIT;
    pgqrs_runs *runs = NULL;
    int64_t ids[6], executed = 0;
    pgqrs_poll_options po = PGQRS_POLL_OPTIONS_INIT;
    CHECK(s);
    CHECK_OK(pgqrs_workflow_define(s, "wf", wf_steps, NULL, NULL), s);
    pgqrs_store_set_time(s, T0);
    for (int i = 0; i < 6; i++)
        CHECK_OK(pgqrs_workflow_trigger(&ids[i], NULL, s, "wf", NULL, NULL), s);
    CHECK_OK(pgqrs_workflow_worker_new(&w, s, "wf"), s);
    po.max_runs = 4;
    CHECK_OK(pgqrs_workflow_worker_poll(&executed, w, &po), w);   /* 4 finish at T0, 2 stay PENDING */
    CHECK_I64(4, executed);
    CHECK_OK(pgqrs_run_cancel(s, ids[5], "not needed"), s);       /* CANCELLED, its message still queued */
    pol.run_max_age_s = 3600;
    CHECK_OK(pgqrs_retention_set(s, "workflow:wf", &pol), s);
    pgqrs_store_set_time(s, T0 + 30 * MIN);
    CHECK_OK(pgqrs_retention_run(&rep, s, NULL), s);
    CHECK_I64(0, rep.runs);                                       /* not old enough */
    pgqrs_store_set_time(s, T0 + 2 * HOUR);
    CHECK_OK(pgqrs_retention_run(&rep, s, NULL), s);
    CHECK_I64(5, rep.runs);                                       /* 4 SUCCESS + 1 CANCELLED; the PENDING one stays */
    CHECK_OK(pgqrs_run_list(&runs, s, NULL), s);
    CHECK_I64(1, pgqrs_runs_count(runs));
    CHECK_STR("PENDING", pgqrs_runs_at(runs, 0)->status);
    pgqrs_runs_free(runs);
    CHECK_OK(pgqrs_schema_verify(s), s);                          /* no orphan step */
    /* the cancelled run's message is settled, the pending one still runs */
    po.max_runs = 0;
    po.idle_timeout_ms = 1;
    CHECK_OK(pgqrs_workflow_worker_poll(&executed, w, &po), w);
    CHECK_I64(1, executed);
    pgqrs_workflow_worker_free(w);
    pgqrs_store_free(s);
}

/* Retention while producers and consumers run: every live message survives. */
typedef struct churn {
    pgqrs_store *s;   /* shared: a store may be used by several threads */
    int produced, consumed;
    pgqrs_status st;
    atomic_int *producing;   /* producers still running */
} churn;

static void *producer_main(void *arg)
{
    churn *ch = arg;
    pgqrs_producer *p = NULL;
    if ((ch->st = pgqrs_producer_new(&p, ch->s, "busy")) != PGQRS_OK) {
        atomic_fetch_sub(ch->producing, 1);
        return NULL;
    }
    for (int i = 0; i < 300 && ch->st == PGQRS_OK; i++)
        if ((ch->st = pgqrs_enqueue(NULL, p, "{\"n\":1}", 0)) == PGQRS_OK)
            ch->produced++;
    pgqrs_producer_free(p);
    atomic_fetch_sub(ch->producing, 1);
    return NULL;
}

static void *consumer_main(void *arg)
{
    churn *ch = arg;
    pgqrs_consumer *c = NULL;
    int idle = 0;
    if ((ch->st = pgqrs_consumer_new(&c, ch->s, "busy")) != PGQRS_OK)
        return NULL;
    /* until the producers are done and a claim then finds nothing (or 200 empty
     * claims in a row, should one of them fail) */
    while (ch->st == PGQRS_OK && idle < 200) {
        pgqrs_batch *b = NULL;
        int producing = atomic_load(ch->producing);
        ch->st = pgqrs_dequeue(&b, c, 10, 60);
        if (ch->st == PGQRS_OK && pgqrs_batch_count(b) == 0) {
            pgqrs_batch_free(b);
            if (producing == 0)
                break;
            idle++;
            usleep(5000);
            continue;
        }
        for (size_t i = 0; ch->st == PGQRS_OK && i < pgqrs_batch_count(b); i++)
            if ((ch->st = pgqrs_archive(c, pgqrs_batch_at(b, i)->id)) == PGQRS_OK)
                ch->consumed++, idle = 0;
        pgqrs_batch_free(b);
    }
    pgqrs_consumer_free(c);
    return NULL;
}

static void *retention_main(void *arg)
{
    churn *ch = arg;
    pgqrs_retention_options ro = PGQRS_RETENTION_OPTIONS_INIT;
    ro.batch_size = 5;
    for (int i = 0; i < 60 && ch->st == PGQRS_OK; i++) {
        pgqrs_retention_report rep = PGQRS_RETENTION_REPORT_INIT;
        ch->st = pgqrs_retention_run(&rep, ch->s, &ro);
        ch->consumed += (int)(rep.archived + rep.dead_letters);
        usleep(2000);
    }
    return NULL;
}

static void test_retention__concurrent_enqueue_and_claim_lose_nothing(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_retention_policy pol = PGQRS_RETENTION_POLICY_INIT;
    churn ch[5];
    pthread_t t[5];
    atomic_int producing;
    int produced = 0, consumed = 0, purged;
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "busy", NULL), s);
    pol.archive_max_rows = 10;
    CHECK_OK(pgqrs_retention_set(s, NULL, &pol), s);
    memset(ch, 0, sizeof ch);
    atomic_init(&producing, 2);
    for (int i = 0; i < 5; i++) {
        ch[i].s = s;
        ch[i].producing = &producing;
        CHECK(pthread_create(&t[i], NULL, i < 2 ? producer_main : i < 4 ? consumer_main : retention_main, &ch[i]) == 0);
    }
    for (int i = 0; i < 5; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 5; i++)
        CHECK_MSG(ch[i].st == PGQRS_OK, "thread %d: %s", i, pgqrs_errstr(ch[i].st));
    produced = ch[0].produced + ch[1].produced;
    consumed = ch[2].consumed + ch[3].consumed;
    purged = ch[4].consumed;
    CHECK_I64(600, produced);
    /* every message is live, or was archived by a consumer; retention took only archived ones */
    CHECK_I64(produced - consumed, live_count(s, "busy"));
    CHECK(purged <= consumed);
    CHECK_I64(consumed - purged, archived_count(s, "busy"));
    CHECK_OK(pgqrs_schema_verify(s), s);
    printf("  retention under load[%s]: %d enqueued, %d archived by consumers, %d purged meanwhile\n", th_backend(),
           produced, consumed, purged);
    pgqrs_store_free(s);
}

static void test_retention__ticks_keep_the_latest_fired(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_scheduler *sch;
    pgqrs_retention_options ro = PGQRS_RETENTION_OPTIONS_INIT;
    pgqrs_retention_report rep = PGQRS_RETENTION_REPORT_INIT;
    pgqrs_scheduler_stats st = PGQRS_SCHEDULER_STATS_INIT;
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK((sch = new_scheduler(s)));
    pgqrs_store_set_time(s, T0);
    CHECK_OK(mk(s, "t", "@every 1m", NULL, "q", NULL, NULL), s);   /* overlap skip: 1 fired, the rest skipped */
    for (int k = 1; k <= 10; k++)
        CHECK_OK(round_at(sch, s, T0 + k * MIN), sch);
    CHECK_OK(pgqrs_scheduler_stats_get(&st, sch), sch);
    CHECK_I64(1, st.fired);
    CHECK_I64(9, st.skipped_overlap);
    pgqrs_store_set_time(s, T0 + 30 * MIN);
    ro.tick_max_age_s = 60;
    CHECK_OK(pgqrs_retention_run(&rep, s, &ro), s);
    CHECK_I64(9, rep.ticks);   /* the fired one stays: the overlap rule still sees its job */
    CHECK_OK(round_at(sch, s, T0 + 31 * MIN), sch);
    CHECK_OK(pgqrs_scheduler_stats_get(&st, sch), sch);
    CHECK_I64(1, st.fired);
    CHECK_I64(1, live_count(s, "q"));
    pgqrs_scheduler_free(sch);
    pgqrs_store_free(s);
}

/* The scheduler's own retention runs and the blocking loop's stop. */
static void *stop_later(void *arg)
{
    usleep(200 * 1000);
    pgqrs_scheduler_stop(arg);
    return NULL;
}

static void test_scheduler__run_loop_stops_and_applies_retention(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_scheduler_options o = PGQRS_SCHEDULER_OPTIONS_INIT;
    pgqrs_scheduler_stats st = PGQRS_SCHEDULER_STATS_INIT;
    pgqrs_scheduler *sch = NULL;
    pgqrs_producer *p = NULL;
    pgqrs_consumer *c = NULL;
    pgqrs_retention_policy pol = PGQRS_RETENTION_POLICY_INIT;
    pthread_t t;
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    CHECK_OK(pgqrs_consumer_new(&c, s, "q"), s);
    for (int i = 0; i < 5; i++)
        CHECK_OK(pgqrs_enqueue(NULL, p, "{}", 0), p);
    archive_all(c, 5);
    pol.archive_max_rows = 2;
    CHECK_OK(pgqrs_retention_set(s, NULL, &pol), s);
    o.poll_interval_ms = 20;
    CHECK_OK(pgqrs_scheduler_new(&sch, s, &o), s);
    CHECK(pthread_create(&t, NULL, stop_later, sch) == 0);
    CHECK_OK(pgqrs_scheduler_run(sch), sch);
    pthread_join(t, NULL);
    CHECK_OK(pgqrs_scheduler_stats_get(&st, sch), sch);
    CHECK(st.rounds >= 2);
    CHECK_I64(1, st.retention_runs);   /* every 60 s: once so far */
    CHECK_I64(3, st.purged);
    CHECK_I64(2, archived_count(s, "q"));
    pgqrs_scheduler_stop(sch);          /* stopped before run: run returns at once */
    CHECK_OK(pgqrs_scheduler_run(sch), sch);
    pgqrs_scheduler_free(sch);
    CHECK_ST(PGQRS_EINVAL, (o.max_ticks = -1, pgqrs_scheduler_new(&sch, s, &o)), s);
    CHECK(sch == NULL);
    pgqrs_consumer_free(c);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

/* ---- the worker runtime runs a scheduler ---- */

typedef struct rt_seen {
    atomic_int jobs;
    atomic_int bad_payload;
} rt_seen;

static int count_job(pgqrs_job *job, void *user)
{
    rt_seen *seen = user;
    if (!strstr(pgqrs_job_payload(job), "tick"))
        atomic_fetch_add(&seen->bad_payload, 1);
    atomic_fetch_add(&seen->jobs, 1);
    return PGQRS_JOB_DONE;
}

typedef struct bg_rt {
    pgqrs_runtime *rt;
    pgqrs_status st;
} bg_rt;

static void *rt_main(void *arg)
{
    bg_rt *b = arg;
    b->st = pgqrs_runtime_run(b->rt);
    return NULL;
}

static int64_t sched_stat(const pgqrs_runtime *rt, int which)
{
    pgqrs_scheduler_stats st = PGQRS_SCHEDULER_STATS_INIT;
    const pgqrs_scheduler *sch = pgqrs_runtime_scheduler(rt);
    if (!sch || pgqrs_scheduler_stats_get(&st, sch) != PGQRS_OK)
        return -1;
    return which == 0 ? st.fired : which == 1 ? st.retention_runs : st.purged;
}

/* A runtime, with its defaults, fires the due ticks of a schedule (its handler
 * runs their jobs) and applies retention; with no_scheduler it does neither;
 * until_empty returns after the scheduler's first round. */
static void test_scheduler__the_runtime_runs_it(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_runtime_options ro = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_retention_policy pol = PGQRS_RETENTION_POLICY_INIT;
    pgqrs_producer *p = NULL;
    pgqrs_consumer *c = NULL;
    rt_seen seen;
    bg_rt bg = { NULL, PGQRS_OK };
    pthread_t th;
    int64_t next_before;
    atomic_init(&seen.jobs, 0);
    atomic_init(&seen.bad_payload, 0);
    CHECK(s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    /* two archived messages an hour old, for retention */
    pgqrs_store_set_time(s, T0 - HOUR);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    CHECK_OK(pgqrs_consumer_new(&c, s, "q"), s);
    CHECK_OK(pgqrs_enqueue(NULL, p, "{\"old\":1}", 0), p);
    CHECK_OK(pgqrs_enqueue(NULL, p, "{\"old\":2}", 0), p);
    archive_all(c, 2);
    pgqrs_consumer_free(c);
    pgqrs_producer_free(p);
    pol.archive_max_age_s = 600;
    CHECK_OK(pgqrs_retention_set(s, NULL, &pol), s);
    pgqrs_store_set_time(s, T0);
    CHECK_OK(mk(s, "every-second", "@every 1s", NULL, "q", "allow", NULL), s);
    pgqrs_store_set_time(s, T0 + 3 * SEC);   /* ticks T0 + 1, 2 and 3 s are due */

    /* off: nothing fires, nothing is purged */
    ro.no_scheduler = 1;
    ro.until_empty = 1;
    next_before = next_at(s, "every-second");
    CHECK_OK(pgqrs_runtime_new(&bg.rt, s, &ro), s);
    CHECK(pgqrs_runtime_scheduler(bg.rt) == NULL);
    CHECK_OK(pgqrs_runtime_add_queue(bg.rt, "q", count_job, &seen), bg.rt);
    CHECK_OK(pgqrs_runtime_run(bg.rt), bg.rt);
    pgqrs_runtime_free(bg.rt);
    bg.rt = NULL;
    CHECK_I64(0, atomic_load(&seen.jobs));
    CHECK_I64(next_before, next_at(s, "every-second"));
    CHECK_I64(2, archived_count(s, "q"));

    /* the default: a scheduler thread beside the handlers */
    ro.no_scheduler = 0;
    ro.until_empty = 0;
    ro.scheduler.poll_interval_ms = 20;
    CHECK_OK(pgqrs_runtime_new(&bg.rt, s, &ro), s);
    CHECK(pgqrs_runtime_scheduler(bg.rt) != NULL);
    CHECK_OK(pgqrs_runtime_add_queue(bg.rt, "q", count_job, &seen), bg.rt);
    CHECK(pthread_create(&th, NULL, rt_main, &bg) == 0);
    for (int i = 0; i < 2000 && (atomic_load(&seen.jobs) < 3 || sched_stat(bg.rt, 1) < 1); i++)
        usleep(5000);
    pgqrs_runtime_stop(bg.rt);
    pthread_join(th, NULL);
    CHECK_OK(bg.st, bg.rt);
    CHECK_I64(3, atomic_load(&seen.jobs));
    CHECK_I64(0, atomic_load(&seen.bad_payload));
    CHECK_I64(3, sched_stat(bg.rt, 0));
    CHECK(sched_stat(bg.rt, 1) >= 1);
    CHECK_I64(2, sched_stat(bg.rt, 2));       /* the two old archived messages */
    CHECK_I64(3, archived_count(s, "q"));     /* the three jobs, archived by the handler */
    CHECK_I64(T0 + 4 * SEC, next_at(s, "every-second"));
    pgqrs_runtime_free(bg.rt);

    /* until_empty waits for the scheduler's first round: the ticks due at the
     * start are fired and their jobs run before it returns */
    pgqrs_store_set_time(s, T0 + 5 * SEC);
    ro.until_empty = 1;
    CHECK_OK(pgqrs_runtime_new(&bg.rt, s, &ro), s);
    CHECK_OK(pgqrs_runtime_add_queue(bg.rt, "q", count_job, &seen), bg.rt);
    CHECK_OK(pgqrs_runtime_run(bg.rt), bg.rt);
    CHECK_I64(5, atomic_load(&seen.jobs));
    CHECK_I64(2, sched_stat(bg.rt, 0));
    pgqrs_runtime_free(bg.rt);

    /* the scheduler's options are checked by pgqrs_runtime_new; version 1 options
     * (before the scheduler fields) still work and get the default scheduler */
    ro.scheduler.max_ticks = -1;
    bg.rt = NULL;
    CHECK_ST(PGQRS_EINVAL, pgqrs_runtime_new(&bg.rt, s, &ro), s);
    CHECK(bg.rt == NULL);
    CHECK_OK(pgqrs_runtime_options_init(&ro, 1), NULL);
    CHECK(ro.version == 1);
    CHECK_OK(pgqrs_runtime_new(&bg.rt, s, &ro), s);
    CHECK(pgqrs_runtime_scheduler(bg.rt) != NULL);
    pgqrs_runtime_free(bg.rt);
    CHECK(pgqrs_runtime_scheduler(NULL) == NULL);
    pgqrs_store_free(s);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "schedule__four_schedulers_one_job_per_tick", test_schedule__four_schedulers_one_job_per_tick },
        { "schedule__a_tick_fires_once_even_if_replayed", test_schedule__a_tick_fires_once_even_if_replayed },
        { "schedule__dst_europe_berlin", test_schedule__dst_europe_berlin },
        { "schedule__dst_america_new_york", test_schedule__dst_america_new_york },
        { "schedule__pause_and_resume", test_schedule__pause_and_resume },
        { "schedule__misfire_after_outage", test_schedule__misfire_after_outage },
        { "schedule__overlap_skip", test_schedule__overlap_skip },
        { "schedule__workflow_target", test_schedule__workflow_target },
        { "schedule__bad_input_writes_nothing", test_schedule__bad_input_writes_nothing },
        { "schedule__list_shows_next_fire_time", test_schedule__list_shows_next_fire_time },
        { "retention__age_and_count", test_retention__age_and_count },
        { "retention__dead_letters_and_budget", test_retention__dead_letters_and_budget },
        { "retention__finished_runs_with_steps", test_retention__finished_runs_with_steps },
        { "retention__concurrent_enqueue_and_claim_lose_nothing",
          test_retention__concurrent_enqueue_and_claim_lose_nothing },
        { "retention__ticks_keep_the_latest_fired", test_retention__ticks_keep_the_latest_fired },
        { "scheduler__run_loop_stops_and_applies_retention", test_scheduler__run_loop_stops_and_applies_retention },
        { "scheduler__the_runtime_runs_it", test_scheduler__the_runtime_runs_it },
    };
    return th_main(argc, argv, "test_schedule", tests, sizeof tests / sizeof *tests);
}
