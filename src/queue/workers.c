/* workers.c: store-level worker inspection, health, zombie reclaim and purge. */
#include "base/alloc.h"
#include "pgqrs_public.h"
#include "queue/store.h"

PGQRS_EXTERN pgqrs_status pgqrs_worker_get(pgqrs_worker_info **out, pgqrs_store *s, int64_t id)
{
    pgqrs_status st;
    pgqrs_worker_row row = { 0 };
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        st = c->q->worker_get(&row, c, id);
        if (st == PGQRS_ENOTFOUND)
            pgqrs__fail(s, st, "worker %lld does not exist", (long long)id);
    });
    if (st == PGQRS_OK && !(*out = pgqrs__worker_info_from_worker_row(&row)))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_worker_list(pgqrs_workers **out, pgqrs_store *s, const char *queue)
{
    pgqrs_status st;
    pgqrs_worker_row *rows = NULL;
    size_t n = 0;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        pgqrs_worker_list_params p = { false, 0 };
        st = PGQRS_OK;
        if (queue) {
            st = pgqrs__queue_lookup(c, queue, &q);
            p.has_queue_id = true;
            p.queue_id = q.id;
        }
        if (st == PGQRS_OK)
            st = c->q->worker_list(&rows, &n, c, &p);
        pgqrs__queue_row_clear(&q);
    });
    if (st == PGQRS_OK && !(*out = pgqrs__workers_from_worker_rows(rows, n)))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}

static int64_t threshold(pgqrs_store *s, int64_t older_than_s)
{
    if (older_than_s == 0)
        older_than_s = s->opts.zombie_after_s;
    return pgqrs__store_clock(s) - older_than_s * 1000000;
}

PGQRS_EXTERN pgqrs_status pgqrs_worker_health_init(pgqrs_worker_health *health, unsigned int version)
{
    return pgqrs__struct_init(health, sizeof *health, version, PGQRS_WORKER_HEALTH_VERSION, "worker health");
}

PGQRS_EXTERN pgqrs_status pgqrs_worker_health_get(pgqrs_worker_health *out, pgqrs_store *s, int64_t stale_after_s)
{
    pgqrs_status st;
    pgqrs_worker_health_row row = { 0 };
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    PGQRS__CHECK_STORE(s);
    if ((st = pgqrs__check_version(s, "worker health", out->version, PGQRS_WORKER_HEALTH_VERSION)) != PGQRS_OK)
        return st;
    if (stale_after_s < 0)
        return pgqrs__fail(s, PGQRS_EINVAL, "stale_after_s must be >= 0");
    PGQRS__WITH_CONN(s, s, {
        st = c->q->worker_health(&row, c, threshold(s, stale_after_s));
    });
    if (st == PGQRS_OK) {
        out->total = row.total;
        out->ready = row.ready;
        out->suspended = row.suspended;
        out->stopped = row.stopped;
        out->stale = row.stale;
    }
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_worker_reclaim_zombies(int64_t *reclaimed_out, pgqrs_store *s, int64_t older_than_s)
{
    pgqrs_status st;
    int64_t *ids = NULL;
    size_t n = 0;
    if (reclaimed_out)
        *reclaimed_out = 0;
    PGQRS__CHECK_STORE(s);
    if (older_than_s < 0)
        return pgqrs__fail(s, PGQRS_EINVAL, "older_than_s must be >= 0");
    PGQRS__WITH_CONN(s, s, {
        st = c->q->worker_reclaim(&ids, &n, c, threshold(s, older_than_s));
    });
    for (size_t i = 0; st == PGQRS_OK && i < n; i++)
        pgqrs__log(s, PGQRS_LOG_WARN, "worker.reclaim", "zombie worker %lld stopped, its messages released",
                   (long long)ids[i]);
    pgqrs__free(ids);
    if (st == PGQRS_OK && reclaimed_out)
        *reclaimed_out = (int64_t)n;
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_worker_purge_stale(int64_t *purged_out, pgqrs_store *s, int64_t older_than_s)
{
    pgqrs_status st;
    int64_t *ids = NULL;
    size_t n = 0;
    if (purged_out)
        *purged_out = 0;
    PGQRS__CHECK_STORE(s);
    if (older_than_s < 0)
        return pgqrs__fail(s, PGQRS_EINVAL, "older_than_s must be >= 0");
    PGQRS__WITH_CONN(s, s, {
        st = c->q->worker_purge_stale(&ids, &n, c, threshold(s, older_than_s));
    });
    pgqrs__free(ids);
    if (st == PGQRS_OK && purged_out)
        *purged_out = (int64_t)n;
    return st;
}
