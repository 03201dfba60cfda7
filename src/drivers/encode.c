/* encode.c: array parameter encoders. */
#include "drivers/encode.h"

#include <inttypes.h>

static pgqrs_status enc_ints(pgqrs_conn *c, pgqrs_buf *out, const int64_t *v, size_t n, char open, char close)
{
    int rc = pgqrs__buf_putc(out, open);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = pgqrs__buf_printf(out, i ? ",%" PRId64 : "%" PRId64, v[i]);
    if (rc == 0)
        rc = pgqrs__buf_putc(out, close);
    return rc == 0 ? PGQRS_OK : pgqrs__conn_oom(c);
}

pgqrs_status pgqrs__enc_i64_array(pgqrs_conn *c, pgqrs_buf *out, const int64_t *v, size_t n)
{
    return enc_ints(c, out, v, n, '[', ']');
}

pgqrs_status pgqrs__enc_i64_pgarray(pgqrs_conn *c, pgqrs_buf *out, const int64_t *v, size_t n)
{
    return enc_ints(c, out, v, n, '{', '}');
}

pgqrs_status pgqrs__enc_json_array(pgqrs_conn *c, pgqrs_buf *out, const char *const *v, size_t n)
{
    int rc = pgqrs__buf_putc(out, '[');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!v[i])
            return pgqrs__conn_fail(c, PGQRS_EMISUSE, "array element %zu is NULL", i);
        if (i)
            rc = pgqrs__buf_putc(out, ',');
        if (rc == 0)
            rc = pgqrs__buf_puts(out, v[i]);
    }
    if (rc == 0)
        rc = pgqrs__buf_putc(out, ']');
    return rc == 0 ? PGQRS_OK : pgqrs__conn_oom(c);
}

