/* app_tx.c: pgqrs_workflow_trigger_tx, a workflow run triggered inside the
 * application's own transaction (the pgqrs_tx handle is src/queue/app_tx.c). */
#include <string.h>

#include "queue/app_tx.h"
#include "workflow/workflow.h"

PGQRS_EXTERN pgqrs_status pgqrs_workflow_trigger_tx(int64_t *run_id_out, int *created_out, pgqrs_tx *tx,
                                                    const char *name, const char *input_json,
                                                    const pgqrs_trigger_options *opts)
{
    pgqrs_status st;
    pgqrs_conn *c = NULL;
    pgqrs_run_trigger_row out = { 0, false };
    pgqrs_workflow_row wf;
    if (run_id_out)
        *run_id_out = 0;
    if (created_out)
        *created_out = 0;
    if ((st = pgqrs__check_handle(tx, PGQRS__MAGIC_APP_TX, "transaction")) != PGQRS_OK)
        return st;
    if ((st = pgqrs__check_name(tx, "workflow", name)) != PGQRS_OK)
        return st;
    if (opts && (st = pgqrs__check_version(tx, "trigger options", opts->version, PGQRS_TRIGGER_OPTIONS_VERSION)) != PGQRS_OK)
        return st;
    if (input_json && (st = pgqrs__check_json(tx, "input", input_json)) != PGQRS_OK)
        return st;
    if (opts && opts->idempotency_key && (st = pgqrs__check_name(tx, "idempotency key", opts->idempotency_key)) != PGQRS_OK)
        return st;
    if ((st = pgqrs__app_tx_begin(tx, &c)) != PGQRS_OK)
        return st;
    memset(&wf, 0, sizeof wf);
    st = c->q->workflow_get_by_name(&wf, c, name);
    if (st == PGQRS_ENOTFOUND)
        pgqrs__fail(tx, st, "workflow '%.128s' does not exist", name);
    if (st == PGQRS_OK) {
        pgqrs_run_trigger_params p = { wf.id, wf.queue_id, input_json, opts ? opts->idempotency_key : NULL };
        st = c->q->run_trigger(&out, c, &p);
        if (st == PGQRS_ENOTFOUND && p.idempotency_key) {
            /* a concurrent trigger with the same key committed after this
             * statement's snapshot: the run exists now */
            pgqrs_run_row r;
            pgqrs_run_get_by_key_params k = { wf.id, p.idempotency_key };
            memset(&r, 0, sizeof r);
            st = c->q->run_get_by_key(&r, c, &k);
            out.run_id = r.id;
            out.created = false;
            pgqrs__run_row_clear(&r);
        }
    }
    pgqrs__workflow_row_clear(&wf);
    st = pgqrs__app_tx_end(tx, c, st);
    if (st == PGQRS_OK) {
        pgqrs__log(tx->store, PGQRS_LOG_INFO, "run.trigger", "run %lld of '%.128s' %s in the application's transaction",
                   (long long)out.run_id, name, out.created ? "created" : "already existed for this idempotency key");
        if (run_id_out)
            *run_id_out = out.run_id;
        if (created_out)
            *created_out = out.created;
    }
    return st;
}
