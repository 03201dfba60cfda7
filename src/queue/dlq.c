/* dlq.c: dead letters (list, count, replay) and read-only message listings. */
#include "base/alloc.h"
#include "pgqrs_public.h"
#include "queue/worker_handle.h"

/* The checks every listing starts with, the store's included. */
static pgqrs_status list_args(pgqrs_store *s, pgqrs_batch **out, int64_t after_id, int limit)
{
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    if (after_id < 0)
        return pgqrs__fail(s, PGQRS_EINVAL, "after_id must be >= 0, got %lld", (long long)after_id);
    return pgqrs__check_range(s, "limit", limit, 1, PGQRS_MAX_BATCH_LIMIT);
}

static pgqrs_status archive_rows(pgqrs_store *s, const char *queue, pgqrs_db_archive_reason reason, int64_t after_id,
                                 int limit, pgqrs_batch **out)
{
    pgqrs_archived_row *rows = NULL;
    size_t n = 0;
    pgqrs_status st = list_args(s, out, after_id, limit);
    if (st != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        st = pgqrs__queue_lookup(c, queue, &q);
        if (st == PGQRS_OK) {
            pgqrs_archive_list_params p = { q.id, reason, after_id, limit };
            st = c->q->archive_list(&rows, &n, c, &p);
        }
        pgqrs__queue_row_clear(&q);
    });
    if (st == PGQRS_OK && !(*out = pgqrs__batch_from_archived_rows(rows, n)))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_dlq_list(pgqrs_batch **out, pgqrs_store *s, const char *queue, int64_t after_id, int limit)
{
    return archive_rows(s, queue, PGQRS_DB_ARCHIVE_REASON_DEAD_LETTER, after_id, limit, out);
}

PGQRS_EXTERN pgqrs_status pgqrs_archive_list(pgqrs_batch **out, pgqrs_store *s, const char *queue, int64_t after_id, int limit)
{
    return archive_rows(s, queue, PGQRS_DB_ARCHIVE_REASON_ARCHIVED, after_id, limit, out);
}

PGQRS_EXTERN pgqrs_status pgqrs_message_list(pgqrs_batch **out, pgqrs_store *s, const char *queue, int64_t after_id, int limit)
{
    pgqrs_message_row *rows = NULL;
    size_t n = 0;
    pgqrs_status st = list_args(s, out, after_id, limit);
    if (st != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        st = pgqrs__queue_lookup(c, queue, &q);
        if (st == PGQRS_OK) {
            pgqrs_message_list_params p = { q.id, after_id, limit };
            st = c->q->message_list(&rows, &n, c, &p);
        }
        pgqrs__queue_row_clear(&q);
    });
    if (st == PGQRS_OK && !(*out = pgqrs__batch_from_message_rows(rows, n)))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_dlq_count(int64_t *count_out, pgqrs_store *s, const char *queue)
{
    pgqrs_status st;
    int64_t n = 0;
    PGQRS__CHECK_STORE(s);
    if (!count_out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "count_out is NULL");
    *count_out = 0;
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        st = pgqrs__queue_lookup(c, queue, &q);
        if (st == PGQRS_OK) {
            pgqrs_archive_count_params p = { q.id, PGQRS_DB_ARCHIVE_REASON_DEAD_LETTER };
            st = c->q->archive_count(&n, c, &p);
        }
        pgqrs__queue_row_clear(&q);
    });
    if (st == PGQRS_OK)
        *count_out = n;
    return st;
}

/* One replay statement: ids given (all false) or the oldest `limit` (all true). */
static pgqrs_status replay(pgqrs_store *s, pgqrs_conn *c, int64_t queue_id, const int64_t *ids, size_t nids, bool all,
                           int limit, size_t *moved)
{
    int64_t *done = NULL;
    pgqrs_dlq_replay_params p = { queue_id, ids, nids, all, limit };
    pgqrs_status st = c->q->dlq_replay(&done, moved, c, &p);
    if (st == PGQRS_OK && *moved) {
        atomic_fetch_add(&s->n_replayed, (int64_t)*moved);
        pgqrs__log(s, PGQRS_LOG_INFO, "dlq.replay", "%zu dead letter(s) of queue %lld moved back", *moved,
                   (long long)queue_id);
    }
    pgqrs__free(done);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_dlq_replay(pgqrs_store *s, const char *queue, int64_t id)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        size_t moved = 0;
        st = pgqrs__queue_lookup(c, queue, &q);
        if (st == PGQRS_OK)
            st = replay(s, c, q.id, &id, 1, false, 1, &moved);
        if (st == PGQRS_OK && moved == 0)
            st = pgqrs__fail(s, PGQRS_ENOTFOUND, "no dead letter %lld in queue '%.128s'", (long long)id, queue);
        pgqrs__queue_row_clear(&q);
    });
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_dlq_replay_all(int64_t *replayed_out, pgqrs_store *s, const char *queue)
{
    pgqrs_status st;
    int64_t total = 0;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_queue_row q = { 0 };
        size_t moved = 1;
        st = pgqrs__queue_lookup(c, queue, &q);
        /* chunks keep each transaction bounded; each chunk is atomic */
        while (st == PGQRS_OK && moved > 0) {
            st = replay(s, c, q.id, NULL, 0, true, s->opts.max_batch_size, &moved);
            total += (int64_t)moved;
        }
        pgqrs__queue_row_clear(&q);
    });
    if (replayed_out)
        *replayed_out = total;
    return st;
}
