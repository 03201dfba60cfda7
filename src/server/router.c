/* router.c: the request parser, the route table and the authorization policy.
 * Pure functions (no sockets, no store): fuzz/fuzz_router.c runs them on any
 * input. Every limit is checked before anything is allocated for it. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/text.h"
#include "server/server.h"

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) (%XX; '+' is a space when plus) into a new string of at most
 * max bytes. NULL with *err set: malformed escape, NUL byte, not UTF-8, too long,
 * or out of memory. */
static char *decode(const char *s, size_t n, bool plus, size_t max, const char **err)
{
    char *out;
    size_t o = 0;
    if (n > 3 * max + 3) {
        *err = "parameter too long";
        return NULL;
    }
    if (!(out = pgqrs__malloc(n + 1))) {
        *err = "out of memory";
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            if (i + 2 >= n) {
                pgqrs__free(out);
                *err = "malformed percent escape";
                return NULL;
            }
            int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
            if (a < 0 || b < 0) {
                pgqrs__free(out);
                *err = "malformed percent escape";
                return NULL;
            }
            ch = a * 16 + b;
            i += 2;
        } else if (ch == '+' && plus) {
            ch = ' ';
        }
        if (ch == 0) {
            pgqrs__free(out);
            *err = "NUL byte in the request";
            return NULL;
        }
        out[o++] = (char)ch;
    }
    out[o] = 0;
    if (o > max) {
        pgqrs__free(out);
        *err = "parameter too long";
        return NULL;
    }
    if (!pgqrs__utf8_valid(out)) {
        pgqrs__free(out);
        *err = "not UTF-8";
        return NULL;
    }
    return out;
}

/* Adds the pairs of an application/x-www-form-urlencoded string s[0..n). */
static int parse_pairs(srv_req *req, const char *s, size_t n, const char **msg)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i, eq = (size_t)-1;
        while (j < n && s[j] != '&') {
            if (s[j] == '=' && eq == (size_t)-1)
                eq = j;
            j++;
        }
        if (j > i) {   /* "a&&b" skips the empty pair */
            size_t name_end = eq == (size_t)-1 ? j : eq;
            if (req->nparams >= SRV_MAX_PARAMS) {
                *msg = "too many parameters";
                return 400;
            }
            srv_param *p = &req->params[req->nparams];
            if (!(p->name = decode(s + i, name_end - i, true, SRV_MAX_NAME, msg)))
                return 400;
            if (!(p->value = eq == (size_t)-1 ? decode("", 0, true, SRV_MAX_VALUE, msg)
                                              : decode(s + eq + 1, j - eq - 1, true, SRV_MAX_VALUE, msg))) {
                pgqrs__free(p->name);
                p->name = NULL;
                return 400;
            }
            req->nparams++;
        }
        i = j + 1;
    }
    return 0;
}

/* A positive decimal id of at most 18 digits, else 0. */
static int64_t parse_id(const char *s)
{
    int64_t v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 18)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

typedef struct route_def {
    const char *pattern;   /* segments; ":n" a name, ":i" an id */
    srv_method method;     /* SRV_GET also serves HEAD */
    srv_route route;
} route_def;

static const route_def routes[] = {
    { "", SRV_GET, R_INDEX },
    { "static/style.css", SRV_GET, R_STYLE },
    { "healthz", SRV_GET, R_HEALTH },
    { "metrics", SRV_GET, R_METRICS },
    { "queues", SRV_GET, R_PAGE_QUEUES },
    { "queues/:n", SRV_GET, R_PAGE_MESSAGES },
    { "workers", SRV_GET, R_PAGE_WORKERS },
    { "workflows", SRV_GET, R_PAGE_WORKFLOWS },
    { "runs/:i", SRV_GET, R_PAGE_RUN },
    { "schedules", SRV_GET, R_PAGE_SCHEDULES },
    { "api/queues", SRV_GET, R_API_QUEUES },
    { "api/queues/:n/messages", SRV_GET, R_API_MESSAGES },
    { "api/workers", SRV_GET, R_API_WORKERS },
    { "api/workflows", SRV_GET, R_API_WORKFLOWS },
    { "api/runs", SRV_GET, R_API_RUNS },
    { "api/runs/:i", SRV_GET, R_API_RUN },
    { "api/schedules", SRV_GET, R_API_SCHEDULES },
    { "api/queues/:n/messages/:i/replay", SRV_POST, R_ACT_REPLAY },
    { "api/queues/:n/messages/:i/delete", SRV_POST, R_ACT_DELETE },
    { "api/queues/:n/messages/:i/cancel", SRV_POST, R_ACT_CANCEL_MSG },
    { "api/queues/:n/messages/:i/requeue", SRV_POST, R_ACT_REQUEUE },
    { "api/queues/:n/send", SRV_POST, R_ACT_SEND },
    { "api/queues/:n/replay-dead-letters", SRV_POST, R_ACT_REPLAY_ALL },
    { "api/workers/reclaim", SRV_POST, R_ACT_RECLAIM },
    { "api/runs/:i/cancel", SRV_POST, R_ACT_RUN_CANCEL },
    { "api/schedules/:n/pause", SRV_POST, R_ACT_PAUSE },
    { "api/schedules/:n/resume", SRV_POST, R_ACT_RESUME },
};

/* 1 when the decoded segments match pattern (filling name and id), else 0. */
static int match(const char *pattern, char **segs, int nseg, const char **name, int64_t *id)
{
    int k = 0;
    const char *p = pattern;
    *name = NULL;
    *id = 0;
    if (!*p)
        return nseg == 0;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (k >= nseg)
            return 0;
        if (len == 2 && p[0] == ':' && p[1] == 'n') {
            if (!segs[k][0])
                return 0;
            *name = segs[k];
        } else if (len == 2 && p[0] == ':' && p[1] == 'i') {
            if (!(*id = parse_id(segs[k])))
                return 0;
        } else if (strlen(segs[k]) != len || memcmp(segs[k], p, len) != 0) {
            return 0;
        }
        k++;
        p += len;
        if (*p == '/')
            p++;
    }
    return k == nseg;
}

int srv_parse(srv_req *req, const char *method, const char *uri, const char *body, size_t body_len,
              const char *content_type, const char **msg_out)
{
    static const char *dummy;
    const char **msg = msg_out ? msg_out : &dummy;
    char *segs[SRV_MAX_SEGS] = { 0 };
    int nseg = 0, rc = 0;
    bool method_mismatch = false;
    memset(req, 0, sizeof *req);
    *msg = "";
    if (!method || !uri) {
        *msg = "bad request";
        return 400;
    }
    req->method = !strcmp(method, "GET") ? SRV_GET : !strcmp(method, "HEAD") ? SRV_HEAD
                : !strcmp(method, "POST") ? SRV_POST : SRV_OTHER;
    size_t ulen = strlen(uri);
    if (ulen > SRV_MAX_URI) {
        *msg = "request URI too long";
        return 414;
    }
    if (uri[0] != '/') {
        *msg = "the request URI must be a path";
        return 400;
    }
    if (body_len > SRV_MAX_BODY) {
        *msg = "request body too large";
        return 413;
    }
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : ulen;
    const char *frag = memchr(uri, '#', ulen);
    if (frag && (!q || frag < q))
        plen = (size_t)(frag - uri);
    if (!(req->path = pgqrs__malloc(plen + 1))) {
        *msg = "out of memory";
        return 503;
    }
    memcpy(req->path, uri, plen);
    req->path[plen] = 0;
    /* segments: "/" alone has none; "/a/b" two; an empty one ("//", trailing "/") matches nothing */
    size_t i = 1;
    while (plen > 1 && i <= plen) {
        size_t j = i;
        while (j < plen && uri[j] != '/')
            j++;
        if (nseg >= SRV_MAX_SEGS) {
            *msg = "no such page";
            rc = 404;
            goto done;
        }
        if (!(segs[nseg] = decode(uri + i, j - i, false, SRV_MAX_VALUE, msg))) {
            rc = 400;
            goto done;
        }
        nseg++;
        i = j + 1;
    }
    if (q) {
        const char *qe = uri + ulen;
        if (frag && frag > q)
            qe = frag;
        if ((rc = parse_pairs(req, q + 1, (size_t)(qe - q - 1), msg)) != 0)
            goto done;
    }
    if (req->method == SRV_POST && body && body_len) {
        /* parameters in the body only as a form; JSON clients use the query */
        if (content_type && !strncasecmp(content_type, "application/x-www-form-urlencoded", 33)) {
            if (memchr(body, 0, body_len)) {
                *msg = "NUL byte in the request";
                rc = 400;
                goto done;
            }
            if ((rc = parse_pairs(req, body, body_len, msg)) != 0)
                goto done;
        }
    }
    for (size_t r = 0; r < sizeof routes / sizeof routes[0]; r++) {
        const char *name;
        int64_t id;
        if (!match(routes[r].pattern, segs, nseg, &name, &id))
            continue;
        bool ok = routes[r].method == req->method || (routes[r].method == SRV_GET && req->method == SRV_HEAD);
        if (!ok) {
            method_mismatch = true;
            continue;
        }
        req->route = routes[r].route;
        req->id = id;
        if (name && !(req->name = pgqrs__strdup(name))) {
            *msg = "out of memory";
            rc = 503;
        }
        goto done;
    }
    if (method_mismatch) {
        *msg = "method not allowed";
        rc = 405;
    } else {
        *msg = "no such page";
        rc = 404;
    }
done:
    for (int k = 0; k < nseg; k++)
        pgqrs__free(segs[k]);
    return rc;
}

void srv_req_clear(srv_req *req)
{
    if (!req)
        return;
    for (int i = 0; i < req->nparams; i++) {
        pgqrs__free(req->params[i].name);
        pgqrs__free(req->params[i].value);
    }
    pgqrs__free(req->name);
    pgqrs__free(req->path);
    memset(req, 0, sizeof *req);
}

const char *srv_param_get(const srv_req *req, const char *name)
{
    for (int i = req->nparams - 1; i >= 0; i--)
        if (!strcmp(req->params[i].name, name))
            return req->params[i].value;
    return NULL;
}

/* Constant-time equality of two NUL-terminated strings (the length leaks). */
static bool same_secret(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char d = 0;
    if (!a || !b)
        return false;
    na = strlen(a);
    nb = strlen(b);
    if (na != nb || na == 0)
        return false;
    for (size_t i = 0; i < na; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* The value of cookie name in a Cookie header, copied into out (empty if none). */
static void cookie_value(const char *header, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    out[0] = 0;
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            size_t vl = len - nl - 1;
            if (vl < n) {
                memcpy(out, p + nl + 1, vl);
                out[vl] = 0;
            }
            return;
        }
        p = e ? e + 1 : p + len;
    }
}

/* The host part of a Host header is a loopback name: 127.x.y.z, localhost, [::1]. */
static bool loopback_host(const char *host)
{
    char h[300];
    size_t n;
    if (!host)
        return false;
    n = strlen(host);
    if (n >= sizeof h)
        return false;
    memcpy(h, host, n + 1);
    if (h[0] == '[') {
        char *e = strchr(h, ']');
        if (!e)
            return false;
        *e = 0;
        return !strcmp(h + 1, "::1");
    }
    char *colon = strchr(h, ':');
    if (colon)
        *colon = 0;
    if (!strcasecmp(h, "localhost"))
        return true;
    return !strncmp(h, "127.", 4) && strspn(h, "0123456789.") == strlen(h);
}

int srv_authorize(const srv_policy *pol, const srv_req *req, const srv_headers *h, bool *set_cookie_out,
                  const char **msg_out)
{
    static const char *dummy;
    const char **msg = msg_out ? msg_out : &dummy;
    char cookie[128] = { 0 };
    bool bearer = false, session = false;
    *set_cookie_out = false;
    *msg = "";
    /* no token: loopback only, and a Host that names loopback (a DNS-rebinding
     * page would send its own host name) */
    if (!pol->token && !loopback_host(h->host)) {
        *msg = "the Host header is not a loopback address (start pgqrs serve with a token)";
        return 403;
    }
    if (pol->token) {
        if (h->authorization && !strncasecmp(h->authorization, "Bearer ", 7))
            bearer = same_secret(h->authorization + 7, pol->token);
        if (!bearer && h->x_token)
            bearer = same_secret(h->x_token, pol->token);
        cookie_value(h->cookie, "pgqrs_session", cookie, sizeof cookie);
        session = same_secret(cookie, pol->session);
        if (!bearer && !session) {
            const char *t = srv_param_get(req, "token");
            if (t && same_secret(t, pol->token) && req->method != SRV_POST) {
                *set_cookie_out = true;
                session = true;
            }
        }
        if (!bearer && !session && req->route != R_HEALTH) {
            *msg = "authentication required: open the dashboard with ?token=TOKEN or send Authorization: Bearer";
            return 401;
        }
    }
    if (!SRV_ROUTE_IS_ACTION(req->route))
        return 0;
    if (pol->read_only) {
        *msg = "the dashboard is read-only (--read-only)";
        return 403;
    }
    /* same origin only: a browser says where a request comes from */
    if (h->sec_fetch_site && strcmp(h->sec_fetch_site, "same-origin") != 0 && strcmp(h->sec_fetch_site, "none") != 0) {
        *msg = "cross-origin request refused";
        return 403;
    }
    if (h->origin) {
        const char *o = h->origin;
        if (strncmp(o, "http://", 7) != 0 || !h->host || strcasecmp(o + 7, h->host) != 0) {
            *msg = "cross-origin request refused";
            return 403;
        }
    }
    /* the action token: the configured token as a bearer, or the form field the
     * pages carry (with the session cookie when a token is configured) */
    if (bearer)
        return 0;
    if (same_secret(srv_param_get(req, "csrf"), pol->csrf))
        return 0;
    *msg = "an action needs the token: send Authorization: Bearer TOKEN, or use the dashboard's forms";
    return 403;
}
