/* alloc.h: the one allocator indirection, so tests can fail the Nth allocation. */
#ifndef PGQRS_ALLOC_H
#define PGQRS_ALLOC_H

#include <stddef.h>

void *pgqrs__malloc(size_t n);
void *pgqrs__calloc(size_t count, size_t size);
void *pgqrs__realloc(void *p, size_t n);
void pgqrs__free(void *p);                      /* NULL: no-op */
char *pgqrs__strdup(const char *s);             /* NULL in, NULL out */
char *pgqrs__strndup(const char *s, size_t n);

/* Test hook: after `n` more successful allocations every allocation fails,
 * until reset with a negative n. Not thread-safe; for single-threaded tests. */
void pgqrs__alloc_fail_after(long n);

#endif
