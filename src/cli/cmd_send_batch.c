/* cmd_send_batch.c: `pgqrs message send-batch QUEUE`: JSON lines from stdin,
 * enqueued in chunks of --batch-size, each chunk atomically. Every line is checked
 * before its chunk is sent, so an invalid line stops the run with the chunks
 * before it enqueued and the error naming the line and that count. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

const cli_option cli_send_batch_options[] = {
    { "delay", "SECONDS", "Every message visible only after this many seconds (default 0)." },
    { "batch-size", "N", "Lines per atomic chunk (default 1000, at most 10000)." },
    { NULL, NULL, NULL },
};

typedef struct sender {
    cli_ctx *ctx;
    const char *queue;
    pgqrs_producer *producer;
    int delay;
    char **lines;          /* the current chunk */
    size_t n, cap;
    long long first_line;  /* input line number of lines[0] */
    int64_t sent;
    int64_t *ids;          /* every id, for --json */
    size_t ids_cap;
    cli_progress progress;
    long long total_bytes; /* stdin's size when it is a regular file, else 0 */
} sender;

static void clear_chunk(sender *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->lines[i]);
    s->n = 0;
}

static int flush_chunk(sender *s, long long last_line)
{
    pgqrs_status st;
    if (s->n == 0)
        return 0;
    if (s->ctx->json && (size_t)s->sent + s->n > s->ids_cap) {
        size_t cap = s->ids_cap ? s->ids_cap * 2 : 1024;
        int64_t *nids;
        while (cap < (size_t)s->sent + s->n)
            cap *= 2;
        if (!(nids = realloc(s->ids, cap * sizeof *nids)))
            return cli_error(s->ctx, CLI_EXIT_INTERNAL, "out of memory");
        s->ids = nids;
        s->ids_cap = cap;
    }
    st = pgqrs_enqueue_batch(s->ctx->json ? s->ids + s->sent : NULL, s->producer, (const char *const *)s->lines, s->n, s->delay);
    if (st != PGQRS_OK) {
        char what[160];
        cli_progress_end(&s->progress);
        snprintf(what, sizeof what, "lines %lld-%lld not sent (%lld messages were sent before them)", s->first_line,
                 last_line, (long long)s->sent);
        return cli_fail(s->ctx, st, s->producer, what);
    }
    s->sent += (int64_t)s->n;
    clear_chunk(s);
    if (s->total_bytes > 0) {
        long long pos = (long long)ftello(stdin);
        cli_progress_update(&s->progress, false, "sent %lld messages (%lld%%)", (long long)s->sent,
                            pos > 0 ? pos * 100 / s->total_bytes : 0);
    } else {
        cli_progress_update(&s->progress, false, "sent %lld messages", (long long)s->sent);
    }
    return 0;
}

static int check_line(sender *s, const char *line, size_t len, long long lineno)
{
    json_error_t err;
    json_t *v;
    if (strlen(line) != len) {
        cli_progress_end(&s->progress);
        return cli_error(s->ctx, CLI_EXIT_INVALID, "line %lld: contains a NUL byte (%lld messages were sent before it)",
                         lineno, (long long)s->sent);
    }
    /* the library's own check: any JSON value, big integers allowed */
    v = json_loads(line, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &err);
    if (!v) {
        cli_progress_end(&s->progress);
        return cli_error(s->ctx, CLI_EXIT_INVALID, "line %lld: invalid JSON: %s at column %d (%lld messages were sent before it)",
                         lineno, err.text, err.column, (long long)s->sent);
    }
    json_decref(v);
    return 0;
}

static int add_line(sender *s, const char *line, long long lineno, size_t batch)
{
    char *dup;
    if (s->n == 0)
        s->first_line = lineno;
    if (s->cap < batch) {
        char **nl = realloc(s->lines, batch * sizeof *nl);
        if (!nl)
            return cli_error(s->ctx, CLI_EXIT_INTERNAL, "out of memory");
        s->lines = nl;
        s->cap = batch;
    }
    if (!(dup = strdup(line)))
        return cli_error(s->ctx, CLI_EXIT_INTERNAL, "out of memory");
    s->lines[s->n++] = dup;
    return s->n == batch ? flush_chunk(s, lineno) : 0;
}

static int print_result(const sender *s)
{
    if (s->ctx->json) {
        json_t *o = json_object(), *ids = json_array();
        for (int64_t i = 0; i < s->sent; i++)
            json_array_append_new(ids, json_integer(s->ids[i]));
        json_object_set_new(o, "queue", json_string(s->queue));
        json_object_set_new(o, "count", json_integer(s->sent));
        json_object_set_new(o, "ids", ids);
        return cli_json_print(o);
    }
    printf("sent %lld messages to %s\n", (long long)s->sent, s->queue);
    return 0;
}

int cli_send_batch_run(cli_ctx *ctx, const cli_args *a)
{
    sender s;
    int64_t delay, batch;
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    long long lineno = 0;
    struct stat sb;
    pgqrs_status st;
    int rc;

    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.queue = a->pos[0];
    if (!cli_opt_int(ctx, a, "delay", 0, 0, INT32_MAX, &delay) ||
        !cli_opt_int(ctx, a, "batch-size", 1000, 1, PGQRS_MAX_BATCH_LIMIT, &batch))
        return CLI_EXIT_USAGE;
    s.delay = (int)delay;
    ctx->batch_size = batch > 1000 ? (int)batch : 0;   /* raise the store's limit only when asked */
    if ((rc = cli_open_store(ctx)) != 0)
        return rc;
    if ((st = pgqrs_producer_new(&s.producer, ctx->store, s.queue)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    cli_progress_start(&s.progress);
    if (fstat(fileno(stdin), &sb) == 0 && S_ISREG(sb.st_mode))
        s.total_bytes = (long long)sb.st_size;

    while ((len = getline(&line, &linecap, stdin)) >= 0) {
        size_t l = (size_t)len;
        lineno++;
        while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            line[--l] = '\0';
        if (strlen(line) == l && line[strspn(line, " \t")] == '\0')
            continue;   /* blank */
        if ((rc = check_line(&s, line, l, lineno)) != 0 || (rc = add_line(&s, line, lineno, (size_t)batch)) != 0)
            goto out;
    }
    if (ferror(stdin)) {
        rc = cli_error(ctx, CLI_EXIT_INVALID, "cannot read stdin (%lld messages were sent)", (long long)s.sent);
        goto out;
    }
    if ((rc = flush_chunk(&s, lineno)) != 0)
        goto out;
    cli_progress_end(&s.progress);
    rc = print_result(&s);
out:
    cli_progress_end(&s.progress);
    free(line);
    clear_chunk(&s);
    free(s.lines);
    free(s.ids);
    pgqrs_producer_free(s.producer);
    pgqrs_store_free(ctx->store);
    ctx->store = NULL;
    return rc;
}
