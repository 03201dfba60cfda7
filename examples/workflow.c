/* workflow.c: a durable 3-step workflow. Each step runs once per run; run it,
 * kill it mid-way and run it again: completed steps are not repeated.
 *   build/examples/workflow [DSN]      (default: sqlite://pgqrs-workflow.db) */
#include <stdio.h>
#include <string.h>

#include "pgqrs.h"

static pgqrs_status charge_card(pgqrs_run *run, char **out, void *user)
{
    (void)run, (void)user;
    printf("  charging card (runs once per run)\n");
    *out = pgqrs_strdup("{\"charge_id\":\"ch_42\"}");
    return PGQRS_OK;
}

static pgqrs_status send_receipt(pgqrs_run *run, char **out, void *user)
{
    (void)run, (void)user;
    printf("  sending receipt\n");
    *out = pgqrs_strdup("{\"sent\":true}");
    return PGQRS_OK;
}

static pgqrs_status checkout(pgqrs_run *run, const char *input, char **output, void *user)
{
    char *charge = NULL;
    pgqrs_status st;
    (void)user;
    printf("run %lld (attempt %d), input %s\n", (long long)pgqrs_run_id(run), (int)pgqrs_run_attempt(run),
           input ? input : "null");
    if ((st = pgqrs_run_step(&charge, run, "charge", charge_card, NULL, NULL)) != PGQRS_OK)
        return st;
    /* a durable sleep of 0 s: with a real delay the run would be rescheduled and
     * free the worker, surviving restarts */
    if ((st = pgqrs_run_sleep(run, "cool-off", 0)) != PGQRS_OK) {
        pgqrs_free(charge);
        return st;
    }
    st = pgqrs_run_step(NULL, run, "receipt", send_receipt, NULL, NULL);
    if (st == PGQRS_OK)
        *output = charge;   /* handed to the library, which frees it */
    else
        pgqrs_free(charge);
    return st;
}

int main(int argc, char **argv)
{
    const char *dsn = argc > 1 ? argv[1] : "sqlite://pgqrs-workflow.db";
    pgqrs_store *store = NULL;
    pgqrs_workflow_worker *worker = NULL;
    pgqrs_run_info *info = NULL;
    pgqrs_poll_options poll = PGQRS_POLL_OPTIONS_INIT;
    int64_t run_id = 0;

    if (pgqrs_connect(&store, dsn, NULL) != PGQRS_OK || pgqrs_schema_install(store) != PGQRS_OK ||
        pgqrs_workflow_define(store, "checkout", checkout, NULL, NULL) != PGQRS_OK ||
        pgqrs_workflow_trigger(&run_id, NULL, store, "checkout", "{\"order\":7}", NULL) != PGQRS_OK ||
        pgqrs_workflow_worker_new(&worker, store, "checkout") != PGQRS_OK) {
        fprintf(stderr, "workflow: %s\n", pgqrs_errmsg(store));
        pgqrs_store_free(store);
        return 1;
    }
    poll.max_runs = 1;
    poll.idle_timeout_ms = 5000;
    if (pgqrs_workflow_worker_poll(NULL, worker, &poll) != PGQRS_OK ||
        pgqrs_run_wait(&info, store, run_id, 5000) != PGQRS_OK) {
        fprintf(stderr, "workflow: %s\n", pgqrs_errmsg(worker));
        return 1;
    }
    printf("run %lld: %s, output %s\n", (long long)info->id, info->status, info->output ? info->output : "null");
    pgqrs_run_info_free(info);
    pgqrs_workflow_worker_free(worker);
    pgqrs_store_free(store);
    return 0;
}
