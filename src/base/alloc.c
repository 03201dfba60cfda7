/* alloc.c: malloc wrappers with an injectable failure point for tests. */
#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

static long fail_after = -1;

static int should_fail(void)
{
    if (fail_after < 0)
        return 0;
    if (fail_after == 0)
        return 1;
    fail_after--;
    return 0;
}

void pgqrs__alloc_fail_after(long n) { fail_after = n; }

void *pgqrs__malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }

void *pgqrs__calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *pgqrs__realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }

void pgqrs__free(void *p) { free(p); }

char *pgqrs__strndup(const char *s, size_t n)
{
    char *out;
    if (!s)
        return NULL;
    out = pgqrs__malloc(n + 1);
    if (!out)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

char *pgqrs__strdup(const char *s) { return s ? pgqrs__strndup(s, strlen(s)) : NULL; }
