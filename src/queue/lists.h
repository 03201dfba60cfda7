/* lists.h: the generic result handle every list type is (pgqrs_batch, pgqrs_queues,
 * ...: generated/pgqrs_public.c defines them, their accessors and the converters
 * from rows, from schema/public.toml). */
#ifndef PGQRS_LISTS_H
#define PGQRS_LISTS_H

#include <stddef.h>

#include "base/handle.h"

/* Every result handle is one of these: a handle header and n items of one
 * public struct type, with the function that frees what an item owns. */
typedef struct pgqrs__list {
    pgqrs__handle h;
    size_t n;
    void *items;
    size_t item_size;
    void (*clear_item)(void *item);
} pgqrs__list;

/* A list of n zeroed items (NULL when out of memory). */
void *pgqrs__list_new(size_t n, size_t item_size, void (*clear_item)(void *item));
/* n, or 0 for NULL or a handle that is not a live list. */
size_t pgqrs__list_count(const void *list);
/* Item i, borrowed from the list; NULL when out of range or not a list. */
const void *pgqrs__list_at(const void *list, size_t i);
/* Clears every item and frees the list; NULL or a non-list: no-op. */
void pgqrs__list_free(void *list);

#endif
