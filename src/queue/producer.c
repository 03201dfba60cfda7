/* producer.c: enqueue, batch enqueue and delayed enqueue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "queue/worker_handle.h"

PGQRS_EXTERN pgqrs_status pgqrs_producer_new(pgqrs_producer **out, pgqrs_store *s, const char *queue)
{
    return pgqrs__worker_handle_new((void **)out, sizeof **out, PGQRS__MAGIC_PRODUCER, s, queue,
                                    PGQRS_DB_WORKER_KIND_PRODUCER);
}

PGQRS_EXTERN void pgqrs_producer_free(pgqrs_producer *p)
{
    if (!p || p->w.h.magic != PGQRS__MAGIC_PRODUCER)
        return;
    pgqrs__worker_handle_close(&p->w, false);
    pgqrs__free(p);
}

PGQRS_EXTERN int64_t pgqrs_producer_worker_id(const pgqrs_producer *p)
{
    return p && p->w.h.magic == PGQRS__MAGIC_PRODUCER ? p->w.worker_id : 0;
}

static pgqrs_status gone_or(pgqrs_producer *p, pgqrs_conn *c, pgqrs_status st)
{
    if (st == PGQRS_ENOTFOUND)   /* the queue was deleted meanwhile */
        return pgqrs__fail(p, st, "queue '%.128s' no longer exists", p->w.queue);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_enqueue(int64_t *id_out, pgqrs_producer *p, const char *payload_json, int delay_seconds)
{
    pgqrs_status st = pgqrs__check_handle(p, PGQRS__MAGIC_PRODUCER, "producer");
    int64_t id = 0;
    if (id_out)
        *id_out = 0;
    if (st != PGQRS_OK)
        return st;
    if ((st = pgqrs__check_json(p, "payload", payload_json)) != PGQRS_OK ||
        (st = pgqrs__check_range(p, "delay_seconds", delay_seconds, 0, PGQRS_MAX_DELAY_SECONDS)) != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(p->w.store, p, {
        pgqrs_message_enqueue_params prm = { p->w.queue_id, payload_json, (int64_t)delay_seconds * 1000, true,
                                             p->w.worker_id };
        st = c->q->message_enqueue(&id, c, &prm);
        if (st != PGQRS_OK)
            gone_or(p, c, st);
    });
    if (st == PGQRS_OK) {
        atomic_fetch_add(&p->w.store->n_enqueued, 1);
        pgqrs__log(p->w.store, PGQRS_LOG_DEBUG, "message.enqueue", "message %lld (%zu bytes) into '%.128s'",
                   (long long)id, strlen(payload_json), p->w.queue);
    }
    if (st == PGQRS_OK && id_out)
        *id_out = id;
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_enqueue_batch(int64_t *ids_out, pgqrs_producer *p, const char *const *payloads, size_t n, int delay_seconds)
{
    pgqrs_status st = pgqrs__check_handle(p, PGQRS__MAGIC_PRODUCER, "producer");
    int64_t *ids = NULL;
    size_t nids = 0;
    if (st != PGQRS_OK)
        return st;
    if (!payloads)
        return pgqrs__fail(p, PGQRS_EMISUSE, "payloads is NULL");
    if ((st = pgqrs__check_range(p, "batch size", (int64_t)n, 1, p->w.store->opts.max_batch_size)) != PGQRS_OK ||
        (st = pgqrs__check_range(p, "delay_seconds", delay_seconds, 0, PGQRS_MAX_DELAY_SECONDS)) != PGQRS_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        char what[48];
        snprintf(what, sizeof what, "payload %zu", i);
        if ((st = pgqrs__check_json(p, what, payloads[i])) != PGQRS_OK)
            return st;
    }
    PGQRS__WITH_CONN(p->w.store, p, {
        pgqrs_message_enqueue_batch_params prm = { p->w.queue_id, payloads, n, (int64_t)delay_seconds * 1000, true,
                                                   p->w.worker_id };
        st = c->q->message_enqueue_batch(&ids, &nids, c, &prm);
        if (st == PGQRS_OK && nids == 0)   /* the statement read no queue row (PostgreSQL) */
            st = PGQRS_ENOTFOUND;
        if (st != PGQRS_OK)
            gone_or(p, c, st);
    });
    if (st == PGQRS_OK) {
        atomic_fetch_add(&p->w.store->n_enqueued, (int64_t)nids);
        pgqrs__log(p->w.store, PGQRS_LOG_DEBUG, "message.enqueue_batch", "%zu messages into '%.128s'", nids,
                   p->w.queue);
    }
    if (st == PGQRS_OK && nids != n)
        st = pgqrs__fail(p, PGQRS_ERROR, "batch enqueue returned %zu ids for %zu payloads", nids, n);
    if (st == PGQRS_OK && ids_out) {
        /* ids are assigned in input order within the statement */
        qsort(ids, nids, sizeof *ids, pgqrs__cmp_i64);
        memcpy(ids_out, ids, n * sizeof *ids);
    }
    pgqrs__free(ids);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_producer_heartbeat(pgqrs_producer *p)
{
    pgqrs_status st = pgqrs__check_handle(p, PGQRS__MAGIC_PRODUCER, "producer");
    return st == PGQRS_OK ? pgqrs__worker_heartbeat(&p->w) : st;
}

PGQRS_EXTERN pgqrs_status pgqrs_producer_suspend(pgqrs_producer *p)
{
    pgqrs_status st = pgqrs__check_handle(p, PGQRS__MAGIC_PRODUCER, "producer");
    return st == PGQRS_OK ? pgqrs__worker_transition(&p->w, PGQRS_DB_WORKER_STATUS_READY,
                                                     PGQRS_DB_WORKER_STATUS_SUSPENDED, "suspend")
                          : st;
}

PGQRS_EXTERN pgqrs_status pgqrs_producer_resume(pgqrs_producer *p)
{
    pgqrs_status st = pgqrs__check_handle(p, PGQRS__MAGIC_PRODUCER, "producer");
    return st == PGQRS_OK ? pgqrs__worker_transition(&p->w, PGQRS_DB_WORKER_STATUS_SUSPENDED,
                                                     PGQRS_DB_WORKER_STATUS_READY, "resume")
                          : st;
}

PGQRS_EXTERN pgqrs_status pgqrs_producer_shutdown(pgqrs_producer *p)
{
    pgqrs_status st = pgqrs__check_handle(p, PGQRS__MAGIC_PRODUCER, "producer");
    return st == PGQRS_OK ? pgqrs__worker_shutdown(&p->w, false) : st;
}
