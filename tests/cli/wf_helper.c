/* wf_helper.c: defines and executes workflows for tests/cli/test_cli.sh (the CLI
 * can inspect, cancel and trigger runs but cannot define a handler).
 *   wf_helper DSN define            defines the workflows below
 *   wf_helper DSN execute NAME      defines them and executes every due run of NAME
 *   wf_helper DSN define inbox      also defines inbox (so do `execute inbox`)
 * Workflows:
 *   greet       steps "a" and "b"; output {"a":..,"b":..,"in":<input>}; input
 *               {"fail":true} fails for good (non-retryable, error {"why":"asked to fail"})
 *   nap         step "one", then a durable sleep "nap" of one hour (stays PENDING)
 *   selfcancel  step "one" runs `$PGQRS_BIN --json workflow cancel <its run id>
 *               --reason from-cli` (stdout to $WF_HELPER_OUT); step "two" is then refused
 *   inbox       step "one", recv "got" on topic "t" (1 h), event "seen" = the message;
 *               output {"got": <message>}
 * Prints the number of runs executed. Exit 0, or 1 with the error on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgqrs.h"

static pgqrs_status step_a(pgqrs_run *run, char **out, void *user)
{
    (void)run, (void)user;
    *out = pgqrs_strdup("{\"step\":\"a\"}");
    return PGQRS_OK;
}

static pgqrs_status step_b(pgqrs_run *run, char **out, void *user)
{
    (void)run, (void)user;
    *out = pgqrs_strdup("[1,2,3]");
    return PGQRS_OK;
}

static pgqrs_status greet(pgqrs_run *run, const char *input, char **output, void *user)
{
    char *a = NULL, *b = NULL, buf[4096];
    pgqrs_status st;
    (void)user;
    if ((st = pgqrs_run_step(&a, run, "a", step_a, NULL, NULL)) != PGQRS_OK)
        return st;
    if (input && strstr(input, "\"fail\"")) {
        pgqrs_free(a);
        pgqrs_run_fail(run, "{\"why\":\"asked to fail\"}", 0);
        return PGQRS_ERROR;
    }
    if ((st = pgqrs_run_step(&b, run, "b", step_b, NULL, NULL)) != PGQRS_OK) {
        pgqrs_free(a);
        return st;
    }
    snprintf(buf, sizeof buf, "{\"a\":%s,\"b\":%s,\"in\":%s}", a, b, input ? input : "null");
    pgqrs_free(a);
    pgqrs_free(b);
    *output = pgqrs_strdup(buf);
    return PGQRS_OK;
}

static pgqrs_status nap(pgqrs_run *run, const char *input, char **output, void *user)
{
    pgqrs_status st;
    (void)input, (void)user;
    if ((st = pgqrs_run_step(NULL, run, "one", step_a, NULL, NULL)) != PGQRS_OK)
        return st;
    if ((st = pgqrs_run_sleep(run, "nap", 3600)) != PGQRS_OK)
        return st;
    *output = pgqrs_strdup("\"rested\"");
    return PGQRS_OK;
}

static pgqrs_status cancel_via_cli(pgqrs_run *run, char **out, void *user)
{
    const char *bin = getenv("PGQRS_BIN"), *dest = getenv("WF_HELPER_OUT");
    char cmd[2048], res[64];
    int rc;
    (void)user;
    if (!bin || !dest)
        return PGQRS_EINVAL;
    snprintf(cmd, sizeof cmd, "'%s' --json workflow cancel %lld --reason from-cli >'%s' 2>&1", bin,
             (long long)pgqrs_run_id(run), dest);
    rc = system(cmd);
    snprintf(res, sizeof res, "{\"cli_exit\":%d}", rc);
    *out = pgqrs_strdup(res);
    return PGQRS_OK;
}

static pgqrs_status selfcancel(pgqrs_run *run, const char *input, char **output, void *user)
{
    pgqrs_status st;
    (void)input, (void)user;
    if ((st = pgqrs_run_step(NULL, run, "one", cancel_via_cli, NULL, NULL)) != PGQRS_OK)
        return st;
    if ((st = pgqrs_run_step(NULL, run, "two", step_b, NULL, NULL)) != PGQRS_OK)
        return st;
    *output = pgqrs_strdup("\"not cancelled\"");
    return PGQRS_OK;
}

static pgqrs_status inbox(pgqrs_run *run, const char *input, char **output, void *user)
{
    char *m = NULL, buf[4096];
    pgqrs_status st;
    (void)input, (void)user;
    if ((st = pgqrs_run_step(NULL, run, "one", step_a, NULL, NULL)) != PGQRS_OK)
        return st;
    if ((st = pgqrs_run_recv(&m, run, "got", "t", 3600 * 1000)) != PGQRS_OK)
        return st;
    if ((st = pgqrs_run_set_event(run, "seen", m)) == PGQRS_OK) {
        snprintf(buf, sizeof buf, "{\"got\":%s}", m);
        *output = pgqrs_strdup(buf);
    }
    pgqrs_free(m);
    return st;
}

static int die(const char *what, const void *h)
{
    fprintf(stderr, "wf_helper: %s: %s\n", what, pgqrs_errmsg(h));
    return 1;
}

int main(int argc, char **argv)
{
    pgqrs_connect_options co = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *store = NULL;
    pgqrs_workflow_worker *w = NULL;
    int executed = 0, n = 0;
    if (argc < 3 || (strcmp(argv[2], "define") != 0 && (strcmp(argv[2], "execute") != 0 || argc < 4))) {
        fprintf(stderr, "usage: wf_helper DSN define [inbox] | wf_helper DSN execute NAME\n");
        return 1;
    }
    co.heartbeat_interval_s = -1;
    if (pgqrs_connect(&store, argv[1], &co) != PGQRS_OK)
        return die("connect", NULL);
    if (pgqrs_workflow_define(store, "greet", greet, NULL, NULL) != PGQRS_OK ||
        pgqrs_workflow_define(store, "nap", nap, NULL, NULL) != PGQRS_OK ||
        pgqrs_workflow_define(store, "selfcancel", selfcancel, NULL, NULL) != PGQRS_OK ||
        (argc >= 4 && strcmp(argv[3], "inbox") == 0 && pgqrs_workflow_define(store, "inbox", inbox, NULL, NULL) != PGQRS_OK)) {
        int rc = die("define", store);
        pgqrs_store_free(store);
        return rc;
    }
    if (strcmp(argv[2], "execute") == 0) {
        if (pgqrs_workflow_worker_new(&w, store, argv[3]) != PGQRS_OK) {
            int rc = die("worker", store);
            pgqrs_store_free(store);
            return rc;
        }
        do {
            if (pgqrs_workflow_worker_run_once(&n, w) != PGQRS_OK) {
                int rc = die("run_once", w);
                pgqrs_workflow_worker_free(w);
                pgqrs_store_free(store);
                return rc;
            }
            executed += n;
        } while (n > 0);
        pgqrs_workflow_worker_free(w);
    }
    printf("%d\n", executed);
    pgqrs_store_free(store);
    return 0;
}
