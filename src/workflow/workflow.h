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
};

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
