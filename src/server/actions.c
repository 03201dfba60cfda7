/* actions.c: the POST actions (authorized by srv_authorize before they get here).
 * A form from the pages sends back=PATH and gets a 303 redirect there; an API
 * client gets JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/handle.h"
#include "queue/dashboard.h"
#include "server/server.h"

int srv_int_param(const srv_req *req, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out);


/* A redirect target from a form: a local path, nothing that leaves the site. */
static bool safe_back(const char *b)
{
    if (!b || b[0] != '/' || b[1] == '/' || b[1] == '\\' || strlen(b) >= 1024)
        return false;
    for (const char *p = b; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '\\' || (unsigned char)*p == 0x7f)
            return false;
    return true;
}

static void done(srv_resp *resp, const srv_req *req, json_t *extra)
{
    const char *back = srv_param_get(req, "back");
    if (safe_back(back)) {
        json_decref(extra);
        resp->status = 303;
        snprintf(resp->location, sizeof resp->location, "%s", back);
        resp->content_type = "text/plain; charset=utf-8";
        pgqrs__buf_puts(&resp->body, "done\n");
        return;
    }
    json_t *j = extra ? extra : json_object();
    json_object_set_new(j, "ok", json_true());
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    resp->status = 200;
    resp->content_type = "application/json";
    pgqrs__buf_puts(&resp->body, s ? s : "{\"ok\":true}");
    pgqrs__buf_putc(&resp->body, '\n');
    free(s);
}

void srv_action(srv_ctx *ctx, const srv_req *req, srv_resp *resp)
{
    pgqrs_status st = PGQRS_OK;
    int64_t n = 0, older;
    json_t *extra = NULL;
    switch (req->route) {
    case R_ACT_REPLAY: st = pgqrs_dlq_replay(ctx->store, req->name, req->id); break;
    case R_ACT_DELETE: st = pgqrs__dash_message_remove(ctx->store, req->name, req->id); break;
    case R_ACT_CANCEL_MSG: {
        /* pending or delayed: archived as cancelled; in flight: its worker is asked to stop */
        int outcome = PGQRS_CANCEL_REMOVED;
        st = pgqrs_message_cancel(&outcome, ctx->store, req->name, req->id);
        extra = json_pack("{s:s}", "outcome", outcome == PGQRS_CANCEL_REMOVED ? "cancelled" : "requested");
        break;
    }
    case R_ACT_REQUEUE: st = pgqrs__dash_message_requeue(ctx->store, req->name, req->id); break;
    case R_ACT_SEND: {
        const char *payload = srv_param_get(req, "payload");
        int64_t delay, id = 0;
        pgqrs_producer *p = NULL;
        if (!payload || !*payload || srv_int_param(req, "delay", 0, 0, PGQRS_MAX_DELAY_SECONDS, &delay)) {
            srv_error(resp, req, 400, "send needs payload=JSON and delay 0..31536000 seconds");
            return;
        }
        st = pgqrs_producer_new(&p, ctx->store, req->name);
        if (st == PGQRS_OK) {
            st = pgqrs_enqueue(&id, p, payload, (int)delay);
            if (st != PGQRS_OK)
                pgqrs__copy_err(ctx->store, p, st);   /* the producer's message, on the store */
        }
        pgqrs_producer_free(p);
        extra = json_pack("{s:I}", "id", (json_int_t)id);
        break;
    }
    case R_ACT_REPLAY_ALL:
        st = pgqrs_dlq_replay_all(&n, ctx->store, req->name);
        extra = json_pack("{s:I}", "replayed", (json_int_t)n);
        break;
    case R_ACT_RECLAIM:
        if (srv_int_param(req, "older_than_s", 0, 0, 100L * 365 * 86400, &older)) {
            srv_error(resp, req, 400, "older_than_s must be a number of seconds >= 0");
            return;
        }
        st = pgqrs_worker_reclaim_zombies(&n, ctx->store, older);
        extra = json_pack("{s:I}", "reclaimed", (json_int_t)n);
        break;
    case R_ACT_RUN_CANCEL: {
        const char *reason = srv_param_get(req, "reason");
        st = pgqrs_run_cancel(ctx->store, req->id, reason && *reason ? reason : "cancelled from the dashboard");
        break;
    }
    case R_ACT_PAUSE: st = pgqrs_schedule_pause(ctx->store, req->name); break;
    case R_ACT_RESUME: st = pgqrs_schedule_resume(ctx->store, req->name); break;
    default:
        srv_error(resp, req, 404, "no such action");
        return;
    }
    if (st != PGQRS_OK) {
        json_decref(extra);
        srv_fail(resp, req, ctx->store, st);
        return;
    }
    done(resp, req, extra);
}
