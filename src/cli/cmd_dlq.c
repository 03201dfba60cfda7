/* cmd_dlq.c: `pgqrs dlq list|replay`: the dead letters of a queue. */
#include <stdlib.h>

#include "cli.h"

static int run_list(cli_ctx *ctx, const cli_args *a)
{
    const char *queue = a->pos[0];
    pgqrs_batch *b = NULL;
    int64_t limit, after, total = 0;
    pgqrs_status st;
    int rc;
    if (!cli_opt_int(ctx, a, "limit", 100, 1, INT32_MAX, &limit) ||
        !cli_opt_int(ctx, a, "after", 0, 0, INT64_MAX, &after))
        return CLI_EXIT_USAGE;
    if ((st = pgqrs_dlq_list(&b, ctx->store, queue, after, (int)limit)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (ctx->json) {
        json_t *o = json_object(), *arr = json_array();
        if ((st = pgqrs_dlq_count(&total, ctx->store, queue)) != PGQRS_OK) {
            json_decref(o);
            json_decref(arr);
            pgqrs_batch_free(b);
            return cli_fail(ctx, st, ctx->store, NULL);
        }
        for (size_t i = 0; i < pgqrs_batch_count(b); i++)
            json_array_append_new(arr, cli_message_json(pgqrs_batch_at(b, i)));
        json_object_set_new(o, "queue", json_string(queue));
        json_object_set_new(o, "total", json_integer(total));
        json_object_set_new(o, "messages", arr);
        rc = cli_json_print(o);
    } else {
        rc = cli_print_batch_table(b, true);
    }
    pgqrs_batch_free(b);
    return rc;
}

static int run_replay(cli_ctx *ctx, const cli_args *a)
{
    const char *queue = a->pos[0];
    bool all = cli_flag(a, "all");
    int64_t replayed = 0, *ids = NULL;
    json_t *done = NULL;
    pgqrs_status st;
    int rc = 0;
    if (all && a->npos > 1)
        return cli_usage(ctx, "give dead-letter ids or --all, not both");
    if (!all && a->npos < 2)
        return cli_usage(ctx, "missing ID (or --all)");
    if (all) {
        cli_progress prog;
        cli_progress_start(&prog);
        cli_progress_update(&prog, true, "replaying the dead letters of %s ...", queue);
        st = pgqrs_dlq_replay_all(&replayed, ctx->store, queue);
        cli_progress_end(&prog);
        if (st != PGQRS_OK)
            return cli_fail(ctx, st, ctx->store, NULL);
    } else {
        if (!(ids = calloc((size_t)a->npos, sizeof *ids)))
            return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory");
        for (int i = 1; i < a->npos; i++)   /* check every id before replaying any */
            if (!cli_parse_id(ctx, a->pos[i], &ids[i])) {
                free(ids);
                return CLI_EXIT_USAGE;
            }
        done = json_array();
        for (int i = 1; i < a->npos; i++) {
            if ((st = pgqrs_dlq_replay(ctx->store, queue, ids[i])) != PGQRS_OK) {
                int code = cli_fail(ctx, st, ctx->store, NULL);
                if (rc == 0)
                    rc = code;
                continue;
            }
            replayed++;
            json_array_append_new(done, json_integer(ids[i]));
        }
        free(ids);
    }
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "queue", json_string(queue));
        json_object_set_new(o, "replayed", json_integer(replayed));
        if (done)
            json_object_set_new(o, "ids", done);
        int prc = cli_json_print(o);
        return rc ? rc : prc;
    }
    json_decref(done);
    printf("replayed %lld dead letters to %s\n", (long long)replayed, queue);
    return rc;
}

static const cli_option list_opts[] = {
    { "limit", "N", "At most N dead letters (default 100, at most 10000)." },
    { "after", "ID", "Only dead letters with an id greater than ID (to page)." },
    { NULL, NULL, NULL },
};

static const cli_option replay_opts[] = {
    { "all", NULL, "Replay every dead letter of the queue (in chunks of 1000)." },
    { NULL, NULL, NULL },
};

static const cli_command dlq_commands[] = {
    {
        .name = "list",
        .summary = "list the dead letters of a queue",
        .params = "QUEUE",
        .description = "Lists the dead letters of QUEUE in id order: ID, READS, ENQUEUED,\n"
                       "ARCHIVED_AT (when it was dead-lettered), PAYLOAD. With --json\n"
                       "{\"queue\", \"total\" (all dead letters of the queue), \"messages\": [...]}.\n",
        .options = list_opts,
        .example = "pgqrs dlq list emails --limit 20\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_list,
    },
    {
        .name = "replay",
        .summary = "move dead letters back to their queue",
        .params = "QUEUE (ID... | --all)",
        .description = "Moves the dead letters ID... (or, with --all, every one) of QUEUE back to\n"
                       "the queue as new pending messages with a read count of 0. An id that is\n"
                       "not a dead letter of QUEUE is reported on stderr (exit 2) and the others\n"
                       "are still replayed. Prints 'replayed N dead letters to QUEUE'; with --json\n"
                       "{\"queue\", \"replayed\", \"ids\" (the ones replayed; absent with --all)}.\n",
        .options = replay_opts,
        .example = "pgqrs dlq replay emails 1041 1042\npgqrs dlq replay emails --all\n",
        .min_pos = 1, .max_pos = -1, .needs_store = true, .run = run_replay,
    },
    { .name = NULL },
};

const cli_group cli_group_dlq = {
    .name = "dlq",
    .summary = "list and replay dead letters",
    .description = "A message delivered max-attempts times without being archived or deleted\n"
                   "is moved to its queue's dead-letter queue at its next delivery.\n",
    .commands = dlq_commands,
};
