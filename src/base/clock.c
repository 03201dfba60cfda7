/* clock.c: time, sleeping and jittered backoff. */
#include "base/clock.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

int64_t pgqrs__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pgqrs__clock_now(const pgqrs__clock *k)
{
    int64_t o = k ? atomic_load(&((pgqrs__clock *)k)->override_us) : 0;
    return o ? o : pgqrs__now_us();
}

void pgqrs__sleep_us(int64_t us)
{
    struct timespec ts;
    if (us <= 0)
        return;
    ts.tv_sec = (time_t)(us / 1000000);
    ts.tv_nsec = (long)(us % 1000000) * 1000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void pgqrs__sleep_ms(int64_t ms) { pgqrs__sleep_us(ms * 1000); }

uint64_t pgqrs__rng_next(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

uint64_t pgqrs__rng_seed(const void *salt)
{
    uint64_t s = (uint64_t)pgqrs__now_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)salt;
    pgqrs__rng_next(&s);
    return s ? s : 1;
}

int64_t pgqrs__backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng)
{
    int64_t d = base_ms > 0 ? base_ms : 1;
    if (cap_ms < d)
        cap_ms = d;
    for (int i = 0; i < attempt && d < cap_ms; i++)
        d = d > cap_ms / 2 ? cap_ms : d * 2;
    if (d > cap_ms)
        d = cap_ms;
    return d / 2 + (int64_t)(pgqrs__rng_next(rng) % (uint64_t)(d / 2 + 1));
}
