/* pages.c: the HTML pages, rendered on the server (every value escaped; no
 * JavaScript). Forms POST to the JSON API's actions with the csrf field and a
 * back=PATH field, which makes the action answer with a redirect here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#include "queue/dashboard.h"
#include "server/server.h"

int srv_state_ok(const char *s);
int srv_int_param(const srv_req *req, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out);

static void head(pgqrs_buf *b, const char *title)
{
    pgqrs__buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    srv_html(b, title);
    pgqrs__buf_puts(b, " - pgqrs</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head><body>\n"
                       "<header><b>pgqrs</b><a href=\"/queues\">Queues</a><a href=\"/workers\">Workers</a>"
                       "<a href=\"/workflows\">Workflows</a><a href=\"/schedules\">Schedules</a>"
                       "<a href=\"/metrics\">Metrics</a></header>\n<main><h1>");
    srv_html(b, title);
    pgqrs__buf_puts(b, "</h1>\n");
}

static void tail(srv_resp *resp)
{
    pgqrs__buf_puts(&resp->body, "</main></body></html>\n");
    resp->status = 200;
    resp->content_type = "text/html; charset=utf-8";
}

/* <form> posting to action (a path, already escaped for a URL) with the csrf
 * and back fields, one button. */
static void form(pgqrs_buf *b, srv_ctx *ctx, const char *action, const char *back, const char *label,
                 const char *extra_fields)
{
    pgqrs__buf_puts(b, "<form class=\"inline\" method=\"post\" action=\"");
    srv_html(b, action);
    pgqrs__buf_puts(b, "\"><input type=\"hidden\" name=\"csrf\" value=\"");
    srv_html(b, ctx->pol->csrf);
    pgqrs__buf_puts(b, "\"><input type=\"hidden\" name=\"back\" value=\"");
    srv_html(b, back);
    pgqrs__buf_puts(b, "\">");
    if (extra_fields)
        pgqrs__buf_puts(b, extra_fields);
    pgqrs__buf_puts(b, "<button type=\"submit\"");
    if (ctx->pol->read_only)
        pgqrs__buf_puts(b, " disabled title=\"read-only\"");
    pgqrs__buf_puts(b, ">");
    srv_html(b, label);
    pgqrs__buf_puts(b, "</button></form>");
}

static void td(pgqrs_buf *b, const char *s)
{
    pgqrs__buf_puts(b, "<td>");
    srv_html(b, s ? s : "");
    pgqrs__buf_puts(b, "</td>");
}
static void tdn(pgqrs_buf *b, long long v) { pgqrs__buf_printf(b, "<td class=\"n\">%lld</td>", v); }
static void tdt(pgqrs_buf *b, int64_t us)
{
    char t[40];
    srv_time(t, sizeof t, us);
    td(b, t);
}
static void tdcode(pgqrs_buf *b, const char *s)
{
    pgqrs__buf_puts(b, "<td><code>");
    srv_html(b, s ? s : "");
    pgqrs__buf_puts(b, "</code></td>");
}
static void tdst(pgqrs_buf *b, const char *s)
{
    pgqrs__buf_puts(b, "<td><span class=\"st ");
    srv_html(b, s);
    pgqrs__buf_puts(b, "\">");
    srv_html(b, s);
    pgqrs__buf_puts(b, "</span></td>");
}

static void page_queues(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    pgqrs_metrics *m = NULL;
    pgqrs_buf *b = &resp->body;
    pgqrs_status st = pgqrs_metrics_list(&m, ctx->store, NULL);
    if (st != PGQRS_OK) {
        srv_fail(resp, req, ctx->store, st);
        return;
    }
    head(b, "Queues");
    pgqrs__buf_puts(b, "<table id=\"queues\"><tr><th>Queue</th><th>Pending</th><th>In flight</th><th>Delayed</th>"
                       "<th>Oldest pending (s)</th><th>Dead letters</th><th>Archived</th></tr>\n");
    for (size_t i = 0; i < pgqrs_metrics_count(m); i++) {
        const pgqrs_queue_metrics *q = pgqrs_metrics_at(m, i);
        pgqrs_buf u = PGQRS_BUF_INIT;
        pgqrs__buf_puts(&u, "/queues/");
        srv_url(&u, q->name);
        pgqrs__buf_puts(b, "<tr><td><a href=\"");
        srv_html(b, u.data);
        pgqrs__buf_puts(b, "\">");
        srv_html(b, q->name);
        pgqrs__buf_puts(b, "</a></td>");
        tdn(b, q->pending);
        tdn(b, q->in_flight);
        tdn(b, q->delayed);
        pgqrs__buf_printf(b, "<td class=\"n\">%.1f</td>", q->oldest_pending_age_us / 1e6);
        pgqrs__buf_puts(b, "<td class=\"n\"><a href=\"");
        srv_html(b, u.data);
        pgqrs__buf_printf(b, "?state=dead_letter\">%lld</a></td>", (long long)q->dead_lettered);
        tdn(b, q->archived);
        pgqrs__buf_puts(b, "</tr>\n");
        pgqrs__buf_free(&u);
    }
    if (pgqrs_metrics_count(m) == 0)
        pgqrs__buf_puts(b, "<tr><td colspan=\"7\">No queues yet.</td></tr>\n");
    pgqrs__buf_puts(b, "</table>\n");
    pgqrs_metrics_free(m);
    tail(resp);
}

static void page_messages(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    static const char *const states[] = { "pending", "delayed", "in_flight", "archived", "dead_letter", "cancelled" };
    const char *state = srv_param_get(req, "state");
    pgqrs_batch *batch = NULL;
    pgqrs_buf *b = &resp->body, qp = PGQRS_BUF_INIT, back = PGQRS_BUF_INIT, act = PGQRS_BUF_INIT;
    int64_t after;
    if (!state || !*state)
        state = "pending";
    if (!srv_state_ok(state)) {
        srv_error(resp, req, 400, "state must be pending, delayed, in_flight, archived, dead_letter or cancelled");
        return;
    }
    if (srv_int_param(req, "after", 0, 0, INT64_MAX / 2, &after)) {
        srv_error(resp, req, 400, "after must be a message id");
        return;
    }
    pgqrs_status st = pgqrs__dash_message_list(&batch, ctx->store, req->name, state, after, 100);
    if (st != PGQRS_OK) {
        srv_fail(resp, req, ctx->store, st);
        return;
    }
    srv_url(&qp, req->name);
    pgqrs__buf_printf(&back, "/queues/%s?state=%s", qp.data ? qp.data : "", state);
    pgqrs_buf title = PGQRS_BUF_INIT;
    pgqrs__buf_printf(&title, "Queue %s: %s", req->name, state);
    head(b, title.data ? title.data : "Queue");
    pgqrs__buf_free(&title);
    pgqrs__buf_puts(b, "<nav class=\"states\">");
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        pgqrs__buf_printf(b, "<a class=\"%s\" href=\"/queues/", strcmp(state, states[i]) ? "" : "on");
        srv_html(b, qp.data);
        pgqrs__buf_printf(b, "?state=%s\">%s</a>", states[i], states[i]);
    }
    pgqrs__buf_puts(b, "</nav>\n");
    if (!strcmp(state, "dead_letter") && pgqrs_batch_count(batch)) {
        pgqrs__buf_printf(&act, "/api/queues/%s/replay-dead-letters", qp.data);
        form(b, ctx, act.data, back.data, "Replay all dead letters", NULL);
        pgqrs__buf_free(&act);
    }
    pgqrs__buf_puts(b, "<table id=\"messages\"><tr><th>Id</th><th>State</th><th>Priority</th><th>Reads</th>"
                       "<th>Enqueued</th><th>Visible at</th><th>Progress</th><th>Payload</th><th>Result</th>"
                       "<th>Actions</th></tr>\n");
    int64_t last = 0;
    for (size_t i = 0; i < pgqrs_batch_count(batch); i++) {
        const pgqrs_message *m = pgqrs_batch_at(batch, i);
        last = m->id;
        pgqrs__buf_printf(b, "<tr id=\"m%lld\">", (long long)m->id);
        tdn(b, m->id);
        tdst(b, state);
        tdn(b, m->priority);
        tdn(b, m->read_count);
        tdt(b, m->enqueued_at_us);
        tdt(b, m->archived_at_us ? m->archived_at_us : m->vt_us);
        tdcode(b, m->progress);
        tdcode(b, m->payload);
        tdcode(b, m->result);
        pgqrs__buf_puts(b, "<td>");
        if (!strcmp(state, "dead_letter")) {
            pgqrs__buf_printf(&act, "/api/queues/%s/messages/%lld/replay", qp.data, (long long)m->id);
            form(b, ctx, act.data, back.data, "Replay", NULL);
            pgqrs__buf_free(&act);
        }
        if (!strcmp(state, "pending") || !strcmp(state, "delayed")) {
            pgqrs__buf_printf(&act, "/api/queues/%s/messages/%lld/cancel", qp.data, (long long)m->id);
            form(b, ctx, act.data, back.data, "Cancel", NULL);
            pgqrs__buf_free(&act);
        }
        if (!strcmp(state, "in_flight") && !m->cancel_requested_at_us) {
            pgqrs__buf_printf(&act, "/api/queues/%s/messages/%lld/cancel", qp.data, (long long)m->id);
            form(b, ctx, act.data, back.data, "Request cancel", NULL);
            pgqrs__buf_free(&act);
        }
        if (!strcmp(state, "cancelled")) {
            pgqrs__buf_printf(&act, "/api/queues/%s/messages/%lld/requeue", qp.data, (long long)m->id);
            form(b, ctx, act.data, back.data, "Requeue", NULL);
            pgqrs__buf_free(&act);
        }
        if (strcmp(state, "in_flight") != 0) {
            pgqrs__buf_printf(&act, "/api/queues/%s/messages/%lld/delete", qp.data, (long long)m->id);
            form(b, ctx, act.data, back.data, "Delete", NULL);
            pgqrs__buf_free(&act);
        }
        pgqrs__buf_puts(b, "</td></tr>\n");
    }
    if (pgqrs_batch_count(batch) == 0)
        pgqrs__buf_puts(b, "<tr><td colspan=\"10\">No messages in this state.</td></tr>\n");
    pgqrs__buf_puts(b, "</table>\n");
    /* send a message to this queue */
    pgqrs__buf_printf(&act, "/api/queues/%s/send", qp.data);
    pgqrs__buf_puts(b, "<h2>Send a message</h2>\n");
    form(b, ctx, act.data, back.data, "Send",
         "<textarea name=\"payload\" rows=\"2\" cols=\"60\" required>{}</textarea> "
         "delay (s) <input type=\"number\" name=\"delay\" value=\"0\" min=\"0\"> ");
    pgqrs__buf_free(&act);
    if (pgqrs_batch_count(batch) == 100) {
        pgqrs__buf_puts(b, "<p><a href=\"");
        srv_html(b, back.data);
        pgqrs__buf_printf(b, "&amp;after=%lld\">Next page</a></p>\n", (long long)last);
    }
    pgqrs_batch_free(batch);
    pgqrs__buf_free(&qp);
    pgqrs__buf_free(&back);
    tail(resp);
}

static void page_workers(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    pgqrs_workers *w = NULL;
    pgqrs_worker_health h = PGQRS_WORKER_HEALTH_INIT;
    pgqrs_buf *b = &resp->body;
    pgqrs_status st = pgqrs_worker_list(&w, ctx->store, NULL);
    if (st == PGQRS_OK)
        st = pgqrs_worker_health_get(&h, ctx->store, 0);
    if (st != PGQRS_OK) {
        pgqrs_workers_free(w);
        srv_fail(resp, req, ctx->store, st);
        return;
    }
    int64_t now = ctx->now_us;
    head(b, "Workers");
    pgqrs__buf_printf(b, "<p id=\"health\">%lld workers: %lld ready, %lld suspended, %lld stopped, "
                         "<b>%lld stale</b> (no heartbeat within the zombie threshold).</p>\n",
                      (long long)h.total, (long long)h.ready, (long long)h.suspended, (long long)h.stopped,
                      (long long)h.stale);
    form(b, ctx, "/api/workers/reclaim", "/workers", "Reclaim zombies", NULL);
    pgqrs__buf_puts(b, "<table id=\"workers\"><tr><th>Id</th><th>Kind</th><th>Status</th><th>Queue id</th>"
                       "<th>Host</th><th>Pid</th><th>Started</th><th>Last heartbeat</th><th>Heartbeat age (s)</th>"
                       "<th>Stopped</th></tr>\n");
    for (size_t i = 0; i < pgqrs_workers_count(w); i++) {
        const pgqrs_worker_info *x = pgqrs_workers_at(w, i);
        pgqrs__buf_puts(b, "<tr>");
        tdn(b, x->id);
        td(b, x->kind);
        tdst(b, x->status);
        if (x->queue_id)
            tdn(b, x->queue_id);
        else
            td(b, "-");
        td(b, x->hostname);
        tdn(b, x->pid);
        tdt(b, x->started_at_us);
        tdt(b, x->heartbeat_at_us);
        pgqrs__buf_printf(b, "<td class=\"n\">%.0f</td>",
                          x->stopped_at_us ? 0.0 : (now - x->heartbeat_at_us) / 1e6);
        tdt(b, x->stopped_at_us);
        pgqrs__buf_puts(b, "</tr>\n");
    }
    pgqrs__buf_puts(b, "</table>\n");
    pgqrs_workers_free(w);
    tail(resp);
}

static void page_workflows(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    static const char *const statuses[] = { "PENDING", "RUNNING", "SUCCESS", "ERROR", "CANCELLING", "CANCELLED" };
    pgqrs_workflows *w = NULL;
    pgqrs_runs *r = NULL;
    pgqrs_run_filter f = PGQRS_RUN_FILTER_INIT;
    pgqrs_buf *b = &resp->body;
    const char *status = srv_param_get(req, "status"), *wf = srv_param_get(req, "workflow");
    f.status = status && *status ? status : NULL;
    f.workflow = wf && *wf ? wf : NULL;
    f.limit = 200;
    pgqrs_status st = pgqrs_workflow_list(&w, ctx->store);
    if (st == PGQRS_OK)
        st = pgqrs_run_list(&r, ctx->store, &f);
    if (st != PGQRS_OK) {
        pgqrs_workflows_free(w);
        srv_fail(resp, req, ctx->store, st);
        return;
    }
    head(b, "Workflows");
    pgqrs__buf_puts(b, "<table id=\"workflows\"><tr><th>Workflow</th><th>Created</th><th>Retry policy</th></tr>\n");
    for (size_t i = 0; i < pgqrs_workflows_count(w); i++) {
        const pgqrs_workflow_info *x = pgqrs_workflows_at(w, i);
        pgqrs__buf_puts(b, "<tr><td><a href=\"/workflows?workflow=");
        pgqrs_buf u = PGQRS_BUF_INIT;
        srv_url(&u, x->name);
        srv_html(b, u.data);
        pgqrs__buf_free(&u);
        pgqrs__buf_puts(b, "\">");
        srv_html(b, x->name);
        pgqrs__buf_puts(b, "</a></td>");
        tdt(b, x->created_at_us);
        tdcode(b, x->retry_policy);
        pgqrs__buf_puts(b, "</tr>\n");
    }
    pgqrs__buf_puts(b, "</table>\n<h2>Runs</h2>\n<nav class=\"states\"><a href=\"/workflows\">all</a>");
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        pgqrs__buf_printf(b, "<a class=\"%s\" href=\"/workflows?status=%s\">%s</a>",
                          f.status && !strcmp(f.status, statuses[i]) ? "on" : "", statuses[i], statuses[i]);
    pgqrs__buf_puts(b, "</nav>\n<table id=\"runs\"><tr><th>Run</th><th>Workflow id</th><th>Status</th>"
                       "<th>Attempts</th><th>Created</th><th>Completed</th><th>Error</th></tr>\n");
    for (size_t i = 0; i < pgqrs_runs_count(r); i++) {
        const pgqrs_run_info *x = pgqrs_runs_at(r, i);
        pgqrs__buf_printf(b, "<tr><td><a href=\"/runs/%lld\">%lld</a></td>", (long long)x->id, (long long)x->id);
        tdn(b, x->workflow_id);
        tdst(b, x->status);
        tdn(b, x->attempts);
        tdt(b, x->created_at_us);
        tdt(b, x->completed_at_us);
        tdcode(b, x->error);
        pgqrs__buf_puts(b, "</tr>\n");
    }
    if (pgqrs_runs_count(r) == 0)
        pgqrs__buf_puts(b, "<tr><td colspan=\"7\">No runs.</td></tr>\n");
    pgqrs__buf_puts(b, "</table>\n");
    pgqrs_workflows_free(w);
    pgqrs_runs_free(r);
    tail(resp);
}

/* one timeline entry */
typedef struct tl_item {
    int64_t at;
    char what[96];
    const char *detail;
} tl_item;

static int tl_cmp(const void *a, const void *b)
{
    const tl_item *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

static void page_run(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    pgqrs_run_info *r = NULL;
    pgqrs_steps *steps = NULL;
    pgqrs_events *ev = NULL;
    pgqrs_runs *kids = NULL;
    pgqrs_buf *b = &resp->body;
    tl_item *tl = NULL;
    char title[64], back[64];
    pgqrs_status st = pgqrs_run_get(&r, ctx->store, req->id);
    if (st == PGQRS_OK)
        st = pgqrs_step_list(&steps, ctx->store, req->id);
    if (st == PGQRS_OK)
        st = pgqrs_event_list(&ev, ctx->store, req->id);
    if (st == PGQRS_OK)
        st = pgqrs__dash_run_children(&kids, ctx->store, req->id);
    if (st != PGQRS_OK) {
        srv_fail(resp, req, ctx->store, st);
        goto done;
    }
    snprintf(title, sizeof title, "Run %lld", (long long)r->id);
    snprintf(back, sizeof back, "/runs/%lld", (long long)r->id);
    head(b, title);
    pgqrs__buf_puts(b, "<table id=\"run\"><tr><th>Status</th>");
    tdst(b, r->status);
    pgqrs__buf_printf(b, "</tr><tr><th>Workflow id</th><td>%lld</td></tr><tr><th>Attempts</th><td>%d</td></tr>",
                      (long long)r->workflow_id, (int)r->attempts);
    pgqrs__buf_puts(b, "<tr><th>Input</th>");
    tdcode(b, r->input);
    pgqrs__buf_puts(b, "</tr><tr><th>Output</th>");
    tdcode(b, r->output);
    pgqrs__buf_puts(b, "</tr><tr><th>Error</th>");
    tdcode(b, r->error);
    pgqrs__buf_puts(b, "</tr><tr><th>Cancel reason</th>");
    td(b, r->cancel_reason);
    pgqrs__buf_puts(b, "</tr></table>\n");
    if (!strcmp(r->status, "PENDING") || !strcmp(r->status, "RUNNING")) {
        char action[64];
        snprintf(action, sizeof action, "/api/runs/%lld/cancel", (long long)r->id);
        form(b, ctx, action, back, "Cancel run", NULL);
    }
    /* the timeline: the run's own moments, each step's start and end, each event */
    size_t ns = pgqrs_steps_count(steps), ne = pgqrs_events_count(ev), nt = 0;
    tl = pgqrs__calloc(4 + 2 * ns + ne, sizeof *tl);
    if (tl) {
        if (r->created_at_us) { tl[nt].at = r->created_at_us; snprintf(tl[nt++].what, 96, "run created"); }
        if (r->started_at_us) { tl[nt].at = r->started_at_us; snprintf(tl[nt++].what, 96, "run started"); }
        if (r->cancelled_at_us) { tl[nt].at = r->cancelled_at_us; snprintf(tl[nt++].what, 96, "run cancelled"); }
        if (r->completed_at_us) {
            tl[nt].at = r->completed_at_us;
            snprintf(tl[nt++].what, 96, "run ended %s", r->status);
        }
        for (size_t i = 0; i < ns; i++) {
            const pgqrs_step_info *s = pgqrs_steps_at(steps, i);
            tl[nt].at = s->started_at_us;
            snprintf(tl[nt++].what, 96, "step %.40s started (attempt %d)", s->step_id, (int)s->attempts);
            if (s->completed_at_us) {
                tl[nt].at = s->completed_at_us;
                tl[nt].detail = s->status[0] == 'E' ? s->error : s->output;
                snprintf(tl[nt++].what, 96, "step %.40s %s", s->step_id, s->status);
            }
        }
        for (size_t i = 0; i < ne; i++) {
            const pgqrs_event_info *e = pgqrs_events_at(ev, i);
            tl[nt].at = e->updated_at_us;
            tl[nt].detail = e->value;
            snprintf(tl[nt++].what, 96, "event %.60s set", e->key);
        }
        qsort(tl, nt, sizeof *tl, tl_cmp);
        pgqrs__buf_puts(b, "<h2>Timeline</h2>\n<ol class=\"timeline\" id=\"timeline\">\n");
        for (size_t i = 0; i < nt; i++) {
            char t[40];
            srv_time(t, sizeof t, tl[i].at);
            pgqrs__buf_printf(b, "<li><code>%s</code> ", t);
            srv_html(b, tl[i].what);
            if (tl[i].detail) {
                pgqrs__buf_puts(b, ": <code>");
                srv_html(b, tl[i].detail);
                pgqrs__buf_puts(b, "</code>");
            }
            pgqrs__buf_puts(b, "</li>\n");
        }
        pgqrs__buf_puts(b, "</ol>\n");
    }
    pgqrs__buf_puts(b, "<h2>Steps</h2>\n<table id=\"steps\"><tr><th>Step</th><th>Status</th><th>Attempts</th>"
                       "<th>Started</th><th>Completed</th><th>Output</th><th>Error</th></tr>\n");
    for (size_t i = 0; i < ns; i++) {
        const pgqrs_step_info *s = pgqrs_steps_at(steps, i);
        pgqrs__buf_puts(b, "<tr>");
        td(b, s->step_id);
        tdst(b, s->status);
        tdn(b, s->attempts);
        tdt(b, s->started_at_us);
        tdt(b, s->completed_at_us);
        tdcode(b, s->output);
        tdcode(b, s->error);
        pgqrs__buf_puts(b, "</tr>\n");
    }
    pgqrs__buf_puts(b, "</table>\n<h2>Events</h2>\n<table id=\"events\"><tr><th>Key</th><th>Value</th><th>Set</th></tr>\n");
    for (size_t i = 0; i < ne; i++) {
        const pgqrs_event_info *e = pgqrs_events_at(ev, i);
        pgqrs__buf_puts(b, "<tr>");
        td(b, e->key);
        tdcode(b, e->value);
        tdt(b, e->updated_at_us);
        pgqrs__buf_puts(b, "</tr>\n");
    }
    pgqrs__buf_puts(b, "</table>\n<h2>Children</h2>\n<table id=\"children\"><tr><th>Run</th><th>Status</th>"
                       "<th>Created</th></tr>\n");
    for (size_t i = 0; i < pgqrs_runs_count(kids); i++) {
        const pgqrs_run_info *k = pgqrs_runs_at(kids, i);
        pgqrs__buf_printf(b, "<tr><td><a href=\"/runs/%lld\">%lld</a></td>", (long long)k->id, (long long)k->id);
        tdst(b, k->status);
        tdt(b, k->created_at_us);
        pgqrs__buf_puts(b, "</tr>\n");
    }
    pgqrs__buf_puts(b, "</table>\n");
    tail(resp);
done:
    pgqrs__free(tl);
    pgqrs_run_info_free(r);
    pgqrs_steps_free(steps);
    pgqrs_events_free(ev);
    pgqrs_runs_free(kids);
}

static void page_schedules(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    pgqrs_schedules *l = NULL;
    pgqrs_buf *b = &resp->body;
    pgqrs_status st = pgqrs_schedule_list(&l, ctx->store);
    if (st != PGQRS_OK) {
        srv_fail(resp, req, ctx->store, st);
        return;
    }
    head(b, "Schedules");
    pgqrs__buf_puts(b, "<table id=\"schedules\"><tr><th>Schedule</th><th>Cron</th><th>Zone</th><th>Target</th>"
                       "<th>State</th><th>Next fire</th><th>Last tick</th><th>Overlap</th><th>Actions</th></tr>\n");
    for (size_t i = 0; i < pgqrs_schedules_count(l); i++) {
        const pgqrs_schedule_info *s = pgqrs_schedules_at(l, i);
        pgqrs_buf act = PGQRS_BUF_INIT, u = PGQRS_BUF_INIT;
        srv_url(&u, s->name);
        pgqrs__buf_puts(b, "<tr>");
        td(b, s->name);
        tdcode(b, s->cron);
        td(b, s->timezone);
        pgqrs__buf_printf(b, "<td>%s ", s->queue_id ? "queue" : "workflow");
        srv_html(b, s->target);
        pgqrs__buf_puts(b, "</td>");
        tdst(b, s->paused ? "paused" : "active");
        tdt(b, s->next_at_us);
        tdt(b, s->last_tick_at_us);
        td(b, s->overlap);
        pgqrs__buf_puts(b, "<td>");
        pgqrs__buf_printf(&act, "/api/schedules/%s/%s", u.data ? u.data : "", s->paused ? "resume" : "pause");
        form(b, ctx, act.data, "/schedules", s->paused ? "Resume" : "Pause", NULL);
        pgqrs__buf_puts(b, "</td></tr>\n");
        pgqrs__buf_free(&act);
        pgqrs__buf_free(&u);
    }
    if (pgqrs_schedules_count(l) == 0)
        pgqrs__buf_puts(b, "<tr><td colspan=\"9\">No schedules.</td></tr>\n");
    pgqrs__buf_puts(b, "</table>\n");
    pgqrs_schedules_free(l);
    tail(resp);
}

void srv_page(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    switch (req->route) {
    case R_INDEX:
        resp->status = 303;
        snprintf(resp->location, sizeof resp->location, "/queues");
        resp->content_type = "text/plain; charset=utf-8";
        return;
    case R_PAGE_QUEUES: page_queues(ctx, req, resp); return;
    case R_PAGE_MESSAGES: page_messages(ctx, req, resp); return;
    case R_PAGE_WORKERS: page_workers(ctx, req, resp); return;
    case R_PAGE_WORKFLOWS: page_workflows(ctx, req, resp); return;
    case R_PAGE_RUN: page_run(ctx, req, resp); return;
    case R_PAGE_SCHEDULES: page_schedules(ctx, req, resp); return;
    default: srv_error(resp, req, 404, "no such page");
    }
}
