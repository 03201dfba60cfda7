/* text.c: escaping for HTML, URLs and Prometheus labels; times for display. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/server.h"

int srv_html(pgqrs_buf *b, const char *s)
{
    int rc = 0;
    for (; s && *s && rc == 0; s++) {
        switch (*s) {
        case '&': rc = pgqrs__buf_puts(b, "&amp;"); break;
        case '<': rc = pgqrs__buf_puts(b, "&lt;"); break;
        case '>': rc = pgqrs__buf_puts(b, "&gt;"); break;
        case '"': rc = pgqrs__buf_puts(b, "&quot;"); break;
        case '\'': rc = pgqrs__buf_puts(b, "&#39;"); break;
        default: rc = pgqrs__buf_putc(b, *s);
        }
    }
    return rc;
}

int srv_url(pgqrs_buf *b, const char *s)
{
    int rc = 0;
    for (; s && *s && rc == 0; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._~", ch))
            rc = pgqrs__buf_putc(b, (char)ch);
        else
            rc = pgqrs__buf_printf(b, "%%%02X", ch);
    }
    return rc;
}

int srv_prom_label(pgqrs_buf *b, const char *s)
{
    int rc = 0;
    for (; s && *s && rc == 0; s++) {
        if (*s == '\\')
            rc = pgqrs__buf_puts(b, "\\\\");
        else if (*s == '"')
            rc = pgqrs__buf_puts(b, "\\\"");
        else if (*s == '\n')
            rc = pgqrs__buf_puts(b, "\\n");
        else
            rc = pgqrs__buf_putc(b, *s);
    }
    return rc;
}

void srv_time(char *out, size_t n, int64_t us)
{
    struct tm tm;
    time_t t;
    if (us <= 0) {
        snprintf(out, n, "-");
        return;
    }
    t = (time_t)(us / 1000000);
    gmtime_r(&t, &tm);
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(us / 1000 % 1000));
}
