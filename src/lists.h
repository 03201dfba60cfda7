/* lists.h: the result handles (batches and lists) and converters from rows. */
#ifndef PGQRS_LISTS_H
#define PGQRS_LISTS_H

#include "handle.h"
#include "pgqrs_rows.h"

struct pgqrs_batch {
    pgqrs__handle h;
    size_t n;
    pgqrs_message *items;   /* payloads owned */
};

struct pgqrs_queue_list {
    pgqrs__handle h;
    size_t n;
    pgqrs_queue_info *items;   /* names owned */
};

struct pgqrs_metrics_list {
    pgqrs__handle h;
    size_t n;
    pgqrs_queue_metrics *items;
};

struct pgqrs_worker_list {
    pgqrs__handle h;
    size_t n;
    pgqrs_worker_info *items;
};

/* Each takes ownership of the rows' strings (the rows are freed) and returns a
 * handle, or NULL when out of memory (the rows are freed all the same). */
pgqrs_batch *pgqrs__batch_from_messages(pgqrs_message_row *rows, size_t n);
pgqrs_batch *pgqrs__batch_from_archive(pgqrs_archived_row *rows, size_t n);
pgqrs_queue_list *pgqrs__queue_list_from(pgqrs_queue_row *rows, size_t n);
pgqrs_metrics_list *pgqrs__metrics_list_from(pgqrs_queue_metrics_row *rows, size_t n, int64_t now_us);
pgqrs_worker_list *pgqrs__worker_list_from(pgqrs_worker_row *rows, size_t n);
/* One converted value; the row keeps nothing (its strings move). NULL: out of memory. */
pgqrs_queue_info *pgqrs__queue_info_from(pgqrs_queue_row *row);
pgqrs_worker_info *pgqrs__worker_info_from(pgqrs_worker_row *row);

#endif
