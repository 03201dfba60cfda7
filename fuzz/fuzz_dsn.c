/* fuzz_dsn.c: libFuzzer target for the DSN parser and the redactor (src/dsn.c).
 * Checks, besides what ASan/UBSan catch: pgqrs__dsn_parse's error message and
 * pgqrs__dsn_redact's output never contain the password of a postgres:// URI.
 * Sound, not complete: the check is made only when the password occurs once in
 * the input, has no '*' (the mask) and is at least 3 bytes long, and in an
 * error only the echoed input is searched, so that it cannot appear in the
 * output by coincidence. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/dsn.h"

/* Whether the part of a parse error that echoes the input holds needle.
 * Errors read "invalid DSN '<redacted input>': <reason>", the reason a fixed
 * string from src/dsn.c: only the echo can leak, and a short password can be
 * spelled by the reason's words ("ort" in "empty port"). */
static int echo_contains(const char *err, const char *needle)
{
    static const char prefix[] = "invalid DSN '";
    const char *start = err, *end = err + strlen(err), *p;
    char *echo;
    int found;
    if (strncmp(err, prefix, sizeof prefix - 1) == 0) {
        start = err + sizeof prefix - 1;
        for (p = start; (p = strstr(p, "': ")) != NULL; p++)
            end = p;
    }
    echo = strndup(start, (size_t)(end - start));
    if (!echo)
        return 0;
    found = strstr(echo, needle) != NULL;
    free(echo);
    return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_occurrences(const char *hay, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return len ? n : 0;
}

/* The userinfo password of a postgres:// or postgresql:// URI, or NULL. */
static char *uri_password(const char *s)
{
    const char *auth, *end, *at = NULL, *colon;
    if (strncmp(s, "postgres://", 11) == 0)
        auth = s + 11;
    else if (strncmp(s, "postgresql://", 13) == 0)
        auth = s + 13;
    else
        return NULL;
    end = auth + strcspn(auth, "/?#");
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return NULL;
    colon = memchr(auth, ':', (size_t)(at - auth));
    if (!colon)
        return NULL;
    /* a URI password holds no raw '@' (it must be percent-encoded), and a
     * "password" of separators and quotes can be spelled by the error message's
     * own framing ("invalid DSN '...': ..."): check only real-looking ones */
    for (const char *p = colon + 1; p < at; p++)
        if (strchr("@:'/?#[] ", *p))
            return NULL;
    return strndup(colon + 1, (size_t)(at - colon - 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s, *pw, err[PGQRS__ERR_LEN], small[16], *red;
    size_t redlen;
    pgqrs__dsn d;
    pgqrs_status st;
    if (size > 4096)
        return 0;
    s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    err[0] = 0;
    st = pgqrs__dsn_parse(&d, s, err, sizeof err);
    if (st == PGQRS_OK)
        pgqrs__dsn_clear(&d);
    else if (strlen(err) >= sizeof err)
        abort();
    redlen = strlen(s) * 2 + 64;
    red = malloc(redlen);
    if (!red) {
        free(s);
        return 0;
    }
    pgqrs__dsn_redact(s, red, redlen);
    /* a short buffer: truncated, terminated, in bounds. Its own buffer: written
     * into err it spliced text that could fake a password match below */
    pgqrs__dsn_redact(s, small, sizeof small);
    if (strlen(small) >= sizeof small)
        abort();
    (void)pgqrs__is_identifier(s);
    pw = uri_password(s);
    if (pw && strlen(pw) >= 3 && !strchr(pw, '*') && count_occurrences(s, pw) == 1) {
        if (strstr(red, pw)) {
            fprintf(stderr, "redact leaks the password '%s' of '%s': '%s'\n", pw, s, red);
            abort();
        }
        if (st != PGQRS_OK && echo_contains(err, pw)) {
            fprintf(stderr, "parse error leaks the password '%s' of '%s': '%s'\n", pw, s, err);
            abort();
        }
    }
    free(pw);
    free(red);
    free(s);
    return 0;
}
