/* pgqrs.h: durable queues and workflows on PostgreSQL and SQLite.
 *
 * Threads: a pgqrs_store may be shared between threads; every other handle is
 * used by one thread at a time.
 * Errors: every call returns a pgqrs_status; zero is success. Each handle keeps
 * the message of its last failure (pgqrs_errmsg); a failure before any handle
 * exists is read with pgqrs_errmsg(NULL). No message ever holds a password or
 * token. Test the status, never the message text.
 * Ownership: what comes back through an `out` pointer is the caller's and has its
 * own _free; a returned `const` pointer is borrowed from its parent handle. */
#ifndef PGQRS_H
#define PGQRS_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define PGQRS_EXTERN __declspec(dllexport)
#elif defined(__GNUC__)
#define PGQRS_EXTERN __attribute__((visibility("default")))
#else
#define PGQRS_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define PGQRS_VERSION "0.1.0"
#define PGQRS_VERSION_NUMBER 1000   /* major * 1000000 + minor * 1000 + patch */

/* Status codes. Append only: bindings mirror the numbers. */
typedef enum pgqrs_status {
    PGQRS_OK = 0,
    PGQRS_ERROR = -1,          /* unexpected failure; read pgqrs_errmsg() */
    PGQRS_ENOTFOUND = -2,      /* no such queue, message, worker or run */
    PGQRS_EEXISTS = -3,        /* the name is taken */
    PGQRS_EINVAL = -4,         /* bad input; nothing was changed */
    PGQRS_EBUSY = -5,          /* still locked after bounded retries */
    PGQRS_ENOTOWNED = -6,      /* held by another worker */
    PGQRS_ESTATE = -7,         /* illegal state transition */
    PGQRS_ECONN = -8,          /* could not reach the database */
    PGQRS_ETIMEOUT = -9,
    PGQRS_ENOMEM = -10,
    PGQRS_ENOTSUPPORTED = -11, /* backend not built in, or not supported by it */
    PGQRS_EMISUSE = -12        /* NULL, freed or foreign handle or argument */
} pgqrs_status;

/* The library's version string, e.g. "0.1.0". Static. */
PGQRS_EXTERN const char *pgqrs_version(void);
/* PGQRS_VERSION_NUMBER of the library actually loaded. */
PGQRS_EXTERN int pgqrs_version_number(void);
/* A short static description of a status code, e.g. "not found". Never NULL. */
PGQRS_EXTERN const char *pgqrs_errstr(pgqrs_status st);

#ifdef __cplusplus
}
#endif

#endif
