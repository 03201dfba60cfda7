/* enum_desc.c: enum <-> string by table lookup. */
#include "base/enum_desc.h"

#include <string.h>

const char *pgqrs__enum_str(const pgqrs__enum_desc *d, int v)
{
    return v >= 0 && v < d->count ? d->values[v] : NULL;
}

int pgqrs__enum_parse(const pgqrs__enum_desc *d, const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < d->count; i++)
        if (strcmp(d->values[i], s) == 0)
            return i;
    return -1;
}
