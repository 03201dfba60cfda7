/* cmd_workflow.c: `pgqrs workflow list|runs|run get|cancel|trigger|wait|send|
 * events|delete`: inspect the durable workflows of applications and their runs,
 * cancel, trigger and wait for runs, send them messages, read their events, and
 * delete workflows. The CLI defines no handler: runs are executed by the
 * applications' workflow workers. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ---- shared helpers ---- */

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The name of workflow id in l, or NULL. */
static const char *workflow_name(const pgqrs_workflows *l, int64_t id)
{
    for (size_t i = 0; i < pgqrs_workflows_count(l); i++)
        if (pgqrs_workflows_at(l, i)->id == id)
            return pgqrs_workflows_at(l, i)->name;
    return NULL;
}

static json_t *run_json(const pgqrs_run_info *r, const char *workflow)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "workflow_id", json_integer(r->workflow_id));
    json_object_set_new(o, "workflow", str_or_null(workflow));
    json_object_set_new(o, "status", json_string(r->status ? r->status : ""));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_object_set_new(o, "input", cli_payload_json(r->input));
    json_object_set_new(o, "output", cli_payload_json(r->output));
    json_object_set_new(o, "error", cli_payload_json(r->error));
    json_object_set_new(o, "idempotency_key", str_or_null(r->idempotency_key));
    json_object_set_new(o, "created_at", cli_time_json(r->created_at_us));
    json_object_set_new(o, "started_at", cli_time_json(r->started_at_us));
    json_object_set_new(o, "completed_at", cli_time_json(r->completed_at_us));
    json_object_set_new(o, "retry_at", cli_time_json(r->retry_at_us));
    json_object_set_new(o, "cancelled_at", cli_time_json(r->cancelled_at_us));
    json_object_set_new(o, "cancel_reason", str_or_null(r->cancel_reason));
    json_object_set_new(o, "updated_at", cli_time_json(r->updated_at_us));
    return o;
}

static json_t *step_json(const pgqrs_step_info *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "step_id", json_string(s->step_id ? s->step_id : ""));
    json_object_set_new(o, "status", json_string(s->status ? s->status : ""));
    json_object_set_new(o, "attempts", json_integer(s->attempts));
    json_object_set_new(o, "output", cli_payload_json(s->output));
    json_object_set_new(o, "error", cli_payload_json(s->error));
    json_object_set_new(o, "started_at", cli_time_json(s->started_at_us));
    json_object_set_new(o, "completed_at", cli_time_json(s->completed_at_us));
    json_object_set_new(o, "retry_at", cli_time_json(s->retry_at_us));
    return o;
}

/* JSON text for a table cell or a key-value line: one line, at most max
 * characters (UTF-8 aware), "" for NULL. */
static void one_line(const char *text, size_t max_chars, char *out, size_t outlen)
{
    size_t o = 0, chars = 0;
    for (const char *p = text ? text : ""; *p && o + 8 < outlen; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch & 0xC0) != 0x80) {
            if (max_chars && chars == max_chars) {
                memcpy(out + o, "...", 3);
                o += 3;
                break;
            }
            chars++;
        }
        out[o++] = (ch == '\n' || ch == '\r' || ch == '\t') ? ' ' : (char)ch;
    }
    out[o] = '\0';
}

/* Lists the workflows for the id -> name mapping; prints the error on failure. */
static int load_workflows(cli_ctx *ctx, pgqrs_workflows **out)
{
    pgqrs_status st = pgqrs_workflow_list(out, ctx->store);
    return st == PGQRS_OK ? 0 : cli_fail(ctx, st, ctx->store, "cannot list workflows");
}

/* ---- workflow list ---- */

static int run_list(cli_ctx *ctx, const cli_args *a)
{
    static const char *const hdr[] = { "ID", "NAME", "QUEUE_ID", "CREATED", "RETRY_POLICY" };
    pgqrs_workflows *l = NULL;
    cli_table *t;
    size_t n;
    int rc;
    (void)a;
    if ((rc = load_workflows(ctx, &l)) != 0)
        return rc;
    n = pgqrs_workflows_count(l);
    if (ctx->json) {
        json_t *o = json_object(), *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            const pgqrs_workflow_info *w = pgqrs_workflows_at(l, i);
            json_t *e = json_object();
            json_object_set_new(e, "id", json_integer(w->id));
            json_object_set_new(e, "name", json_string(w->name));
            json_object_set_new(e, "queue_id", json_integer(w->queue_id));
            char queue[160];
            snprintf(queue, sizeof queue, "workflow:%s", w->name);
            json_object_set_new(e, "queue", json_string(queue));
            json_object_set_new(e, "retry_policy", cli_payload_json(w->retry_policy));
            json_object_set_new(e, "created_at", cli_time_json(w->created_at_us));
            json_array_append_new(arr, e);
        }
        json_object_set_new(o, "workflows", arr);
        pgqrs_workflows_free(l);
        return cli_json_print(o);
    }
    t = cli_table_new(5, hdr);
    for (size_t i = 0; t && i < n; i++) {
        const pgqrs_workflow_info *w = pgqrs_workflows_at(l, i);
        char id[24], qid[24], created[32], policy[256];
        const char *row[] = { id, w->name, qid, created, policy };
        snprintf(id, sizeof id, "%lld", (long long)w->id);
        snprintf(qid, sizeof qid, "%lld", (long long)w->queue_id);
        cli_time_text(w->created_at_us, created, sizeof created);
        one_line(w->retry_policy, 0, policy, sizeof policy);
        if (!cli_table_row(t, row)) {
            cli_table_free(t);
            t = NULL;
        }
    }
    pgqrs_workflows_free(l);
    if (!t)
        return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory");
    cli_table_print(t, stdout);
    return 0;
}

/* ---- workflow runs ---- */

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --since: whole seconds ago ("3600"), or an ISO 8601 UTC time: "2025-05-01",
 * "2025-05-01T12:00:00", with optional ".ffffff" and "Z" or "+HH:MM"/"-HH:MM"
 * ("T" may be a space). */
/* Exactly `len` ASCII digits at p, as a number (no sign, no spaces). */
static bool fixed_digits(const char *p, int len, int *out)
{
    int v = 0;
    for (int i = 0; i < len; i++) {
        if (!isdigit((unsigned char)p[i]))
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

static bool parse_since(const char *s, int64_t *out)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    int64_t frac = 0, t;
    const char *p;
    if (all_digits(s)) {
        char *end;
        long long ago = strtoll(s, &end, 10);
        if (ago < 0 || ago > INT64_MAX / 1000000 / 2)
            return false;
        *out = now_us() - (int64_t)ago * 1000000;
        return *out > 0;
    }
    if (!fixed_digits(s, 4, &y) || s[4] != '-' || !fixed_digits(s + 5, 2, &mo) || s[7] != '-' ||
        !fixed_digits(s + 8, 2, &d))
        return false;
    p = s + 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        if (!fixed_digits(p + 1, 2, &h) || p[3] != ':' || !fixed_digits(p + 4, 2, &mi) || p[6] != ':' ||
            !fixed_digits(p + 7, 2, &sec))
            return false;
        p += 9;
        if (*p == '.') {
            int digits = 0;
            for (p++; isdigit((unsigned char)*p); p++, digits++)
                if (digits < 6)
                    frac = frac * 10 + (*p - '0');
            if (digits == 0)
                return false;
            for (; digits < 6; digits++)
                frac *= 10;
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return false;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = (int64_t)timegm(&tm);
    if (t < 0)
        return false;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!fixed_digits(p + 1, 2, &oh) || p[3] != ':' || !fixed_digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        t += (*p == '+' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
        p += 6;
    }
    if (*p)
        return false;
    *out = t * 1000000 + frac;
    return *out > 0;
}

static int run_runs(cli_ctx *ctx, const cli_args *a)
{
    static const char *const hdr[] = { "ID", "WORKFLOW", "STATUS", "ATTEMPTS", "CREATED", "FINISHED", "KEY" };
    pgqrs_run_filter f = PGQRS_RUN_FILTER_INIT;
    pgqrs_workflows *wl = NULL;
    pgqrs_runs *l = NULL;
    const char *since = cli_opt(a, "since"), *status = cli_opt(a, "status");
    char status_up[32];
    int64_t limit;
    pgqrs_status st;
    cli_table *t;
    size_t n;
    int rc;
    if (!cli_opt_int(ctx, a, "limit", 0, 1, INT32_MAX, &limit))
        return CLI_EXIT_USAGE;
    if (since && !parse_since(since, &f.since_us))
        return cli_usage(ctx, "--since must be whole seconds ago or an ISO 8601 time (2025-05-01T12:00:00Z), got '%s'",
                         since);
    if (status) {   /* the states are upper case; accept any case */
        size_t i;
        for (i = 0; status[i] && i + 1 < sizeof status_up; i++)
            status_up[i] = (char)toupper((unsigned char)status[i]);
        status_up[i] = '\0';
        f.status = status[i] ? status : status_up;   /* too long: passed as is, the library rejects it */
    }
    f.workflow = cli_opt(a, "workflow");
    f.limit = (int)limit;
    if ((st = pgqrs_run_list(&l, ctx->store, &f)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, "cannot list runs");
    if ((rc = load_workflows(ctx, &wl)) != 0) {
        pgqrs_runs_free(l);
        return rc;
    }
    n = pgqrs_runs_count(l);
    if (ctx->json) {
        json_t *o = json_object(), *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            const pgqrs_run_info *r = pgqrs_runs_at(l, i);
            json_array_append_new(arr, run_json(r, workflow_name(wl, r->workflow_id)));
        }
        json_object_set_new(o, "runs", arr);
        pgqrs_runs_free(l);
        pgqrs_workflows_free(wl);
        return cli_json_print(o);
    }
    t = cli_table_new(7, hdr);
    for (size_t i = 0; t && i < n; i++) {
        const pgqrs_run_info *r = pgqrs_runs_at(l, i);
        const char *wf = workflow_name(wl, r->workflow_id);
        char id[24], attempts[16], created[32], finished[32], key[160];
        const char *row[] = { id, wf ? wf : "", r->status, attempts, created, finished, key };
        snprintf(id, sizeof id, "%lld", (long long)r->id);
        snprintf(attempts, sizeof attempts, "%d", (int)r->attempts);
        cli_time_text(r->created_at_us, created, sizeof created);
        cli_time_text(r->completed_at_us, finished, sizeof finished);
        one_line(r->idempotency_key, 40, key, sizeof key);
        if (!cli_table_row(t, row)) {
            cli_table_free(t);
            t = NULL;
        }
    }
    pgqrs_runs_free(l);
    pgqrs_workflows_free(wl);
    if (!t)
        return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory");
    cli_table_print(t, stdout);
    return 0;
}

/* ---- workflow run get ---- */

static void kv(const char *key, const char *value)
{
    printf("%-16s %s\n", key, value ? value : "");
}

static void kv_time(const char *key, int64_t us)
{
    char buf[32];
    cli_time_text(us, buf, sizeof buf);
    kv(key, buf);
}

static void kv_json(const char *key, const char *json)
{
    char buf[4096];
    one_line(json, 0, buf, sizeof buf);
    kv(key, buf);
}

static int print_run_text(const pgqrs_run_info *r, const char *workflow, const pgqrs_steps *sl)
{
    static const char *const hdr[] = { "STEP", "STATUS", "ATTEMPTS", "STARTED", "COMPLETED", "OUTPUT" };
    char num[24];
    cli_table *t;
    snprintf(num, sizeof num, "%lld", (long long)r->id);
    kv("id", num);
    kv("workflow", workflow);
    kv("status", r->status);
    snprintf(num, sizeof num, "%d", (int)r->attempts);
    kv("attempts", num);
    kv_json("input", r->input);
    kv_json("output", r->output);
    kv_json("error", r->error);
    kv("idempotency_key", r->idempotency_key);
    kv_time("created_at", r->created_at_us);
    kv_time("started_at", r->started_at_us);
    kv_time("completed_at", r->completed_at_us);
    kv_time("retry_at", r->retry_at_us);
    kv_time("cancelled_at", r->cancelled_at_us);
    kv("cancel_reason", r->cancel_reason);
    printf("\n");
    t = cli_table_new(6, hdr);
    for (size_t i = 0; t && i < pgqrs_steps_count(sl); i++) {
        const pgqrs_step_info *s = pgqrs_steps_at(sl, i);
        char attempts[16], started[32], completed[32], out[512];
        const char *row[] = { s->step_id, s->status, attempts, started, completed, out };
        snprintf(attempts, sizeof attempts, "%d", (int)s->attempts);
        cli_time_text(s->started_at_us, started, sizeof started);
        cli_time_text(s->completed_at_us, completed, sizeof completed);
        one_line(s->status && strcmp(s->status, "ERROR") == 0 ? s->error : s->output, 60, out, sizeof out);
        if (!cli_table_row(t, row)) {
            cli_table_free(t);
            t = NULL;
        }
    }
    if (!t)
        return CLI_EXIT_INTERNAL;
    cli_table_print(t, stdout);
    return 0;
}

static int run_run(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_run_info *r = NULL;
    pgqrs_steps *sl = NULL;
    pgqrs_workflows *wl = NULL;
    pgqrs_status st;
    int64_t id;
    int rc;
    if (a->npos == 0)
        return cli_usage(ctx, "missing command (one of: get)");
    if (strcmp(a->pos[0], "get") != 0)
        return cli_usage(ctx, "unknown command 'run %s' (one of: get)", a->pos[0]);
    if (a->npos < 2)
        return cli_usage(ctx, "missing ID");
    if (!cli_parse_id(ctx, a->pos[1], &id))
        return CLI_EXIT_USAGE;
    if ((st = pgqrs_run_get(&r, ctx->store, id)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if ((st = pgqrs_step_list(&sl, ctx->store, id)) != PGQRS_OK) {
        pgqrs_run_info_free(r);
        return cli_fail(ctx, st, ctx->store, "cannot list the steps");
    }
    if ((rc = load_workflows(ctx, &wl)) != 0) {
        pgqrs_run_info_free(r);
        pgqrs_steps_free(sl);
        return rc;
    }
    if (ctx->json) {
        json_t *o = run_json(r, workflow_name(wl, r->workflow_id)), *arr = json_array();
        for (size_t i = 0; i < pgqrs_steps_count(sl); i++)
            json_array_append_new(arr, step_json(pgqrs_steps_at(sl, i)));
        json_object_set_new(o, "steps", arr);
        rc = cli_json_print(o);
    } else {
        rc = print_run_text(r, workflow_name(wl, r->workflow_id), sl);
        if (rc)
            rc = cli_error(ctx, rc, "out of memory");
    }
    pgqrs_run_info_free(r);
    pgqrs_steps_free(sl);
    pgqrs_workflows_free(wl);
    return rc;
}

/* ---- workflow cancel ---- */

static int run_cancel(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_run_info *r = NULL;
    pgqrs_status st;
    int64_t id;
    if (!cli_parse_id(ctx, a->pos[0], &id))
        return CLI_EXIT_USAGE;
    if ((st = pgqrs_run_cancel(ctx->store, id, cli_opt(a, "reason"))) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, "cannot cancel the run");
    if ((st = pgqrs_run_get(&r, ctx->store, id)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "status", json_string(r->status));
        json_object_set_new(o, "cancel_reason", str_or_null(r->cancel_reason));
        pgqrs_run_info_free(r);
        return cli_json_print(o);
    }
    if (strcmp(r->status, "CANCELLING") == 0)
        printf("run %lld is CANCELLING: its worker stops it at the next step boundary\n", (long long)id);
    else
        printf("run %lld is %s\n", (long long)id, r->status);
    pgqrs_run_info_free(r);
    return 0;
}

/* ---- workflow trigger ---- */

static int run_trigger(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_trigger_options opts = PGQRS_TRIGGER_OPTIONS_INIT;
    const char *name = a->pos[0], *input = NULL;
    char *owned = NULL;
    int64_t id = 0;
    int created = 0;
    pgqrs_status st;
    if (a->npos == 2 && strcmp(a->pos[1], "-") == 0) {
        size_t len;
        if (!(owned = cli_read_all(stdin, &len)))
            return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory reading stdin");
        if (strlen(owned) != len) {
            free(owned);
            return cli_error(ctx, CLI_EXIT_INVALID, "the input on stdin contains a NUL byte");
        }
        input = owned;
    } else if (a->npos == 2) {
        input = a->pos[1];
    }
    if (input && input[strspn(input, " \t\r\n")] == '\0') {
        free(owned);
        return cli_error(ctx, CLI_EXIT_INVALID, "the input is empty (give a JSON value, or no INPUT for none)");
    }
    opts.idempotency_key = cli_opt(a, "key");
    st = pgqrs_workflow_trigger(&id, &created, ctx->store, name, input, &opts);
    free(owned);
    if (st != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, "cannot trigger");
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "workflow", json_string(name));
        json_object_set_new(o, "created", json_boolean(created));
        return cli_json_print(o);
    }
    if (created)
        printf("triggered run %lld of %s\n", (long long)id, name);
    else
        printf("run %lld of %s already exists for key %s\n", (long long)id, name, opts.idempotency_key);
    return 0;
}

/* --timeout S (seconds, fractions allowed) in ms; def_ms when absent. */
static bool timeout_opt(cli_ctx *ctx, const cli_args *a, int64_t def_ms, int64_t *ms)
{
    double s = 0;
    if (!cli_opt(a, "timeout")) {
        *ms = def_ms;
        return true;
    }
    if (!cli_opt_double(ctx, a, "timeout", 0, 0, 31536000.0, &s))
        return false;
    *ms = (int64_t)(s * 1000.0 + 0.5);
    return true;
}

/* ---- workflow wait ---- */

static int run_wait(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_run_info *r = NULL;
    pgqrs_status st;
    int64_t id, ms;
    if (!cli_parse_id(ctx, a->pos[0], &id) || !timeout_opt(ctx, a, -1, &ms))
        return CLI_EXIT_USAGE;
    if ((st = pgqrs_run_wait(&r, ctx->store, id, ms)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, "cannot wait for the run");
    if (ctx->json) {
        json_t *o = run_json(r, NULL);
        json_object_del(o, "workflow");
        pgqrs_run_info_free(r);
        return cli_json_print(o);   /* the status says how it ended */
    }
    {
        char line[512];
        one_line(strcmp(r->status, "SUCCESS") == 0 ? r->output : r->error, 200, line, sizeof line);
        printf("run %lld is %s%s%s\n", (long long)id, r->status, *line ? ": " : "", line);
    }
    if (strcmp(r->status, "SUCCESS") != 0) {
        int rc = cli_error(ctx, CLI_EXIT_CONFLICT, "run %lld ended %s", (long long)id, r->status);
        pgqrs_run_info_free(r);
        return rc;
    }
    pgqrs_run_info_free(r);
    return 0;
}

/* ---- workflow send ---- */

static int run_send(cli_ctx *ctx, const cli_args *a)
{
    const char *msg = a->pos[2];
    char *owned = NULL;
    pgqrs_status st;
    int64_t id;
    if (!cli_parse_id(ctx, a->pos[0], &id))
        return CLI_EXIT_USAGE;
    if (strcmp(msg, "-") == 0) {
        size_t len;
        if (!(owned = cli_read_all(stdin, &len)))
            return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory reading stdin");
        if (strlen(owned) != len) {
            free(owned);
            return cli_error(ctx, CLI_EXIT_INVALID, "the message on stdin contains a NUL byte");
        }
        msg = owned;
    }
    st = pgqrs_run_send(ctx->store, id, a->pos[1], msg);
    free(owned);
    if (st != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, "cannot send");
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "run_id", json_integer(id));
        json_object_set_new(o, "topic", json_string(a->pos[1]));
        json_object_set_new(o, "sent", json_true());
        return cli_json_print(o);
    }
    printf("sent to run %lld on topic %s\n", (long long)id, a->pos[1]);
    return 0;
}

/* ---- workflow events ---- */

static json_t *event_json(const pgqrs_event_info *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "key", json_string(e->key));
    json_object_set_new(o, "value", cli_payload_json(e->value));
    json_object_set_new(o, "updated_at", cli_time_json(e->updated_at_us));
    return o;
}

static int run_events(cli_ctx *ctx, const cli_args *a)
{
    static const char *const hdr[] = { "KEY", "UPDATED", "VALUE" };
    const char *key = cli_opt(a, "wait");
    pgqrs_events *l = NULL;
    pgqrs_run_info *r = NULL;
    pgqrs_status st;
    cli_table *t;
    int64_t id, ms;
    if (!cli_parse_id(ctx, a->pos[0], &id) || !timeout_opt(ctx, a, -1, &ms))
        return CLI_EXIT_USAGE;
    if (cli_opt(a, "timeout") && !key)
        return cli_usage(ctx, "--timeout needs --wait KEY");
    if (key) {
        char *v = NULL;
        if ((st = pgqrs_event_get(&v, ctx->store, id, key, ms)) != PGQRS_OK)
            return cli_fail(ctx, st, ctx->store, "no event");
        if (ctx->json) {
            json_t *o = json_object();
            json_object_set_new(o, "run_id", json_integer(id));
            json_object_set_new(o, "key", json_string(key));
            json_object_set_new(o, "value", cli_payload_json(v));
            pgqrs_free(v);
            return cli_json_print(o);
        }
        printf("%s\n", v);
        pgqrs_free(v);
        return 0;
    }
    /* an unknown run is an error, not an empty list */
    if ((st = pgqrs_run_get(&r, ctx->store, id)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, NULL);
    pgqrs_run_info_free(r);
    if ((st = pgqrs_event_list(&l, ctx->store, id)) != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, "cannot list the events");
    if (ctx->json) {
        json_t *o = json_object(), *arr = json_array();
        for (size_t i = 0; i < pgqrs_events_count(l); i++)
            json_array_append_new(arr, event_json(pgqrs_events_at(l, i)));
        json_object_set_new(o, "run_id", json_integer(id));
        json_object_set_new(o, "events", arr);
        pgqrs_events_free(l);
        return cli_json_print(o);
    }
    t = cli_table_new(3, hdr);
    for (size_t i = 0; t && i < pgqrs_events_count(l); i++) {
        const pgqrs_event_info *e = pgqrs_events_at(l, i);
        char updated[32], value[256];
        const char *row[] = { e->key, updated, value };
        cli_time_text(e->updated_at_us, updated, sizeof updated);
        one_line(e->value, 80, value, sizeof value);
        if (!cli_table_row(t, row)) {
            cli_table_free(t);
            t = NULL;
        }
    }
    pgqrs_events_free(l);
    if (!t)
        return cli_error(ctx, CLI_EXIT_INTERNAL, "out of memory");
    cli_table_print(t, stdout);
    return 0;
}

/* ---- workflow delete ---- */

static int run_delete(cli_ctx *ctx, const cli_args *a)
{
    bool force = cli_flag(a, "force");
    pgqrs_status st = pgqrs_workflow_delete(ctx->store, a->pos[0], force);
    if (st != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, "cannot delete the workflow");
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "workflow", json_string(a->pos[0]));
        json_object_set_new(o, "deleted", json_true());
        json_object_set_new(o, "forced", json_boolean(force));
        return cli_json_print(o);
    }
    printf("deleted workflow %s with its runs and queue\n", a->pos[0]);
    return 0;
}

/* ---- the table ---- */

static const cli_option no_opts[] = {
    { NULL, NULL, NULL },
};

static const cli_option runs_opts[] = {
    { "workflow", "NAME", "Only the runs of workflow NAME (no such workflow: exit 2)." },
    { "status", "STATUS", "Only runs in STATUS: PENDING, RUNNING, SUCCESS, ERROR, CANCELLING or\n"
                          "CANCELLED (any case; another word: exit 4)." },
    { "since", "TIME", "Only runs created at or after TIME: an ISO 8601 UTC time\n"
                       "(2025-05-01, 2025-05-01T12:00:00Z, with an optional +HH:MM offset)\n"
                       "or a whole number of seconds ago (3600: the last hour)." },
    { "limit", "N", "At most N runs (default 100, at most 10000: more is exit 4)." },
    { NULL, NULL, NULL },
};

static const cli_option cancel_opts[] = {
    { "reason", "TEXT", "Recorded with the run as its cancel_reason." },
    { NULL, NULL, NULL },
};

static const cli_option trigger_opts[] = {
    { "key", "KEY", "Idempotency key: a second trigger of the workflow with the same KEY\n"
                    "returns the first run (\"created\": false) instead of creating one." },
    { NULL, NULL, NULL },
};

static const cli_option wait_opts[] = {
    { "timeout", "S", "Give up after S seconds (fractions allowed): exit 3. Default: no limit." },
    { NULL, NULL, NULL },
};

static const cli_option events_opts[] = {
    { "wait", "KEY", "Print only the value of event KEY, waiting until the run sets it\n"
                     "(the run ended without setting it, or none such: exit 2)." },
    { "timeout", "S", "With --wait: give up after S seconds (exit 3). Default: no limit." },
    { NULL, NULL, NULL },
};

static const cli_option delete_opts[] = {
    { "force", NULL, "Delete even while runs are PENDING, RUNNING or CANCELLING." },
    { NULL, NULL, NULL },
};

static const cli_command workflow_commands[] = {
    {
        .name = "list",
        .summary = "list the workflows defined in the database",
        .params = "",
        .description = "Lists every workflow by name: ID, NAME, QUEUE_ID (its queue is\n"
                       "'workflow:NAME'), CREATED, RETRY_POLICY (JSON). Workflows are defined by\n"
                       "applications (pgqrs_workflow_define); the CLI cannot define one. With\n"
                       "--json {\"workflows\": [{\"id\", \"name\", \"queue_id\", \"queue\", \"retry_policy\",\n"
                       "\"created_at\"}]}.\n",
        .options = no_opts,
        .example = "pgqrs workflow list\n",
        .min_pos = 0, .max_pos = 0, .needs_store = true, .run = run_list,
    },
    {
        .name = "runs",
        .summary = "list workflow runs, newest first",
        .params = "",
        .description = "Lists runs newest first: ID, WORKFLOW, STATUS, ATTEMPTS, CREATED, FINISHED,\n"
                       "KEY (idempotency key). Filters combine. With --json {\"runs\": [{\"id\",\n"
                       "\"workflow_id\", \"workflow\", \"status\", \"attempts\", \"input\", \"output\",\n"
                       "\"error\", \"idempotency_key\", \"created_at\", \"started_at\", \"completed_at\",\n"
                       "\"retry_at\", \"cancelled_at\", \"cancel_reason\", \"updated_at\"}]}; input,\n"
                       "output and error are embedded JSON values, absent times null.\n",
        .options = runs_opts,
        .example = "pgqrs workflow runs --workflow checkout --status error --since 3600\n",
        .min_pos = 0, .max_pos = 0, .needs_store = true, .run = run_runs,
    },
    {
        .name = "run",
        .summary = "show one run and its steps ('run get ID')",
        .params = "get ID",
        .description = "Prints the run ID (status, attempts, input, output, last error, times,\n"
                       "cancel reason) and a table of its steps: STEP, STATUS (RUNNING, SUCCESS,\n"
                       "ERROR), ATTEMPTS, STARTED, COMPLETED, OUTPUT (the error for a failed step).\n"
                       "With --json the run's object as in 'workflow runs' plus \"steps\": [{\"step_id\",\n"
                       "\"status\", \"attempts\", \"output\", \"error\", \"started_at\", \"completed_at\",\n"
                       "\"retry_at\"}]. No such run: exit 2.\n",
        .options = no_opts,
        .example = "pgqrs workflow run get 42\npgqrs --json workflow run get 42\n",
        .min_pos = 0, .max_pos = 2, .needs_store = true, .run = run_run,
    },
    {
        .name = "cancel",
        .summary = "cancel a run",
        .params = "ID",
        .description = "A PENDING run (also one sleeping or waiting for a retry) becomes CANCELLED\n"
                       "at once; a RUNNING run becomes CANCELLING and its worker ends it as\n"
                       "CANCELLED at the next step boundary (the step in progress finishes; no\n"
                       "further step starts). Prints the run's new status; with --json {\"id\",\n"
                       "\"status\", \"cancel_reason\"}. A run already finished or cancelling: exit 5;\n"
                       "no such run: exit 2.\n",
        .options = cancel_opts,
        .example = "pgqrs workflow cancel 42 --reason 'customer asked'\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_cancel,
    },
    {
        .name = "trigger",
        .summary = "start a run of an existing workflow",
        .params = "NAME [INPUT]",
        .description = "Creates a PENDING run of workflow NAME with INPUT (a JSON value; '-' reads\n"
                       "it from stdin; none: the run has no input) and enqueues it, atomically. An\n"
                       "application's workflow worker executes it. The workflow must exist (no\n"
                       "such workflow: exit 2); invalid JSON: exit 4. Prints 'triggered run ID of\n"
                       "NAME'; with --json {\"id\", \"workflow\", \"created\"} (\"created\" is false when\n"
                       "--key returned an existing run).\n",
        .options = trigger_opts,
        .example = "pgqrs workflow trigger checkout '{\"order\": 7}' --key order-7\n",
        .min_pos = 1, .max_pos = 2, .needs_store = true, .run = run_trigger,
    },
    {
        .name = "wait",
        .summary = "wait until a run ends",
        .params = "ID",
        .description = "Waits until run ID is SUCCESS, ERROR or CANCELLED (woken by LISTEN/NOTIFY\n"
                       "on PostgreSQL; polling elsewhere), then prints 'run ID is STATUS: OUTPUT'\n"
                       "(the error for a failed run); with --json the run's object as in\n"
                       "'workflow runs'. Exit 0 for SUCCESS, 5 for ERROR or CANCELLED (with\n"
                       "--json 0 for every end: read \"status\"), 3 when --timeout passed first,\n"
                       "2 for no such run.\n",
        .options = wait_opts,
        .example = "pgqrs workflow wait 42 --timeout 30\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_wait,
    },
    {
        .name = "send",
        .summary = "send a JSON message to a run",
        .params = "ID TOPIC JSON",
        .description = "Sends JSON (a JSON value; '-' reads it from stdin; at most 1 MiB) to run ID\n"
                       "on TOPIC: the run's pgqrs_run_recv on that topic receives it, exactly\n"
                       "once, and a run suspended waiting for it is woken at once. Prints 'sent to\n"
                       "run ID on topic TOPIC'; with --json {\"run_id\", \"topic\", \"sent\"}. No such\n"
                       "run: exit 2; a run finished or cancelling: exit 5; invalid JSON, topic or\n"
                       "size: exit 4 (nothing is sent).\n",
        .options = no_opts,
        .example = "pgqrs workflow send 42 approval '{\"approved\": true}'\n",
        .min_pos = 3, .max_pos = 3, .needs_store = true, .run = run_send,
    },
    {
        .name = "events",
        .summary = "list a run's events, or wait for one",
        .params = "ID",
        .description = "Lists the events run ID published (pgqrs_run_set_event; the last write of a\n"
                       "key wins): KEY, UPDATED, VALUE; with --json {\"run_id\", \"events\": [{\"key\",\n"
                       "\"value\", \"updated_at\"}]}. With --wait KEY prints only KEY's value, waiting\n"
                       "for it; with --json {\"run_id\", \"key\", \"value\"}. No such run: exit 2.\n",
        .options = events_opts,
        .example = "pgqrs workflow events 42\npgqrs workflow events 42 --wait progress --timeout 10\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_events,
    },
    {
        .name = "delete",
        .summary = "delete a workflow with its runs and queue",
        .params = "NAME",
        .description = "Deletes workflow NAME with its runs (their steps, messages and events) and\n"
                       "its queue 'workflow:NAME' (messages and archive). Refused while runs are in\n"
                       "flight (exit 5) unless --force; stop the workflow's workers first. Prints\n"
                       "'deleted workflow NAME ...'; with --json {\"workflow\", \"deleted\", \"forced\"}.\n"
                       "No such workflow: exit 2.\n",
        .options = delete_opts,
        .example = "pgqrs workflow delete checkout --force\n",
        .min_pos = 1, .max_pos = 1, .needs_store = true, .run = run_delete,
    },
    { .name = NULL },
};

const cli_group cli_group_workflow = {
    .name = "workflow",
    .summary = "inspect workflows and runs; cancel, trigger, wait for and message runs",
    .description = "Workflows are durable handlers defined by applications (C, or Python's\n"
                   "@pgqrs.workflow); each run is persisted with its steps. These commands\n"
                   "inspect them, cancel, trigger and wait for runs, send runs messages, read\n"
                   "their events, and delete workflows; the runs are executed by the\n"
                   "applications' workflow workers.\n",
    .commands = workflow_commands,
};
