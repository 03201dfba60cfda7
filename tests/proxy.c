/* proxy.c: starting, scripting and stopping tests/turso_proxy.py (proxy.h). */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool read_line(int fd, char *buf, size_t n, int timeout_ms)
{
    size_t len = 0;
    double deadline = now_s() + timeout_ms / 1000.0;
    while (len + 1 < n) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        int left = (int)((deadline - now_s()) * 1000), r;
        char ch;
        if (left <= 0)
            return false;
        r = poll(&pfd, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || read(fd, &ch, 1) != 1)
            return false;
        if (ch == '\n')
            break;
        buf[len++] = ch;
    }
    buf[len] = '\0';
    return true;
}

void proxy_script(char *buf, size_t n)
{
    const char *env = getenv("PGQRS_TEST_TURSO_PROXY");
    const char *slash = strrchr(__FILE__, '/');
    if (env && *env)
        snprintf(buf, n, "%s", env);
    else if (slash)
        snprintf(buf, n, "%.*s/turso_proxy.py", (int)(slash - __FILE__), __FILE__);
    else
        snprintf(buf, n, "turso_proxy.py");
}

void proxy_stop(proxy *p)
{
    if (p->to >= 0)
        close(p->to);   /* end of input: it shuts down */
    if (p->from >= 0)
        close(p->from);
    p->to = p->from = -1;
    if (p->pid > 0) {
        struct timespec ms10 = { 0, 10000000L };
        bool reaped = false;
        for (int i = 0; i < 500 && !(reaped = waitpid(p->pid, NULL, WNOHANG) == p->pid); i++)
            nanosleep(&ms10, NULL);
        if (!reaped) {   /* still there after 5 s (and still ours: not reaped): by its pid */
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
        }
    }
    p->pid = 0;
}

bool proxy_start(proxy *p, const char *upstream)
{
    int in[2], out[2];
    char script[512], line[128];
    pid_t pid;
    p->pid = 0;
    p->to = p->from = -1;
    p->port = 0;
    signal(SIGPIPE, SIG_IGN);   /* a dead proxy must fail a write, not kill the suite */
    proxy_script(script, sizeof script);
    if (pipe(in) != 0)
        return false;
    if (pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        return false;
    }
    /* not inherited by tursodb servers started later: the proxy must see EOF */
    for (int i = 0; i < 2; i++) {
        fcntl(in[i], F_SETFD, FD_CLOEXEC);
        fcntl(out[i], F_SETFD, FD_CLOEXEC);
    }
    pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execlp("python3", "python3", script, "--upstream", upstream, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->to = in[1];
    p->from = out[0];
    if (pid < 0) {
        proxy_stop(p);
        return false;
    }
    p->pid = pid;
    if (!read_line(p->from, line, sizeof line, 30000) || sscanf(line, "port %d", &p->port) != 1 || p->port <= 0) {
        proxy_stop(p);
        return false;
    }
    return true;
}

bool proxy_cmd(proxy *p, char *reply, size_t n, const char *fmt, ...)
{
    char cmd[256], tmp[128];
    va_list ap;
    size_t len;
    if (p->to < 0)
        return false;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd - 1, fmt, ap);
    va_end(ap);
    strcat(cmd, "\n");
    len = strlen(cmd);
    if (write(p->to, cmd, len) != (ssize_t)len)
        return false;
    if (!reply) {
        reply = tmp;
        n = sizeof tmp;
    }
    if (!read_line(p->from, reply, n, 30000))
        return false;
    return strncmp(reply, "ok", 2) == 0 || strncmp(reply, "stats ", 6) == 0;
}

bool proxy_get_stats(proxy *p, proxy_stats *ps)
{
    static char line[16384];
    char *tok, *save = NULL;
    memset(ps, 0, sizeof *ps);
    if (!proxy_cmd(p, line, sizeof line, "stats"))
        return false;
    strtok_r(line, " ", &save);
    if (!(tok = strtok_r(NULL, " ", &save)))
        return false;
    ps->seen = atoi(tok);
    if (!(tok = strtok_r(NULL, " ", &save)))
        return false;
    ps->forwarded = atoi(tok);
    while ((tok = strtok_r(NULL, " ", &save)) != NULL && ps->n < PROXY_MAX_LOG) {
        if (sscanf(tok, "%lf,%c,%23s", &ps->t_ms[ps->n], &ps->kind[ps->n], ps->action[ps->n]) != 3)
            return false;
        ps->n++;
    }
    return ps->n == ps->seen || ps->seen > PROXY_MAX_LOG;
}

