/* output.c: exit codes, one-line errors (scrubbed of DSN secrets), the store
 * connection, JSON documents, times and aligned text tables. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"

int cli_exit_code(pgqrs_status st)
{
    switch (st) {
    case PGQRS_OK: return CLI_EXIT_OK;
    case PGQRS_ENOTFOUND: return CLI_EXIT_NOTFOUND;
    case PGQRS_EINVAL: return CLI_EXIT_INVALID;
    case PGQRS_EEXISTS:
    case PGQRS_ESTATE:
    case PGQRS_ENOTOWNED: return CLI_EXIT_CONFLICT;
    case PGQRS_ENOMEM:
    case PGQRS_EMISUSE: return CLI_EXIT_INTERNAL;
    case PGQRS_ERROR:
    case PGQRS_EBUSY:
    case PGQRS_ECONN:
    case PGQRS_ETIMEOUT:
    case PGQRS_ENOTSUPPORTED:
    default: return CLI_EXIT_DB;
    }
}

/* ---- Secrets of the DSN, scrubbed from every message we print ---- */

#define MAX_SECRETS 8
typedef struct secrets {
    char *s[MAX_SECRETS];
    int n;
} secrets;

static void add_secret(secrets *sec, const char *p, size_t len)
{
    char *raw, *dec;
    size_t j = 0;
    if (len == 0 || sec->n + 2 > MAX_SECRETS)
        return;
    raw = malloc(len + 1);
    dec = malloc(len + 1);
    if (!raw || !dec) {
        free(raw);
        free(dec);
        return;
    }
    memcpy(raw, p, len);
    raw[len] = '\0';
    for (size_t i = 0; i < len; i++) {   /* the percent-decoded form too: libpq decodes it */
        if (raw[i] == '%' && i + 2 < len && isxdigit((unsigned char)raw[i + 1]) &&
            isxdigit((unsigned char)raw[i + 2])) {
            char hex[3] = { raw[i + 1], raw[i + 2], 0 };
            dec[j++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            dec[j++] = raw[i];
        }
    }
    dec[j] = '\0';
    sec->s[sec->n++] = raw;
    if (strcmp(raw, dec) != 0 && j > 0)
        sec->s[sec->n++] = dec;
    else
        free(dec);
}

static void find_secrets(const char *dsn, secrets *sec)
{
    static const char *const keys[] = { "password=", "token=", "authtoken=", "sslpassword=" };
    const char *scheme, *auth, *at, *colon;
    sec->n = 0;
    if (!dsn)
        return;
    /* scheme://user:password@host */
    if ((scheme = strstr(dsn, "://")) != NULL) {
        auth = scheme + 3;
        at = auth + strcspn(auth, "/?#@");
        if (*at == '@') {
            /* the last '@' of the authority: passwords may hold '@' unencoded */
            const char *end = auth + strcspn(auth, "/?#");
            for (const char *q = at; q < end; q++)
                if (*q == '@')
                    at = q;
            colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon)
                add_secret(sec, colon + 1, (size_t)(at - colon - 1));
        }
    }
    /* key=value parameters, in a query string or a keyword/value string */
    for (const char *p = dsn; *p; p++) {
        if (p != dsn && !(p[-1] == '?' || p[-1] == '&' || p[-1] == ' ' || p[-1] == ';'))
            continue;
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            size_t kl = strlen(keys[k]);
            if (strncasecmp(p, keys[k], kl) == 0) {
                const char *v = p + kl;
                add_secret(sec, v, strcspn(v, "& ;#"));
            }
        }
    }
}

/* Copies msg into out, every secret replaced by "***", whitespace runs (newlines
 * included) folded into one space, trimmed. */
static void scrub(const char *msg, const secrets *sec, char *out, size_t outlen)
{
    size_t o = 0;
    bool space = false;
    if (outlen == 0)
        return;
    while (*msg == ' ' || *msg == '\n' || *msg == '\r' || *msg == '\t')
        msg++;
    while (*msg && o + 4 < outlen) {
        bool hit = false;
        for (int i = 0; i < sec->n; i++) {
            size_t l = strlen(sec->s[i]);
            if (strncmp(msg, sec->s[i], l) == 0) {
                if (space)
                    out[o++] = ' ';
                space = false;
                memcpy(out + o, "***", 3);
                o += 3;
                msg += l;
                hit = true;
                break;
            }
        }
        if (hit)
            continue;
        if (*msg == ' ' || *msg == '\n' || *msg == '\r' || *msg == '\t') {
            space = true;
        } else {
            if (space && o + 5 < outlen)
                out[o++] = ' ';
            space = false;
            out[o++] = *msg;
        }
        msg++;
    }
    out[o] = '\0';
}

static void print_scrubbed(const cli_ctx *ctx, const char *text)
{
    secrets sec;
    char clean[2048];
    find_secrets(ctx->dsn, &sec);
    scrub(text, &sec, clean, sizeof clean);
    fprintf(stderr, "%s: %s\n", ctx->prog, clean);
    for (int i = 0; i < sec.n; i++)
        free(sec.s[i]);
}

int cli_fail(const cli_ctx *ctx, pgqrs_status st, const void *handle, const char *what)
{
    char line[2048];
    const char *msg = pgqrs_errmsg(handle);
    int code = cli_exit_code(st);
    if (!msg || !*msg)
        msg = pgqrs_errstr(st);
    if (what)
        snprintf(line, sizeof line, "%s: %s", what, msg);
    else
        snprintf(line, sizeof line, "%s", msg);
    /* A failed query on a database without (or with an outdated) schema: say so. */
    if (st == PGQRS_ERROR && ctx->store && pgqrs_schema_verify(ctx->store) == PGQRS_ESTATE) {
        size_t l = strlen(line);
        snprintf(line + l, sizeof line - l, " (the schema is missing or outdated: run 'pgqrs install')");
        code = CLI_EXIT_CONFLICT;
    }
    print_scrubbed(ctx, line);
    return code;
}

int cli_error(const cli_ctx *ctx, int code, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    print_scrubbed(ctx, line);
    return code;
}

int cli_open_store(cli_ctx *ctx)
{
    pgqrs_connect_options opts = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_status st;
    if (!ctx->dsn || !*ctx->dsn)
        return cli_usage(ctx, "no database given: pass --dsn DSN or set PGQRS_DSN");
    opts.pool_size = 2;               /* one command at a time; one spare */
    opts.heartbeat_interval_s = -1;   /* workers live for one command: no background heartbeat */
    opts.max_batch_size = ctx->batch_size;
    st = pgqrs_connect(&ctx->store, ctx->dsn, &opts);
    if (st != PGQRS_OK)
        return cli_fail(ctx, st, NULL, "cannot open the database");
    return 0;
}

/* ---- JSON ---- */

int cli_json_print(json_t *doc)
{
    int rc;
    if (!doc)
        return CLI_EXIT_INTERNAL;
    rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));
    json_decref(doc);
    if (rc != 0)
        return CLI_EXIT_INTERNAL;
    fputc('\n', stdout);
    return 0;
}

void cli_time_text(int64_t us, char *buf, size_t len)
{
    time_t t;
    struct tm tm;
    if (us == 0 || len == 0) {
        if (len)
            buf[0] = '\0';
        return;
    }
    t = (time_t)(us / 1000000);
    if (us < 0 && us % 1000000)
        t--;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, len, "%lld", (long long)us);
        return;
    }
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *cli_time_json(int64_t us)
{
    char base[40], full[64];
    int64_t frac;
    time_t t;
    struct tm tm;
    if (us == 0)
        return json_null();
    t = (time_t)(us / 1000000);
    frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        t--;
    }
    if (!gmtime_r(&t, &tm))
        return json_integer(us);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(full, sizeof full, "%s.%06lldZ", base, (long long)frac);
    return json_string(full);
}

void cli_duration_text(int64_t us, char *buf, size_t len)
{
    int64_t s = us / 1000000;
    if (s < 60)
        snprintf(buf, len, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(buf, len, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
    else if (s < 86400)
        snprintf(buf, len, "%lldh%lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(buf, len, "%lldd%lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

json_t *cli_payload_json(const char *payload)
{
    json_t *v;
    if (!payload)
        return json_null();
    v = json_loads(payload, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!v)   /* e.g. an integer beyond 64 bits: keep it exact, as text */
        v = json_string(payload);
    return v;
}

static json_t *id_or_null(int64_t id)
{
    return id ? json_integer(id) : json_null();
}

json_t *cli_message_json(const pgqrs_message *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "queue_id", json_integer(m->queue_id));
    json_object_set_new(o, "state", json_string(m->state ? m->state : ""));
    json_object_set_new(o, "read_count", json_integer(m->read_count));
    json_object_set_new(o, "enqueued_at", cli_time_json(m->enqueued_at_us));
    json_object_set_new(o, "visible_at", cli_time_json(m->vt_us));
    json_object_set_new(o, "dequeued_at", cli_time_json(m->dequeued_at_us));
    json_object_set_new(o, "archived_at", cli_time_json(m->archived_at_us));
    json_object_set_new(o, "producer_worker_id", id_or_null(m->producer_worker_id));
    json_object_set_new(o, "consumer_worker_id", id_or_null(m->consumer_worker_id));
    json_object_set_new(o, "payload", cli_payload_json(m->payload));
    json_object_set_new(o, "result", m->result ? cli_payload_json(m->result) : json_null());
    json_object_set_new(o, "progress", m->progress ? cli_payload_json(m->progress) : json_null());
    json_object_set_new(o, "cancel_requested_at", cli_time_json(m->cancel_requested_at_us));
    return o;
}

json_t *cli_queue_json(const pgqrs_queue_info *q)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(q->id));
    json_object_set_new(o, "name", json_string(q->name));
    json_object_set_new(o, "max_attempts", json_integer(q->max_attempts));
    json_object_set_new(o, "created_at", cli_time_json(q->created_at_us));
    json_object_set_new(o, "retry_initial_delay_ms", json_integer(q->retry_initial_delay_ms));
    json_object_set_new(o, "retry_multiplier", json_real(q->retry_multiplier));
    json_object_set_new(o, "retry_max_delay_ms", json_integer(q->retry_max_delay_ms));
    json_object_set_new(o, "retry_jitter", json_real(q->retry_jitter));
    json_object_set_new(o, "concurrency_limit", q->concurrency_limit > 0 ? json_integer(q->concurrency_limit) : json_null());
    json_object_set_new(o, "rate_limit", q->rate_limit > 0 ? json_integer(q->rate_limit) : json_null());
    json_object_set_new(o, "rate_period_ms", q->rate_limit > 0 ? json_integer(q->rate_period_ms) : json_null());
    return o;
}

json_t *cli_worker_json(const pgqrs_worker_info *w)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(w->id));
    json_object_set_new(o, "queue_id", id_or_null(w->queue_id));
    json_object_set_new(o, "kind", json_string(w->kind ? w->kind : ""));
    json_object_set_new(o, "status", json_string(w->status ? w->status : ""));
    json_object_set_new(o, "hostname", json_string(w->hostname ? w->hostname : ""));
    json_object_set_new(o, "pid", json_integer(w->pid));
    json_object_set_new(o, "started_at", cli_time_json(w->started_at_us));
    json_object_set_new(o, "heartbeat_at", cli_time_json(w->heartbeat_at_us));
    json_object_set_new(o, "stopped_at", cli_time_json(w->stopped_at_us));
    return o;
}

/* ---- Text tables ---- */

struct cli_table {
    int ncols;
    size_t nrows, cap;   /* rows include the header row */
    char **cells;        /* nrows * ncols */
};

static size_t display_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)   /* count UTF-8 lead bytes, not continuations */
            w++;
    return w;
}

cli_table *cli_table_new(int ncols, const char *const *headers)
{
    cli_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    if (!cli_table_row(t, headers)) {
        cli_table_free(t);
        return NULL;
    }
    return t;
}

bool cli_table_row(cli_table *t, const char *const *cells)
{
    if (!t)
        return false;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **n = realloc(t->cells, cap * (size_t)t->ncols * sizeof *n);
        if (!n)
            return false;
        t->cells = n;
        t->cap = cap;
    }
    for (int c = 0; c < t->ncols; c++) {
        char *dup = strdup(cells[c] ? cells[c] : "");
        if (!dup) {
            for (int k = 0; k < c; k++)
                free(t->cells[t->nrows * (size_t)t->ncols + (size_t)k]);
            return false;
        }
        t->cells[t->nrows * (size_t)t->ncols + (size_t)c] = dup;
    }
    t->nrows++;
    return true;
}

void cli_table_print(cli_table *t, FILE *f)
{
    size_t *w;
    if (!t)
        return;
    w = calloc((size_t)t->ncols, sizeof *w);
    if (w) {
        for (size_t r = 0; r < t->nrows; r++)
            for (int c = 0; c < t->ncols; c++) {
                size_t l = display_width(t->cells[r * (size_t)t->ncols + (size_t)c]);
                if (l > w[c])
                    w[c] = l;
            }
        for (size_t r = 0; r < t->nrows; r++) {
            for (int c = 0; c < t->ncols; c++) {
                const char *cell = t->cells[r * (size_t)t->ncols + (size_t)c];
                fputs(cell, f);
                if (c + 1 < t->ncols)
                    for (size_t pad = display_width(cell); pad < w[c] + 2; pad++)
                        fputc(' ', f);
            }
            fputc('\n', f);
        }
        free(w);
    }
    cli_table_free(t);
}

void cli_table_free(cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

/* A payload for a table cell: one line, at most about 60 characters. */
static void payload_cell(const char *payload, char *out, size_t outlen)
{
    size_t o = 0, chars = 0;
    const size_t max_chars = 60;
    for (const char *p = payload ? payload : ""; *p && o + 8 < outlen; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch & 0xC0) != 0x80) {
            if (chars == max_chars) {
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

int cli_print_batch_table(const pgqrs_batch *b, bool archived)
{
    const char *const hdr[] = { "ID", "READS", "ENQUEUED", archived ? "ARCHIVED_AT" : "VISIBLE_AT", "PAYLOAD",
                                "PROGRESS" };
    bool progress = false;   /* the PROGRESS column only when a message has one */
    cli_table *t;
    for (size_t i = 0; i < pgqrs_batch_count(b); i++)
        progress = progress || pgqrs_batch_at(b, i)->progress != NULL;
    t = cli_table_new(progress ? 6 : 5, hdr);
    for (size_t i = 0; t && i < pgqrs_batch_count(b); i++) {
        const pgqrs_message *m = pgqrs_batch_at(b, i);
        char id[24], reads[16], enq[32], vt[32], payload[512], prog[512];
        const char *row[] = { id, reads, enq, vt, payload, prog };
        snprintf(id, sizeof id, "%lld", (long long)m->id);
        snprintf(reads, sizeof reads, "%d", (int)m->read_count);
        cli_time_text(m->enqueued_at_us, enq, sizeof enq);
        cli_time_text(archived ? m->archived_at_us : m->vt_us, vt, sizeof vt);
        payload_cell(m->payload, payload, sizeof payload);
        if (m->progress)
            payload_cell(m->progress, prog, sizeof prog);
        else
            prog[0] = '\0';
        if (!cli_table_row(t, row)) {
            cli_table_free(t);
            t = NULL;
        }
    }
    if (!t) {
        fprintf(stderr, "pgqrs: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    cli_table_print(t, stdout);
    return 0;
}

char *cli_read_all(FILE *f, size_t *len_out)
{
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf) {
        buf[len] = '\0';
        *len_out = len;
    }
    return buf;
}
