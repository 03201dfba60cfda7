/* progress.c: a live progress line on stderr, only when stderr is a terminal
 * (PGQRS_PROGRESS=0 turns it off there too). Nothing at all when piped. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_start(cli_progress *p)
{
    const char *env = getenv("PGQRS_PROGRESS");
    memset(p, 0, sizeof *p);
    p->on = isatty(STDERR_FILENO) && !(env && strcmp(env, "0") == 0);
}

void cli_progress_update(cli_progress *p, bool force, const char *fmt, ...)
{
    va_list ap;
    double t;
    if (!p->on)
        return;
    t = now_s();
    if (!force && p->shown && t - p->last < 0.1)
        return;
    p->last = t;
    p->shown = true;
    fputs("\r\033[K", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->on && p->shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->shown = false;
}
