/* proxy.h: tests/turso_proxy.py, a fault-injecting HTTP proxy in front of
 * tursodb, driven from a C test. The test starts it with its stdin and stdout on
 * pipes: each command is a line, each answer a line; end of input stops it, so a
 * test that dies takes it along. It binds port 0 and says "port N". Commands:
 * "fault ACTION COUNT [ARG]" (status CODE, baton-invalid, stream-expired, drop,
 * delay S; COUNT -1 = until cleared), "clear", "reset", "stats", "quit". */
#ifndef PGQRS_TEST_PROXY_H
#define PGQRS_TEST_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct proxy {
    pid_t pid;
    int to, from;   /* its stdin, its stdout */
    int port;
} proxy;

enum { PROXY_MAX_LOG = 64 };
typedef struct proxy_stats {
    int seen, forwarded, n;
    double t_ms[PROXY_MAX_LOG];
    char kind[PROXY_MAX_LOG];
    char action[PROXY_MAX_LOG][24];
} proxy_stats;

/* The script's path: $PGQRS_TEST_TURSO_PROXY, else tests/turso_proxy.py. */
void proxy_script(char *buf, size_t n);
/* Starts it in front of upstream (http://host:port); false if it did not say its port. */
bool proxy_start(proxy *p, const char *upstream);
/* Ends its input and reaps it (SIGKILL by pid after 5 s). Safe to call twice. */
void proxy_stop(proxy *p);
/* Sends one command; true when it answered "ok..." or "stats ..." (reply may be NULL). */
bool proxy_cmd(proxy *p, char *reply, size_t n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Requests seen and forwarded, and each request's arrival time, kind and action. */
bool proxy_get_stats(proxy *p, proxy_stats *ps);

#endif
