/* vec.h: an untyped growable array for rows collected by generated :many accessors. */
#ifndef PGQRS_VEC_H
#define PGQRS_VEC_H

#include <stddef.h>

#include "pgqrs.h"

typedef struct pgqrs__vec {
    void *data;
    size_t n;
    size_t cap;
} pgqrs__vec;

#define PGQRS__VEC_INIT { NULL, 0, 0 }

/* A zeroed new slot of `size` bytes at the end, or NULL when out of memory.
 * Every push to one vector must use the same size. */
void *pgqrs__vec_push(pgqrs__vec *v, size_t size);
/* For arrays of plain values: hands them over on success, frees them on failure. */
pgqrs_status pgqrs__vec_finish(void **out, size_t *n_out, pgqrs__vec *v, pgqrs_status st);

/* qsort/bsearch comparator of int64_t ids. */
int pgqrs__cmp_i64(const void *a, const void *b);

#endif
