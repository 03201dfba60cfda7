/* bench/common.h: timing, latency samples and percentiles shared by the C drivers.
 * Each consumer process appends its samples (microseconds, doubles) to a file in
 * a per-run directory; the parent merges them and prints one JSON line. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}
static inline double wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

typedef struct { double *v; size_t n, cap; } samples;
static inline void samples_add(samples *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof(double));
        if (!s->v) { perror("realloc"); _exit(3); }
    }
    s->v[s->n++] = x;
}
static inline void samples_save(const samples *s, const char *dir, const char *kind)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%ld", dir, kind, (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); return; }
    if (s->n) fwrite(s->v, sizeof(double), s->n, f);
    fclose(f);
}
static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
/* Merges every `<dir>/<kind>.*` file. */
static inline void samples_load(samples *s, const char *dir, const char *kind)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls %s 2>/dev/null | grep '^%s\\.'", dir, kind);
    FILE *p = popen(cmd, "r");
    char name[256];
    while (p && fgets(name, sizeof name, p)) {
        name[strcspn(name, "\n")] = 0;
        char path[768];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "rb");
        double x;
        while (f && fread(&x, sizeof x, 1, f) == 1) samples_add(s, x);
        if (f) fclose(f);
    }
    if (p) pclose(p);
    if (s->n) qsort(s->v, s->n, sizeof(double), cmp_d);
}
static inline double pct(const samples *s, double p)
{
    if (!s->n) return 0;
    size_t i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
    return s->v[i] / 1000.0;   /* milliseconds */
}
static inline void print_lat(FILE *o, const char *name, const samples *s)
{
    fprintf(o, ",\"%s_ms\":{\"n\":%zu,\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f}", name, s->n, pct(s, 50), pct(s, 95),
            pct(s, 99));
}

/* Start barrier: children block reading the pipe until the parent closes it. */
typedef struct { int rd, wr; } barrier;
static inline void barrier_init(barrier *b)
{
    int fd[2];
    if (pipe(fd)) { perror("pipe"); exit(2); }
    b->rd = fd[0]; b->wr = fd[1];
}
static inline void barrier_wait_child(barrier *b)
{
    char c;
    close(b->wr);
    while (read(b->rd, &c, 1) < 0 && errno == EINTR) {}
    close(b->rd);
}
/* Ready pipe: each child writes one byte when set up; the parent reads C bytes. */
static inline void ready_wait(int fd, int n)
{
    char c;
    for (int i = 0; i < n; i++)
        if (read(fd, &c, 1) != 1) { fprintf(stderr, "a child died during setup\n"); exit(2); }
}
/* Each child writes "<end_us> <done> <errors>\n" to the result pipe. */
static inline int wait_children(int n)
{
    int bad = 0, st;
    for (int i = 0; i < n; i++) {
        if (wait(&st) < 0) break;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
    }
    return bad;
}
#endif
