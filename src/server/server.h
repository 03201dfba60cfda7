/* server.h: the pieces of `pgqrs serve` (src/server/): the request parser and
 * router (router.c: pure, no sockets or store, so fuzz/fuzz_router.c drives it),
 * the authorization policy, the handlers (api.c: JSON and /metrics; pages.c:
 * HTML; actions.c: POST), and the libmicrohttpd glue with the public
 * pgqrs_server_* calls (http.c). */
#ifndef PGQRS_SERVER_H
#define PGQRS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "pgqrs.h"

/* Request limits (docs/dashboard.md, "Security"). */
#define SRV_MAX_BODY 65536        /* bytes of a POST body: more is 413 */
#define SRV_MAX_URI 4096          /* bytes of path and query: more is 414 */
#define SRV_MAX_PARAMS 32         /* query and form parameters together: more is 400 */
#define SRV_MAX_NAME 64           /* bytes of a parameter name */
#define SRV_MAX_VALUE 1024        /* bytes of a parameter value (decoded) */
#define SRV_MAX_SEGS 8            /* path segments */

typedef enum srv_method { SRV_OTHER = 0, SRV_GET, SRV_HEAD, SRV_POST } srv_method;

typedef enum srv_route {
    R_NONE = 0,
    /* reads */
    R_INDEX, R_STYLE, R_HEALTH, R_METRICS,
    R_PAGE_QUEUES, R_PAGE_MESSAGES, R_PAGE_WORKERS, R_PAGE_WORKFLOWS, R_PAGE_RUN, R_PAGE_SCHEDULES,
    R_API_QUEUES, R_API_MESSAGES, R_API_WORKERS, R_API_WORKFLOWS, R_API_RUNS, R_API_RUN, R_API_SCHEDULES,
    /* actions (POST) */
    R_ACT_REPLAY, R_ACT_DELETE, R_ACT_CANCEL_MSG, R_ACT_REQUEUE, R_ACT_SEND, R_ACT_REPLAY_ALL, R_ACT_RECLAIM, R_ACT_RUN_CANCEL,
    R_ACT_PAUSE, R_ACT_RESUME
} srv_route;
#define SRV_ROUTE_IS_ACTION(r) ((r) >= R_ACT_REPLAY)

typedef struct srv_param {
    char *name;
    char *value;
} srv_param;

/* A parsed request: owns its strings (srv_req_clear). */
typedef struct srv_req {
    srv_method method;
    srv_route route;
    char *name;                  /* the queue or schedule of the route, decoded; or NULL */
    int64_t id;                  /* the message or run of the route; or 0 */
    char *path;                  /* the raw path (no query), for redirects */
    srv_param params[SRV_MAX_PARAMS];
    int nparams;
} srv_req;

/* Parses method, the raw request URI (path and query, as sent) and, for a POST
 * with Content-Type application/x-www-form-urlencoded, the body, then finds the
 * route. Pure: no I/O, no store. Returns 0, or the HTTP status to answer with
 * (400 malformed or over a limit, 404 no such route, 405 wrong method, 413 body,
 * 414 URI); *msg_out (static text) says why. req is always safe to clear. */
int srv_parse(srv_req *req, const char *method, const char *uri, const char *body, size_t body_len,
              const char *content_type, const char **msg_out);
void srv_req_clear(srv_req *req);
/* The value of parameter name (the last one given), or NULL. Borrowed from req. */
const char *srv_param_get(const srv_req *req, const char *name);

/* What the policy looks at: the server's settings and the request's headers
 * (any may be NULL). */
typedef struct srv_policy {
    const char *token;           /* the configured token, or NULL */
    const char *session;         /* the session cookie value the server hands out (random) */
    const char *csrf;            /* the form field value pages carry (random) */
    int read_only;
} srv_policy;
typedef struct srv_headers {
    const char *host, *origin, *sec_fetch_site, *cookie, *authorization, *x_token;
} srv_headers;
/* Decides whether req may proceed: 0, or the HTTP status to refuse with (401 not
 * authenticated, 403 forbidden: cross-origin, read-only, no or bad action token,
 * a Host that is not loopback without a token). *set_cookie_out is set when the
 * request authenticated with ?token= and should get the session cookie (and a
 * redirect that drops the token from the URL). Pure; tokens compared in constant time. */
int srv_authorize(const srv_policy *pol, const srv_req *req, const srv_headers *h, bool *set_cookie_out,
                  const char **msg_out);

/* Escaping: appends s escaped for HTML text and attribute values / for a URL
 * path segment or query value. Return 0, -1 out of memory. */
int srv_html(pgqrs_buf *b, const char *s);
int srv_url(pgqrs_buf *b, const char *s);
/* Appends a Prometheus label value (backslash, double quote and newline escaped). */
int srv_prom_label(pgqrs_buf *b, const char *s);
/* UTC ISO 8601 with milliseconds, "-" for 0. out >= 32 bytes. */
void srv_time(char *out, size_t n, int64_t us);

/* A response being built. */
typedef struct srv_resp {
    int status;
    const char *content_type;    /* static */
    pgqrs_buf body;
    char location[1100];         /* a redirect's target, or "" */
    bool set_cookie;
    const char *allow;           /* 405: the Allow header, static */
} srv_resp;

/* The handlers: fill resp from the store. */
typedef struct srv_ctx {
    pgqrs_store *store;
    const srv_policy *pol;
    int64_t now_us;
} srv_ctx;
void srv_handle(srv_ctx *ctx, const srv_req *req, srv_resp *resp);   /* dispatch (api.c) */
void srv_api(srv_ctx *ctx, const srv_req *req, srv_resp *resp);      /* api.c */
void srv_metrics(srv_ctx *ctx, srv_resp *resp);                      /* api.c */
void srv_page(srv_ctx *ctx, const srv_req *req, srv_resp *resp);     /* pages.c */
void srv_action(srv_ctx *ctx, const srv_req *req, srv_resp *resp);   /* actions.c */
/* A plain error answer: JSON {"error": msg} for /api/, HTML otherwise. */
void srv_error(srv_resp *resp, const srv_req *req, int status, const char *msg);
/* The HTTP status for a library status (4xx for the caller's mistakes, 503 for
 * a database that is busy or unreachable, 500 otherwise) and the text to show:
 * the library's message for 4xx (it names no secret), a generic one for 5xx. */
int srv_status_http(pgqrs_status st);
void srv_fail(srv_resp *resp, const srv_req *req, pgqrs_store *store, pgqrs_status st);

extern const char srv_style_css[];   /* assets.c */

#endif
