/* version.c: version and static status descriptions. */
#include "pgqrs.h"

PGQRS_EXTERN const char *pgqrs_version(void) { return PGQRS_VERSION; }

PGQRS_EXTERN int pgqrs_version_number(void) { return PGQRS_VERSION_NUMBER; }

PGQRS_EXTERN const char *pgqrs_errstr(pgqrs_status st)
{
    switch (st) {
    case PGQRS_OK: return "ok";
    case PGQRS_ERROR: return "error";
    case PGQRS_ENOTFOUND: return "not found";
    case PGQRS_EEXISTS: return "already exists";
    case PGQRS_EINVAL: return "invalid argument";
    case PGQRS_EBUSY: return "busy";
    case PGQRS_ENOTOWNED: return "not owned";
    case PGQRS_ESTATE: return "illegal state";
    case PGQRS_ECONN: return "connection error";
    case PGQRS_ETIMEOUT: return "timed out";
    case PGQRS_ENOMEM: return "out of memory";
    case PGQRS_ENOTSUPPORTED: return "not supported";
    case PGQRS_EMISUSE: return "misuse";
    case PGQRS_ECANCELLED: return "cancelled";
    case PGQRS_ESUSPENDED: return "suspended";
    }
    return "unknown status";
}
