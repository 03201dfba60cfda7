/* turso.c: the Turso / libSQL driver: the Hrana-over-HTTP transport (libcurl +
 * jansson), request building for generated accessors, error mapping, retries,
 * codecs, connecting, and what a remote Turso database guarantees. */
#include "drivers/turso.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers/driver.h"

typedef struct pgqrs__hrana pgqrs__hrana;

enum { MAX_ATTEMPTS = 10, BACKOFF_BASE_MS = 10, BACKOFF_CAP_MS = 1000 };

struct pgqrs__hrana {
    CURL *curl;
    struct curl_slist *headers;
    char *pipeline_url;        /* <url>/v2/pipeline: never holds the token */
    char *token;               /* only to scrub it from messages */
    int connect_timeout_ms, request_timeout_ms, busy_timeout_ms;
    size_t max_request_bytes;
    bool has_close;            /* the server keeps streams: close each one we open */
    pgqrs_buf body;            /* the last response */
    bool body_oom;             /* the last response did not fit in memory */
    char curl_err[CURL_ERROR_SIZE];
};

/* A Turso connection: the common part, then the HTTP client. */
typedef struct tu_conn {
    pgqrs_conn base;
    pgqrs__hrana h;
} tu_conn;

static pgqrs__hrana *hrana(pgqrs_conn *c) { return &((tu_conn *)c)->h; }

static _Atomic uint64_t requests_sent;

uint64_t pgqrs__turso_requests_sent(void) { return atomic_load(&requests_sent); }

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- messages -------------------------------------------------------------------- */

/* The token must never reach a message, whatever a server echoes: s is scrubbed
 * whole, before any cut, so no piece of the token survives at a cut. */
static void scrub_text(const char *t, char *s)
{
    char *p;
    size_t n;
    if (!t || strlen(t) < 4)
        return;
    n = strlen(t);
    while ((p = strstr(s, t)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + n, strlen(p + n) + 1);
    }
}

static pgqrs_status fail(pgqrs_conn *c, pgqrs_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static pgqrs_status fail(pgqrs_conn *c, pgqrs_status st, const char *fmt, ...)
{
    char small[PGQRS__MSG_LEN], *msg = small;
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof small && (msg = pgqrs__malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);   /* the whole text, scrubbed before the connection's buffer cuts it */
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (!msg)
        msg = small;
    if (c)
        scrub_text(hrana(c)->token, msg);
    pgqrs__conn_fail(c, st, "%s", msg);
    if (msg != small)
        pgqrs__free(msg);
    return st;
}

/* ---- building a call ---------------------------------------------------------------- */

void pgqrs__tu_start(pgqrs__tu_call *call, pgqrs_conn *c, const char *name, bool write)
{
    memset(call, 0, sizeof *call);
    call->c = c;
    call->name = name;
    call->write = write;
}

pgqrs_status pgqrs__tu_stmt(pgqrs__tu_call *call, const char *sql, int nargs)
{
    json_t *stmt, *args;
    if (!call->stmts && !(call->stmts = json_array()))
        return pgqrs__conn_oom(call->c);
    args = json_array();
    stmt = json_object();
    for (int i = 0; args && i < nargs; i++)
        if (json_array_append_new(args, json_pack("{s:s}", "type", "null")) != 0) {
            json_decref(args);
            args = NULL;
        }
    if (!args || !stmt || json_object_set_new(stmt, "sql", json_string(sql)) != 0 ||
        json_object_set_new(stmt, "want_rows", json_true()) != 0 || json_object_set(stmt, "args", args) != 0 ||
        json_array_append(call->stmts, stmt) != 0) {
        json_decref(args);
        json_decref(stmt);
        return pgqrs__conn_oom(call->c);
    }
    json_decref(stmt);
    call->args = args;   /* borrowed: owned by stmt, which the array owns */
    json_decref(args);
    return PGQRS_OK;
}

static pgqrs_status set_arg(pgqrs__tu_call *call, int idx, json_t *v)
{
    if (!v)
        return pgqrs__conn_oom(call->c);
    if (!call->args || idx < 1 || (size_t)idx > json_array_size(call->args)) {
        json_decref(v);
        return pgqrs__conn_fail(call->c, PGQRS_ERROR, "%s: parameter %d out of range", call->name, idx);
    }
    return json_array_set_new(call->args, (size_t)idx - 1, v) == 0 ? PGQRS_OK : pgqrs__conn_oom(call->c);
}

pgqrs_status pgqrs__tu_arg_i64(pgqrs__tu_call *call, int idx, int64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRId64, v);   /* Hrana integers are decimal strings: no double rounding */
    return set_arg(call, idx, json_pack("{s:s,s:s}", "type", "integer", "value", num));
}

pgqrs_status pgqrs__tu_arg_f64(pgqrs__tu_call *call, int idx, double v)
{
    /* Hrana floats are JSON numbers; jansson writes them with 17 significant digits */
    return set_arg(call, idx, json_pack("{s:s,s:f}", "type", "float", "value", v));
}

pgqrs_status pgqrs__tu_arg_text(pgqrs__tu_call *call, int idx, const char *v)
{
    if (!v)
        return pgqrs__tu_arg_null(call, idx);
    return set_arg(call, idx, json_pack("{s:s,s:s}", "type", "text", "value", v));
}

pgqrs_status pgqrs__tu_arg_null(pgqrs__tu_call *call, int idx)
{
    return set_arg(call, idx, json_pack("{s:s}", "type", "null"));
}

pgqrs_status pgqrs__tu_arg_enum(pgqrs__tu_call *call, int idx, const pgqrs__enum_desc *d, int v)
{
    const char *name = pgqrs__enum_str(d, v);
    if (!name)
        return pgqrs__conn_fail(call->c, PGQRS_EINVAL, "parameter %d: %d is not a %s", idx, v, d->name);
    return pgqrs__tu_arg_text(call, idx, name);
}

size_t pgqrs__tu_nrows(const pgqrs__tu_call *call) { return call->rows ? json_array_size(call->rows) : 0; }

void pgqrs__tu_end(pgqrs__tu_call *call)
{
    json_decref(call->stmts);
    json_decref(call->resp);
    call->stmts = call->resp = call->rows = call->cols = call->args = NULL;
}

pgqrs_status pgqrs__tu_exec_script(pgqrs_conn *c, const char *sql)
{
    (void)sql;
    return pgqrs__conn_fail(c, PGQRS_ENOTSUPPORTED, "migration: the turso backend applies migrations as one batch each "
                                                    "(apply_migration), not as scripts");
}

/* ---- the request ------------------------------------------------------------------ */

static json_t *cond_ok(size_t step) { return json_pack("{s:s,s:I}", "type", "ok", "step", (json_int_t)step); }

/* The pipeline body for the call. A write is one batch:
 *   0 PRAGMA foreign_keys=ON   (a no-op inside a transaction, so before BEGIN; a
 *                               server may give every pipeline a new connection)
 *   1 BEGIN IMMEDIATE          if 0 ok
 *   2..n+1 the statements      each if the previous ok
 *   n+2 COMMIT                 if n+1 ok
 *   n+3 ROLLBACK               if 1 ok and n+2 not ok */
static json_t *build_body(pgqrs__tu_call *call)
{
    json_t *reqs = json_array(), *body;
    size_t n = json_array_size(call->stmts);
    int bad = !reqs;
    if (call->write) {
        json_t *steps = json_array();
        bad |= !steps;
        bad |= json_array_append_new(steps, json_pack("{s:{s:s}}", "stmt", "sql", pgqrs__turso_sql_foreign_keys)) != 0;
        bad |= json_array_append_new(steps, json_pack("{s:o,s:{s:s}}", "condition", cond_ok(0), "stmt", "sql",
                                                      pgqrs__turso_sql_begin)) != 0;
        for (size_t i = 0; i < n; i++)
            bad |= json_array_append_new(steps, json_pack("{s:o,s:O}", "condition", cond_ok(i + 1), "stmt",
                                                          json_array_get(call->stmts, i))) != 0;
        bad |= json_array_append_new(steps, json_pack("{s:o,s:{s:s}}", "condition", cond_ok(n + 1), "stmt", "sql",
                                                      pgqrs__turso_sql_commit)) != 0;
        bad |= json_array_append_new(
                   steps, json_pack("{s:{s:s,s:[o,{s:s,s:o}]},s:{s:s}}", "condition", "type", "and", "conds", cond_ok(1),
                                    "type", "not", "cond", cond_ok(n + 2), "stmt", "sql", pgqrs__turso_sql_rollback)) != 0;
        bad |= json_array_append_new(reqs, json_pack("{s:s,s:{s:o}}", "type", "batch", "batch", "steps", steps)) != 0;
    } else {
        for (size_t i = 0; i < n; i++)
            bad |= json_array_append_new(reqs, json_pack("{s:s,s:O}", "type", "execute", "stmt",
                                                         json_array_get(call->stmts, i))) != 0;
    }
    if (hrana(call->c)->has_close)
        bad |= json_array_append_new(reqs, json_pack("{s:s}", "type", "close")) != 0;
    body = bad ? NULL : json_pack("{s:n,s:o}", "baton", "requests", reqs);
    if (!body)
        json_decref(reqs);
    return body;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    pgqrs__hrana *h = arg;
    if (pgqrs__buf_append(&h->body, p, size * n) == 0)
        return size * n;
    h->body_oom = true;   /* aborts the transfer: reported as ENOMEM, not as a network failure */
    return 0;
}

typedef enum { SENT_OK, NOT_SENT, OUTCOME_UNKNOWN } send_result;

/* POSTs body. *http is the status (0 on a transport failure). A write uses a new
 * TCP connection: libcurl resends a request transparently when a reused
 * connection turns out dead, which for a write the server may have run. */
static send_result post(pgqrs__hrana *h, const char *body, size_t len, bool write, long *http, CURLcode *rc)
{
    long request_bytes = 0;
    *http = 0;
    pgqrs__buf_free(&h->body);
    h->body_oom = false;
    curl_easy_setopt(h->curl, CURLOPT_URL, h->pipeline_url);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h->curl, CURLOPT_FRESH_CONNECT, write ? 1L : 0L);
    h->curl_err[0] = '\0';
    atomic_fetch_add(&requests_sent, 1);
    *rc = curl_easy_perform(h->curl);
    if (*rc == CURLE_OK) {
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, http);
        return SENT_OK;
    }
    if (*rc == CURLE_COULDNT_CONNECT || *rc == CURLE_COULDNT_RESOLVE_HOST || *rc == CURLE_COULDNT_RESOLVE_PROXY)
        return NOT_SENT;
    /* a connect timeout or a failed TLS handshake: no request byte went out */
    if (curl_easy_getinfo(h->curl, CURLINFO_REQUEST_SIZE, &request_bytes) == CURLE_OK && request_bytes == 0)
        return NOT_SENT;
    return OUTCOME_UNKNOWN;
}

static const char *curl_msg(pgqrs__hrana *h, CURLcode rc)
{
    return h->curl_err[0] ? h->curl_err : curl_easy_strerror(rc);
}

/* Maps a Hrana error (code, message) to a status. Codes differ between servers
 * (sqld: SQLITE_CONSTRAINT_UNIQUE, SQLITE_BUSY, ...; tursodb: EXECUTE_ERROR,
 * BATCH_STEP_ERROR, ...), so the message is read too. */
static pgqrs_status map_error(const char *code, const char *msg, bool *busy)
{
    const char *m = msg ? msg : "";
    const char *k = code ? code : "";
    *busy = false;
    if (strstr(k, "BUSY") || strstr(k, "LOCKED") || strstr(m, "database is locked") || strstr(m, "is locked") ||
        strstr(m, "database is busy") || strstr(m, "SQLITE_BUSY") || strstr(m, "SQLITE_LOCKED") ||
        strstr(m, "cannot start a transaction within a transaction")) {
        *busy = true;
        return PGQRS_EBUSY;
    }
    if (strstr(k, "CONSTRAINT_UNIQUE") || strstr(k, "CONSTRAINT_PRIMARYKEY") || strstr(m, "UNIQUE constraint failed") ||
        strstr(m, "PRIMARY KEY constraint failed"))
        return PGQRS_EEXISTS;
    if (strstr(k, "CONSTRAINT_FOREIGNKEY") || strstr(m, "FOREIGN KEY constraint failed"))
        return PGQRS_ENOTFOUND;   /* a referenced queue, worker or run is gone */
    if (strstr(k, "CONSTRAINT") || strstr(m, "constraint failed") || strstr(k, "MISMATCH") ||
        strstr(m, "datatype mismatch") || strstr(k, "TOOBIG") || strstr(m, "too big"))
        return PGQRS_EINVAL;
    if (strstr(k, "NOMEM"))
        return PGQRS_ENOMEM;
    if (strstr(k, "INTERRUPT"))
        return PGQRS_ETIMEOUT;
    return PGQRS_ERROR;
}

static const char *err_field(json_t *err, const char *key)
{
    const char *s = json_string_value(json_object_get(err, key));
    return s ? s : "";
}

/* Reads the response of a call. *retry is set when the failure is transient and
 * nothing was committed (busy/locked before COMMIT succeeded). */
static pgqrs_status read_response(pgqrs__tu_call *call, bool *retry)
{
    pgqrs_conn *c = call->c;
    json_error_t jerr;
    json_t *results, *r0, *res = NULL;
    bool busy = false;
    *retry = false;
    json_decref(call->resp);
    call->rows = call->cols = NULL;
    call->resp = json_loadb(hrana(c)->body.data ? hrana(c)->body.data : "", hrana(c)->body.len, 0, &jerr);
    results = json_object_get(call->resp, "results");
    if (!json_is_array(results))
        return fail(c, PGQRS_ERROR, "%s: malformed Hrana response: %s", call->name,
                    call->resp ? "no results" : jerr.text);
    if (call->write) {
        json_t *b, *steps, *errs;
        size_t n = json_array_size(call->stmts), commit = n + 2;
        r0 = json_array_get(results, 0);
        if (strcmp(json_string_value(json_object_get(r0, "type")) ? json_string_value(json_object_get(r0, "type")) : "",
                   "ok") != 0) {
            json_t *e = json_object_get(r0, "error");
            pgqrs_status st = map_error(err_field(e, "code"), err_field(e, "message"), &busy);
            *retry = busy;   /* the whole batch was refused */
            return fail(c, st, "%s: %s", call->name, err_field(e, "message"));
        }
        b = json_object_get(json_object_get(r0, "response"), "result");
        steps = json_object_get(b, "step_results");
        errs = json_object_get(b, "step_errors");
        for (size_t i = 0; i <= commit; i++) {
            json_t *e = json_array_get(errs, i);
            if (json_is_object(e)) {
                pgqrs_status st = map_error(err_field(e, "code"), err_field(e, "message"), &busy);
                /* a step before COMMIT failed: the ROLLBACK step ran, nothing was written */
                *retry = busy && !json_is_object(json_array_get(steps, commit));
                return fail(c, st, "%s: %s", call->name, err_field(e, "message"));
            }
        }
        if (!json_is_object(json_array_get(steps, commit)))
            return fail(c, PGQRS_ERROR, "%s: the batch did not commit (no step failed)", call->name);
        res = json_array_get(steps, n + 1);
    } else {
        size_t n = json_array_size(call->stmts);
        for (size_t i = 0; i < n; i++) {
            json_t *ri = json_array_get(results, i);
            const char *type = json_string_value(json_object_get(ri, "type"));
            if (!type || strcmp(type, "ok") != 0) {
                json_t *e = json_object_get(ri, "error");
                pgqrs_status st = map_error(err_field(e, "code"), err_field(e, "message"), &busy);
                *retry = busy;   /* reads only: nothing to undo */
                return fail(c, st, "%s: %s", call->name, e ? err_field(e, "message") : "no result");
            }
        }
        res = json_object_get(json_object_get(json_array_get(results, n - 1), "response"), "result");
    }
    call->rows = json_object_get(res, "rows");
    call->cols = json_object_get(res, "cols");
    if (!json_is_array(call->rows))
        return fail(c, PGQRS_ERROR, "%s: malformed Hrana result (no rows)", call->name);
    return PGQRS_OK;
}

/* The server refused the Hrana stream before it ran any of the pipeline (sqld:
 * HTTP 400 "Received an invalid baton" or "... a baton that has already been
 * used" from its baton check, HTTP 500 {"code":"STREAM_EXPIRED"} from its stream
 * lookup; both come before the first request runs). */
static bool stream_refused(long http, const char *body)
{
    return (http == 400 && (strstr(body, "invalid baton") || strstr(body, "baton that has already been used"))) ||
           (http >= 400 && (strstr(body, "STREAM_EXPIRED") || strstr(body, "stream has expired")));
}

static pgqrs_status http_status(pgqrs__tu_call *call, long http, bool *retry, bool *stream)
{
    pgqrs_conn *c = call->c;
    pgqrs__hrana *h = hrana(c);
    char snippet[160], *body;
    /* the body's head, scrubbed before it is cut to the snippet: a token the
     * server echoes across the cut must not leave a piece of itself behind */
    size_t cap = 1024 + (h->token ? strlen(h->token) : 0), n = h->body.len < cap ? h->body.len : cap;
    body = pgqrs__malloc(n + 1);
    if (body) {
        memcpy(body, h->body.data ? h->body.data : "", n);
        body[n] = '\0';
        scrub_text(h->token, body);
    }
    snprintf(snippet, sizeof snippet, "%s", body ? body : "");
    *stream = stream_refused(http, body ? body : "");
    pgqrs__free(body);
    *retry = http == 429 || http == 503;   /* refused before it ran */
    if (*stream) {
        *retry = true;   /* nothing ran: the caller sends it again, on a new stream, once */
        return fail(c, PGQRS_ECONN, "%s: the Turso server refused a new Hrana stream (HTTP %ld: %s); nothing ran",
                    call->name, http, snippet);
    }
    switch (http) {
    case 401: case 403:
        return fail(c, PGQRS_ECONN, "%s: the Turso server refused the auth token (HTTP %ld)", call->name, http);
    case 404:
        return fail(c, PGQRS_ENOTSUPPORTED, "%s: no Hrana endpoint (HTTP 404 for /v2/pipeline): not a libSQL/Turso server?",
                    call->name);
    case 408: case 504:
        return fail(c, PGQRS_ETIMEOUT, "%s: the Turso server timed out (HTTP %ld)%s", call->name, http,
                    call->write ? "; the write's outcome is unknown, it was not replayed" : "");
    case 429:
        return fail(c, PGQRS_EBUSY, "%s: the Turso server is rate limiting (HTTP 429)", call->name);
    case 400:
        return fail(c, PGQRS_EINVAL, "%s: the Turso server rejected the request (HTTP 400): %s", call->name, snippet);
    default:
        return fail(c, http >= 500 ? PGQRS_ECONN : PGQRS_ERROR, "%s: the Turso server answered HTTP %ld: %s", call->name,
                    http, snippet);
    }
}

/* Sleeps before attempt + 1 (capped exponential backoff with jitter, cut to the
 * deadline), logging why at WARN. False: no attempt left (MAX_ATTEMPTS made, or
 * busy_timeout_ms spent). */
static bool backoff(pgqrs_conn *c, int attempt, int64_t deadline)
{
    int64_t left_us, d_us;
    if (attempt + 1 >= MAX_ATTEMPTS || (left_us = deadline - pgqrs__now_us()) <= 0)
        return false;
    d_us = pgqrs__backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS, &c->rng) * 1000;
    if (d_us > left_us)
        d_us = left_us;   /* cut to the deadline: the next attempt is the last */
    pgqrs__logf(c->log, PGQRS_LOG_WARN, "turso.retry", "%s; attempt %d of at most %d in %lld ms",
                pgqrs__conn_msg(c), attempt + 2, (int)MAX_ATTEMPTS, (long long)(d_us / 1000));
    pgqrs__sleep_us(d_us);
    return true;
}

pgqrs_status pgqrs__tu_run(pgqrs__tu_call *call)
{
    pgqrs_conn *c = call->c;
    pgqrs__hrana *h = hrana(c);
    json_t *body;
    char *text;
    size_t len;
    pgqrs_status st = PGQRS_OK;
    int64_t deadline;
    if (!call->stmts || json_array_size(call->stmts) == 0)
        return pgqrs__conn_fail(c, PGQRS_ERROR, "%s: no statement", call->name);
    body = build_body(call);
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return pgqrs__conn_oom(c);
    len = strlen(text);
    if (len > h->max_request_bytes) {
        free(text);
        return pgqrs__conn_fail(c, PGQRS_EINVAL, "%s: the request is %zu bytes, over the limit of %zu (nothing was sent)",
                                call->name, len, h->max_request_bytes);
    }
    deadline = pgqrs__now_us() + (int64_t)h->busy_timeout_ms * 1000;
    for (int attempt = 0, stream_retries = 0;; attempt++) {
        long http = 0;
        CURLcode rc;
        bool retry = false, stream = false;
        send_result sr = post(h, text, len, call->write, &http, &rc);
        if (sr == NOT_SENT) {
            st = fail(c, PGQRS_ECONN, "%s: cannot reach the Turso server: %s", call->name, curl_msg(h, rc));
        } else if (sr == OUTCOME_UNKNOWN && h->body_oom) {
            st = pgqrs__conn_fail(c, PGQRS_ENOMEM, "%s: out of memory reading the response%s", call->name,
                                  call->write ? " (the write may have run; it was not replayed)" : "");
        } else if (sr == OUTCOME_UNKNOWN) {
            /* the request may have run: a write is reported, never replayed */
            st = fail(c, rc == CURLE_OPERATION_TIMEDOUT ? PGQRS_ETIMEOUT : PGQRS_ECONN, "%s: %s%s", call->name,
                      curl_msg(h, rc), call->write ? " (the write's outcome is unknown; it was not replayed)" : "");
        } else if (http != 200) {
            st = http_status(call, http, &retry, &stream);
            if (stream)
                retry = stream_retries++ == 0;   /* a new stream once; refused again: reported */
        } else {
            st = read_response(call, &retry);
        }
        if (st == PGQRS_OK || !retry || !backoff(c, attempt, deadline))
            break;
    }
    free(text);
    return st;
}

/* ---- codecs ------------------------------------------------------------------------ */

static const char *col_name(pgqrs__tu_call *call, int col)
{
    const char *s = json_string_value(json_object_get(json_array_get(call->cols, (size_t)col), "name"));
    return s ? s : "?";
}

static json_t *cell(pgqrs__tu_call *call, size_t r, int col, const char **type)
{
    json_t *v = json_array_get(json_array_get(call->rows, r), (size_t)col);
    *type = json_string_value(json_object_get(v, "type"));
    if (!*type)
        *type = "";
    return v;
}

pgqrs_status pgqrs__tu_get_i64(int64_t *out, bool *has, pgqrs__tu_call *call, size_t r, int col)
{
    const char *type, *s;
    json_t *v = cell(call, r, col, &type);
    char *end;
    long long x;
    *out = 0;
    if (has)
        *has = false;
    if (!v)
        return pgqrs__conn_fail(call->c, PGQRS_ERROR, "%s: no column %d in the result", call->name, col);
    if (strcmp(type, "null") == 0) {
        if (has)
            return PGQRS_OK;
        return pgqrs__conn_fail(call->c, PGQRS_ERROR, "column %s is NULL", col_name(call, col));
    }
    s = json_string_value(json_object_get(v, "value"));
    if (strcmp(type, "integer") != 0 || !s)
        return pgqrs__conn_fail(call->c, PGQRS_ERROR, "column %s is not an integer", col_name(call, col));
    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return pgqrs__conn_fail(call->c, PGQRS_ERROR, "column %s: '%.40s' is not a 64-bit integer", col_name(call, col), s);
    *out = (int64_t)x;
    if (has)
        *has = true;
    return PGQRS_OK;
}

pgqrs_status pgqrs__tu_get_i32(int32_t *out, bool *has, pgqrs__tu_call *call, size_t r, int col)
{
    int64_t v = 0;
    pgqrs_status st = pgqrs__tu_get_i64(&v, has, call, r, col);
    if (st == PGQRS_OK && (v < INT32_MIN || v > INT32_MAX))
        st = pgqrs__conn_fail(call->c, PGQRS_ERROR, "column %s: %" PRId64 " does not fit in 32 bits", col_name(call, col), v);
    *out = st == PGQRS_OK ? (int32_t)v : 0;
    return st;
}

pgqrs_status pgqrs__tu_get_f64(double *out, bool *has, pgqrs__tu_call *call, size_t r, int col)
{
    const char *type;
    json_t *v = cell(call, r, col, &type);
    *out = 0;
    if (has)
        *has = false;
    if (!v)
        return pgqrs__conn_fail(call->c, PGQRS_ERROR, "%s: no column %d in the result", call->name, col);
    if (strcmp(type, "null") == 0) {
        if (has)
            return PGQRS_OK;
        return pgqrs__conn_fail(call->c, PGQRS_ERROR, "column %s is NULL", col_name(call, col));
    }
    if (strcmp(type, "float") == 0 && json_is_number(json_object_get(v, "value"))) {
        *out = json_number_value(json_object_get(v, "value"));
    } else if (strcmp(type, "integer") == 0) {
        int64_t i = 0;
        pgqrs_status st = pgqrs__tu_get_i64(&i, has, call, r, col);
        if (st != PGQRS_OK)
            return st;
        *out = (double)i;
    } else {
        return pgqrs__conn_fail(call->c, PGQRS_ERROR, "column %s is not a number", col_name(call, col));
    }
    if (has)
        *has = true;
    return PGQRS_OK;
}

pgqrs_status pgqrs__tu_get_bool(bool *out, bool *has, pgqrs__tu_call *call, size_t r, int col)
{
    int64_t v = 0;
    pgqrs_status st = pgqrs__tu_get_i64(&v, has, call, r, col);
    *out = v != 0;
    return st;
}

pgqrs_status pgqrs__tu_get_ts(int64_t *out, bool *has, pgqrs__tu_call *call, size_t r, int col)
{
    return pgqrs__tu_get_i64(out, has, call, r, col);
}

pgqrs_status pgqrs__tu_get_text(char **out, bool nullable, pgqrs__tu_call *call, size_t r, int col)
{
    const char *type, *s;
    json_t *v = cell(call, r, col, &type);
    *out = NULL;
    if (!v)
        return pgqrs__conn_fail(call->c, PGQRS_ERROR, "%s: no column %d in the result", call->name, col);
    if (strcmp(type, "null") == 0) {
        if (nullable)
            return PGQRS_OK;
        return pgqrs__conn_fail(call->c, PGQRS_ERROR, "column %s is NULL", col_name(call, col));
    }
    s = json_string_value(json_object_get(v, "value"));
    if (strcmp(type, "text") != 0 || !s)
        return pgqrs__conn_fail(call->c, PGQRS_ERROR, "column %s is not text", col_name(call, col));
    *out = pgqrs__strndup(s, json_string_length(json_object_get(v, "value")));
    return *out ? PGQRS_OK : pgqrs__conn_oom(call->c);
}

pgqrs_status pgqrs__tu_get_json(char **out, bool nullable, pgqrs__tu_call *call, size_t r, int col)
{
    return pgqrs__tu_get_text(out, nullable, call, r, col);
}

pgqrs_status pgqrs__tu_get_enum(int *out, const pgqrs__enum_desc *d, pgqrs__tu_call *call, size_t r, int col)
{
    char *s = NULL;
    pgqrs_status st = pgqrs__tu_get_text(&s, false, call, r, col);
    *out = 0;
    if (st != PGQRS_OK)
        return st;
    *out = pgqrs__enum_parse(d, s);
    if (*out < 0) {
        *out = 0;
        st = pgqrs__conn_fail(call->c, PGQRS_ERROR, "column %s: '%.64s' is not a %s", col_name(call, col), s, d->name);
    }
    pgqrs__free(s);
    return st;
}

/* ---- connecting -------------------------------------------------------------------- */

static void tu_close(pgqrs_conn *c)
{
    pgqrs__hrana *h;
    if (!c)
        return;
    h = hrana(c);
    if (h->curl)
        curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    pgqrs__free(h->pipeline_url);
    if (h->token) {
        memset(h->token, 0, strlen(h->token));
        pgqrs__free(h->token);
    }
    pgqrs__buf_free(&h->body);
    pgqrs__free(c);
}

/* Does the server keep streams (sqld, Turso Cloud: `close` is understood) or is it
 * a minimal Hrana server (tursodb --sync-server: only execute and batch)? Also the
 * first contact: an unreachable server or a refused token fails here. */
static pgqrs_status probe(pgqrs_conn *c)
{
    pgqrs__hrana *h = hrana(c);
    static const char body[] = "{\"baton\":null,\"requests\":[{\"type\":\"close\"}]}";
    long http = 0;
    CURLcode rc;
    send_result sr;
    int64_t deadline = pgqrs__now_us() + (int64_t)h->busy_timeout_ms * 1000;
    /* 429/503 refuse it before it runs: retried as a call's are */
    for (int attempt = 0;; attempt++) {
        sr = post(h, body, sizeof body - 1, false, &http, &rc);
        if (sr != SENT_OK || (http != 429 && http != 503) || !backoff(c, attempt, deadline))
            break;
    }
    if (sr != SENT_OK)
        return fail(c, rc == CURLE_OPERATION_TIMEDOUT ? PGQRS_ETIMEOUT : PGQRS_ECONN,
                    "cannot connect to the Turso server: %s", curl_msg(h, rc));
    if (http == 401 || http == 403)
        return fail(c, PGQRS_ECONN, "the Turso server refused the auth token (HTTP %ld)", http);
    if (http == 404)
        return fail(c, PGQRS_ECONN, "no Hrana endpoint at /v2/pipeline (HTTP 404): not a libSQL/Turso server?");
    if (http == 200) {
        json_t *resp = json_loadb(h->body.data ? h->body.data : "", h->body.len, 0, NULL);
        const char *type = json_string_value(json_object_get(json_array_get(json_object_get(resp, "results"), 0), "type"));
        h->has_close = type && strcmp(type, "ok") == 0;
        json_decref(resp);
        return PGQRS_OK;
    }
    if (http == 400 || http == 500) {
        h->has_close = false;   /* "unknown variant `close`": execute and batch only */
        return PGQRS_OK;
    }
    return fail(c, PGQRS_ECONN, "the Turso server answered the probe with HTTP %ld", http);
}

static pgqrs_status check_foreign_keys(pgqrs_conn *c)
{
    int64_t on = 0;
    pgqrs_status st = c->q->session_foreign_keys(&on, c);
    if (st == PGQRS_OK && on != 1)
        st = pgqrs__conn_fail(c, PGQRS_ENOTSUPPORTED, "the Turso server does not enforce foreign keys");
    return st;
}

static pgqrs_status tu_open(pgqrs_conn **out, const pgqrs__dsn *d, const pgqrs__open_opts *o,
                            const pgqrs__conn_env *env, char *err, size_t errlen)
{
    tu_conn *t;
    pgqrs_conn *c;
    pgqrs__hrana *h;
    pgqrs_buf b = PGQRS_BUF_INIT;
    pgqrs_status st;
    const char *token = d->auth_token;
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, errlen, "libcurl failed to initialise: %s", curl_easy_strerror(curl_init_rc));
        return PGQRS_ERROR;
    }
    t = pgqrs__calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return PGQRS_ENOMEM;
    }
    c = &t->base;
    h = &t->h;
    pgqrs__conn_init(c, &pgqrs__driver_turso, env);
    h->connect_timeout_ms = d->connect_timeout_ms > 0 ? d->connect_timeout_ms
                          : o->connect_timeout_s > 0  ? o->connect_timeout_s * 1000
                                                      : 10000;
    h->request_timeout_ms = d->request_timeout_ms > 0 ? d->request_timeout_ms : 30000;
    h->busy_timeout_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000;
    h->max_request_bytes = (size_t)10 << 20;   /* larger requests are refused before they are sent */
    h->curl = curl_easy_init();
    if (pgqrs__buf_printf(&b, "%s/v2/pipeline", d->url) == 0)
        h->pipeline_url = pgqrs__buf_detach(&b);
    h->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* libcurl otherwise sends "Expect: 100-continue" for bodies over 1 MB and
     * waits up to a second for a server that never answers it */
    if (h->headers)
        h->headers = curl_slist_append(h->headers, "Expect:");
    if (h->headers && token && *token) {
        pgqrs_buf a = PGQRS_BUF_INIT;
        struct curl_slist *l = NULL;
        h->token = pgqrs__strdup(token);
        if (h->token && pgqrs__buf_printf(&a, "Authorization: Bearer %s", token) == 0)
            l = curl_slist_append(h->headers, a.data);
        if (a.data)
            memset(a.data, 0, a.len);
        pgqrs__buf_free(&a);
        if (!l)
            curl_slist_free_all(h->headers);
        h->headers = l;
    }
    if (!h->curl || !h->pipeline_url || !h->headers || (token && *token && !h->token)) {
        tu_close(c);
        snprintf(err, errlen, "out of memory");
        return PGQRS_ENOMEM;
    }
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->curl_err);
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)h->connect_timeout_ms);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)h->request_timeout_ms);
    curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);   /* never resend the token elsewhere */
    curl_easy_setopt(h->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    st = probe(c);
    if (st == PGQRS_OK)
        st = c->q->session_setup(c);
    if (st == PGQRS_OK)
        st = check_foreign_keys(c);
    if (st != PGQRS_OK) {
        snprintf(err, errlen, "%s", c->msg);
        tu_close(c);
        return st;
    }
    *out = c;
    return PGQRS_OK;
}

static pgqrs_status tu_check(const pgqrs__dsn *d, const pgqrs__open_opts *o, char *err, size_t errlen)
{
    (void)d;
    if (o->relaxed_durability) {
        snprintf(err, errlen, "connect options: relaxed_durability is not available on Turso (the server decides "
                              "its durability)");
        return PGQRS_ENOTSUPPORTED;
    }
    return PGQRS_OK;
}

static int tu_pool_limit(const pgqrs__dsn *d)
{
    (void)d;
    return 0;
}

/* Each call is one Hrana request: there is no session a transaction could span. */
static pgqrs_status tu_no_tx(pgqrs_conn *c)
{
    return pgqrs__conn_fail(c, PGQRS_ENOTSUPPORTED, "Turso over HTTP has no transactions across calls");
}

static void tu_capabilities(const pgqrs__dsn *d, pgqrs_capabilities *out)
{
    (void)d;
    out->skip_locked = 0;
    out->multi_process = 0;
    out->transactions = 0;
    out->database_clock = 1;
    out->concurrency_model = "single-writer";
    out->notifications = 0;
}

const pgqrs__driver pgqrs__driver_turso = {
    .name = "turso",
    .q = &pgqrs__queries_turso,
    .database_clock = true,
    .check = tu_check,
    .pool_limit = tu_pool_limit,
    .open = tu_open,
    .ensure = NULL,
    .close = tu_close,
    .tx_begin = tu_no_tx,
    .tx_commit = tu_no_tx,
    .tx_rollback = tu_no_tx,
    .listen = NULL,
    .wait_notify = NULL,
    .capabilities = tu_capabilities,
};
