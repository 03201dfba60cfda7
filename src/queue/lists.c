/* lists.c: result handles built from generated rows. */
#include "queue/lists.h"

#include <string.h>

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

static void message_from_row(pgqrs_message *m, pgqrs_message_row *r)
{
    m->id = r->id;
    m->queue_id = r->queue_id;
    m->payload = r->payload;
    r->payload = NULL;
    m->read_count = r->read_ct;
    m->enqueued_at_us = r->enqueued_at_us;
    m->vt_us = r->vt_us;
    m->dequeued_at_us = r->has_dequeued_at ? r->dequeued_at_us : 0;
    m->producer_worker_id = r->has_producer_worker_id ? r->producer_worker_id : 0;
    m->consumer_worker_id = r->has_consumer_worker_id ? r->consumer_worker_id : 0;
    m->archived_at_us = 0;
    m->state = "live";
}

static void message_clear(void *item) { pgqrs__free((char *)((pgqrs_message *)item)->payload); }

pgqrs_batch *pgqrs__batch_from_messages(pgqrs_message_row *rows, size_t n)
{
    pgqrs_batch *b = pgqrs__list_new(n, sizeof(pgqrs_message), message_clear);
    for (size_t i = 0; b && i < n; i++)
        message_from_row((pgqrs_message *)b->l.items + i, &rows[i]);
    pgqrs__message_rows_free(rows, n);
    return b;
}

pgqrs_batch *pgqrs__batch_from_archive(pgqrs_archived_row *rows, size_t n)
{
    pgqrs_batch *b = pgqrs__list_new(n, sizeof(pgqrs_message), message_clear);
    if (b) {
        for (size_t i = 0; i < n; i++) {
            pgqrs_message *m = (pgqrs_message *)b->l.items + i;
            pgqrs_archived_row *r = &rows[i];
            m->id = r->id;
            m->queue_id = r->queue_id;
            m->payload = r->payload;
            r->payload = NULL;
            m->read_count = r->read_ct;
            m->enqueued_at_us = r->enqueued_at_us;
            m->vt_us = 0;
            m->dequeued_at_us = r->has_dequeued_at ? r->dequeued_at_us : 0;
            m->producer_worker_id = r->has_producer_worker_id ? r->producer_worker_id : 0;
            m->consumer_worker_id = r->has_consumer_worker_id ? r->consumer_worker_id : 0;
            m->archived_at_us = r->archived_at_us;
            m->state = pgqrs__archive_reason_str(r->reason);
        }
    }
    pgqrs__archived_rows_free(rows, n);
    return b;
}

PGQRS_EXTERN size_t pgqrs_batch_count(const pgqrs_batch *b) { return pgqrs__list_count(b); }

PGQRS_EXTERN const pgqrs_message *pgqrs_batch_at(const pgqrs_batch *b, size_t i) { return pgqrs__list_at(b, i); }

PGQRS_EXTERN void pgqrs_batch_free(pgqrs_batch *b) { pgqrs__list_free(b); }

static void queue_info_fill(pgqrs_queue_info *q, pgqrs_queue_row *r)
{
    q->id = r->id;
    q->name = r->name;
    r->name = NULL;
    q->max_attempts = r->max_attempts;
    q->created_at_us = r->created_at_us;
}

pgqrs_queue_info *pgqrs__queue_info_from(pgqrs_queue_row *row)
{
    pgqrs_queue_info *q = pgqrs__calloc(1, sizeof *q);
    if (q)
        queue_info_fill(q, row);
    pgqrs__queue_row_clear(row);
    return q;
}

PGQRS_EXTERN void pgqrs_queue_info_free(pgqrs_queue_info *q)
{
    if (!q)
        return;
    pgqrs__free((char *)q->name);
    pgqrs__free(q);
}

static void queue_info_clear(void *item) { pgqrs__free((char *)((pgqrs_queue_info *)item)->name); }

pgqrs_queues *pgqrs__queue_list_from(pgqrs_queue_row *rows, size_t n)
{
    pgqrs_queues *l = pgqrs__list_new(n, sizeof(pgqrs_queue_info), queue_info_clear);
    for (size_t i = 0; l && i < n; i++)
        queue_info_fill((pgqrs_queue_info *)l->l.items + i, &rows[i]);
    pgqrs__queue_rows_free(rows, n);
    return l;
}

PGQRS_EXTERN size_t pgqrs_queues_count(const pgqrs_queues *l) { return pgqrs__list_count(l); }

PGQRS_EXTERN const pgqrs_queue_info *pgqrs_queues_at(const pgqrs_queues *l, size_t i)
{
    return pgqrs__list_at(l, i);
}

PGQRS_EXTERN void pgqrs_queues_free(pgqrs_queues *l) { pgqrs__list_free(l); }

static void metrics_clear(void *item) { pgqrs__free((char *)((pgqrs_queue_metrics *)item)->name); }

pgqrs_metrics *pgqrs__metrics_list_from(pgqrs_queue_metrics_row *rows, size_t n, int64_t now_us)
{
    pgqrs_metrics *l = pgqrs__list_new(n, sizeof(pgqrs_queue_metrics), metrics_clear);
    if (l) {
        for (size_t i = 0; i < n; i++) {
            pgqrs_queue_metrics *m = (pgqrs_queue_metrics *)l->l.items + i;
            pgqrs_queue_metrics_row *r = &rows[i];
            m->queue_id = r->queue_id;
            m->name = r->name;
            r->name = NULL;
            m->pending = r->pending;
            m->in_flight = r->in_flight;
            m->delayed = r->delayed;
            m->archived = r->archived;
            m->dead_lettered = r->dead_lettered;
            m->oldest_pending_age_us =
                r->has_oldest_pending_at && now_us > r->oldest_pending_at_us ? now_us - r->oldest_pending_at_us : 0;
        }
    }
    pgqrs__queue_metrics_rows_free(rows, n);
    return l;
}

PGQRS_EXTERN size_t pgqrs_metrics_count(const pgqrs_metrics *l) { return pgqrs__list_count(l); }

PGQRS_EXTERN const pgqrs_queue_metrics *pgqrs_metrics_at(const pgqrs_metrics *l, size_t i)
{
    return pgqrs__list_at(l, i);
}

PGQRS_EXTERN void pgqrs_metrics_free(pgqrs_metrics *l) { pgqrs__list_free(l); }

static void worker_fill(pgqrs_worker_info *w, pgqrs_worker_row *r)
{
    w->id = r->id;
    w->queue_id = r->has_queue_id ? r->queue_id : 0;
    w->hostname = r->hostname;
    r->hostname = NULL;
    w->pid = r->pid;
    w->kind = pgqrs__worker_kind_str(r->kind);
    w->status = pgqrs__worker_status_str(r->status);
    w->started_at_us = r->started_at_us;
    w->heartbeat_at_us = r->heartbeat_at_us;
    w->stopped_at_us = r->has_stopped_at ? r->stopped_at_us : 0;
}

pgqrs_worker_info *pgqrs__worker_info_from(pgqrs_worker_row *row)
{
    pgqrs_worker_info *w = pgqrs__calloc(1, sizeof *w);
    if (w)
        worker_fill(w, row);
    pgqrs__worker_row_clear(row);
    return w;
}

PGQRS_EXTERN void pgqrs_worker_info_free(pgqrs_worker_info *w)
{
    if (!w)
        return;
    pgqrs__free((char *)w->hostname);
    pgqrs__free(w);
}

static void worker_info_clear(void *item) { pgqrs__free((char *)((pgqrs_worker_info *)item)->hostname); }

pgqrs_workers *pgqrs__worker_list_from(pgqrs_worker_row *rows, size_t n)
{
    pgqrs_workers *l = pgqrs__list_new(n, sizeof(pgqrs_worker_info), worker_info_clear);
    for (size_t i = 0; l && i < n; i++)
        worker_fill((pgqrs_worker_info *)l->l.items + i, &rows[i]);
    pgqrs__worker_rows_free(rows, n);
    return l;
}

PGQRS_EXTERN size_t pgqrs_workers_count(const pgqrs_workers *l) { return pgqrs__list_count(l); }

PGQRS_EXTERN const pgqrs_worker_info *pgqrs_workers_at(const pgqrs_workers *l, size_t i)
{
    return pgqrs__list_at(l, i);
}

PGQRS_EXTERN void pgqrs_workers_free(pgqrs_workers *l) { pgqrs__list_free(l); }
