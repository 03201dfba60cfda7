/* handle.h: the header every public handle starts with, and error reporting.
 * Handles carry a magic number so a NULL, freed or foreign pointer is reported as
 * PGQRS_EMISUSE instead of crashing where that can be detected. A failure is
 * recorded once, where its facts are (a query, a check), on the handle of the
 * call that hit it; callers pass the status up unchanged. */
#ifndef PGQRS_HANDLE_H
#define PGQRS_HANDLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "pgqrs.h"

#define PGQRS__MSG_LEN 512

enum {
    PGQRS__MAGIC_STORE = 0x51535431u,
    PGQRS__MAGIC_PRODUCER = 0x51505231u,
    PGQRS__MAGIC_CONSUMER = 0x51434e31u,
    PGQRS__MAGIC_LIST = 0x514c5331u,
    PGQRS__MAGIC_RUN = 0x51524e31u,
    PGQRS__MAGIC_WF_WORKER = 0x51574631u,
    PGQRS__MAGIC_RUNTIME = 0x51525431u,
    PGQRS__MAGIC_JOB = 0x514a4231u,
    PGQRS__MAGIC_SCHEDULER = 0x51534331u,
    PGQRS__MAGIC_APP_TX = 0x51545831u,
    PGQRS__MAGIC_FREED = 0xdeadbeefu
};

/* Failed calls by status (pgqrs_counters.errors), shared by a store's handles. */
typedef struct pgqrs__err_counts {
    _Atomic int64_t by_status[16];
} pgqrs__err_counts;

typedef struct pgqrs__handle {
    uint32_t magic;
    pgqrs__err_counts *errs;    /* the store's counters; NULL for lists */
    pgqrs_status last;
    char msg[PGQRS__MSG_LEN];   /* unused by the store: its message is per thread */
} pgqrs__handle;

/* Records a failure on the handle (for the store and NULL: the calling thread's
 * buffer) and returns st. The first failure of a public call is counted in the
 * store's error counters; one that replaces it (a clearer message for the same
 * call) is not counted again. */
pgqrs_status pgqrs__fail(void *handle, pgqrs_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Records msg as the handle's failure without counting it: a query's failure,
 * which its caller may still handle (a missing row it expected). The call that
 * returns it counts it with pgqrs__count_failure. */
pgqrs_status pgqrs__record(void *handle, pgqrs_status st, const char *msg);
/* Counts st (when it is a failure) as the failure of the public call in
 * progress, unless that call already counted one. */
void pgqrs__count_failure(void *handle, pgqrs_status st);
/* Passes a failure already recorded on `from` on to `to` (not counted again). */
pgqrs_status pgqrs__copy_err(void *to, const void *from, pgqrs_status st);
/* PGQRS_OK when h is a live handle of that kind; else PGQRS_EMISUSE with a message.
 * Every public call starts with it: it also starts the call's error count. */
pgqrs_status pgqrs__check_handle(const void *h, uint32_t magic, const char *what);
/* The one version check of every versioned struct (pgqrs.h, rule 5): PGQRS_OK when
 * got == want, else PGQRS_EINVAL on the handle naming the struct. */
pgqrs_status pgqrs__check_version(void *handle, const char *what, unsigned int got, unsigned int want);
/* The body of every pgqrs_x_init(): zeroes size bytes at p and sets the version
 * (the struct's first member). PGQRS_EINVAL for another version, EMISUSE for NULL. */
pgqrs_status pgqrs__struct_init(void *p, size_t size, unsigned int version, unsigned int want, const char *what);

#endif
