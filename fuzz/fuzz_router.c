/* fuzz_router.c: libFuzzer target for the dashboard's request parser, router and
 * authorization policy (src/server/router.c) and its escapers (text.c): pure
 * functions, no sockets and no store. Input: lines "METHOD", "URI",
 * "Content-Type", then the headers Host, Origin, Sec-Fetch-Site, Cookie,
 * Authorization, and the rest is the body. Checks, besides ASan/UBSan/LSan:
 * parse returns 0 or a 4xx; a route is set exactly when it returns 0; an action
 * is never authorized without the token or the csrf value in the input (the
 * session cookie alone is not enough); escaped
 * HTML has no raw '<' or '"'. */
#define _GNU_SOURCE   /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

static const char TOKEN[] = "fuzz-token-0123456789abcdef";
static const char SESSION[] = "5e55105e55105e55105e55105e551050";
static const char CSRF[] = "c5rfc5rfc5rfc5rfc5rfc5rfc5rfc5rf";

/* The next line of [*p, end) as a new string (NULL for an empty or missing line). */
static char *line(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *s = *p, *e = s;
    char *out;
    if (s >= end)
        return NULL;
    while (e < end && *e != '\n')
        e++;
    *p = e < end ? e + 1 : e;
    if (e == s || memchr(s, 0, (size_t)(e - s)))
        return NULL;
    if (!(out = malloc((size_t)(e - s) + 1)))
        return NULL;
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = 0;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char *f[8] = { 0 };
    for (int i = 0; i < 8; i++)
        f[i] = line(&p, end);
    const char *body = (const char *)p;
    size_t body_len = (size_t)(end - p);
    srv_req req;
    const char *msg = NULL;
    int rc = srv_parse(&req, f[0], f[1], body, body_len, f[2], &msg);
    if (!msg)
        abort();
    if (rc != 0 && (rc < 400 || rc > 499) && rc != 503)
        abort();
    if ((rc == 0) != (req.route != R_NONE))
        abort();
    if (rc == 0) {
        const char *in = (const char *)data;
        const char *csrf = srv_param_get(&req, "csrf");
        int has_secret = memmem(in, size, TOKEN, sizeof TOKEN - 1) || (csrf && !strcmp(csrf, CSRF));
        for (int with_token = 0; with_token < 2; with_token++) {
            srv_policy pol = { with_token ? TOKEN : NULL, SESSION, CSRF, 0 };
            srv_headers h = { f[3], f[4], f[5], f[6], f[7], NULL };
            bool set_cookie = false;
            const char *amsg = NULL;
            int a = srv_authorize(&pol, &req, &h, &set_cookie, &amsg);
            if (!amsg || (a != 0 && a != 401 && a != 403))
                abort();
            if (a == 0 && SRV_ROUTE_IS_ACTION(req.route) && !has_secret)
                abort();   /* an action went through without the token or the csrf value */
        }
        pgqrs_buf b = PGQRS_BUF_INIT;
        for (int i = 0; i < req.nparams; i++) {
            srv_html(&b, req.params[i].value);
            srv_url(&b, req.params[i].name);
            srv_prom_label(&b, req.params[i].value);
        }
        if (req.name) {
            pgqrs_buf h = PGQRS_BUF_INIT;
            srv_html(&h, req.name);
            if (h.data && (strchr(h.data, '<') || strchr(h.data, '"')))
                abort();
            pgqrs__buf_free(&h);
        }
        pgqrs__buf_free(&b);
    }
    srv_req_clear(&req);
    for (int i = 0; i < 8; i++)
        free(f[i]);
    return 0;
}
