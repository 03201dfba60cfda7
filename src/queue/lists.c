/* lists.c: the generic result handle. The per-type lists, their _count/_at/_free
 * and the converters from rows are generated (generated/pgqrs_public.c). */
#include "queue/lists.h"

#include "base/alloc.h"

void *pgqrs__list_new(size_t n, size_t item_size, void (*clear_item)(void *item))
{
    pgqrs__list *l = pgqrs__calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->h.magic = PGQRS__MAGIC_LIST;
    l->items = n ? pgqrs__calloc(n, item_size) : NULL;
    if (n && !l->items) {
        pgqrs__free(l);
        return NULL;
    }
    l->n = n;
    l->item_size = item_size;
    l->clear_item = clear_item;
    return l;
}

static const pgqrs__list *as_list(const void *list)
{
    const pgqrs__list *l = list;
    return l && l->h.magic == PGQRS__MAGIC_LIST ? l : NULL;
}

size_t pgqrs__list_count(const void *list)
{
    const pgqrs__list *l = as_list(list);
    return l ? l->n : 0;
}

const void *pgqrs__list_at(const void *list, size_t i)
{
    const pgqrs__list *l = as_list(list);
    return l && i < l->n ? (const char *)l->items + i * l->item_size : NULL;
}

void pgqrs__list_free(void *list)
{
    pgqrs__list *l = (pgqrs__list *)as_list(list);
    if (!l)
        return;
    for (size_t i = 0; l->clear_item && i < l->n; i++)
        l->clear_item((char *)l->items + i * l->item_size);
    pgqrs__free(l->items);
    l->h.magic = PGQRS__MAGIC_FREED;
    pgqrs__free(l);
}
