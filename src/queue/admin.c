/* admin.c: schema install/verify, queue management, metrics and retention. */
#include <string.h>

#include "base/alloc.h"
#include "pgqrs_public.h"
#include "queue/migrate.h"
#include "queue/store.h"

PGQRS_EXTERN pgqrs_status pgqrs_schema_install(pgqrs_store *s)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        st = pgqrs__migrate(c, NULL);
    });
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_schema_verify(pgqrs_store *s)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        st = pgqrs__verify_schema(c);
    });
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_queue_options_init(pgqrs_queue_options *opts, unsigned int version)
{
    return pgqrs__struct_init(opts, sizeof *opts, version, PGQRS_QUEUE_OPTIONS_VERSION, "queue options");
}

PGQRS_EXTERN pgqrs_status pgqrs_queue_create(pgqrs_queue_info **out, pgqrs_store *s, const char *name, const pgqrs_queue_options *opts)
{
    pgqrs_status st;
    pgqrs_queue_row row = { 0 };
    int max_attempts = opts && opts->max_attempts ? opts->max_attempts : 5;
    if (out)
        *out = NULL;
    st = pgqrs__check_handle(s, PGQRS__MAGIC_STORE, "store");
    if (st != PGQRS_OK)
        return st;
    if (opts && (st = pgqrs__check_version(s, "queue options", opts->version, PGQRS_QUEUE_OPTIONS_VERSION)) != PGQRS_OK)
        return st;
    if (max_attempts < 1 || max_attempts > 1000000)
        return pgqrs__fail(s, PGQRS_EINVAL, "max_attempts must be 1..1000000, got %d", max_attempts);
    st = pgqrs__check_name(s, "queue", name);
    if (st != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_create_params p = { name, max_attempts };
        st = c->q->queue_create(&row, c, &p);
        if (st == PGQRS_ENOTFOUND) {
            /* ON CONFLICT DO NOTHING gave no row: the name is taken */
            if (opts && opts->exist_ok)
                st = pgqrs__queue_lookup(c, name, &row);
            else
                st = pgqrs__fail(s, PGQRS_EEXISTS, "queue '%.128s' already exists", name);
        }
    });
    if (st == PGQRS_OK && out) {
        *out = pgqrs__queue_info_from_queue_row(&row);
        if (!*out)
            st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    }
    pgqrs__queue_row_clear(&row);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_queue_get(pgqrs_queue_info **out, pgqrs_store *s, const char *name)
{
    pgqrs_status st;
    pgqrs_queue_row row = { 0 };
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, st = pgqrs__queue_lookup(c, name, &row));
    if (st == PGQRS_OK) {
        *out = pgqrs__queue_info_from_queue_row(&row);
        if (!*out)
            st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    }
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_queue_list(pgqrs_queues **out, pgqrs_store *s)
{
    pgqrs_status st;
    pgqrs_queue_row *rows = NULL;
    size_t n = 0;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        st = c->q->queue_list(&rows, &n, c);
    });
    if (st == PGQRS_OK && !(*out = pgqrs__queues_from_queue_rows(rows, n)))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_queue_delete(pgqrs_store *s, const char *name, int force)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        pgqrs_workflow_row *wfs = NULL;
        size_t nwf = 0;
        st = pgqrs__queue_lookup(c, name, &q);
        if (st == PGQRS_OK)
            st = c->q->workflow_list(&wfs, &nwf, c);
        for (size_t i = 0; st == PGQRS_OK && i < nwf; i++)
            if (wfs[i].queue_id == q.id)
                st = pgqrs__fail(s, PGQRS_ESTATE, "queue '%.128s' belongs to workflow '%.128s'; it cannot be deleted",
                                 name, wfs[i].name);
        pgqrs__workflow_rows_free(wfs, nwf);
        if (st == PGQRS_OK) {
            pgqrs_schedule_row sc = { 0 };
            st = c->q->schedule_of_queue(&sc, c, q.id);
            if (st == PGQRS_OK)
                st = pgqrs__fail(s, PGQRS_ESTATE, "queue '%.128s' is the target of schedule '%.128s'; delete the "
                                 "schedule first", name, sc.name);
            else if (st == PGQRS_ENOTFOUND)
                st = PGQRS_OK;
            pgqrs__schedule_row_clear(&sc);
        }
        if (st == PGQRS_OK) {
            int64_t *deleted = NULL;
            size_t n = 0;
            pgqrs_queue_delete_params p = { q.id, force != 0 };
            st = c->q->queue_delete(&deleted, &n, c, &p);
            pgqrs__free(deleted);
            if (st == PGQRS_ENOTFOUND)   /* a foreign key still points here: a workflow's queue */
                st = pgqrs__fail(s, PGQRS_ESTATE, "queue '%.128s' is used by a workflow; delete the workflow first",
                                 name);
            else if (st == PGQRS_EBUSY)
                st = pgqrs__fail(s, PGQRS_EBUSY, "queue '%.128s' was not deleted: transactions writing messages did not "
                                 "end within 5 s (an open application transaction?); try again", name);
            else if (st == PGQRS_OK && n == 0)
                st = pgqrs__fail(s, PGQRS_ESTATE, "queue '%.128s' still has live messages; purge it or force the delete",
                                 name);
        }
        pgqrs__queue_row_clear(&q);
    });
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_queue_purge(int64_t *purged_out, pgqrs_store *s, const char *name)
{
    pgqrs_status st;
    int64_t affected = 0;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        st = pgqrs__queue_lookup(c, name, &q);
        if (st == PGQRS_OK)
            st = c->q->message_purge(&affected, c, q.id);
        pgqrs__queue_row_clear(&q);
    });
    if (purged_out)
        *purged_out = st == PGQRS_OK ? affected : 0;
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_archive_purge(int64_t *purged_out, pgqrs_store *s, const char *name, int64_t older_than_s)
{
    pgqrs_status st;
    int64_t affected = 0;
    if (purged_out)
        *purged_out = 0;
    PGQRS__CHECK_STORE(s);
    if (older_than_s < 0)
        return pgqrs__fail(s, PGQRS_EINVAL, "older_than_s must be >= 0, got %lld", (long long)older_than_s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        pgqrs_archive_purge_params p = { false, 0, 0 };
        st = PGQRS_OK;
        if (name) {
            st = pgqrs__queue_lookup(c, name, &q);
            p.has_queue_id = true;
            p.queue_id = q.id;
        }
        p.before_us = pgqrs__store_clock(s) - older_than_s * 1000000;
        if (st == PGQRS_OK)
            st = c->q->archive_purge(&affected, c, &p);
        pgqrs__queue_row_clear(&q);
    });
    if (purged_out && st == PGQRS_OK)
        *purged_out = affected;
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_metrics_list(pgqrs_metrics **out, pgqrs_store *s, const char *name)
{
    pgqrs_status st;
    pgqrs_queue_metrics_row *rows = NULL;
    size_t n = 0;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        pgqrs_queue_metrics_params p = { false, 0 };
        st = PGQRS_OK;
        if (name) {
            st = pgqrs__queue_lookup(c, name, &q);
            p.has_queue_id = true;
            p.queue_id = q.id;
        }
        if (st == PGQRS_OK)
            st = c->q->queue_metrics(&rows, &n, c, &p);
        pgqrs__queue_row_clear(&q);
    });
    if (st == PGQRS_OK && !(*out = pgqrs__metrics_from_queue_metrics_rows(rows, n, pgqrs__store_clock(s))))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}
