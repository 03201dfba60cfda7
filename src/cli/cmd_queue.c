/* cmd_queue.c: `pgqrs queue create|update|list|get|delete|purge|metrics`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int print_queue(const cli_ctx *ctx, const pgqrs_queue_info *q)
{
    char created[32];
    if (ctx->json)
        return cli_json_print(cli_queue_json(q));
    cli_time_text(q->created_at_us, created, sizeof created);
    printf("id            %lld\n", (long long)q->id);
    printf("name          %s\n", q->name);
    printf("max_attempts  %d\n", (int)q->max_attempts);
    printf("created_at    %s\n", created);
    printf("retry         %lld ms, x%g per retry, at most %lld ms, jitter %g\n", (long long)q->retry_initial_delay_ms,
           q->retry_multiplier, (long long)q->retry_max_delay_ms, q->retry_jitter);
    if (q->concurrency_limit > 0)
        printf("concurrency   at most %d in flight\n", (int)q->concurrency_limit);
    else
        printf("concurrency   no limit\n");
    if (q->rate_limit > 0)
        printf("rate          at most %d claims per %lld ms\n", (int)q->rate_limit, (long long)q->rate_period_ms);
    else
        printf("rate          no limit\n");
    return 0;
}

/* A period: a positive count with ms, s, m or h ("500ms", "1s", "2m"); the unit
 * alone is one of it ("s"). false: malformed or out of range. */
static bool parse_period_ms(const char *s, int64_t *out)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
    };
    int64_t n = 0;
    const char *p = s;
    bool digits = false;
    while (*p >= '0' && *p <= '9') {
        if (n > PGQRS_MAX_RATE_PERIOD_MS)
            return false;
        n = n * 10 + (*p++ - '0');
        digits = true;
    }
    if (!digits)
        n = 1;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strcmp(p, units[i].unit) == 0) {
            if (n < 1 || n > PGQRS_MAX_RATE_PERIOD_MS / units[i].ms)
                return false;
            *out = n * units[i].ms;
            return true;
        }
    return false;
}

/* --concurrency-limit N|none and --rate-limit N/PERIOD|none into opts (0: not
 * given; "none" is the C API's -1, which removes the limit). false: a usage
 * error was printed. */
static bool limit_options(const cli_ctx *ctx, const cli_args *a, pgqrs_queue_options *opts)
{
    const char *conc = cli_opt(a, "concurrency-limit"), *rate = cli_opt(a, "rate-limit");
    if (conc && strcmp(conc, "none") == 0) {
        opts->concurrency_limit = -1;
    } else if (conc) {
        int64_t n;
        if (!cli_opt_int(ctx, a, "concurrency-limit", 0, 1, PGQRS_MAX_CONCURRENCY_LIMIT, &n))
            return false;
        opts->concurrency_limit = (int)n;
    }
    if (rate && strcmp(rate, "none") == 0) {
        opts->rate_limit = -1;
    } else if (rate) {
        char *end = NULL;
        long long n;
        int64_t period = 0;
        errno = 0;
        n = strtoll(rate, &end, 10);
        if (errno || end == rate || *end != '/' || n < 1 || n > PGQRS_MAX_RATE_LIMIT || !parse_period_ms(end + 1, &period)) {
            cli_usage(ctx, "--rate-limit wants N/PERIOD (N 1..%d, PERIOD like 500ms, 1s, 2m, 1h) or none, got '%s'",
                      PGQRS_MAX_RATE_LIMIT, rate);
            return false;
        }
        opts->rate_limit = (int)n;
        opts->rate_period_ms = period;
    }
    return true;
}

/* --max-attempts and the --retry-* options into opts (0: not given). false: a
 * usage error was printed. --retry-jitter 0 is "none" (the C API's < 0). */
static bool policy_options(const cli_ctx *ctx, const cli_args *a, pgqrs_queue_options *opts)
{
    int64_t max_attempts, initial, max_delay;
    double mult, jitter;
    if (!cli_opt_int(ctx, a, "max-attempts", 0, 1, INT32_MAX, &max_attempts) ||
        !cli_opt_int(ctx, a, "retry-delay", 0, 1, INT64_MAX, &initial) ||
        !cli_opt_int(ctx, a, "retry-max-delay", 0, 1, INT64_MAX, &max_delay) ||
        !cli_opt_double(ctx, a, "retry-multiplier", 0, 1.0, 1e9, &mult) ||
        !cli_opt_double(ctx, a, "retry-jitter", -1, 0.0, 1e9, &jitter))
        return false;
    opts->max_attempts = (int)max_attempts;
    opts->retry_initial_delay_ms = initial;
    opts->retry_max_delay_ms = max_delay;
    opts->retry_multiplier = mult;
    opts->retry_jitter = jitter < 0 ? 0 : jitter == 0 ? -1 : jitter;
    return true;
}

static int run_create(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_queue_options opts = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_queue_info *q = NULL;
    pgqrs_status st;
    int rc;
    if (!policy_options(ctx, a, &opts) || !limit_options(ctx, a, &opts))
        return CLI_EXIT_USAGE;
    opts.exist_ok = cli_flag(a, "exist-ok");
    if ((st = pgqrs_queue_create(&q, ctx->store, a->pos[0], &opts)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, "cannot create the queue");
    rc = print_queue(ctx, q);
    pgqrs_queue_info_free(q);
    return rc;
}

static int run_update(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_queue_options opts = PGQRS_QUEUE_OPTIONS_INIT;
    pgqrs_queue_info *q = NULL;
    pgqrs_status st;
    int rc;
    if (!policy_options(ctx, a, &opts) || !limit_options(ctx, a, &opts))
        return CLI_EXIT_USAGE;
    if ((st = pgqrs_queue_update(&q, ctx->store, a->pos[0], &opts)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, "cannot update the queue");
    rc = print_queue(ctx, q);
    pgqrs_queue_info_free(q);
    return rc;
}

static int run_get(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_queue_info *q = NULL;
    pgqrs_status st;
    int rc;
    if ((st = pgqrs_queue_get(&q, ctx->store, a->pos[0])) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    rc = print_queue(ctx, q);
    pgqrs_queue_info_free(q);
    return rc;
}

static int run_list(cli_ctx *ctx, const cli_args *a)
{
    static const char *const hdr[] = { "ID", "NAME", "MAX_ATTEMPTS", "CONCURRENCY", "RATE", "CREATED" };
    pgqrs_queues *l = NULL;
    pgqrs_status st;
    size_t n;
    (void)a;
    if ((st = pgqrs_queue_list(&l, ctx->store)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, "cannot list queues");
    n = pgqrs_queues_count(l);
    if (ctx->json) {
        json_t *arr = json_array(), *o = json_object();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, cli_queue_json(pgqrs_queues_at(l, i)));
        json_object_set_new(o, "queues", arr);
        pgqrs_queues_free(l);
        return cli_json_print(o);
    }
    cli_table *t = cli_table_new(6, hdr);
    for (size_t i = 0; t && i < n; i++) {
        const pgqrs_queue_info *q = pgqrs_queues_at(l, i);
        char id[24], ma[16], conc[16], rate[48], created[32];
        const char *row[] = { id, q->name, ma, conc, rate, created };
        snprintf(id, sizeof id, "%lld", (long long)q->id);
        snprintf(ma, sizeof ma, "%d", (int)q->max_attempts);
        if (q->concurrency_limit > 0)
            snprintf(conc, sizeof conc, "%d", (int)q->concurrency_limit);
        else
            snprintf(conc, sizeof conc, "-");
        if (q->rate_limit > 0)
            snprintf(rate, sizeof rate, "%d/%lldms", (int)q->rate_limit, (long long)q->rate_period_ms);
        else
            snprintf(rate, sizeof rate, "-");
        cli_time_text(q->created_at_us, created, sizeof created);
        if (!cli_table_row(t, row)) {
            cli_table_free(t);
            t = NULL;
        }
    }
    pgqrs_queues_free(l);
    if (!t)
        return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory");
    cli_table_print(t, stdout);
    return 0;
}

static int run_delete(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_status st = pgqrs_queue_delete(ctx->store, a->pos[0], cli_flag(a, "force"));
    if (st == PGQRS_ESTATE && !cli_flag(a, "force"))
        return cli_error(ctx, CLI_EXIT_CONFLICT, "%s (--force deletes them too)", pgqrs_errmsg(ctx->store));
    if (st != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "queue", json_string(a->pos[0]));
        json_object_set_new(o, "deleted", json_true());
        return cli_json_print(o);
    }
    printf("deleted queue %s\n", a->pos[0]);
    return 0;
}

static int run_purge(cli_ctx *ctx, const cli_args *a)
{
    cli_progress prog;
    int64_t purged = 0;
    pgqrs_status st;
    cli_progress_start(&prog);
    cli_progress_update(&prog, true, "purging the live messages of %s ...", a->pos[0]);
    st = pgqrs_queue_purge(&purged, ctx->store, a->pos[0]);
    cli_progress_end(&prog);
    if (st != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "queue", json_string(a->pos[0]));
        json_object_set_new(o, "purged", json_integer(purged));
        return cli_json_print(o);
    }
    printf("purged %lld messages from %s\n", (long long)purged, a->pos[0]);
    return 0;
}

static int run_metrics(cli_ctx *ctx, const cli_args *a)
{
    static const char *const hdr[] = { "QUEUE", "PENDING", "IN_FLIGHT", "DELAYED", "ARCHIVED", "DEAD", "OLDEST_PENDING" };
    pgqrs_metrics *l = NULL;
    pgqrs_status st;
    size_t n;
    if ((st = pgqrs_metrics_list(&l, ctx->store, a->npos ? a->pos[0] : NULL)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    n = pgqrs_metrics_count(l);
    if (ctx->json) {
        json_t *arr = json_array(), *o = json_object();
        for (size_t i = 0; i < n; i++) {
            const pgqrs_queue_metrics *m = pgqrs_metrics_at(l, i);
            json_t *e = json_object();
            json_object_set_new(e, "queue_id", json_integer(m->queue_id));
            json_object_set_new(e, "queue", json_string(m->name));
            json_object_set_new(e, "pending", json_integer(m->pending));
            json_object_set_new(e, "in_flight", json_integer(m->in_flight));
            json_object_set_new(e, "delayed", json_integer(m->delayed));
            json_object_set_new(e, "archived", json_integer(m->archived));
            json_object_set_new(e, "dead_lettered", json_integer(m->dead_lettered));
            json_object_set_new(e, "oldest_pending_age_seconds", json_real((double)m->oldest_pending_age_us / 1e6));
            json_array_append_new(arr, e);
        }
        json_object_set_new(o, "metrics", arr);
        pgqrs_metrics_free(l);
        return cli_json_print(o);
    }
    cli_table *t = cli_table_new(7, hdr);
    for (size_t i = 0; t && i < n; i++) {
        const pgqrs_queue_metrics *m = pgqrs_metrics_at(l, i);
        char c[6][24];
        const char *row[] = { m->name, c[0], c[1], c[2], c[3], c[4], c[5] };
        snprintf(c[0], sizeof c[0], "%lld", (long long)m->pending);
        snprintf(c[1], sizeof c[1], "%lld", (long long)m->in_flight);
        snprintf(c[2], sizeof c[2], "%lld", (long long)m->delayed);
        snprintf(c[3], sizeof c[3], "%lld", (long long)m->archived);
        snprintf(c[4], sizeof c[4], "%lld", (long long)m->dead_lettered);
        if (m->pending)
            cli_duration_text(m->oldest_pending_age_us, c[5], sizeof c[5]);
        else
            snprintf(c[5], sizeof c[5], "-");
        if (!cli_table_row(t, row)) {
            cli_table_free(t);
            t = NULL;
        }
    }
    pgqrs_metrics_free(l);
    if (!t)
        return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory");
    cli_table_print(t, stdout);
    return 0;
}

static const cli_option create_opts[] = {
    { "max-attempts", "N", "Deliveries before a message is dead-lettered (default 5)." },
    { "retry-delay", "MS", "The retry policy (what 'pgqrs work' and the runtime wait before a\n"
                           "retry): milliseconds before the first retry (default 1000)." },
    { "retry-multiplier", "X", "Growth of the delay per retry, 1 or more (default 2)." },
    { "retry-max-delay", "MS", "Cap of the delay (default 300000, or --retry-delay if larger)." },
    { "retry-jitter", "X", "Fraction of each delay taken off at random, 0 (exact) to 1 (default 0.25)." },
    { "concurrency-limit", "N", "At most N of the queue's messages in flight at once, across every\n"
                                "process and machine (default: no limit)." },
    { "rate-limit", "N/PERIOD", "At most N claims per PERIOD (500ms, 1s, 2m, 1h) for the queue, across\n"
                                "every process (default: no limit). Limits need a backend with\n"
                                "transactions (not Turso over HTTP: exit 1 there)." },
    { "exist-ok", NULL, "An existing queue of that name is not an error; it is printed as is\n"
                        "(its max attempts and retry policy unchanged)." },
    { NULL, NULL, NULL },
};

/* the same options: what is not given stays as it is */
static const cli_option update_opts[] = {
    { "max-attempts", "N", "Deliveries before a message is dead-lettered." },
    { "retry-delay", "MS", "Milliseconds before the first retry." },
    { "retry-multiplier", "X", "Growth of the delay per retry, 1 or more." },
    { "retry-max-delay", "MS", "Cap of the delay." },
    { "retry-jitter", "X", "Fraction of each delay taken off at random, 0 (exact) to 1." },
    { "concurrency-limit", "N|none", "At most N messages in flight at once; none removes the limit." },
    { "rate-limit", "N/PERIOD|none", "At most N claims per PERIOD (500ms, 1s, 2m, 1h); none removes it." },
    { NULL, NULL, NULL },
};

static const cli_option delete_opts[] = {
    { "force", NULL, "Delete even while the queue holds live messages (they are lost)." },
    { NULL, NULL, NULL },
};

static const cli_command queue_commands[] = {
    {
        .name = "create",
        .summary = "create a queue",
        .params = "NAME",
        .description = "Creates the queue NAME (1 to 128 bytes of UTF-8) and prints it: id, name,\n"
                       "max_attempts, created_at and the retry policy. With --json the queue\n"
                       "object {\"id\", \"name\", \"max_attempts\", \"created_at\",\n"
                       "\"retry_initial_delay_ms\", \"retry_multiplier\", \"retry_max_delay_ms\",\n"
                       "\"retry_jitter\", \"concurrency_limit\", \"rate_limit\", \"rate_period_ms\"}\n"
                       "(a limit not set is null). A retry waits retry-delay, times retry-multiplier per\n"
                       "retry after the first, capped at retry-max-delay, minus a random part of\n"
                       "at most retry-jitter of it. A taken name is exit 5 unless --exist-ok.\n",
        .options = create_opts,
        .example = "pgqrs queue create emails --max-attempts 3\n"
                   "pgqrs queue create thumbnails --retry-delay 5000 --retry-jitter 0\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_create,
    },
    {
        .name = "update",
        .summary = "change a queue's max attempts, retry policy and limits",
        .params = "NAME",
        .description = "Changes what is given of the queue NAME's max attempts, retry policy and\n"
                       "limits (--concurrency-limit, --rate-limit; none removes one)\n"
                       "(one statement) and prints the queue as for 'queue create'. Running\n"
                       "workers use the new policy from their next retry on (within a second);\n"
                       "a message already waiting for a retry keeps its time. A cap below a new\n"
                       "first delay is raised to it unless --retry-max-delay is given. No such\n"
                       "queue is exit 2; an inconsistent result (cap below the first delay) exit 4.\n"
                       "Running consumers see a changed limit within a second; messages already\n"
                       "in flight are not recalled.\n",
        .options = update_opts,
        .example = "pgqrs queue update emails --retry-delay 10000 --retry-multiplier 3\n"
                   "pgqrs queue update emails --concurrency-limit 3 --rate-limit 100/1m\n"
                   "pgqrs queue update emails --concurrency-limit none --json\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_update,
    },
    {
        .name = "list",
        .summary = "list every queue",
        .params = "",
        .description = "Prints every queue by name: ID, NAME, MAX_ATTEMPTS, CONCURRENCY, RATE\n"
                       "(N/PERIODms; - for no limit), CREATED.\n"
                       "With --json {\"queues\": [queue, ...]}.\n",
        .example = "pgqrs queue list\n",
        .min_pos = 0, .max_pos = 0, .needs_store = true, .run = run_list,
    },
    {
        .name = "get",
        .summary = "show one queue",
        .params = "NAME",
        .description = "Prints the queue NAME as for 'queue create'. No such queue is exit 2.\n",
        .example = "pgqrs --json queue get emails\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_get,
    },
    {
        .name = "delete",
        .summary = "delete a queue with its archive and dead letters",
        .params = "NAME",
        .description = "Deletes the queue NAME with its archived and dead-lettered messages.\n"
                       "Refused (exit 5) while it holds live messages, unless --force.\n"
                       "With --json {\"queue\": NAME, \"deleted\": true}.\n",
        .options = delete_opts,
        .example = "pgqrs queue delete emails --force\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_delete,
    },
    {
        .name = "purge",
        .summary = "delete every live message of a queue",
        .params = "NAME",
        .description = "Deletes every live message (pending, delayed or in flight) of the queue\n"
                       "NAME in one statement; archive and dead letters are kept. Prints how\n"
                       "many; with --json {\"queue\": NAME, \"purged\": N}. Shows a status line on\n"
                       "stderr while it runs when stderr is a terminal.\n",
        .example = "pgqrs queue purge emails\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_purge,
    },
    {
        .name = "metrics",
        .summary = "message counts of one queue or of all",
        .params = "[NAME]",
        .description = "Prints, per queue: PENDING (visible now), IN_FLIGHT (held by a consumer),\n"
                       "DELAYED (not yet visible), ARCHIVED, DEAD (dead-lettered) and the age of\n"
                       "the oldest pending message. With --json {\"metrics\": [{\"queue_id\",\n"
                       "\"queue\", \"pending\", \"in_flight\", \"delayed\", \"archived\",\n"
                       "\"dead_lettered\", \"oldest_pending_age_seconds\"}, ...]}, also for one queue.\n",
        .example = "pgqrs queue metrics\npgqrs --json queue metrics emails\n",
        .min_pos = 0, .max_pos = 1, .needs_store = true, .run = run_metrics,
    },
    { .name = NULL },
};

const cli_group cli_group_queue = {
    .name = "queue",
    .summary = "create, list, inspect, purge and delete queues",
    .description = "Queues hold live messages (pending, delayed, in flight), their archive and\n"
                    "their dead letters. Names are any 1 to 128 bytes of UTF-8.\n",
    .commands = queue_commands,
};
