/* clock.h: the wall clock, sleeping, capped backoff with jitter, and the time
 * override tests use to move the clock instead of sleeping. */
#ifndef PGQRS_CLOCK_H
#define PGQRS_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>

/* A store's clock: the real one, or a fixed instant a test set (pgqrs_store_set_time). */
typedef struct pgqrs__clock {
    _Atomic int64_t override_us;   /* 0: the real clock */
} pgqrs__clock;

/* Microseconds since the Unix epoch, from CLOCK_REALTIME. */
int64_t pgqrs__now_us(void);
/* The override when set, else pgqrs__now_us(). */
int64_t pgqrs__clock_now(const pgqrs__clock *k);
/* Sleep for ms milliseconds / us microseconds (interrupted sleeps resume). */
void pgqrs__sleep_ms(int64_t ms);
void pgqrs__sleep_us(int64_t us);
/* Capped exponential backoff with jitter: a delay in [d/2, d] where
 * d = min(cap_ms, base_ms * 2^attempt), computed without overflow. */
int64_t pgqrs__backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng);
/* xorshift64*: jitter only, never anything secret. */
uint64_t pgqrs__rng_next(uint64_t *state);
uint64_t pgqrs__rng_seed(const void *salt);

#endif
