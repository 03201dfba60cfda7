/* quickstart.c: install, create a queue, enqueue a batch, consume and archive
 * with a progress line, print metrics. `make run` runs it on SQLite.
 *   build/examples/quickstart [DSN]      (default: sqlite://pgqrs-quickstart.db) */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pgqrs.h"

#define N 2000

static int fail(const char *what, const void *handle)
{
    fprintf(stderr, "quickstart: %s: %s\n", what, pgqrs_errmsg(handle));
    return 1;
}

int main(int argc, char **argv)
{
    const char *dsn = argc > 1 ? argv[1] : "sqlite://pgqrs-quickstart.db";
    pgqrs_store *store = NULL;
    pgqrs_producer *producer = NULL;
    pgqrs_consumer *consumer = NULL;
    pgqrs_metrics *metrics = NULL;
    pgqrs_queue_options qopts = PGQRS_QUEUE_OPTIONS_INIT;
    static char bodies[N][64];
    static const char *payloads[N];
    int done = 0;

    if (pgqrs_connect(&store, dsn, NULL) != PGQRS_OK)
        return fail("connect", NULL);
    if (pgqrs_schema_install(store) != PGQRS_OK)
        return fail("install", store);
    qopts.exist_ok = 1;
    if (pgqrs_queue_create(NULL, store, "emails", &qopts) != PGQRS_OK)
        return fail("queue create", store);
    if (pgqrs_producer_new(&producer, store, "emails") != PGQRS_OK)
        return fail("producer", store);
    for (int i = 0; i < N; i++) {
        snprintf(bodies[i], sizeof bodies[i], "{\"task\":\"send_email\",\"n\":%d}", i);
        payloads[i] = bodies[i];
    }
    for (int i = 0; i < N; i += 500)
        if (pgqrs_enqueue_batch(NULL, producer, payloads + i, 500, 0) != PGQRS_OK)
            return fail("enqueue", producer);
    printf("enqueued %d messages on %s\n", N, pgqrs_store_backend(store));

    if (pgqrs_consumer_new(&consumer, store, "emails") != PGQRS_OK)
        return fail("consumer", store);
    for (;;) {
        pgqrs_batch *batch = NULL;
        int64_t ids[50];
        size_t n;
        if (pgqrs_dequeue(&batch, consumer, 50, 30) != PGQRS_OK)
            return fail("dequeue", consumer);
        n = pgqrs_batch_count(batch);
        for (size_t i = 0; i < n; i++)
            ids[i] = pgqrs_batch_at(batch, i)->id;   /* a real handler would do the work here */
        pgqrs_batch_free(batch);
        if (n == 0)
            break;
        if (pgqrs_archive_batch(NULL, consumer, ids, n) != PGQRS_OK)
            return fail("archive", consumer);
        done += (int)n;
        if (isatty(2))   /* a live progress line on a terminal, quiet when piped */
            fprintf(stderr, "\rprocessed %d/%d", done, N);
    }
    if (isatty(2))
        fprintf(stderr, "\n");
    printf("processed %d messages\n", done);

    if (pgqrs_metrics_list(&metrics, store, "emails") != PGQRS_OK)
        return fail("metrics", store);
    for (size_t i = 0; i < pgqrs_metrics_count(metrics); i++) {
        const pgqrs_queue_metrics *m = pgqrs_metrics_at(metrics, i);
        printf("queue %s: pending=%lld in_flight=%lld delayed=%lld archived=%lld dead_lettered=%lld\n", m->name,
               (long long)m->pending, (long long)m->in_flight, (long long)m->delayed, (long long)m->archived,
               (long long)m->dead_lettered);
    }
    pgqrs_metrics_free(metrics);
    pgqrs_consumer_free(consumer);
    pgqrs_producer_free(producer);
    pgqrs_store_free(store);
    return 0;
}
