/* handle.c: per-handle and per-thread error messages, and the error counters. */
#include "base/handle.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* the message of pgqrs_errmsg(NULL) and of stores: one per thread, so threads
 * sharing a store never read each other's failures */
static _Thread_local char thread_msg[PGQRS__MSG_LEN] = "";
/* whether the public call in progress on this thread has counted its failure */
static _Thread_local bool call_counted;

static char *msg_of(void *handle)
{
    pgqrs__handle *h = handle;
    if (!h || h->magic == PGQRS__MAGIC_STORE)
        return thread_msg;
    return h->msg;
}

void pgqrs__count_failure(void *handle, pgqrs_status st)
{
    pgqrs__handle *h = handle;
    if (h && h->errs && !call_counted && st < 0 && -st < 16) {
        atomic_fetch_add(&h->errs->by_status[-st], 1);
        call_counted = true;
    }
}

pgqrs_status pgqrs__record(void *handle, pgqrs_status st, const char *msg)
{
    char *m = msg_of(handle);
    char *nl;
    if (m != msg)
        snprintf(m, PGQRS__MSG_LEN, "%s", msg);
    while ((nl = strpbrk(m, "\r\n")) != NULL)
        *nl = ' ';   /* one line, whatever a server sent */
    if (handle)
        ((pgqrs__handle *)handle)->last = st;
    return st;
}

pgqrs_status pgqrs__fail(void *handle, pgqrs_status st, const char *fmt, ...)
{
    char msg[PGQRS__MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pgqrs__record(handle, st, msg);
    pgqrs__count_failure(handle, st);
    return st;
}

pgqrs_status pgqrs__copy_err(void *to, const void *from, pgqrs_status st)
{
    char *m = msg_of(to);
    const char *src = pgqrs_errmsg(from);
    if (m != src)
        snprintf(m, PGQRS__MSG_LEN, "%s", src);
    if (to)
        ((pgqrs__handle *)to)->last = st;
    return st;
}

pgqrs_status pgqrs__check_handle(const void *h, uint32_t magic, const char *what)
{
    const pgqrs__handle *hh = h;
    call_counted = false;
    if (!hh)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "%s is NULL", what);
    if (hh->magic != magic)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "%s is not a live %s handle (freed or wrong type)", what, what);
    return PGQRS_OK;
}

pgqrs_status pgqrs__check_version(void *handle, const char *what, unsigned int got, unsigned int want)
{
    if (got == want)
        return PGQRS_OK;
    return pgqrs__fail(handle, PGQRS_EINVAL, "%s: version %u is not %u (initialise it with its _INIT macro or _init())",
                       what, got, want);
}

pgqrs_status pgqrs__struct_init(void *p, size_t size, unsigned int version, unsigned int want, const char *what)
{
    call_counted = false;
    if (!p)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "%s is NULL", what);
    if (version != want)
        return pgqrs__fail(NULL, PGQRS_EINVAL, "%s: unknown version %u (this library has %u)", what, version, want);
    memset(p, 0, size);
    memcpy(p, &version, sizeof version);   /* every versioned struct starts with it */
    return PGQRS_OK;
}

PGQRS_EXTERN const char *pgqrs_errmsg(const void *handle)
{
    const pgqrs__handle *h = handle;
    if (!h || h->magic == PGQRS__MAGIC_STORE)
        return thread_msg;
    switch (h->magic) {
    case PGQRS__MAGIC_PRODUCER: case PGQRS__MAGIC_CONSUMER: case PGQRS__MAGIC_LIST: case PGQRS__MAGIC_RUN:
    case PGQRS__MAGIC_WF_WORKER: case PGQRS__MAGIC_RUNTIME: case PGQRS__MAGIC_JOB:
    case PGQRS__MAGIC_SCHEDULER: case PGQRS__MAGIC_APP_TX:
        return h->msg;
    case PGQRS__MAGIC_FREED:
        return "bad parameter or other API misuse: handle was freed";
    default:
        return "bad parameter or other API misuse: not a pgqrs handle";
    }
}
