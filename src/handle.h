/* handle.h: the header every public handle starts with, and error reporting.
 * Handles carry a magic number so a NULL, freed or foreign pointer is reported as
 * PGQRS_EMISUSE instead of crashing where that can be detected. */
#ifndef PGQRS_HANDLE_H
#define PGQRS_HANDLE_H

#include <stdint.h>

#include "conn.h"
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

typedef struct pgqrs__handle {
    uint32_t magic;
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
/* Copies the connection's last message to the handle and returns st. */
pgqrs_status pgqrs__fail_conn(void *handle, const pgqrs_conn *c, pgqrs_status st);
/* PGQRS_OK when h is a live handle of that kind; else PGQRS_EMISUSE with a message. */
pgqrs_status pgqrs__check_handle(const void *h, uint32_t magic, const char *what);

#endif
