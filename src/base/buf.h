/* buf.h: a growable, always NUL-terminated byte buffer for messages, JSON and
 * HTTP bodies (never for SQL text). */
#ifndef PGQRS_BUF_H
#define PGQRS_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct pgqrs_buf {
    char *data;   /* NULL until the first append; then NUL-terminated */
    size_t len;
    size_t cap;
} pgqrs_buf;

#define PGQRS_BUF_INIT { NULL, 0, 0 }

/* Each returns 0, or -1 when out of memory (the buffer is left as it was). */
int pgqrs__buf_append(pgqrs_buf *b, const char *s, size_t n);
int pgqrs__buf_puts(pgqrs_buf *b, const char *s);
int pgqrs__buf_putc(pgqrs_buf *b, char ch);
int pgqrs__buf_printf(pgqrs_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Hands the data to the caller (never NULL on success: "" for an empty buffer). */
char *pgqrs__buf_detach(pgqrs_buf *b);
void pgqrs__buf_free(pgqrs_buf *b);   /* resets to PGQRS_BUF_INIT */

#endif
