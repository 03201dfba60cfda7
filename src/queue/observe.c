/* observe.c: what a store tells about itself: its log callback and its counters. */
#include <stddef.h>

#include "queue/store.h"

PGQRS_EXTERN void pgqrs_store_set_log_callback(pgqrs_store *s, pgqrs_log_fn fn, void *user, int min_level)
{
    if (s && s->h.magic == PGQRS__MAGIC_STORE)
        pgqrs__logger_set(&s->logger, fn, user, min_level);
}

PGQRS_EXTERN pgqrs_status pgqrs_counters_init(pgqrs_counters *counters, unsigned int version)
{
    if (version == 1)   /* the fields before version 2's purged_* */
        return pgqrs__struct_init(counters, offsetof(pgqrs_counters, purged_archived), 1, 1, "counters");
    return pgqrs__struct_init(counters, sizeof *counters, version, PGQRS_COUNTERS_VERSION, "counters");
}

PGQRS_EXTERN pgqrs_status pgqrs_store_counters(pgqrs_counters *out, const pgqrs_store *s)
{
    pgqrs_status st = pgqrs__check_handle(s, PGQRS__MAGIC_STORE, "store");
    pgqrs_store *m = (pgqrs_store *)s;   /* atomics are read, not changed */
    if (st != PGQRS_OK)
        return st;
    if (!out)
        return pgqrs__fail(m, PGQRS_EMISUSE, "out is NULL");
    if (out->version != 1 && (st = pgqrs__check_version(m, "counters", out->version, PGQRS_COUNTERS_VERSION)) != PGQRS_OK)
        return st;
    out->enqueued = atomic_load(&m->n_enqueued);
    out->dequeued = atomic_load(&m->n_dequeued);
    out->archived = atomic_load(&m->n_archived);
    out->deleted = atomic_load(&m->n_deleted);
    out->released = atomic_load(&m->n_released);
    out->replayed = atomic_load(&m->n_replayed);
    out->retried = atomic_load(&m->n_retried);
    for (int i = 0; i < 16; i++)
        out->errors[i] = atomic_load(&m->errs.by_status[i]);
    out->dead_lettered = atomic_load(&m->n_dead_lettered);
    if (out->version >= 2) {
        out->purged_archived = atomic_load(&m->n_purged_archived);
        out->purged_dead_letters = atomic_load(&m->n_purged_dead_letters);
        out->purged_runs = atomic_load(&m->n_purged_runs);
    }
    return PGQRS_OK;
}
