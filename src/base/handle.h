/* handle.h: the header every public handle starts with, and error reporting.
 * Handles carry a magic number so a NULL, freed or foreign pointer is reported as
 * PGQRS_EMISUSE instead of crashing where that can be detected. */
#ifndef PGQRS_HANDLE_H
#define PGQRS_HANDLE_H

#include <stdint.h>

#include "drivers/conn.h"
#include "pgqrs.h"

enum {
    PGQRS__MAGIC_STORE = 0x51535431u,
    PGQRS__MAGIC_PRODUCER = 0x51505231u,
    PGQRS__MAGIC_CONSUMER = 0x51434e31u,
    PGQRS__MAGIC_LIST = 0x514c5331u,
    PGQRS__MAGIC_RUN = 0x51524e31u,
    PGQRS__MAGIC_WF_WORKER = 0x51574631u,
    PGQRS__MAGIC_FREED = 0xdeadbeefu
};

struct pgqrs_store;

typedef struct pgqrs__handle {
    uint32_t magic;
    struct pgqrs_store *store;  /* the store this handle works through (itself for a store); NULL for lists */
    pgqrs_status last;
    char msg[PGQRS__MSG_LEN];   /* unused by the store: its message is per thread */
} pgqrs__handle;

/* Records a failure on the handle (for the store and NULL: the calling thread's
 * buffer) and returns st. */
pgqrs_status pgqrs__fail(void *handle, pgqrs_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Passes a failure already recorded on `from` on to `to` (no new error is counted). */
pgqrs_status pgqrs__copy_err(void *to, const void *from, pgqrs_status st);
/* Counts a failure in the store's counters (defined in store.c). */
void pgqrs__count_error(struct pgqrs_store *s, pgqrs_status st);
/* Copies the connection's last message to the handle and returns st. */
pgqrs_status pgqrs__fail_conn(void *handle, const pgqrs_conn *c, pgqrs_status st);
/* PGQRS_OK when h is a live handle of that kind; else PGQRS_EMISUSE with a message. */
pgqrs_status pgqrs__check_handle(const void *h, uint32_t magic, const char *what);

#endif
