/* buf.c: growable NUL-terminated buffer. */
#include "base/buf.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

static int grow(pgqrs_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1, cap = b->cap ? b->cap : 64;
    char *p;
    if (need < b->len)
        return -1;   /* overflow */
    if (need <= b->cap)
        return 0;
    while (cap < need) {
        if (cap > ((size_t)-1) / 2)
            return -1;
        cap *= 2;
    }
    p = pgqrs__realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int pgqrs__buf_append(pgqrs_buf *b, const char *s, size_t n)
{
    if (grow(b, n) != 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int pgqrs__buf_puts(pgqrs_buf *b, const char *s) { return pgqrs__buf_append(b, s, strlen(s)); }

int pgqrs__buf_putc(pgqrs_buf *b, char ch) { return pgqrs__buf_append(b, &ch, 1); }

int pgqrs__buf_printf(pgqrs_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || grow(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *pgqrs__buf_detach(pgqrs_buf *b)
{
    char *out = b->data;
    if (!out)
        out = pgqrs__strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return out;
}

void pgqrs__buf_free(pgqrs_buf *b)
{
    pgqrs__free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
