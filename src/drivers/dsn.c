/* dsn.c: DSN parsing and redaction. */
#include "drivers/dsn.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/buf.h"

static const char *const secret_keys[] = { "password", "token", "authtoken", "sslpassword", NULL };

static bool is_secret_key(const char *k, size_t n)
{
    for (int i = 0; secret_keys[i]; i++)
        if (strlen(secret_keys[i]) == n && strncasecmp(k, secret_keys[i], n) == 0)
            return true;
    return false;
}

bool pgqrs__is_identifier(const char *s)
{
    size_t n = 0;
    if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (; s[n]; n++)
        if (!(isalnum((unsigned char)s[n]) || s[n] == '_'))
            return false;
    return n <= 63;
}

void pgqrs__dsn_redact(const char *dsn, char *out, size_t outlen)
{
    pgqrs_buf b = PGQRS_BUF_INIT;
    const char *p, *auth_end, *q;
    int rc = 0;
    if (!outlen)
        return;
    out[0] = '\0';
    if (!dsn)
        return;
    p = strstr(dsn, "://");
    p = p ? p + 3 : dsn;
    q = strchr(p, '?');
    auth_end = memchr(p, '@', (size_t)((q ? q : p + strlen(p)) - p));
    rc |= pgqrs__buf_append(&b, dsn, (size_t)(p - dsn));
    if (auth_end) {
        /* user:password@ -> user:***@ ; the last '@' before the path ends userinfo */
        const char *at = auth_end, *colon;
        const char *slash = memchr(p, '/', (size_t)((q ? q : p + strlen(p)) - p));
        for (const char *s = at + 1; s < (slash ? slash : (q ? q : p + strlen(p))); s++)
            if (*s == '@')
                at = s;
        colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            rc |= pgqrs__buf_append(&b, p, (size_t)(colon - p));
            rc |= pgqrs__buf_puts(&b, ":***");
        } else {
            rc |= pgqrs__buf_append(&b, p, (size_t)(at - p));
        }
        p = at;
    }
    if (!q) {
        rc |= pgqrs__buf_puts(&b, p);
    } else {
        rc |= pgqrs__buf_append(&b, p, (size_t)(q - p + 1));
        for (p = q + 1; *p;) {
            size_t len = strcspn(p, "&"), klen = strcspn(p, "=");
            if (klen < len && is_secret_key(p, klen)) {
                rc |= pgqrs__buf_append(&b, p, klen + 1);
                rc |= pgqrs__buf_puts(&b, "***");
            } else {
                rc |= pgqrs__buf_append(&b, p, len);
            }
            p += len;
            if (*p == '&')
                rc |= pgqrs__buf_putc(&b, *p++);
        }
    }
    snprintf(out, outlen, "%s", rc == 0 && b.data ? b.data : "(dsn)");
    pgqrs__buf_free(&b);
}

static bool starts_secret_key(const char *p, const char **value)
{
    for (int i = 0; secret_keys[i]; i++) {
        size_t n = strlen(secret_keys[i]);
        if (strncasecmp(p, secret_keys[i], n) == 0) {
            const char *v = p + n;
            while (*v == ' ')
                v++;
            if (*v == '=') {
                *value = v + 1;
                return true;
            }
        }
    }
    return false;
}

void pgqrs__redact_text(const char *msg, char *out, size_t outlen)
{
    static const char stop[] = " \t\r\n&'\";,)";
    size_t o = 0;
    const char *p = msg ? msg : "";
    if (!outlen)
        return;
#define PUT(ch) do { if (o + 1 < outlen) out[o++] = (ch); } while (0)
    while (*p) {
        const char *v;
        bool word_start = p == msg || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        if (word_start && starts_secret_key(p, &v)) {
            while (p < v)
                PUT(*p++);
            if (*p == '\'' || *p == '"') {   /* key='value' */
                char q = *p;
                PUT(*p++);
                while (*p && *p != q)
                    p++;
            } else {
                while (*p && !strchr(stop, *p))
                    p++;
            }
            PUT('*'); PUT('*'); PUT('*');
            continue;
        }
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            /* scheme://user:password@host: the authority ends at the path, query or a space */
            const char *a = p + 3, *end = a, *at = NULL, *colon = NULL;
            while (*end && !strchr("/?# \t\r\n'\"", *end))
                end++;
            for (const char *s = a; s < end; s++)
                if (*s == '@')
                    at = s;
            if (at)
                colon = memchr(a, ':', (size_t)(at - a));
            PUT(*p++); PUT(*p++); PUT(*p++);
            if (colon) {
                while (p <= colon)
                    PUT(*p++);
                PUT('*'); PUT('*'); PUT('*');
                p = at;
            }
            continue;
        }
        PUT(*p++);
    }
#undef PUT
    out[o] = '\0';
}

pgqrs_status pgqrs__dsn_invalid(char *err, size_t errlen, const char *dsn, const char *why)
{
    char red[256];
    pgqrs__dsn_redact(dsn, red, sizeof red);
    snprintf(err, errlen, "invalid DSN '%s': %s", red, why);
    return PGQRS_EINVAL;
}

pgqrs_status pgqrs__dsn_parse_postgres(pgqrs__dsn *d, const char *dsn, char *err, size_t errlen)
{
    const char *rest = strstr(dsn, "://") + 3;
    pgqrs_buf uri = PGQRS_BUF_INIT;
    const char *q = strchr(rest, '?'), *hostport, *host_end, *p;
    size_t auth_len = q ? (size_t)(q - rest) : strlen(rest);
    const char *at = NULL;
    int rc = 0;
    /* authority: [user[:password]@]host[:port][,host[:port]...] up to '/' */
    for (p = rest; p < rest + auth_len && *p != '/'; p++)
        if (*p == '@')
            at = p;
    hostport = at ? at + 1 : rest;
    host_end = p;
    for (const char *h = hostport; h < host_end;) {
        const char *comma = memchr(h, ',', (size_t)(host_end - h)), *end = comma ? comma : host_end;
        const char *colon = NULL;
        if (*h == '[') {   /* IPv6 literal */
            const char *rb = memchr(h, ']', (size_t)(end - h));
            if (!rb)
                return pgqrs__dsn_invalid(err, errlen, dsn, "unterminated IPv6 address");
            colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        } else {
            colon = memchr(h, ':', (size_t)(end - h));
        }
        if (colon) {
            if (colon + 1 == end)
                return pgqrs__dsn_invalid(err, errlen, dsn, "empty port");
            for (const char *c = colon + 1; c < end; c++)
                if (!isdigit((unsigned char)*c))
                    return pgqrs__dsn_invalid(err, errlen, dsn, "port is not a number");
        }
        h = comma ? comma + 1 : host_end;
    }
    rc |= pgqrs__buf_append(&uri, dsn, (size_t)(rest - dsn) + auth_len);
    if (q) {
        bool first = true;
        for (p = q + 1; *p;) {
            size_t len = strcspn(p, "&"), klen = strcspn(p, "=");
            if (klen > len)
                klen = len;
            if (klen == 6 && strncmp(p, "schema", 6) == 0) {
                if (klen == len)
                    return pgqrs__buf_free(&uri), pgqrs__dsn_invalid(err, errlen, dsn, "schema needs a value");
                pgqrs__free(d->schema);
                d->schema = pgqrs__strndup(p + 7, len - 7);
                if (!d->schema)
                    return pgqrs__buf_free(&uri), PGQRS_ENOMEM;
                if (!pgqrs__is_identifier(d->schema))
                    return pgqrs__buf_free(&uri),
                           pgqrs__dsn_invalid(err, errlen, dsn, "schema must be an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63)");
            } else if (klen == 9 && strncmp(p, "pgbouncer", 9) == 0) {
                const char *v = p + 10;
                size_t vlen = klen < len ? len - 10 : 0;
                if (vlen == 0 || (vlen == 4 && strncmp(v, "true", 4) == 0) || (vlen == 1 && *v == '1'))
                    d->pgbouncer = true;
                else if ((vlen == 5 && strncmp(v, "false", 5) == 0) || (vlen == 1 && *v == '0'))
                    d->pgbouncer = false;
                else
                    return pgqrs__buf_free(&uri), pgqrs__dsn_invalid(err, errlen, dsn, "pgbouncer must be true, false, 1 or 0");
            } else if (len) {
                rc |= pgqrs__buf_putc(&uri, first ? '?' : '&');
                rc |= pgqrs__buf_append(&uri, p, len);
                first = false;
            }
            p += len;
            if (*p == '&')
                p++;
        }
    }
    if (rc != 0)
        return pgqrs__buf_free(&uri), PGQRS_ENOMEM;
    if (d->pgbouncer && d->schema)
        return pgqrs__buf_free(&uri),
               pgqrs__dsn_invalid(err, errlen, dsn, "?schema= cannot pass through PgBouncer (it refuses the startup 'options' "
                                      "parameter); set search_path on the role or database instead");
    d->uri = pgqrs__buf_detach(&uri);
    return d->uri ? PGQRS_OK : PGQRS_ENOMEM;
}

/* libsql://host[:port][?tls=0], http://host:port, https://host[:port], with
 * ?authToken=, ?connect_timeout=<s>, ?timeout=<s>. The token never goes into url. */
pgqrs_status pgqrs__dsn_parse_turso(pgqrs__dsn *d, const char *dsn, char *err, size_t errlen)
{
    const char *scheme_end = strstr(dsn, "://"), *host = scheme_end + 3, *q, *p;
    size_t hlen = strcspn(host, "/?");
    bool libsql = strncmp(dsn, "libsql://", 9) == 0, tls = strncmp(dsn, "http://", 7) != 0;
    pgqrs_buf url = PGQRS_BUF_INIT;
    const char *env = getenv("PGQRS_TURSO_AUTH_TOKEN");
    if (hlen == 0)
        return pgqrs__dsn_invalid(err, errlen, dsn, "no host");
    if (memchr(host, '@', hlen))
        return pgqrs__dsn_invalid(err, errlen, dsn, "put the auth token in ?authToken= or PGQRS_TURSO_AUTH_TOKEN, not in the host");
    p = host + hlen;
    if (*p == '/' && p[1] && p[1] != '?')
        return pgqrs__dsn_invalid(err, errlen, dsn, "a Turso URL has no path");
    q = strchr(host, '?');
    for (p = q ? q + 1 : NULL; p && *p;) {
        size_t len = strcspn(p, "&"), klen = strcspn(p, "=");
        const char *v = klen < len ? p + klen + 1 : p + len;
        size_t vlen = klen < len ? len - klen - 1 : 0;
        if (klen > len)
            klen = len;
        if (klen == 9 && strncasecmp(p, "authToken", 9) == 0) {
            pgqrs__free(d->auth_token);
            d->auth_token = pgqrs__strndup(v, vlen);
            if (!d->auth_token)
                return PGQRS_ENOMEM;
        } else if (klen == 3 && strncmp(p, "tls", 3) == 0) {
            if (!libsql)
                return pgqrs__dsn_invalid(err, errlen, dsn, "tls= is for libsql:// (use http:// or https://)");
            tls = !(vlen == 1 && (*v == '0')) && !(vlen == 5 && strncmp(v, "false", 5) == 0);
        } else if ((klen == 15 && strncmp(p, "connect_timeout", 15) == 0) || (klen == 7 && strncmp(p, "timeout", 7) == 0)) {
            long s = 0;
            for (size_t i = 0; i < vlen; i++)
                s = isdigit((unsigned char)v[i]) && s < 100000 ? s * 10 + (v[i] - '0') : -1;
            if (vlen == 0 || s < 1 || s > 3600)
                return pgqrs__dsn_invalid(err, errlen, dsn, "connect_timeout and timeout are seconds, 1..3600");
            if (klen == 7)
                d->request_timeout_ms = (int)s * 1000;
            else
                d->connect_timeout_ms = (int)s * 1000;
        } else if (len) {
            return pgqrs__dsn_invalid(err, errlen, dsn, "unknown parameter (Turso DSNs take authToken, tls, connect_timeout, timeout)");
        }
        p += len;
        if (*p == '&')
            p++;
    }
    if (!d->auth_token && env && *env && !(d->auth_token = pgqrs__strdup(env)))
        return PGQRS_ENOMEM;
    if (pgqrs__buf_puts(&url, tls ? "https://" : "http://") != 0 || pgqrs__buf_append(&url, host, hlen) != 0)
        return pgqrs__buf_free(&url), PGQRS_ENOMEM;
    d->url = pgqrs__buf_detach(&url);
    return d->url ? PGQRS_OK : PGQRS_ENOMEM;
}

pgqrs_status pgqrs__dsn_parse_sqlite(pgqrs__dsn *d, const char *dsn, char *err, size_t errlen)
{
    const char *path = dsn + strlen("sqlite:");
    size_t n;
    if (strcmp(path, ":memory:") == 0 || strcmp(path, "//:memory:") == 0) {
        d->path = pgqrs__strdup(":memory:");
        return d->path ? PGQRS_OK : PGQRS_ENOMEM;
    }
    if (strncmp(path, "//", 2) != 0)
        return pgqrs__dsn_invalid(err, errlen, dsn, "expected sqlite:///abs/path.db, sqlite://rel/path.db or sqlite::memory:");
    path += 2;
    n = strcspn(path, "?");
    if (n == 0)
        return pgqrs__dsn_invalid(err, errlen, dsn, "no database path (sqlite:///abs/path.db, sqlite://rel/path.db or sqlite::memory:)");
    if (path[n] == '?' && path[n + 1])
        return pgqrs__dsn_invalid(err, errlen, dsn, "SQLite DSNs take no parameters");
    d->path = pgqrs__strndup(path, n);
    return d->path ? PGQRS_OK : PGQRS_ENOMEM;
}

pgqrs_status pgqrs__dsn_parse_turso_file(pgqrs__dsn *d, const char *dsn, char *err, size_t errlen)
{
    const char *path = dsn + strlen("turso://");
    size_t n = strcspn(path, "?");
    d->turso_local = true;
    if (n == 0 || strcmp(path, ":memory:") == 0)
        return pgqrs__dsn_invalid(err, errlen, dsn, "no database path (turso:///abs/path.db; remote: libsql://, http://, https://)");
    if (path[n] == '?' && path[n + 1])
        return pgqrs__dsn_invalid(err, errlen, dsn, "turso:// file DSNs take no parameters");
    d->path = pgqrs__strndup(path, n);
    return d->path ? PGQRS_OK : PGQRS_ENOMEM;
}

void pgqrs__dsn_clear(pgqrs__dsn *d)
{
    if (!d)
        return;
    pgqrs__free(d->uri);
    pgqrs__free(d->schema);
    pgqrs__free(d->path);
    pgqrs__free(d->url);
    if (d->auth_token) {
        memset(d->auth_token, 0, strlen(d->auth_token));
        pgqrs__free(d->auth_token);
    }
    memset(d, 0, sizeof *d);
}
