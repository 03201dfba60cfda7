/* api.c: the dispatcher, the JSON API (/api/...) and /metrics. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "queue/dashboard.h"
#include "server/server.h"

int srv_status_http(pgqrs_status st)
{
    switch (st) {
    case PGQRS_ENOTFOUND: return 404;
    case PGQRS_EINVAL: return 400;
    case PGQRS_EEXISTS:
    case PGQRS_ESTATE:
    case PGQRS_ENOTOWNED: return 409;
    case PGQRS_EBUSY:
    case PGQRS_ECONN:
    case PGQRS_ETIMEOUT: return 503;
    default: return 500;
    }
}

void srv_error(srv_resp *resp, const srv_req *req, int status, const char *msg)
{
    bool api = req && req->path && !strncmp(req->path, "/api/", 5);
    pgqrs__buf_free(&resp->body);
    resp->status = status;
    if (api) {
        json_t *j = json_pack("{s:s}", "error", msg && pgqrs__utf8_valid(msg) ? msg : "bad request");
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        resp->content_type = "application/json";
        pgqrs__buf_puts(&resp->body, s ? s : "{\"error\":\"error\"}");
        free(s);
        json_decref(j);
    } else {
        resp->content_type = "text/html; charset=utf-8";
        pgqrs__buf_printf(&resp->body, "<!doctype html><html><head><meta charset=\"utf-8\"><title>%d</title>"
                                       "<link rel=\"stylesheet\" href=\"/static/style.css\"></head><body><main>"
                                       "<h1>%d</h1><p class=\"msg\">", status, status);
        srv_html(&resp->body, msg);
        pgqrs__buf_puts(&resp->body, "</p><p><a href=\"/queues\">Back to the dashboard</a></p></main></body></html>\n");
    }
}

void srv_fail(srv_resp *resp, const srv_req *req, pgqrs_store *store, pgqrs_status st)
{
    int code = srv_status_http(st);
    if (code == 503)
        srv_error(resp, req, code, "the database is busy or unreachable; try again");
    else if (code >= 500)
        srv_error(resp, req, code, "internal error");
    else
        srv_error(resp, req, code, pgqrs_errmsg(store));
}

/* ---- JSON helpers ---- */
static json_t *jtime(int64_t us)
{
    char t[40];
    if (us <= 0)
        return json_null();
    srv_time(t, sizeof t, us);
    return json_string(t);
}
static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }
/* Stored JSON as a value (it was validated when written); a string if it no longer parses. */
static json_t *jjson(const char *s)
{
    json_t *v;
    if (!s)
        return json_null();
    v = json_loads(s, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(s);
}

static void send_json(srv_resp *resp, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_INDENT(1) | JSON_ENSURE_ASCII) : NULL;
    json_decref(j);
    if (!s) {
        resp->status = 500;
        pgqrs__buf_puts(&resp->body, "{\"error\":\"internal error\"}");
    } else {
        resp->status = 200;
        pgqrs__buf_puts(&resp->body, s);
        pgqrs__buf_putc(&resp->body, '\n');
        free(s);
    }
    resp->content_type = "application/json";
}

json_t *srv_json_message(const pgqrs_message *m, const char *state);
json_t *srv_json_message(const pgqrs_message *m, const char *state)
{
    return json_pack("{s:I,s:s,s:o,s:i,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)m->id,
                     "state", state, "payload", jjson(m->payload), "read_count", (int)m->read_count, "priority",
                     (int)m->priority, "unique_key", jstr(m->unique_key), "progress", jjson(m->progress),
                     "enqueued_at", jtime(m->enqueued_at_us), "visible_at", jtime(m->vt_us), "dequeued_at",
                     jtime(m->dequeued_at_us), "archived_at", jtime(m->archived_at_us), "result", jjson(m->result),
                     "cancel_requested_at", jtime(m->cancel_requested_at_us), "producer_worker_id",
                     m->producer_worker_id ? json_integer(m->producer_worker_id) : json_null(),
                     "consumer_worker_id", m->consumer_worker_id ? json_integer(m->consumer_worker_id) : json_null());
}

json_t *srv_json_run(const pgqrs_run_info *r);
json_t *srv_json_run(const pgqrs_run_info *r)
{
    return json_pack("{s:I,s:I,s:s,s:o,s:o,s:o,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)r->id,
                     "workflow_id", (json_int_t)r->workflow_id, "status", r->status, "input", jjson(r->input),
                     "output", jjson(r->output), "error", jjson(r->error), "attempts", (int)r->attempts,
                     "created_at", jtime(r->created_at_us), "started_at", jtime(r->started_at_us), "completed_at",
                     jtime(r->completed_at_us), "cancelled_at", jtime(r->cancelled_at_us), "retry_at",
                     jtime(r->retry_at_us), "cancel_reason", jstr(r->cancel_reason), "idempotency_key",
                     jstr(r->idempotency_key));
}

static const char *const msg_states[] = { "pending", "delayed", "in_flight", "archived", "dead_letter", "cancelled" };
int srv_state_ok(const char *s);
int srv_state_ok(const char *s)
{
    for (size_t i = 0; i < sizeof msg_states / sizeof msg_states[0]; i++)
        if (!strcmp(s, msg_states[i]))
            return 1;
    return 0;
}

/* limit (1..1000, default 100) and after (>= 0) from the query; -1 when malformed. */
int srv_int_param(const srv_req *req, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out);
int srv_int_param(const srv_req *req, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
    const char *v = srv_param_get(req, name);
    char *end;
    long long x;
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    if (strlen(v) > 19)
        return -1;
    x = strtoll(v, &end, 10);
    if (*end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static void api_queues(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    pgqrs_metrics *m = NULL;
    pgqrs_status st = pgqrs_metrics_list(&m, ctx->store, NULL);
    if (st != PGQRS_OK) {
        srv_fail(resp, req, ctx->store, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < pgqrs_metrics_count(m); i++) {
        const pgqrs_queue_metrics *q = pgqrs_metrics_at(m, i);
        json_array_append_new(arr, json_pack("{s:I,s:s,s:I,s:I,s:I,s:f,s:I,s:I}", "id", (json_int_t)q->queue_id,
                                             "name", q->name, "pending", (json_int_t)q->pending, "in_flight",
                                             (json_int_t)q->in_flight, "delayed", (json_int_t)q->delayed,
                                             "oldest_pending_age_seconds", q->oldest_pending_age_us / 1e6,
                                             "dead_letters", (json_int_t)q->dead_lettered, "archived",
                                             (json_int_t)q->archived));
    }
    pgqrs_metrics_free(m);
    send_json(resp, json_pack("{s:o}", "queues", arr));
}

static void api_messages(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    const char *state = srv_param_get(req, "state");
    int64_t after, limit;
    pgqrs_batch *b = NULL;
    if (!state || !*state)
        state = "pending";
    if (!srv_state_ok(state)) {
        srv_error(resp, req, 400, "state must be pending, delayed, in_flight, archived, dead_letter or cancelled");
        return;
    }
    if (srv_int_param(req, "after", 0, 0, INT64_MAX / 2, &after) || srv_int_param(req, "limit", 100, 1, 1000, &limit)) {
        srv_error(resp, req, 400, "after must be >= 0 and limit 1..1000");
        return;
    }
    pgqrs_status st = pgqrs__dash_message_list(&b, ctx->store, req->name, state, after, (int)limit);
    if (st != PGQRS_OK) {
        srv_fail(resp, req, ctx->store, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < pgqrs_batch_count(b); i++)
        json_array_append_new(arr, srv_json_message(pgqrs_batch_at(b, i), state));
    pgqrs_batch_free(b);
    send_json(resp, json_pack("{s:s,s:s,s:o}", "queue", req->name, "state", state, "messages", arr));
}

static void api_workers(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    pgqrs_workers *w = NULL;
    pgqrs_worker_health h = PGQRS_WORKER_HEALTH_INIT;
    pgqrs_status st = pgqrs_worker_list(&w, ctx->store, NULL);
    if (st == PGQRS_OK)
        st = pgqrs_worker_health_get(&h, ctx->store, 0);
    if (st != PGQRS_OK) {
        pgqrs_workers_free(w);
        srv_fail(resp, req, ctx->store, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < pgqrs_workers_count(w); i++) {
        const pgqrs_worker_info *x = pgqrs_workers_at(w, i);
        json_array_append_new(arr, json_pack("{s:I,s:o,s:s,s:i,s:s,s:s,s:o,s:o,s:o}", "id", (json_int_t)x->id,
                                             "queue_id", x->queue_id ? json_integer(x->queue_id) : json_null(),
                                             "hostname", x->hostname ? x->hostname : "", "pid", (int)x->pid, "kind",
                                             x->kind, "status", x->status, "started_at", jtime(x->started_at_us),
                                             "heartbeat_at", jtime(x->heartbeat_at_us), "stopped_at",
                                             jtime(x->stopped_at_us)));
    }
    pgqrs_workers_free(w);
    send_json(resp, json_pack("{s:{s:I,s:I,s:I,s:I,s:I},s:o}", "health", "total", (json_int_t)h.total, "ready",
                              (json_int_t)h.ready, "suspended", (json_int_t)h.suspended, "stopped",
                              (json_int_t)h.stopped, "stale", (json_int_t)h.stale, "workers", arr));
}

static void api_workflows(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    pgqrs_workflows *w = NULL;
    pgqrs_status st = pgqrs_workflow_list(&w, ctx->store);
    if (st != PGQRS_OK) {
        srv_fail(resp, req, ctx->store, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < pgqrs_workflows_count(w); i++) {
        const pgqrs_workflow_info *x = pgqrs_workflows_at(w, i);
        json_array_append_new(arr, json_pack("{s:I,s:s,s:o,s:o}", "id", (json_int_t)x->id, "name", x->name,
                                             "retry_policy", jjson(x->retry_policy), "created_at",
                                             jtime(x->created_at_us)));
    }
    pgqrs_workflows_free(w);
    send_json(resp, json_pack("{s:o}", "workflows", arr));
}

static void api_runs(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    pgqrs_run_filter f = PGQRS_RUN_FILTER_INIT;
    pgqrs_runs *r = NULL;
    int64_t limit;
    f.workflow = srv_param_get(req, "workflow");
    f.status = srv_param_get(req, "status");
    if (f.workflow && !*f.workflow)
        f.workflow = NULL;
    if (f.status && !*f.status)
        f.status = NULL;
    if (srv_int_param(req, "limit", 100, 1, 1000, &limit)) {
        srv_error(resp, req, 400, "limit must be 1..1000");
        return;
    }
    f.limit = (int)limit;
    pgqrs_status st = pgqrs_run_list(&r, ctx->store, &f);
    if (st != PGQRS_OK) {
        srv_fail(resp, req, ctx->store, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < pgqrs_runs_count(r); i++)
        json_array_append_new(arr, srv_json_run(pgqrs_runs_at(r, i)));
    pgqrs_runs_free(r);
    send_json(resp, json_pack("{s:o}", "runs", arr));
}

static void api_run(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    pgqrs_run_info *r = NULL;
    pgqrs_steps *steps = NULL;
    pgqrs_events *ev = NULL;
    pgqrs_runs *kids = NULL;
    pgqrs_status st = pgqrs_run_get(&r, ctx->store, req->id);
    if (st == PGQRS_OK)
        st = pgqrs_step_list(&steps, ctx->store, req->id);
    if (st == PGQRS_OK)
        st = pgqrs_event_list(&ev, ctx->store, req->id);
    if (st == PGQRS_OK)
        st = pgqrs__dash_run_children(&kids, ctx->store, req->id);
    if (st != PGQRS_OK) {
        srv_fail(resp, req, ctx->store, st);
    } else {
        json_t *j = srv_json_run(r), *a = json_array(), *e = json_array(), *k = json_array();
        for (size_t i = 0; i < pgqrs_steps_count(steps); i++) {
            const pgqrs_step_info *s = pgqrs_steps_at(steps, i);
            json_array_append_new(a, json_pack("{s:s,s:s,s:o,s:o,s:i,s:o,s:o,s:o}", "step_id", s->step_id, "status",
                                               s->status, "output", jjson(s->output), "error", jjson(s->error),
                                               "attempts", (int)s->attempts, "started_at", jtime(s->started_at_us),
                                               "completed_at", jtime(s->completed_at_us), "retry_at",
                                               jtime(s->retry_at_us)));
        }
        for (size_t i = 0; i < pgqrs_events_count(ev); i++) {
            const pgqrs_event_info *x = pgqrs_events_at(ev, i);
            json_array_append_new(e, json_pack("{s:s,s:o,s:o}", "key", x->key, "value", jjson(x->value),
                                               "updated_at", jtime(x->updated_at_us)));
        }
        for (size_t i = 0; i < pgqrs_runs_count(kids); i++)
            json_array_append_new(k, srv_json_run(pgqrs_runs_at(kids, i)));
        json_object_set_new(j, "steps", a);
        json_object_set_new(j, "events", e);
        json_object_set_new(j, "children", k);
        send_json(resp, j);
    }
    pgqrs_run_info_free(r);
    pgqrs_steps_free(steps);
    pgqrs_events_free(ev);
    pgqrs_runs_free(kids);
}

static void api_schedules(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    pgqrs_schedules *l = NULL;
    pgqrs_status st = pgqrs_schedule_list(&l, ctx->store);
    if (st != PGQRS_OK) {
        srv_fail(resp, req, ctx->store, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < pgqrs_schedules_count(l); i++) {
        const pgqrs_schedule_info *s = pgqrs_schedules_at(l, i);
        json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:o,s:b,s:o,s:o,s:s,s:s}", "id",
                                             (json_int_t)s->id, "name", s->name, "cron", s->cron, "timezone",
                                             s->timezone, "target_kind", s->queue_id ? "queue" : "workflow", "target",
                                             s->target ? s->target : "", "payload", jjson(s->payload), "paused",
                                             s->paused, "next_at", jtime(s->next_at_us), "last_tick_at",
                                             jtime(s->last_tick_at_us), "overlap", s->overlap, "misfire",
                                             s->misfire));
    }
    pgqrs_schedules_free(l);
    send_json(resp, json_pack("{s:o}", "schedules", arr));
}

void srv_api(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    switch (req->route) {
    case R_API_QUEUES: api_queues(ctx, req, resp); break;
    case R_API_MESSAGES: api_messages(ctx, req, resp); break;
    case R_API_WORKERS: api_workers(ctx, req, resp); break;
    case R_API_WORKFLOWS: api_workflows(ctx, req, resp); break;
    case R_API_RUNS: api_runs(ctx, req, resp); break;
    case R_API_RUN: api_run(ctx, req, resp); break;
    case R_API_SCHEDULES: api_schedules(ctx, req, resp); break;
    default: srv_error(resp, req, 404, "no such page");
    }
}

/* ---- /metrics: Prometheus text exposition format 0.0.4 ---- */
static void family(pgqrs_buf *b, const char *name, const char *type, const char *help)
{
    pgqrs__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void srv_metrics(srv_ctx *ctx, srv_resp *resp)
{
    pgqrs_metrics *m = NULL;
    pgqrs_worker_health h = PGQRS_WORKER_HEALTH_INIT;
    int64_t runs[PGQRS__DASH_N_RUN_STATUSES], workers[PGQRS__DASH_N_WORKER_STATUSES];
    pgqrs_status st = pgqrs_metrics_list(&m, ctx->store, NULL);
    if (st == PGQRS_OK)
        st = pgqrs_worker_health_get(&h, ctx->store, 0);
    if (st == PGQRS_OK)
        st = pgqrs__dash_run_counts(runs, ctx->store);
    if (st == PGQRS_OK)
        st = pgqrs__dash_worker_counts(workers, ctx->store);
    if (st != PGQRS_OK) {
        pgqrs_metrics_free(m);
        srv_fail(resp, NULL, ctx->store, st);
        resp->content_type = "text/plain; charset=utf-8";
        pgqrs__buf_free(&resp->body);
        pgqrs__buf_puts(&resp->body, "# metrics unavailable: the database is busy or unreachable\n");
        return;
    }
    static const struct {
        const char *name, *type, *help;
    } q[] = {
        { "pgqrs_queue_depth", "gauge", "Messages visible now (pending), per queue." },
        { "pgqrs_queue_in_flight", "gauge", "Messages held by a consumer under a live lease, per queue." },
        { "pgqrs_queue_delayed", "gauge", "Messages not yet visible and not held, per queue." },
        { "pgqrs_queue_oldest_pending_age_seconds", "gauge", "Age of the oldest pending message in seconds (0 when none)." },
        { "pgqrs_queue_dead_letters", "gauge", "Dead-lettered messages, per queue." },
        { "pgqrs_queue_archived_total", "counter", "Archived messages kept, per queue (retention lowers it: read as a counter reset)." },
    };
    pgqrs_buf *b = &resp->body;
    size_t n = pgqrs_metrics_count(m);
    for (size_t f = 0; f < sizeof q / sizeof q[0]; f++) {
        family(b, q[f].name, q[f].type, q[f].help);
        for (size_t i = 0; i < n; i++) {
            const pgqrs_queue_metrics *x = pgqrs_metrics_at(m, i);
            pgqrs__buf_printf(b, "%s{queue=\"", q[f].name);
            srv_prom_label(b, x->name);
            switch (f) {
            case 0: pgqrs__buf_printf(b, "\"} %lld\n", (long long)x->pending); break;
            case 1: pgqrs__buf_printf(b, "\"} %lld\n", (long long)x->in_flight); break;
            case 2: pgqrs__buf_printf(b, "\"} %lld\n", (long long)x->delayed); break;
            case 3: pgqrs__buf_printf(b, "\"} %.6f\n", x->oldest_pending_age_us / 1e6); break;
            case 4: pgqrs__buf_printf(b, "\"} %lld\n", (long long)x->dead_lettered); break;
            default: pgqrs__buf_printf(b, "\"} %lld\n", (long long)x->archived); break;
            }
        }
    }
    family(b, "pgqrs_workers", "gauge", "Worker rows by status; stale: not stopped and silent past the zombie threshold.");
    for (int i = 0; i < PGQRS__DASH_N_WORKER_STATUSES; i++)
        pgqrs__buf_printf(b, "pgqrs_workers{status=\"%s\"} %lld\n", pgqrs__dash_worker_statuses[i],
                          (long long)workers[i]);
    pgqrs__buf_printf(b, "pgqrs_workers{status=\"stale\"} %lld\n", (long long)h.stale);
    family(b, "pgqrs_workflow_runs", "gauge", "Workflow runs by status.");
    for (int i = 0; i < PGQRS__DASH_N_RUN_STATUSES; i++)
        pgqrs__buf_printf(b, "pgqrs_workflow_runs{status=\"%s\"} %lld\n", pgqrs__dash_run_statuses[i],
                          (long long)runs[i]);
    pgqrs_metrics_free(m);
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

void srv_handle(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    switch (req->route) {
    case R_STYLE:
        resp->status = 200;
        resp->content_type = "text/css; charset=utf-8";
        pgqrs__buf_puts(&resp->body, srv_style_css);
        return;
    case R_HEALTH:
        resp->status = 200;
        resp->content_type = "text/plain; charset=utf-8";
        pgqrs__buf_puts(&resp->body, "ok\n");
        return;
    case R_METRICS: srv_metrics(ctx, resp); return;
    case R_API_QUEUES: case R_API_MESSAGES: case R_API_WORKERS: case R_API_WORKFLOWS:
    case R_API_RUNS: case R_API_RUN: case R_API_SCHEDULES:
        srv_api(ctx, req, resp);
        return;
    default:
        if (SRV_ROUTE_IS_ACTION(req->route))
            srv_action(ctx, req, resp);
        else
            srv_page(ctx, req, resp);
    }
}
