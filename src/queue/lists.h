/* lists.h: the result handles (batches and lists) and converters from rows. */
#ifndef PGQRS_LISTS_H
#define PGQRS_LISTS_H

#include "base/handle.h"
#include "pgqrs_rows.h"

/* Every result handle is one of these: a handle header and n items of one
 * public struct type, with the function that frees what an item owns. */
typedef struct pgqrs__list {
    pgqrs__handle h;
    size_t n;
    void *items;
    size_t item_size;
    void (*clear_item)(void *item);
} pgqrs__list;

struct pgqrs_batch { pgqrs__list l; };           /* pgqrs_message */
struct pgqrs_queues { pgqrs__list l; };      /* pgqrs_queue_info */
struct pgqrs_metrics { pgqrs__list l; };    /* pgqrs_queue_metrics */
struct pgqrs_workers { pgqrs__list l; };     /* pgqrs_worker_info */
struct pgqrs_runs { pgqrs__list l; };        /* pgqrs_run_info */
struct pgqrs_steps { pgqrs__list l; };       /* pgqrs_step_info */
struct pgqrs_workflows { pgqrs__list l; };   /* pgqrs_workflow_info */

/* A list of n zeroed items (NULL when out of memory). */
void *pgqrs__list_new(size_t n, size_t item_size, void (*clear_item)(void *item));
/* n, or 0 for NULL or a handle that is not a live list. */
size_t pgqrs__list_count(const void *list);
/* Item i, borrowed from the list; NULL when out of range or not a list. */
const void *pgqrs__list_at(const void *list, size_t i);
/* Clears every item and frees the list; NULL or a non-list: no-op. */
void pgqrs__list_free(void *list);

/* Each takes ownership of the rows' strings (the rows are freed) and returns a
 * handle, or NULL when out of memory (the rows are freed all the same). */
pgqrs_batch *pgqrs__batch_from_messages(pgqrs_message_row *rows, size_t n);
pgqrs_batch *pgqrs__batch_from_archive(pgqrs_archived_row *rows, size_t n);
pgqrs_queues *pgqrs__queue_list_from(pgqrs_queue_row *rows, size_t n);
pgqrs_metrics *pgqrs__metrics_list_from(pgqrs_queue_metrics_row *rows, size_t n, int64_t now_us);
pgqrs_workers *pgqrs__worker_list_from(pgqrs_worker_row *rows, size_t n);
/* One converted value; the row keeps nothing (its strings move). NULL: out of memory. */
pgqrs_queue_info *pgqrs__queue_info_from(pgqrs_queue_row *row);
pgqrs_worker_info *pgqrs__worker_info_from(pgqrs_worker_row *row);

#endif
