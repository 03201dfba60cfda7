/* cmd_worker.c: `pgqrs worker list|health|reclaim|purge-stale`. */
#include <string.h>

#include "cli.h"

/* The name of queue id in l, or "" (also for id 0: no queue). */
static const char *queue_name(const pgqrs_queues *l, int64_t id)
{
    for (size_t i = 0; id && i < pgqrs_queues_count(l); i++)
        if (pgqrs_queues_at(l, i)->id == id)
            return pgqrs_queues_at(l, i)->name;
    return "";
}

static int run_list(cli_ctx *ctx, const cli_args *a)
{
    static const char *const hdr[] = { "ID", "KIND", "STATUS", "QUEUE", "HOST", "PID", "STARTED", "HEARTBEAT" };
    pgqrs_workers *l = NULL;
    pgqrs_queues *queues = NULL;
    pgqrs_status st;
    size_t n;
    if ((st = pgqrs_worker_list(&l, ctx->store, cli_opt(a, "queue"))) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if ((st = pgqrs_queue_list(&queues, ctx->store)) != PGQRS_OK) {
        pgqrs_workers_free(l);
        return cli_fail(ctx, st, ctx->store, NULL);
    }
    n = pgqrs_workers_count(l);
    if (ctx->json) {
        json_t *o = json_object(), *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            const pgqrs_worker_info *w = pgqrs_workers_at(l, i);
            json_t *e = cli_worker_json(w);
            const char *qn = queue_name(queues, w->queue_id);
            json_object_set_new(e, "queue", *qn ? json_string(qn) : json_null());
            json_array_append_new(arr, e);
        }
        json_object_set_new(o, "workers", arr);
        pgqrs_workers_free(l);
        pgqrs_queues_free(queues);
        return cli_json_print(o);
    }
    cli_table *t = cli_table_new(8, hdr);
    for (size_t i = 0; t && i < n; i++) {
        const pgqrs_worker_info *w = pgqrs_workers_at(l, i);
        char id[24], pid[16], started[32], beat[32];
        const char *row[] = { id, w->kind, w->status, queue_name(queues, w->queue_id), w->hostname, pid, started, beat };
        snprintf(id, sizeof id, "%lld", (long long)w->id);
        snprintf(pid, sizeof pid, "%d", (int)w->pid);
        cli_time_text(w->started_at_us, started, sizeof started);
        cli_time_text(w->heartbeat_at_us, beat, sizeof beat);
        if (!cli_table_row(t, row)) {
            cli_table_free(t);
            t = NULL;
        }
    }
    pgqrs_workers_free(l);
    pgqrs_queues_free(queues);
    if (!t)
        return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory");
    cli_table_print(t, stdout);
    return 0;
}

static int run_health(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_worker_health h;
    int64_t stale_after;
    pgqrs_status st;
    if (!cli_opt_int(ctx, a, "stale-after", 0, 0, INT64_MAX / 1000000, &stale_after))
        return CLI_EXIT_USAGE;
    memset(&h, 0, sizeof h);
    h.version = PGQRS_WORKER_HEALTH_VERSION;
    if ((st = pgqrs_worker_health_get(&h, ctx->store, stale_after)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "total", json_integer(h.total));
        json_object_set_new(o, "ready", json_integer(h.ready));
        json_object_set_new(o, "suspended", json_integer(h.suspended));
        json_object_set_new(o, "stopped", json_integer(h.stopped));
        json_object_set_new(o, "stale", json_integer(h.stale));
        return cli_json_print(o);
    }
    printf("total      %lld\n", (long long)h.total);
    printf("ready      %lld\n", (long long)h.ready);
    printf("suspended  %lld\n", (long long)h.suspended);
    printf("stopped    %lld\n", (long long)h.stopped);
    printf("stale      %lld\n", (long long)h.stale);
    return 0;
}

static int count_result(cli_ctx *ctx, const char *key, const char *text, int64_t n)
{
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, key, json_integer(n));
        return cli_json_print(o);
    }
    printf("%s %lld workers\n", text, (long long)n);
    return 0;
}

static int run_reclaim(cli_ctx *ctx, const cli_args *a)
{
    int64_t older, n = 0;
    pgqrs_status st;
    if (!cli_opt_int(ctx, a, "older-than", 0, 0, INT64_MAX / 1000000, &older))
        return CLI_EXIT_USAGE;
    if ((st = pgqrs_worker_reclaim_zombies(&n, ctx->store, older)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    return count_result(ctx, "reclaimed", "reclaimed", n);
}

static int run_purge_stale(cli_ctx *ctx, const cli_args *a)
{
    int64_t older, n = 0;
    pgqrs_status st;
    if (!cli_opt_int(ctx, a, "older-than", 0, 0, INT64_MAX / 1000000, &older))
        return CLI_EXIT_USAGE;
    if ((st = pgqrs_worker_purge_stale(&n, ctx->store, older)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    return count_result(ctx, "purged", "purged", n);
}

static const cli_option list_opts[] = {
    { "queue", "QUEUE", "Only the workers of QUEUE (no such queue: exit 2)." },
    { NULL, NULL, NULL },
};
static const cli_option health_opts[] = {
    { "stale-after", "SECONDS", "A worker not stopped and silent this long counts as stale\n"
                                "(default 0: the zombie threshold, 300 seconds)." },
    { NULL, NULL, NULL },
};
static const cli_option older_opts[] = {
    { "older-than", "SECONDS", "The silence threshold (default 0: the zombie threshold, 300 seconds)." },
    { NULL, NULL, NULL },
};

static const cli_command worker_commands[] = {
    {
        .name = "list",
        .summary = "list workers, newest first",
        .params = "",
        .description = "Lists the producers and consumers registered by applications (and by this\n"
                       "tool: each command that sends or takes messages registers a worker and\n"
                       "stops it when done). Columns: ID, KIND, STATUS (ready, suspended,\n"
                       "stopped), QUEUE, HOST, PID, STARTED, HEARTBEAT. With --json\n"
                       "{\"workers\": [{\"id\", \"queue_id\", \"kind\", \"status\", \"hostname\", \"pid\",\n"
                       "\"started_at\", \"heartbeat_at\", \"stopped_at\", \"queue\"}]}.\n",
        .options = list_opts,
        .example = "pgqrs worker list --queue emails\n",
        .min_pos = 0, .max_pos = 0, .needs_store = true, .run = run_list,
    },
    {
        .name = "health",
        .summary = "count workers by status, and the stale ones",
        .params = "",
        .description = "Prints total, ready, suspended, stopped and stale worker counts; with\n"
                       "--json {\"total\", \"ready\", \"suspended\", \"stopped\", \"stale\"}.\n",
        .options = health_opts,
        .example = "pgqrs worker health --stale-after 60\n",
        .min_pos = 0, .max_pos = 0, .needs_store = true, .run = run_health,
    },
    {
        .name = "reclaim",
        .summary = "stop zombie workers and release their messages",
        .params = "",
        .description = "Every worker not stopped whose last heartbeat is older than --older-than\n"
                       "is marked stopped and the messages it held become pending now, atomically.\n"
                       "Prints 'reclaimed N workers'; with --json {\"reclaimed\": N}.\n",
        .options = older_opts,
        .example = "pgqrs worker reclaim --older-than 600\n",
        .min_pos = 0, .max_pos = 0, .needs_store = true, .run = run_reclaim,
    },
    {
        .name = "purge-stale",
        .summary = "delete long-stopped workers",
        .params = "",
        .description = "Deletes the workers stopped (or silent) for more than --older-than seconds\n"
                       "that hold no messages. Prints 'purged N workers'; with --json\n"
                       "{\"purged\": N}.\n",
        .options = older_opts,
        .example = "pgqrs worker purge-stale --older-than 86400\n",
        .min_pos = 0, .max_pos = 0, .needs_store = true, .run = run_purge_stale,
    },
    { .name = NULL },
};

const cli_group cli_group_worker = {
    .name = "worker",
    .summary = "inspect workers, reclaim zombies, purge stopped workers",
    .description = "Workers are the producers and consumers of applications. A worker that\n"
                   "stops heartbeating without stopping is a zombie; 'reclaim' frees its messages.\n",
    .commands = worker_commands,
};
