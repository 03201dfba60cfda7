/* app_tx.c: enqueue on the application's own connection inside its own
 * transaction (pgqrs_tx_*). Each call wraps the connection through the driver's
 * app_wrap slot, nests its statements in a savepoint (queries/<backend>/app_tx.sql)
 * and frees the wrapper before it returns; the application's transaction is never
 * begun, committed or rolled back here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "queue/app_tx.h"
#include "queue/worker_handle.h"

static pgqrs_status wrap(pgqrs_tx **out, pgqrs_store *s, void *foreign, const char *backend)
{
    pgqrs_tx *tx;
    if (out)
        *out = NULL;
    PGQRS__CHECK_STORE(s);
    if (!out)
        return pgqrs__fail(s, PGQRS_EMISUSE, "out is NULL");
    if (!s->drv->app_wrap)
        return pgqrs__fail(s, PGQRS_ENOTSUPPORTED,
                           "a %s store has no application connection to enqueue on (capabilities: app_transactions = 0)",
                           s->drv->name);
    if (strcmp(s->drv->name, backend) != 0)
        return pgqrs__fail(s, PGQRS_EINVAL, "a %s connection cannot be used with a %s store", backend, s->drv->name);
    if (!foreign)
        return pgqrs__fail(s, PGQRS_EMISUSE, "the application's connection is NULL");
    tx = pgqrs__calloc(1, sizeof *tx);
    if (!tx)
        return pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    tx->h.magic = PGQRS__MAGIC_APP_TX;
    tx->h.errs = &s->errs;
    tx->store = s;
    tx->foreign = foreign;
    *out = tx;
    return PGQRS_OK;
}

PGQRS_EXTERN pgqrs_status pgqrs_tx_wrap_pg(pgqrs_tx **out, pgqrs_store *store, void *pgconn)
{
    return wrap(out, store, pgconn, "postgres");
}

PGQRS_EXTERN pgqrs_status pgqrs_tx_wrap_sqlite(pgqrs_tx **out, pgqrs_store *store, void *db)
{
    return wrap(out, store, db, "sqlite");
}

PGQRS_EXTERN void pgqrs_tx_free(pgqrs_tx *tx)
{
    if (!tx || tx->h.magic != PGQRS__MAGIC_APP_TX)
        return;
    tx->h.magic = PGQRS__MAGIC_FREED;
    pgqrs__free(tx);
}

pgqrs_status pgqrs__app_tx_begin(pgqrs_tx *tx, pgqrs_conn **out)
{
    pgqrs_store *s = tx->store;
    pgqrs__conn_env env = { &s->clock, &s->logger };
    char err[PGQRS__MSG_LEN];
    pgqrs_status st = s->drv->app_wrap(out, tx->foreign, &env, err, sizeof err);
    if (st != PGQRS_OK) {
        pgqrs__fail(tx, st, "%s", err);
        return st;
    }
    (*out)->owner = &tx->h;
    st = (*out)->q->app_tx_savepoint(*out);
    if (st != PGQRS_OK) {
        pgqrs__count_failure(tx, st);
        s->drv->app_close(*out);
        *out = NULL;
    }
    return st;
}

pgqrs_status pgqrs__app_tx_end(pgqrs_tx *tx, pgqrs_conn *c, pgqrs_status st)
{
    if (st == PGQRS_OK) {
        st = c->q->app_tx_release(c);
    } else {
        /* undo this call only; the first failure's message stays */
        c->mute = true;
        if (c->q->app_tx_rollback_to(c) == PGQRS_OK)
            c->q->app_tx_release(c);
        c->mute = false;
    }
    pgqrs__count_failure(tx, st);
    tx->store->drv->app_close(c);
    return st;
}

/* The queue's id, read on the application's connection (its snapshot). */
static pgqrs_status lookup(pgqrs_conn *c, const char *queue, int64_t *id)
{
    pgqrs_queue_row row;
    pgqrs_status st;
    memset(&row, 0, sizeof row);
    st = pgqrs__queue_lookup(c, queue, &row);
    *id = row.id;
    pgqrs__queue_row_clear(&row);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_tx_enqueue(int64_t *id_out, pgqrs_tx *tx, const char *queue, const char *payload_json,
                                           int delay_seconds)
{
    pgqrs_status st = pgqrs__check_handle(tx, PGQRS__MAGIC_APP_TX, "transaction");
    pgqrs_conn *c = NULL;
    int64_t id = 0, queue_id = 0;
    if (id_out)
        *id_out = 0;
    if (st != PGQRS_OK)
        return st;
    if ((st = pgqrs__check_name(tx, "queue", queue)) != PGQRS_OK ||
        (st = pgqrs__check_json(tx, "payload", payload_json)) != PGQRS_OK ||
        (st = pgqrs__check_range(tx, "delay_seconds", delay_seconds, 0, PGQRS_MAX_DELAY_SECONDS)) != PGQRS_OK)
        return st;
    if ((st = pgqrs__app_tx_begin(tx, &c)) != PGQRS_OK)
        return st;
    st = lookup(c, queue, &queue_id);
    if (st == PGQRS_OK) {
        pgqrs_message_enqueue_params prm = { queue_id, payload_json, (int64_t)delay_seconds * 1000, false, 0 };
        st = c->q->message_enqueue(&id, c, &prm);
    }
    st = pgqrs__app_tx_end(tx, c, st);
    if (st == PGQRS_OK) {
        atomic_fetch_add(&tx->store->n_enqueued, 1);
        pgqrs__log(tx->store, PGQRS_LOG_DEBUG, "message.enqueue",
                   "message %lld (%zu bytes) into '%.128s' in the application's transaction", (long long)id,
                   strlen(payload_json), queue);
        if (id_out)
            *id_out = id;
    }
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_tx_enqueue_batch(int64_t *ids_out, pgqrs_tx *tx, const char *queue,
                                                 const char *const *payloads, size_t n, int delay_seconds)
{
    pgqrs_status st = pgqrs__check_handle(tx, PGQRS__MAGIC_APP_TX, "transaction");
    pgqrs_conn *c = NULL;
    int64_t *ids = NULL, queue_id = 0;
    size_t nids = 0;
    if (st != PGQRS_OK)
        return st;
    if (!payloads)
        return pgqrs__fail(tx, PGQRS_EMISUSE, "payloads is NULL");
    if ((st = pgqrs__check_name(tx, "queue", queue)) != PGQRS_OK ||
        (st = pgqrs__check_range(tx, "batch size", (int64_t)n, 1, tx->store->opts.max_batch_size)) != PGQRS_OK ||
        (st = pgqrs__check_range(tx, "delay_seconds", delay_seconds, 0, PGQRS_MAX_DELAY_SECONDS)) != PGQRS_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        char what[48];
        snprintf(what, sizeof what, "payload %zu", i);
        if ((st = pgqrs__check_json(tx, what, payloads[i])) != PGQRS_OK)
            return st;
    }
    if ((st = pgqrs__app_tx_begin(tx, &c)) != PGQRS_OK)
        return st;
    st = lookup(c, queue, &queue_id);
    if (st == PGQRS_OK) {
        pgqrs_message_enqueue_batch_params prm = { queue_id, payloads, n, (int64_t)delay_seconds * 1000, false, 0 };
        st = c->q->message_enqueue_batch(&ids, &nids, c, &prm);
        if (st == PGQRS_OK && nids != n)
            st = pgqrs__fail(tx, PGQRS_ERROR, "batch enqueue returned %zu ids for %zu payloads", nids, n);
    }
    st = pgqrs__app_tx_end(tx, c, st);
    if (st == PGQRS_OK) {
        atomic_fetch_add(&tx->store->n_enqueued, (int64_t)nids);
        pgqrs__log(tx->store, PGQRS_LOG_DEBUG, "message.enqueue_batch",
                   "%zu messages into '%.128s' in the application's transaction", nids, queue);
        if (ids_out) {
            /* ids are assigned in input order within the statement */
            qsort(ids, nids, sizeof *ids, pgqrs__cmp_i64);
            memcpy(ids_out, ids, n * sizeof *ids);
        }
    }
    pgqrs__free(ids);
    return st;
}
