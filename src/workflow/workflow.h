/* workflow.h: workflow definitions held by a store, the worker, and the run
 * handle a handler receives. */
#ifndef PGQRS_WORKFLOW_H
#define PGQRS_WORKFLOW_H

#include <stdatomic.h>

#include "queue/worker_handle.h"

typedef struct pgqrs__wf_def {
    char *name;
    char *queue_name;
    int64_t id;
    int64_t queue_id;
    pgqrs_workflow_fn fn;
    void *user;
    pgqrs_workflow_options opts;   /* resolved: no zeros left */
} pgqrs__wf_def;

struct pgqrs_workflow_worker {
    pgqrs__handle h;
    pgqrs_consumer consumer;       /* on the workflow's queue, worker kind "workflow" */
    pgqrs__wf_def *def;            /* owned by the store */
    atomic_int interrupted;
};

struct pgqrs_run {
    pgqrs__handle h;
    pgqrs_workflow_worker *w;
    pgqrs__wf_def def;             /* the definition as it was when the run started
                                    * (a copy: pgqrs_workflow_define may change it) */
    int64_t id;
    int32_t attempt;
    int64_t message_id;
    int64_t lease_at_us;           /* when the message's lease was last set */
    bool cancelled;                /* the run is CANCELLING: no further step starts */
    bool fatal;                    /* a non-retryable failure: end in ERROR */
    bool abandoned;                /* another worker executes this run now */
    int64_t wake_at_us;            /* durable sleep: reschedule to this time */
    int64_t retry_at_us;           /* a failed step asked for a retry at this time */
    char *error_json;              /* the failure to record, or NULL */
    bool waiting;                  /* suspended in a wait (recv, await): check it again once released */
};

/* Helpers shared by engine.c and signals.c. */
pgqrs_store *pgqrs__run_store(pgqrs_run *run);
int64_t pgqrs__run_worker_id(pgqrs_run *run);
/* Checks the handle and a step id, and that the run may start another step. */
pgqrs_status pgqrs__run_check_step(pgqrs_run *run, const char *step_id);
/* Reads step_id's stored row; *succeeded: a SUCCESS to replay. Not stored: OK, false. */
pgqrs_status pgqrs__run_read_step(pgqrs_run *run, pgqrs_conn *c, const char *step_id, pgqrs_step_row *step,
                                  bool *succeeded);
/* Records the attempt's first failure (error JSON) unless one is recorded. */
void pgqrs__run_set_error(pgqrs_run *run, pgqrs_status st, const char *message);
/* A child run's idempotency key (pgqrs_run_start_child) starts with this. */
#define PGQRS__CHILD_KEY_PREFIX "pgqrs:child:"
bool pgqrs__is_child_key(const char *key);
/* After child_run_id ended: makes its parent's run message visible if the
 * parent waits for it. Failures are logged (the parent's wait has a deadline). */
void pgqrs__wake_parent(pgqrs_store *s, void *owner, int64_t child_run_id);
/* Cancels the children of run_id (pgqrs_run_start_child), recursively, on c. */
pgqrs_status pgqrs__cancel_children(pgqrs_store *s, pgqrs_conn *c, int64_t run_id);

/* Fills unset policy fields with defaults. */
void pgqrs__retry_resolve(pgqrs_retry_policy *p);
/* Frees the store's workflow definitions. */
void pgqrs__workflow_defs_free(pgqrs_store *s);
/* Copies the worker's definition under the store's lock (name and queue_name
 * stay borrowed: they never change). */
void pgqrs__workflow_def_snapshot(pgqrs_workflow_worker *w, pgqrs__wf_def *out);
/* The definition registered under name in this store, or NULL. */
pgqrs__wf_def *pgqrs__workflow_def_find(pgqrs_store *s, const char *name);
/* {"message": ..., "status": ..., "code": ...} for a failure; NULL if out of memory. */
char *pgqrs__error_json(pgqrs_status st, const char *message);

#endif
