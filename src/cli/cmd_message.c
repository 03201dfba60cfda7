/* cmd_message.c: `pgqrs message send|read|archive|delete|release`; send-batch
 * lives in cmd_send_batch.c. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

static int run_send(cli_ctx *ctx, const cli_args *a)
{
    const char *queue = a->pos[0];
    pgqrs_producer *p = NULL;
    char *owned = NULL;
    const char *payload;
    int64_t delay, priority, id = 0;
    int created = 0;
    pgqrs_enqueue_options eo = PGQRS_ENQUEUE_OPTIONS_INIT;
    pgqrs_status st;
    if (!cli_opt_int(ctx, a, "delay", 0, 0, INT32_MAX, &delay) ||
        !cli_opt_int(ctx, a, "priority", 0, INT32_MIN, INT32_MAX, &priority))   /* the library checks the range */
        return CLI_EXIT_USAGE;
    eo.delay_ms = delay * 1000;
    eo.priority = (int32_t)priority;
    eo.unique_key = cli_opt(a, "unique-key");
    if (a->npos == 2 && strcmp(a->pos[1], "-") != 0) {
        payload = a->pos[1];
    } else {
        size_t len;
        if (!(owned = cli_read_all(stdin, &len)))
            return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory reading stdin");
        if (strlen(owned) != len) {
            free(owned);
            return cli_error(ctx, CLI_EXIT_INVALID, "the payload on stdin contains a NUL byte");
        }
        while (len > 0 && (owned[len - 1] == '\n' || owned[len - 1] == '\r' || owned[len - 1] == ' ' ||
                           owned[len - 1] == '\t'))
            owned[--len] = '\0';   /* the final newline of `echo` and files is not part of the payload */
        payload = owned;
    }
    if (blank(payload)) {
        free(owned);
        return cli_error(ctx, CLI_EXIT_INVALID, "the payload is empty (give a JSON value as argument or on stdin)");
    }
    if ((st = pgqrs_producer_new(&p, ctx->store, queue)) != PGQRS_OK) {
        free(owned);
        return cli_fail(ctx, st, ctx->store, NULL);
    }
    st = pgqrs_enqueue_with(&id, &created, p, payload, &eo);
    free(owned);
    if (st != PGQRS_OK) {
        int rc = cli_fail(ctx, st, p, "cannot send");
        pgqrs_producer_free(p);
        return rc;
    }
    pgqrs_producer_free(p);
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "queue", json_string(queue));
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "created", json_boolean(created));
        return cli_json_print(o);
    }
    if (created)
        printf("sent message %lld to %s\n", (long long)id, queue);
    else
        printf("not sent: message %lld of %s holds key %s\n", (long long)id, queue, eo.unique_key);
    return 0;
}

static json_t *batch_json(const pgqrs_batch *b)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < pgqrs_batch_count(b); i++)
        json_array_append_new(arr, cli_message_json(pgqrs_batch_at(b, i)));
    return arr;
}

static int run_read(cli_ctx *ctx, const cli_args *a)
{
    const char *queue = a->pos[0];
    bool archived = cli_flag(a, "archived");
    pgqrs_batch *b = NULL;
    int64_t limit, after;
    pgqrs_status st;
    int rc;
    if (!cli_opt_int(ctx, a, "limit", 100, 1, INT32_MAX, &limit) ||
        !cli_opt_int(ctx, a, "after", 0, 0, INT64_MAX, &after))
        return CLI_EXIT_USAGE;
    st = archived ? pgqrs_archive_list(&b, ctx->store, queue, after, (int)limit)
                  : pgqrs_message_list(&b, ctx->store, queue, after, (int)limit);
    if (st != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "queue", json_string(queue));
        json_object_set_new(o, "messages", batch_json(b));
        rc = cli_json_print(o);
    } else {
        rc = cli_print_batch_table(b, archived);
    }
    pgqrs_batch_free(b);
    return rc;
}

/* archive, delete, release: take the next --max visible messages and apply the action. */
typedef enum { ACT_ARCHIVE, ACT_DELETE, ACT_RELEASE } action;

static int take_and_apply(cli_ctx *ctx, const cli_args *a, action act)
{
    static const char *const verb[] = { "archived", "deleted", "released" };
    static const char *const name[] = { "archive", "delete", "release" };
    const char *queue = a->pos[0];
    pgqrs_consumer *c = NULL;
    pgqrs_batch *b = NULL;
    pgqrs_status st, *results = NULL;
    int64_t max, vt, delay = 0, *ids = NULL;
    size_t n, ok = 0;
    int rc = 0;
    if (!cli_opt_int(ctx, a, "max", 1, 1, INT32_MAX, &max) || !cli_opt_int(ctx, a, "vt", 0, 0, INT32_MAX, &vt) ||
        (act == ACT_RELEASE && !cli_opt_int(ctx, a, "delay", 0, 0, INT32_MAX, &delay)))
        return CLI_EXIT_USAGE;
    if ((st = pgqrs_consumer_new(&c, ctx->store, queue)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if ((st = pgqrs_dequeue(&b, c, (int)max, (int)vt)) != PGQRS_OK) {
        rc = cli_fail(ctx, st, c, "cannot take messages");
        goto out;
    }
    n = pgqrs_batch_count(b);
    if (n > 0) {
        ids = calloc(n, sizeof *ids);
        results = calloc(n, sizeof *results);
        if (!ids || !results) {
            rc = cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            ids[i] = pgqrs_batch_at(b, i)->id;
        if (act == ACT_ARCHIVE)
            st = pgqrs_archive_batch(results, c, ids, n);
        else if (act == ACT_DELETE)
            st = pgqrs_delete_batch(results, c, ids, n);
        else
            st = pgqrs_release_batch(results, c, ids, n, (int)delay);
        if (st != PGQRS_OK && st != PGQRS_ENOTOWNED && st != PGQRS_ENOTFOUND) {
            /* the statement itself failed: nothing was applied; freeing the consumer releases them */
            rc = cli_fail(ctx, st, c, NULL);
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            if (results[i] == PGQRS_OK)
                ok++;
    }
    if (ctx->json) {
        json_t *o = json_object(), *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *m = cli_message_json(pgqrs_batch_at(b, i));
            json_object_set_new(m, "result", json_string(results[i] == PGQRS_OK ? "ok" : pgqrs_errstr(results[i])));
            json_array_append_new(arr, m);
        }
        json_object_set_new(o, "queue", json_string(queue));
        json_object_set_new(o, "action", json_string(name[act]));
        json_object_set_new(o, "count", json_integer((json_int_t)ok));
        json_object_set_new(o, "messages", arr);
        rc = cli_json_print(o);
    } else if (n == 0) {
        printf("no visible messages in %s\n", queue);
    } else {
        if ((rc = cli_print_batch_table(b, false)) == 0)
            printf("%s %zu of %zu messages from %s\n", verb[act], ok, n, queue);
    }
    for (size_t i = 0; i < n; i++)
        if (results[i] != PGQRS_OK) {
            cli_error(ctx, cli_exit_code(results[i]), "message %lld: %s", (long long)ids[i], pgqrs_errstr(results[i]));
            if (rc == 0)
                rc = cli_exit_code(results[i]);
        }
out:
    free(ids);
    free(results);
    pgqrs_batch_free(b);
    pgqrs_consumer_free(c);
    return rc;
}

static int run_archive(cli_ctx *ctx, const cli_args *a)
{
    return take_and_apply(ctx, a, ACT_ARCHIVE);
}

static int run_delete(cli_ctx *ctx, const cli_args *a)
{
    return take_and_apply(ctx, a, ACT_DELETE);
}

static int run_release(cli_ctx *ctx, const cli_args *a)
{
    return take_and_apply(ctx, a, ACT_RELEASE);
}

static const cli_option send_opts[] = {
    { "delay", "SECONDS", "Visible only after this many seconds (default 0, at most 365 days)." },
    { "priority", "N", "-32768..32767, higher is claimed first, FIFO within one priority (default 0)." },
    { "unique-key", "KEY", "1..512 bytes; when a live message (pending, delayed or in flight) of QUEUE\n"
                           "holds KEY nothing is sent and its id is printed (created false)." },
    { NULL, NULL, NULL },
};

static const cli_option read_opts[] = {
    { "limit", "N", "At most N messages (default 100, at most 10000)." },
    { "after", "ID", "Only messages with an id greater than ID (to page through a queue)." },
    { "archived", NULL, "List the archive (archived, not dead-lettered) instead of live messages." },
    { NULL, NULL, NULL },
};

#define TAKE_OPTS                                                                                  \
    { "max", "N", "Take up to N visible messages (default 1, at most 1000)." },                    \
    { "vt", "SECONDS", "Hide them from other consumers this long while acting (default 30)." }

static const cli_option take_opts[] = { TAKE_OPTS, { NULL, NULL, NULL } };
static const cli_option release_opts[] = {
    TAKE_OPTS,
    { "delay", "SECONDS", "Visible again only after this many seconds (default 0: now)." },
    { NULL, NULL, NULL },
};

#define TAKE_DESCRIPTION(ACT, VERB)                                                     \
    "Takes the next N visible messages of QUEUE (N = --max, default 1) the way a\n"     \
    "consumer does, then " ACT " exactly those.\n"                                      \
    "A command-line process cannot hold messages from one invocation to the next,\n"   \
    "so these commands take no ids: use 'message read' to look first.\n"               \
    "Taking is a delivery: it increments the read count, and a message already\n"       \
    "delivered max-attempts times moves to the dead-letter queue instead of being\n"    \
    "taken.\n"                                                                          \
    "Prints the messages as taken (ID, READS, ENQUEUED, VISIBLE_AT, PAYLOAD) and\n"     \
    "'" VERB " N of M messages from QUEUE'; 'no visible messages in QUEUE' (exit 0)\n"  \
    "when there are none. With --json {\"queue\", \"action\", \"count\" (messages\n" \
    "acted on), \"messages\": [message as taken + \"result\"]}.\n"

static const cli_command message_commands[] = {
    {
        .name = "send",
        .summary = "enqueue one message",
        .params = "QUEUE [PAYLOAD]",
        .description = "Enqueues one JSON value (object, array, string, number...) on QUEUE. The\n"
                       "payload is the PAYLOAD argument, or stdin when it is absent or '-'.\n"
                       "Prints 'sent message ID to QUEUE', or 'not sent: message ID of QUEUE holds\n"
                       "key KEY' (exit 0) when --unique-key is live; with --json {\"queue\", \"id\",\n"
                       "\"created\": true|false}. Invalid JSON, a priority out of range or an empty or\n"
                       "oversize key is exit 4 and nothing is written; no such queue is exit 2.\n",
        .options = send_opts,
        .example = "pgqrs message send emails '{\"to\":\"ann@example.com\"}'\n"
                   "jq -c .job job.json | pgqrs message send emails --delay 60\n"
                   "pgqrs --json message send reports '{\"day\":\"2026-12-03\"}' --priority 10 --unique-key report-2026-12-03\n",
        .min_pos = 1, .max_pos = 2, .needs_store = true, .run = run_send,
    },
    {
        .name = "send-batch",
        .summary = "enqueue JSON lines from stdin",
        .params = "QUEUE",
        .description = "Reads one JSON value per line from stdin (blank lines are skipped) and\n"
                       "enqueues them on QUEUE in chunks of --batch-size lines, each chunk atomically\n"
                       "(all of it or none). Every line of a chunk is checked before it is sent: at\n"
                       "the first invalid line it stops with exit 4, naming the line; the chunks\n"
                       "before it stay enqueued and the error line says how many messages that was.\n"
                       "Shows progress on stderr when stderr is a terminal.\n"
                       "Prints 'sent N messages to QUEUE'; with --json {\"queue\", \"count\", \"ids\"}.\n",
        .options = cli_send_batch_options,
        .example = "jq -c '.[]' jobs.json | pgqrs message send-batch emails\n"
                   "pgqrs --json message send-batch emails < jobs.jsonl\n",
        .min_pos = 1, .max_pos = 1, .needs_store = false, .run = cli_send_batch_run,
    },
    {
        .name = "read",
        .summary = "list live messages without taking them",
        .params = "QUEUE",
        .description = "Lists the live messages of QUEUE (pending, delayed and in flight) in id\n"
                       "order without claiming them: nothing changes. Columns: ID, READS,\n"
                       "ENQUEUED, VISIBLE_AT, PAYLOAD (cut at 60 characters; --json has it whole).\n"
                       "With --json {\"queue\", \"messages\": [{\"id\", \"queue_id\", \"state\",\n"
                       "\"read_count\", \"enqueued_at\", \"visible_at\", \"dequeued_at\", \"archived_at\",\n"
                       "\"producer_worker_id\", \"consumer_worker_id\", \"payload\", \"result\"}]}:\n"
                       "result is what a worker stored with an archived message ('pgqrs work',\n"
                       "the runtime), else null.\n",
        .options = read_opts,
        .example = "pgqrs message read emails --limit 10\n"
                   "pgqrs --json message read emails --after 1200 --limit 100\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_read,
    },
    {
        .name = "archive",
        .summary = "take the next N messages and archive them",
        .params = "QUEUE",
        .description = TAKE_DESCRIPTION("archives", "archived"),
        .options = take_opts,
        .example = "pgqrs message archive emails --max 10\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_archive,
    },
    {
        .name = "delete",
        .summary = "take the next N messages and delete them",
        .params = "QUEUE",
        .description = TAKE_DESCRIPTION("deletes", "deleted"),
        .options = take_opts,
        .example = "pgqrs message delete emails --max 100\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_delete,
    },
    {
        .name = "release",
        .summary = "take the next N messages and put them back (optionally delayed)",
        .params = "QUEUE",
        .description = TAKE_DESCRIPTION("puts back", "released"),
        .options = release_opts,
        .example = "pgqrs message release emails --max 5 --delay 300\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_release,
    },
    { .name = NULL },
};

const cli_group cli_group_message = {
    .name = "message",
    .summary = "send, list and act on messages",
    .description = "Messages are JSON values. 'send' and 'send-batch' enqueue; 'read' lists\n"
                   "without claiming; 'archive', 'delete' and 'release' take the next visible\n"
                   "messages as a consumer and act on them.\n",
    .commands = message_commands,
};
