/* enqueue_with.c: enqueue with options (issue 17): priority, unique key, delay.
 * Queries: queries/<backend>/enqueue_with.sql. A unique key is taken with
 * INSERT ... ON CONFLICT DO NOTHING; when that writes nothing the live row is
 * read by key (a new statement: on PostgreSQL a new snapshot that sees the row
 * the insert waited for). When that row left meanwhile (archived between the two
 * statements) the pair is tried again, a bounded number of times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/text.h"
#include "queue/worker_handle.h"

enum { KEY_ATTEMPTS = 8 };

static const pgqrs_enqueue_options default_opts = PGQRS__INIT(pgqrs_enqueue_options, PGQRS_ENQUEUE_OPTIONS_VERSION);

static pgqrs_status check_opts(pgqrs_producer *p, const char *what, const pgqrs_enqueue_options *o)
{
    pgqrs_status st = pgqrs__check_version(p, "enqueue options", o->version, PGQRS_ENQUEUE_OPTIONS_VERSION);
    if (st != PGQRS_OK)
        return st;
    if (o->priority < PGQRS_PRIORITY_MIN || o->priority > PGQRS_PRIORITY_MAX)
        return pgqrs__fail(p, PGQRS_EINVAL, "%s: priority %ld is out of range (%d..%d)", what, (long)o->priority,
                           PGQRS_PRIORITY_MIN, PGQRS_PRIORITY_MAX);
    if (o->delay_ms < 0 || o->delay_ms > (int64_t)PGQRS_MAX_DELAY_SECONDS * 1000)
        return pgqrs__fail(p, PGQRS_EINVAL, "%s: delay_ms %lld is out of range (0..%lld)", what,
                           (long long)o->delay_ms, (long long)PGQRS_MAX_DELAY_SECONDS * 1000);
    if (o->unique_key) {
        size_t len = strlen(o->unique_key);
        if (len == 0)
            return pgqrs__fail(p, PGQRS_EINVAL, "%s: unique_key is empty (NULL means no key)", what);
        if (len > PGQRS_MAX_UNIQUE_KEY_BYTES)
            return pgqrs__fail(p, PGQRS_EINVAL, "%s: unique_key is %zu bytes (at most %d)", what, len,
                               PGQRS_MAX_UNIQUE_KEY_BYTES);
        if (!pgqrs__utf8_valid(o->unique_key))
            return pgqrs__fail(p, PGQRS_EINVAL, "%s: unique_key is not valid UTF-8", what);
    }
    return PGQRS_OK;
}

/* One message on connection c: the insert, or the live row holding its key. */
static pgqrs_status enqueue_one_on(pgqrs_producer *p, pgqrs_conn *c, const char *payload, const pgqrs_enqueue_options *o,
                                   int64_t *id, int *created)
{
    pgqrs_message_enqueue_with_params prm = { p->w.queue_id, payload, o->priority, o->unique_key, o->delay_ms, true,
                                              p->w.worker_id };
    pgqrs_status st = PGQRS_ENOTFOUND;
    for (int attempt = 0; attempt < KEY_ATTEMPTS; attempt++) {
        st = c->q->message_enqueue_with(id, c, &prm);
        if (st == PGQRS_OK) {
            *created = 1;
            return st;
        }
        if (st != PGQRS_ENOTFOUND || !o->unique_key)
            break;
        pgqrs_message_id_by_key_params k = { p->w.queue_id, o->unique_key };
        st = c->q->message_id_by_key(id, c, &k);
        if (st == PGQRS_OK) {
            *created = 0;
            return st;
        }
        if (st != PGQRS_ENOTFOUND)
            break;
        /* neither: the live row left between the two statements, or the queue is gone */
    }
    if (st == PGQRS_ENOTFOUND)
        return pgqrs__fail(p, st, "queue '%.128s' no longer exists", p->w.queue);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_enqueue_with(int64_t *id_out, int *created_out, pgqrs_producer *p,
                                             const char *payload_json, const pgqrs_enqueue_options *opts)
{
    pgqrs_status st = pgqrs__check_handle(p, PGQRS__MAGIC_PRODUCER, "producer");
    int64_t id = 0;
    int created = 0;
    if (id_out)
        *id_out = 0;
    if (created_out)
        *created_out = 0;
    if (st != PGQRS_OK)
        return st;
    if (!opts)
        opts = &default_opts;
    if ((st = pgqrs__check_json(p, "payload", payload_json)) != PGQRS_OK ||
        (st = check_opts(p, "enqueue", opts)) != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(p->w.store, p, { st = enqueue_one_on(p, c, payload_json, opts, &id, &created); });
    if (st != PGQRS_OK)
        return st;
    if (created)
        atomic_fetch_add(&p->w.store->n_enqueued, 1);
    pgqrs__log(p->w.store, PGQRS_LOG_DEBUG, "message.enqueue", "message %lld (%zu bytes, priority %ld%s) into '%.128s'",
               (long long)id, strlen(payload_json), (long)opts->priority, created ? "" : ", key live: not created",
               p->w.queue);
    if (id_out)
        *id_out = id;
    if (created_out)
        *created_out = created;
    return st;
}

/* Keyed rows in (key, input index) order, keyless rows first: the order a batch
 * takes its keys in. */
typedef struct keyed_row {
    const char *key;
    size_t index;
} keyed_row;
static int cmp_key_index(const void *a, const void *b)
{
    const keyed_row *x = a, *y = b;
    int r = (x->key != NULL) - (y->key != NULL);
    if (r == 0 && x->key)
        r = strcmp(x->key, y->key);
    if (r == 0)
        r = (x->index > y->index) - (x->index < y->index);
    return r;
}

static pgqrs_status batch_keyed(pgqrs_producer *p, const char *const *payloads, size_t n,
                                const pgqrs_enqueue_options *opts, int64_t *ids, int *created)
{
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    pgqrs_status st;
    keyed_row *order;
    pgqrs__store_caps(p->w.store, &caps);
    if (!caps.transactions)
        return pgqrs__fail(p, PGQRS_ENOTSUPPORTED,
                           "a batch with unique keys needs a transaction, which this backend has not "
                           "(enqueue keyed messages one by one with pgqrs_enqueue_with)");
    if (!(order = pgqrs__calloc(n, sizeof *order)))
        return pgqrs__fail(p, PGQRS_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        order[i] = (keyed_row){ opts[i].unique_key, i };
    qsort(order, n, sizeof *order, cmp_key_index);
    PGQRS__WITH_CONN(p->w.store, p, {
        st = pgqrs__tx_begin(c);
        if (st == PGQRS_OK) {
            for (size_t k = 0; k < n && st == PGQRS_OK; k++) {
                size_t i = order[k].index;
                st = enqueue_one_on(p, c, payloads[i], &opts[i], &ids[i], &created[i]);
            }
            if (st == PGQRS_OK)
                st = pgqrs__tx_commit(c);
            if (st != PGQRS_OK)
                pgqrs__conn_rollback_keep(c, st);
        }
    });
    pgqrs__free(order);
    return st;
}

static pgqrs_status batch_plain(pgqrs_producer *p, const char *const *payloads, size_t n,
                                const pgqrs_enqueue_options *opts, int64_t *ids, int *created)
{
    pgqrs_status st;
    int64_t *pri = pgqrs__calloc(n, sizeof *pri), *delay = pgqrs__calloc(n, sizeof *delay), *got = NULL;
    size_t ngot = 0;
    if (!pri || !delay) {
        pgqrs__free(pri);
        pgqrs__free(delay);
        return pgqrs__fail(p, PGQRS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        pri[i] = opts ? opts[i].priority : 0;
        delay[i] = opts ? opts[i].delay_ms : 0;
    }
    PGQRS__WITH_CONN(p->w.store, p, {
        pgqrs_message_enqueue_batch_with_params prm = { p->w.queue_id, payloads, n, pri, n, delay, n, true,
                                                        p->w.worker_id };
        st = c->q->message_enqueue_batch_with(&got, &ngot, c, &prm);
        if (st == PGQRS_OK && ngot == 0)   /* the statement read no queue row (PostgreSQL) */
            st = PGQRS_ENOTFOUND;
        if (st == PGQRS_ENOTFOUND)
            pgqrs__fail(p, st, "queue '%.128s' no longer exists", p->w.queue);
    });
    if (st == PGQRS_OK && ngot != n)
        st = pgqrs__fail(p, PGQRS_ERROR, "batch enqueue returned %zu ids for %zu payloads", ngot, n);
    if (st == PGQRS_OK) {
        qsort(got, ngot, sizeof *got, pgqrs__cmp_i64);   /* ids are assigned in input order */
        for (size_t i = 0; i < n; i++) {
            ids[i] = got[i];
            created[i] = 1;
        }
    }
    pgqrs__free(got);
    pgqrs__free(pri);
    pgqrs__free(delay);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_enqueue_batch_with(int64_t *ids_out, int *created_out, pgqrs_producer *p,
                                                   const char *const *payloads, size_t n,
                                                   const pgqrs_enqueue_options *opts)
{
    pgqrs_status st = pgqrs__check_handle(p, PGQRS__MAGIC_PRODUCER, "producer");
    int64_t *ids = NULL;
    int *created = NULL;
    bool keyed = false;
    if (st != PGQRS_OK)
        return st;
    if (!payloads)
        return pgqrs__fail(p, PGQRS_EMISUSE, "payloads is NULL");
    if ((st = pgqrs__check_range(p, "batch size", (int64_t)n, 1, p->w.store->opts.max_batch_size)) != PGQRS_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        char what[48];
        snprintf(what, sizeof what, "payload %zu", i);
        if ((st = pgqrs__check_json(p, what, payloads[i])) != PGQRS_OK)
            return st;
        snprintf(what, sizeof what, "message %zu", i);
        if (opts && (st = check_opts(p, what, &opts[i])) != PGQRS_OK)
            return st;
        keyed = keyed || (opts && opts[i].unique_key);
    }
    ids = pgqrs__calloc(n, sizeof *ids);
    created = pgqrs__calloc(n, sizeof *created);
    if (!ids || !created) {
        pgqrs__free(ids);
        pgqrs__free(created);
        return pgqrs__fail(p, PGQRS_ENOMEM, "out of memory");
    }
    st = keyed ? batch_keyed(p, payloads, n, opts, ids, created) : batch_plain(p, payloads, n, opts, ids, created);
    if (st == PGQRS_OK) {
        size_t ncreated = 0;
        for (size_t i = 0; i < n; i++)
            ncreated += (size_t)created[i];
        atomic_fetch_add(&p->w.store->n_enqueued, (int64_t)ncreated);
        pgqrs__log(p->w.store, PGQRS_LOG_DEBUG, "message.enqueue_batch", "%zu messages into '%.128s' (%zu created)", n,
                   p->w.queue, ncreated);
        if (ids_out)
            memcpy(ids_out, ids, n * sizeof *ids);
        if (created_out)
            memcpy(created_out, created, n * sizeof *created);
    }
    pgqrs__free(ids);
    pgqrs__free(created);
    return st;
}
