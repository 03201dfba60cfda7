/* cmd_schedule.c: `pgqrs schedule create|list|get|pause|resume|delete|run|next`
 * and `pgqrs retention show|set|run` (docs/schedules.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *schedule_json(const pgqrs_schedule_info *i)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(i->id));
    json_object_set_new(o, "name", json_string(i->name));
    json_object_set_new(o, "cron", json_string(i->cron));
    json_object_set_new(o, "timezone", json_string(i->timezone));
    json_object_set_new(o, "target_kind", json_string(i->queue_id ? "queue" : "workflow"));
    json_object_set_new(o, "target", json_string(i->target));
    json_object_set_new(o, i->queue_id ? "payload" : "input", cli_payload_json(i->payload));
    json_object_set_new(o, "overlap", json_string(i->overlap));
    json_object_set_new(o, "misfire", json_string(i->misfire));
    json_object_set_new(o, "misfire_grace_s", json_integer(i->misfire_grace_s));
    json_object_set_new(o, "paused", json_boolean(i->paused));
    json_object_set_new(o, "next_at", cli_time_json(i->next_at_us));
    json_object_set_new(o, "last_tick_at", cli_time_json(i->last_tick_at_us));
    json_object_set_new(o, "created_at", cli_time_json(i->created_at_us));
    return o;
}

static void print_schedule(const pgqrs_schedule_info *i)
{
    char next[32], last[32];
    cli_time_text(i->next_at_us, next, sizeof next);
    cli_time_text(i->last_tick_at_us, last, sizeof last);
    printf("name             %s\n", i->name);
    printf("cron             %s\n", i->cron);
    printf("timezone         %s\n", i->timezone);
    printf("target           %s %s\n", i->queue_id ? "queue" : "workflow", i->target);
    printf("%-16s %s\n", i->queue_id ? "payload" : "input", i->payload ? i->payload : "");
    printf("overlap          %s\n", i->overlap);
    printf("misfire          %s (grace %lld s)\n", i->misfire, (long long)i->misfire_grace_s);
    printf("paused           %s\n", i->paused ? "yes" : "no");
    printf("next             %s\n", next);
    printf("last tick        %s\n", last);
}

/* ---- schedule create ---- */

static int run_create(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_schedule_options o = PGQRS_SCHEDULE_OPTIONS_INIT;
    pgqrs_schedule_info *info = NULL;
    const char *queue = cli_opt(a, "queue"), *wf = cli_opt(a, "workflow");
    int64_t grace;
    pgqrs_status st;
    int rc;
    if (!cli_opt(a, "cron"))
        return cli_usage(ctx, "missing --cron EXPR");
    if (!queue == !wf)
        return cli_usage(ctx, "give one target: --queue QUEUE --payload JSON, or --workflow NAME --input JSON");
    if (queue && cli_opt(a, "input"))
        return cli_usage(ctx, "--input goes with --workflow; a queue takes --payload");
    if (wf && cli_opt(a, "payload"))
        return cli_usage(ctx, "--payload goes with --queue; a workflow takes --input");
    if (!cli_opt_int(ctx, a, "misfire-grace", -1, 0, INT64_C(366) * 86400, &grace))
        return CLI_EXIT_USAGE;
    o.cron = cli_opt(a, "cron");
    o.timezone = cli_opt(a, "tz");
    o.queue = queue;
    o.workflow = wf;
    o.payload_json = queue ? cli_opt(a, "payload") : cli_opt(a, "input");
    o.overlap = cli_opt(a, "overlap");
    o.misfire = cli_opt(a, "misfire");
    o.misfire_grace_s = grace < 0 ? 0 : grace == 0 ? -1 : grace;
    o.paused = cli_flag(a, "paused");
    if ((st = pgqrs_schedule_create(&info, ctx->store, a->pos[0], &o)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (ctx->json) {
        rc = cli_json_print(schedule_json(info));
    } else {
        char next[32];
        cli_time_text(info->next_at_us, next, sizeof next);
        printf("created schedule %s (next %s)\n", info->name, next);
        rc = 0;
    }
    pgqrs_schedule_info_free(info);
    return rc;
}

/* ---- schedule list / get ---- */

static int run_list(cli_ctx *ctx, const cli_args *a)
{
    static const char *const hdr[] = { "NAME", "CRON", "TIMEZONE", "TARGET", "NEXT", "LAST", "PAUSED" };
    pgqrs_schedules *l = NULL;
    pgqrs_status st;
    cli_table *t;
    (void)a;
    if ((st = pgqrs_schedule_list(&l, ctx->store)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (ctx->json) {
        json_t *o = json_object(), *arr = json_array();
        for (size_t i = 0; i < pgqrs_schedules_count(l); i++)
            json_array_append_new(arr, schedule_json(pgqrs_schedules_at(l, i)));
        json_object_set_new(o, "schedules", arr);
        pgqrs_schedules_free(l);
        return cli_json_print(o);
    }
    t = cli_table_new(7, hdr);
    for (size_t i = 0; t && i < pgqrs_schedules_count(l); i++) {
        const pgqrs_schedule_info *s = pgqrs_schedules_at(l, i);
        char target[200], next[32], last[32];
        const char *row[] = { s->name, s->cron, s->timezone, target, next, last, s->paused ? "yes" : "no" };
        snprintf(target, sizeof target, "%s:%s", s->queue_id ? "queue" : "workflow", s->target);
        cli_time_text(s->next_at_us, next, sizeof next);
        cli_time_text(s->last_tick_at_us, last, sizeof last);
        if (!cli_table_row(t, row)) {
            cli_table_free(t);
            t = NULL;
        }
    }
    pgqrs_schedules_free(l);
    if (!t)
        return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory");
    cli_table_print(t, stdout);
    return 0;
}

static int run_get(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_schedule_info *info = NULL;
    pgqrs_status st = pgqrs_schedule_get(&info, ctx->store, a->pos[0]);
    int rc = 0;
    if (st != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (ctx->json)
        rc = cli_json_print(schedule_json(info));
    else
        print_schedule(info);
    pgqrs_schedule_info_free(info);
    return rc;
}

static int simple(cli_ctx *ctx, const cli_args *a, pgqrs_status (*fn)(pgqrs_store *, const char *), const char *done)
{
    pgqrs_status st = fn(ctx->store, a->pos[0]);
    if (st != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(a->pos[0]));
        json_object_set_new(o, done, json_true());
        return cli_json_print(o);
    }
    printf("%s schedule %s\n", done, a->pos[0]);
    return 0;
}

static int run_pause(cli_ctx *ctx, const cli_args *a) { return simple(ctx, a, pgqrs_schedule_pause, "paused"); }
static int run_resume(cli_ctx *ctx, const cli_args *a) { return simple(ctx, a, pgqrs_schedule_resume, "resumed"); }
static int run_delete(cli_ctx *ctx, const cli_args *a) { return simple(ctx, a, pgqrs_schedule_delete, "deleted"); }

/* ---- schedule run ---- */

static pgqrs_scheduler *running;

static void on_signal(int sig)
{
    (void)sig;
    pgqrs_scheduler_stop(running);   /* async-signal-safe */
}

static int run_run(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_scheduler_options o = PGQRS_SCHEDULER_OPTIONS_INIT;
    pgqrs_scheduler_stats stats = PGQRS_SCHEDULER_STATS_INIT;
    pgqrs_scheduler *sch = NULL;
    int64_t poll, retention, next = 0;
    pgqrs_status st;
    struct sigaction sa;
    if (!cli_opt_int(ctx, a, "poll-interval", 1000, 1, 3600000, &poll) ||
        !cli_opt_int(ctx, a, "retention-interval", 60, -1, INT64_MAX / 1000000, &retention))
        return CLI_EXIT_USAGE;
    o.poll_interval_ms = poll;
    o.retention_interval_s = retention == 0 ? -1 : retention;
    if ((st = pgqrs_scheduler_new(&sch, ctx->store, &o)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (cli_flag(a, "once")) {
        st = pgqrs_scheduler_run_once(&next, sch, 0);
    } else {
        running = sch;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        if (!ctx->json)
            fprintf(stderr, "%s: firing due ticks; SIGINT or SIGTERM stops\n", ctx->prog);
        st = pgqrs_scheduler_run(sch);
        running = NULL;
    }
    if (st != PGQRS_OK) {
        int rc = cli_fail(ctx, st, sch, NULL);
        pgqrs_scheduler_free(sch);
        return rc;
    }
    pgqrs_scheduler_stats_get(&stats, sch);
    pgqrs_scheduler_free(sch);
    if (ctx->json) {
        json_t *j = json_object();
        json_object_set_new(j, "rounds", json_integer(stats.rounds));
        json_object_set_new(j, "fired", json_integer(stats.fired));
        json_object_set_new(j, "skipped_overlap", json_integer(stats.skipped_overlap));
        json_object_set_new(j, "missed", json_integer(stats.missed));
        json_object_set_new(j, "lost", json_integer(stats.lost));
        json_object_set_new(j, "purged", json_integer(stats.purged));
        json_object_set_new(j, "next_due_at", cli_time_json(next));
        return cli_json_print(j);
    }
    printf("fired %lld, skipped %lld (overlap), %lld misfire(s), %lld handled elsewhere, %lld row(s) purged\n",
           (long long)stats.fired, (long long)stats.skipped_overlap, (long long)stats.missed, (long long)stats.lost,
           (long long)stats.purged);
    return 0;
}

/* ---- schedule next ---- */

/* n decimal digits at *p, advancing it; false when they are not there. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* Whole seconds since the epoch, or YYYY-MM-DD[THH:MM[:SS]][Z] in UTC. */
static bool parse_time(const char *s, int64_t *out_us)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    struct tm tm;
    if (*s && !*end && v >= 0) {
        *out_us = (int64_t)v * 1000000;
        return true;
    }
    if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' || !digits(&s, 2, &d))
        return false;
    if (*s == 'T' || *s == ' ') {
        s++;
        if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi))
            return false;
        if (*s == ':' && (s++, !digits(&s, 2, &sec)))
            return false;
    }
    if (*s == 'Z')
        s++;
    if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
        return false;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
    *out_us = (int64_t)timegm(&tm) * 1000000;
    return true;
}

static int run_next(cli_ctx *ctx, const cli_args *a)
{
    int64_t count, after = 0, *times;
    size_t got = 0;
    pgqrs_status st;
    if (!cli_opt(a, "cron"))
        return cli_usage(ctx, "missing --cron EXPR");
    if (!cli_opt_int(ctx, a, "count", 5, 1, 100000, &count))
        return CLI_EXIT_USAGE;
    if (cli_opt(a, "after") && !parse_time(cli_opt(a, "after"), &after))
        return cli_usage(ctx, "--after must be seconds since the epoch or a UTC time like 2025-03-30T00:00:00Z");
    if (!cli_opt(a, "after")) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        after = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
    if (!(times = calloc((size_t)count, sizeof *times)))
        return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory");
    st = pgqrs_cron_next(times, &got, cli_opt(a, "cron"), cli_opt(a, "tz"), after, (size_t)count);
    if (st != PGQRS_OK) {
        free(times);
        return cli_fail(ctx, st, NULL, NULL);
    }
    if (ctx->json) {
        json_t *o = json_object(), *arr = json_array(), *us = json_array();
        for (size_t i = 0; i < got; i++) {
            json_array_append_new(arr, cli_time_json(times[i]));
            json_array_append_new(us, json_integer(times[i]));
        }
        json_object_set_new(o, "cron", json_string(cli_opt(a, "cron")));
        json_object_set_new(o, "timezone", json_string(cli_opt(a, "tz") ? cli_opt(a, "tz") : "UTC"));
        json_object_set_new(o, "times", arr);
        json_object_set_new(o, "times_us", us);
        free(times);
        return cli_json_print(o);
    }
    for (size_t i = 0; i < got; i++) {
        char buf[32];
        cli_time_text(times[i], buf, sizeof buf);
        printf("%s\n", buf);
    }
    free(times);
    return 0;
}

static const cli_option create_opts[] = {
    { "cron", "EXPR", "The cron expression: 5 fields (minute hour day-of-month month day-of-week),\n"
                      "@hourly/@daily/@weekly/@monthly/@yearly, or '@every 30s' (required)." },
    { "queue", "QUEUE", "The target queue: each tick enqueues --payload there." },
    { "payload", "JSON", "The message of each tick (default {})." },
    { "workflow", "NAME", "Or the target workflow: each tick triggers a run with --input." },
    { "input", "JSON", "The input of each run (default none)." },
    { "tz", "ZONE", "An IANA time zone such as Europe/Berlin (default UTC)." },
    { "overlap", "skip|allow", "skip (default): no job while the previous tick's job is pending or running." },
    { "misfire", "skip|latest", "Ticks missed by more than the grace: skip them (default), or fire the latest once." },
    { "misfire-grace", "SECONDS", "How late a tick may still fire normally (default 60)." },
    { "paused", NULL, "Create it paused." },
    { NULL, NULL, NULL },
};
static const cli_option run_opts[] = {
    { "once", NULL, "One round, then exit (the next due time is printed with --json)." },
    { "poll-interval", "MS", "Longest sleep between rounds (default 1000)." },
    { "retention-interval", "SECONDS", "Apply retention every this often (default 60; 0 = never)." },
    { NULL, NULL, NULL },
};
static const cli_option next_opts[] = {
    { "cron", "EXPR", "The expression (required)." },
    { "tz", "ZONE", "The time zone (default UTC)." },
    { "after", "TIME", "Start after this time: seconds since the epoch or 2025-03-30T00:00:00Z (default now)." },
    { "count", "N", "How many fire times (default 5)." },
    { NULL, NULL, NULL },
};

static const cli_command schedule_commands[] = {
    { .name = "create", .summary = "create a schedule", .params = "NAME",
      .description = "Creates a schedule that enqueues --payload into --queue, or triggers a run of\n"
                     "--workflow with --input, at every tick of --cron in --tz. Everything is checked\n"
                     "first: a bad expression, an unknown zone or a missing target is an error that\n"
                     "names it, and nothing is written. With --json the schedule as 'get' prints it.\n",
      .options = create_opts,
      .example = "pgqrs schedule create nightly --cron '0 3 * * *' --tz Europe/Berlin --queue reports --payload '{\"kind\":\"nightly\"}'\n",
      .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_create },
    { .name = "list", .summary = "list schedules with their next fire time", .params = "",
      .description = "Columns: NAME, CRON, TIMEZONE, TARGET, NEXT, LAST, PAUSED. With --json\n"
                     "{\"schedules\": [...]}, each as 'get' prints it.\n",
      .example = "pgqrs schedule list --json\n", .min_pos = 0, .max_pos = 0, .needs_store = true, .run = run_list },
    { .name = "get", .summary = "show one schedule", .params = "NAME",
      .description = "With --json {\"id\", \"name\", \"cron\", \"timezone\", \"target_kind\", \"target\",\n"
                     "\"payload\" or \"input\", \"overlap\", \"misfire\", \"misfire_grace_s\", \"paused\",\n"
                     "\"next_at\", \"last_tick_at\", \"created_at\"}.\n",
      .example = "pgqrs schedule get nightly\n", .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_get },
    { .name = "pause", .summary = "stop firing a schedule's ticks", .params = "NAME",
      .description = "No tick fires while paused. With --json {\"name\", \"paused\": true}.\n",
      .example = "pgqrs schedule pause nightly\n", .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_pause },
    { .name = "resume", .summary = "fire a paused schedule again", .params = "NAME",
      .description = "The next tick is the first after now: the ticks of the pause are skipped.\n"
                     "With --json {\"name\", \"resumed\": true}.\n",
      .example = "pgqrs schedule resume nightly\n", .min_pos = 1, .max_pos = 1, .needs_store = true,
      .run = run_resume },
    { .name = "delete", .summary = "delete a schedule", .params = "NAME",
      .description = "Deletes the schedule and its tick history; the jobs it created stay.\n"
                     "With --json {\"name\", \"deleted\": true}.\n",
      .example = "pgqrs schedule delete nightly\n", .min_pos = 1, .max_pos = 1, .needs_store = true,
      .run = run_delete },
    { .name = "run", .summary = "run a scheduler: fire due ticks until stopped", .params = "",
      .description = "Fires the due ticks of every schedule, round after round, and applies\n"
                     "retention every --retention-interval seconds, until SIGINT or SIGTERM. Any\n"
                     "number of these (and of worker runtimes: 'pgqrs work' runs one) may run at\n"
                     "once: each tick creates exactly one job. Prints what it did when it stops;\n"
                     "with --json {\"rounds\", \"fired\", \"skipped_overlap\", \"missed\", \"lost\",\n"
                     "\"purged\", \"next_due_at\"}.\n",
      .options = run_opts, .example = "pgqrs schedule run --once\n", .min_pos = 0, .max_pos = 0,
      .needs_store = true, .run = run_run },
    { .name = "next", .summary = "print the next fire times of an expression", .params = "",
      .description = "Computes fire times without a database: one UTC time per line; with --json\n"
                     "{\"cron\", \"timezone\", \"times\": [...], \"times_us\": [...]}.\n",
      .options = next_opts, .example = "pgqrs schedule next --cron '30 2 * * *' --tz Europe/Berlin --after 2025-03-29T00:00:00Z --count 3\n",
      .min_pos = 0, .max_pos = 0, .needs_store = false, .run = run_next },
    { .name = NULL },
};

const cli_group cli_group_schedule = {
    .name = "schedule",
    .summary = "recurring jobs: create, list, pause, resume, delete, run a scheduler",
    .description = "A schedule enqueues a message or triggers a workflow run at each tick of a\n"
                   "cron expression in a time zone (docs/schedules.md).\n",
    .commands = schedule_commands,
};

/* ---- retention ---- */

static void policy_json(json_t *o, const pgqrs_retention_policy *p)
{
    json_object_set_new(o, "archive_max_age_s", json_integer(p->archive_max_age_s));
    json_object_set_new(o, "archive_max_rows", json_integer(p->archive_max_rows));
    json_object_set_new(o, "dlq_max_age_s", json_integer(p->dlq_max_age_s));
    json_object_set_new(o, "dlq_max_rows", json_integer(p->dlq_max_rows));
    json_object_set_new(o, "run_max_age_s", json_integer(p->run_max_age_s));
}

static void limit_text(int64_t v, char *buf, size_t len)
{
    if (v == 0)
        snprintf(buf, len, "keep");
    else
        snprintf(buf, len, "%lld", (long long)v);
}

static int run_show(cli_ctx *ctx, const cli_args *a)
{
    static const char *const hdr[] = { "QUEUE", "ARCHIVE_AGE_S", "ARCHIVE_ROWS", "DLQ_AGE_S", "DLQ_ROWS", "RUN_AGE_S" };
    pgqrs_queues *ql = NULL;
    pgqrs_retention_policy d = PGQRS_RETENTION_POLICY_INIT;
    pgqrs_status st;
    json_t *o = NULL, *arr = NULL;
    cli_table *t = NULL;
    size_t n;
    if ((st = pgqrs_retention_get(&d, ctx->store, NULL, 0)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (a->npos == 0 && (st = pgqrs_queue_list(&ql, ctx->store)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    n = a->npos ? 1 : pgqrs_queues_count(ql);
    if (ctx->json) {
        o = json_object();
        arr = json_array();
        json_t *dj = json_object();
        policy_json(dj, &d);
        json_object_set_new(o, "default", dj);
    } else {
        t = cli_table_new(6, hdr);
    }
    for (size_t i = 0; i < n; i++) {
        const char *q = a->npos ? a->pos[0] : pgqrs_queues_at(ql, i)->name;
        pgqrs_retention_policy own = PGQRS_RETENTION_POLICY_INIT, eff = PGQRS_RETENTION_POLICY_INIT;
        if ((st = pgqrs_retention_get(&own, ctx->store, q, 0)) != PGQRS_OK ||
            (st = pgqrs_retention_get(&eff, ctx->store, q, 1)) != PGQRS_OK) {
            json_decref(o);
            json_decref(arr);
            cli_table_free(t);
            pgqrs_queues_free(ql);
            return cli_fail(ctx, st, ctx->store, NULL);
        }
        if (ctx->json) {
            json_t *e = json_object(), *ej = json_object(), *oj = json_object();
            policy_json(oj, &own);
            policy_json(ej, &eff);
            json_object_set_new(e, "queue", json_string(q));
            json_object_set_new(e, "own", oj);
            json_object_set_new(e, "effective", ej);
            json_array_append_new(arr, e);
        } else if (t) {
            char c[5][24];
            const char *row[] = { q, c[0], c[1], c[2], c[3], c[4] };
            limit_text(eff.archive_max_age_s, c[0], sizeof c[0]);
            limit_text(eff.archive_max_rows, c[1], sizeof c[1]);
            limit_text(eff.dlq_max_age_s, c[2], sizeof c[2]);
            limit_text(eff.dlq_max_rows, c[3], sizeof c[3]);
            limit_text(eff.run_max_age_s, c[4], sizeof c[4]);
            if (!cli_table_row(t, row)) {
                cli_table_free(t);
                t = NULL;
            }
        }
    }
    pgqrs_queues_free(ql);
    if (ctx->json) {
        json_object_set_new(o, "queues", arr);
        return cli_json_print(o);
    }
    if (!t)
        return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory");
    cli_table_print(t, stdout);
    return 0;
}

static int run_set(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_retention_policy p = PGQRS_RETENTION_POLICY_INIT;
    const char *queue = a->npos ? a->pos[0] : NULL;
    pgqrs_status st;
    if ((st = pgqrs_retention_get(&p, ctx->store, queue, 0)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    /* the options given change their field; the others keep their stored value */
    if (!cli_opt_int(ctx, a, "archive-max-age", p.archive_max_age_s, -1, INT64_MAX / 2000000, &p.archive_max_age_s) ||
        !cli_opt_int(ctx, a, "archive-max-rows", p.archive_max_rows, -1, INT64_MAX / 2000000, &p.archive_max_rows) ||
        !cli_opt_int(ctx, a, "dlq-max-age", p.dlq_max_age_s, -1, INT64_MAX / 2000000, &p.dlq_max_age_s) ||
        !cli_opt_int(ctx, a, "dlq-max-rows", p.dlq_max_rows, -1, INT64_MAX / 2000000, &p.dlq_max_rows) ||
        !cli_opt_int(ctx, a, "run-max-age", p.run_max_age_s, -1, INT64_MAX / 2000000, &p.run_max_age_s))
        return CLI_EXIT_USAGE;
    if ((st = pgqrs_retention_set(ctx->store, queue, &p)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "queue", str_or_null(queue));
        policy_json(o, &p);
        return cli_json_print(o);
    }
    printf("retention of %s%s set\n", queue ? "queue " : "every queue (default)", queue ? queue : "");
    return 0;
}

static int run_retention_run(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_retention_options o = PGQRS_RETENTION_OPTIONS_INIT;
    pgqrs_retention_report r = PGQRS_RETENTION_REPORT_INIT;
    int64_t batch, max_rows;
    pgqrs_status st;
    if (!cli_opt_int(ctx, a, "batch-size", 1000, 1, 100000, &batch) ||
        !cli_opt_int(ctx, a, "max-rows", 0, 0, INT64_MAX, &max_rows))
        return CLI_EXIT_USAGE;
    o.batch_size = (int)batch;
    o.max_rows = max_rows;
    if ((st = pgqrs_retention_run(&r, ctx->store, &o)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (ctx->json) {
        json_t *j = json_object();
        json_object_set_new(j, "archived", json_integer(r.archived));
        json_object_set_new(j, "dead_letters", json_integer(r.dead_letters));
        json_object_set_new(j, "runs", json_integer(r.runs));
        json_object_set_new(j, "ticks", json_integer(r.ticks));
        json_object_set_new(j, "statements", json_integer(r.statements));
        json_object_set_new(j, "complete", json_boolean(r.complete));
        return cli_json_print(j);
    }
    printf("purged %lld archived, %lld dead letters, %lld runs, %lld ticks in %lld statements%s\n",
           (long long)r.archived, (long long)r.dead_letters, (long long)r.runs, (long long)r.ticks,
           (long long)r.statements, r.complete ? "" : " (stopped at --max-rows)");
    return 0;
}

static const cli_option set_opts[] = {
    { "archive-max-age", "SECONDS", "Delete archived messages older than this (-1 keep, 0 not set: the default's)." },
    { "archive-max-rows", "N", "Keep at most the newest N archived messages." },
    { "dlq-max-age", "SECONDS", "Delete dead letters older than this." },
    { "dlq-max-rows", "N", "Keep at most the newest N dead letters." },
    { "run-max-age", "SECONDS", "Delete finished runs (with steps) of the workflow whose queue this is." },
    { NULL, NULL, NULL },
};
static const cli_option rrun_opts[] = {
    { "batch-size", "N", "Rows one statement deletes at most (default 1000)." },
    { "max-rows", "N", "Stop after about N rows (default 0: no limit)." },
    { NULL, NULL, NULL },
};

static const cli_command retention_commands[] = {
    { .name = "show", .summary = "show the retention policies", .params = "[QUEUE]",
      .description = "The limits that apply to every queue, or to QUEUE (\"keep\": no limit).\n"
                     "With --json {\"default\": {...}, \"queues\": [{\"queue\", \"own\", \"effective\"}]}.\n",
      .example = "pgqrs retention show\n", .min_pos = 0, .max_pos = 1, .needs_store = true, .run = run_show },
    { .name = "set", .summary = "set the default policy, or a queue's", .params = "[QUEUE]",
      .description = "Without QUEUE sets the default every queue follows; a field not given keeps\n"
                     "its stored value. 0 = not set (follow the default), -1 = keep.\n",
      .options = set_opts, .example = "pgqrs retention set emails --archive-max-age 604800 --dlq-max-rows 10000\n",
      .min_pos = 0, .max_pos = 1, .needs_store = true, .run = run_set },
    { .name = "run", .summary = "delete what the policies say is due, now", .params = "",
      .description = "One pass in bounded batches (no long transaction, nothing that blocks a\n"
                     "claim). With --json {\"archived\", \"dead_letters\", \"runs\", \"ticks\",\n"
                     "\"statements\", \"complete\"}.\n",
      .options = rrun_opts, .example = "pgqrs retention run --batch-size 5000\n", .min_pos = 0, .max_pos = 0,
      .needs_store = true, .run = run_retention_run },
    { .name = NULL },
};

const cli_group cli_group_retention = {
    .name = "retention",
    .summary = "what archived messages, dead letters and finished runs are kept",
    .description = "Per-queue maximum age and count for archived and dead-lettered messages, and\n"
                   "the age of finished workflow runs (docs/schedules.md, \"Retention\").\n",
    .commands = retention_commands,
};
