/* vec.c: growable array of fixed-size slots. */
#include "base/vec.h"

#include <string.h>

#include "base/alloc.h"

void *pgqrs__vec_push(pgqrs__vec *v, size_t size)
{
    char *slot;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void *p;
        if (cap > ((size_t)-1) / size)
            return NULL;
        p = pgqrs__realloc(v->data, cap * size);
        if (!p)
            return NULL;
        v->data = p;
        v->cap = cap;
    }
    slot = (char *)v->data + v->n * size;
    memset(slot, 0, size);
    v->n++;
    return slot;
}

pgqrs_status pgqrs__vec_finish(void **out, size_t *n_out, pgqrs__vec *v, pgqrs_status st)
{
    if (st != PGQRS_OK) {
        pgqrs__free(v->data);
        v->data = NULL;
        v->n = 0;
    }
    *out = v->data;
    *n_out = v->n;
    return st;
}

int pgqrs__cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}
