/* payload.c: argument checks shared by producers and consumers. */
#include <jansson.h>

#include "queue/worker_handle.h"

pgqrs_status pgqrs__check_json(void *handle, const char *what, const char *json)
{
    json_error_t err;
    json_t *v;
    if (!json)
        return pgqrs__fail(handle, PGQRS_EMISUSE, "%s is NULL", what);
    /* any JSON value; integers as reals so big numbers are valid, not "too big" */
    v = json_loads(json, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &err);
    if (!v)
        return pgqrs__fail(handle, PGQRS_EINVAL, "%s is not valid JSON: %s (line %d, column %d)", what, err.text,
                           err.line, err.column);
    json_decref(v);
    return PGQRS_OK;
}

pgqrs_status pgqrs__check_range(void *handle, const char *what, int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo || v > hi)
        return pgqrs__fail(handle, PGQRS_EINVAL, "%s must be %lld..%lld, got %lld", what, (long long)lo, (long long)hi,
                           (long long)v);
    return PGQRS_OK;
}
