/* handle.c: per-handle and per-thread error messages. */
#include "base/handle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* the message of pgqrs_errmsg(NULL) and of stores: one per thread, so threads
 * sharing a store never read each other's failures */
static _Thread_local char thread_msg[PGQRS__MSG_LEN] = "";

static char *msg_of(void *handle)
{
    pgqrs__handle *h = handle;
    if (!h || h->magic == PGQRS__MAGIC_STORE)
        return thread_msg;
    return h->msg;
}

pgqrs_status pgqrs__fail(void *handle, pgqrs_status st, const char *fmt, ...)
{
    va_list ap;
    char *m = msg_of(handle);
    va_start(ap, fmt);
    vsnprintf(m, PGQRS__MSG_LEN, fmt, ap);
    va_end(ap);
    if (handle) {
        ((pgqrs__handle *)handle)->last = st;
        pgqrs__count_error(((pgqrs__handle *)handle)->store, st);
    }
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

pgqrs_status pgqrs__fail_conn(void *handle, const pgqrs_conn *c, pgqrs_status st)
{
    return pgqrs__fail(handle, st, "%s", c->msg);
}

pgqrs_status pgqrs__check_handle(const void *h, uint32_t magic, const char *what)
{
    const pgqrs__handle *hh = h;
    if (!hh)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "%s is NULL", what);
    if (hh->magic != magic)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "%s is not a live %s handle (freed or wrong type)", what, what);
    return PGQRS_OK;
}

PGQRS_EXTERN const char *pgqrs_errmsg(const void *handle)
{
    const pgqrs__handle *h = handle;
    if (!h || h->magic == PGQRS__MAGIC_STORE)
        return thread_msg;
    switch (h->magic) {
    case PGQRS__MAGIC_PRODUCER: case PGQRS__MAGIC_CONSUMER: case PGQRS__MAGIC_LIST: case PGQRS__MAGIC_RUN:
    case PGQRS__MAGIC_WF_WORKER:
        return h->msg;
    case PGQRS__MAGIC_FREED:
        return "bad parameter or other API misuse: handle was freed";
    default:
        return "bad parameter or other API misuse: not a pgqrs handle";
    }
}
