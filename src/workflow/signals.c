/* workflow_signals.c: workflows that talk: messages sent to runs (send/recv),
 * events, child runs, durable waits and how they are woken, waiting without
 * polling where the database notifies, and deleting a workflow. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/text.h"
#include "pgqrs_public.h"
#include "queue/settle.h"
#include "workflow/workflow.h"

#define TIMEOUT_JSON "{\"timeout\":true}"

static pgqrs_status check_key(void *h, const char *what, const char *key)
{
    size_t n;
    if (!key)
        return pgqrs__fail(h, PGQRS_EMISUSE, "%s is NULL", what);
    n = strlen(key);
    if (n == 0 || n > 256)
        return pgqrs__fail(h, PGQRS_EINVAL, "%s must be 1 to 256 bytes, got %zu", what, n);
    if (!pgqrs__utf8_valid(key))
        return pgqrs__fail(h, PGQRS_EINVAL, "%s is not valid UTF-8", what);
    return PGQRS_OK;
}

static pgqrs_status check_signal_json(void *h, const char *what, const char *json)
{
    size_t n;
    if (!json)
        return pgqrs__fail(h, PGQRS_EMISUSE, "%s is NULL", what);
    n = strlen(json);
    if (n > PGQRS_MAX_SIGNAL_BYTES)
        return pgqrs__fail(h, PGQRS_EINVAL, "%s is %zu bytes; at most %d are allowed (PGQRS_MAX_SIGNAL_BYTES)", what,
                           n, PGQRS_MAX_SIGNAL_BYTES);
    return pgqrs__check_json(h, what, json);
}

static bool terminal(pgqrs_db_run_status st)
{
    return st == PGQRS_DB_RUN_STATUS_SUCCESS || st == PGQRS_DB_RUN_STATUS_ERROR || st == PGQRS_DB_RUN_STATUS_CANCELLED;
}

static json_t *load_any(const char *text)
{
    json_error_t e;
    json_t *j = text ? json_loads(text, JSON_DECODE_ANY, &e) : NULL;
    if (!j && text)   /* an integer past 64 bits */
        j = json_loads(text, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &e);
    return j;
}

/* JSON text of v, from the library's allocator; NULL if out of memory. */
static char *dump_any(const json_t *v)
{
    char *d = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : pgqrs__strdup("null");
    char *out;
    if (!v)
        return d;
    out = pgqrs__strdup(d);
    free(d);   /* jansson's allocator */
    return out;
}

/* The run no longer runs on this worker: cancelling, or taken over. */
static pgqrs_status not_running(pgqrs_run *run, pgqrs_conn *c, const char *what)
{
    pgqrs_run_row r = { 0 };
    pgqrs_status st = c->q->run_get(&r, c, run->id);
    if (st == PGQRS_OK && r.status == PGQRS_DB_RUN_STATUS_CANCELLING) {
        run->cancelled = true;
        st = pgqrs__fail(run, PGQRS_ECANCELLED, "run %lld is being cancelled; %s not done", (long long)run->id, what);
    } else if (st == PGQRS_OK || st == PGQRS_ENOTFOUND) {
        run->abandoned = true;
        st = pgqrs__fail(run, PGQRS_ESTATE, "run %lld no longer runs on this worker (%s); %s not done",
                         (long long)run->id, st == PGQRS_OK ? pgqrs__run_status_str(r.status) : "deleted", what);
    }
    pgqrs__run_row_clear(&r);
    return st;
}

/* Records a step's output without executing anything. */
static pgqrs_status record_step(pgqrs_run *run, pgqrs_conn *c, const char *step_id, const char *output)
{
    int64_t affected = 0;
    pgqrs_step_record_params p = { run->id, step_id, pgqrs__run_worker_id(run), output };
    pgqrs_status st = c->q->step_record(&affected, c, &p);
    if (st == PGQRS_OK && affected == 0)
        st = not_running(run, c, "step");
    return st;
}

/* ---- waiting until something is true: LISTEN/NOTIFY, else polling ---- */

typedef pgqrs_status (*probe_fn)(pgqrs_store *s, pgqrs_conn *c, void *arg, bool *done);

/* Calls probe until it says done, at most timeout_ms (< 0: no limit; then
 * PGQRS_ETIMEOUT with what in the message). Between probes it waits for a
 * notification with payload where the backend notifies (subscribed before the
 * probe that follows, so nothing is missed; at most 1 s, in case a notifying
 * statement was not the one expected), else it polls 10 ms doubling to 250 ms. */
static pgqrs_status wait_until(pgqrs_store *s, const char *payload, int64_t timeout_ms, probe_fn probe, void *arg,
                               const char *what)
{
    int64_t deadline = timeout_ms < 0 ? 0 : pgqrs__now_us() + timeout_ms * 1000, delay = 10;
    pgqrs__listener *l = NULL;
    bool tried = false, done = false;
    pgqrs_status st;
    for (;;) {
        int64_t left;
        PGQRS__WITH_CONN(s, s, { st = probe(s, c, arg, &done); });
        if (st != PGQRS_OK || done)
            break;
        left = deadline ? (deadline - pgqrs__now_us() + 999) / 1000 : 1000;
        if (left <= 0) {
            st = pgqrs__fail(s, PGQRS_ETIMEOUT, "%s within %lld ms", what, (long long)timeout_ms);
            break;
        }
        if (!tried) {
            tried = true;
            if (pgqrs__listener_open(&l, s, s) == PGQRS_OK)
                continue;   /* probe again: it may have happened before LISTEN */
            l = NULL;
        }
        if (l) {
            if (pgqrs__listener_wait_for(l, payload, left < 1000 ? left : 1000) < 0) {
                pgqrs__log(s, PGQRS_LOG_WARN, "listen.failed", "falling back to polling: %s", pgqrs_errmsg(s));
                pgqrs__listener_close(l);
                l = NULL;
            }
        } else {
            pgqrs__sleep_ms(delay < left ? delay : left);
            delay = delay * 2 > 250 ? 250 : delay * 2;
        }
    }
    pgqrs__listener_close(l);
    return st;
}

typedef struct run_probe {
    int64_t run_id;
    pgqrs_run_row row;
} run_probe;

static pgqrs_status probe_run(pgqrs_store *s, pgqrs_conn *c, void *arg, bool *done)
{
    run_probe *p = arg;
    pgqrs_status st;
    pgqrs__run_row_clear(&p->row);
    st = c->q->run_get(&p->row, c, p->run_id);
    if (st == PGQRS_ENOTFOUND)
        return pgqrs__fail(s, st, "run %lld does not exist", (long long)p->run_id);
    *done = st == PGQRS_OK && terminal(p->row.status);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_run_wait(pgqrs_run_info **out, pgqrs_store *s, int64_t run_id, int64_t timeout_ms)
{
    run_probe p = { run_id, { 0 } };
    char payload[32], what[64];
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    snprintf(payload, sizeof payload, "r%lld", (long long)run_id);   /* run_finish, run_cancel */
    snprintf(what, sizeof what, "run %lld did not finish", (long long)run_id);
    st = wait_until(s, payload, timeout_ms, probe_run, &p, what);
    if (st == PGQRS_OK && !(*out = pgqrs__run_info_from_run_row(&p.row)))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    pgqrs__run_row_clear(&p.row);
    return st;
}

/* ---- deleting a workflow ---- */

PGQRS_EXTERN pgqrs_status pgqrs_workflow_delete(pgqrs_store *s, const char *name, int force)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    if ((st = pgqrs__check_name(s, "workflow", name)) != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(s, s, {
        pgqrs_workflow_row wf = { 0 };
        st = c->q->workflow_get_by_name(&wf, c, name);
        if (st == PGQRS_ENOTFOUND)
            pgqrs__fail(s, st, "workflow '%.128s' does not exist", name);
        if (st == PGQRS_OK) {
            /* the schedule's foreign key would refuse it anyway, with a message that names nothing */
            pgqrs_schedule_row sc = { 0 };
            st = c->q->schedule_of_workflow(&sc, c, wf.id);
            if (st == PGQRS_OK)
                st = pgqrs__fail(s, PGQRS_ESTATE, "workflow '%.128s' is the target of schedule '%.128s'; delete the "
                                 "schedule first (pgqrs_schedule_delete, `pgqrs schedule delete %.128s`)", name, sc.name,
                                 sc.name);
            else if (st == PGQRS_ENOTFOUND)
                st = PGQRS_OK;
            pgqrs__schedule_row_clear(&sc);
        }
        if (st == PGQRS_OK) {
            int64_t *ids = NULL, in_flight = 0;
            size_t n = 0;
            pgqrs_workflow_delete_params p = { wf.id, wf.queue_id, force != 0 };
            st = c->q->workflow_delete(&ids, &n, c, &p);
            pgqrs__free(ids);
            if (st == PGQRS_EBUSY)
                st = pgqrs__fail(s, PGQRS_EBUSY, "workflow '%.128s' was not deleted: transactions writing messages did "
                                 "not end within 5 s (an open application transaction?); try again", name);
            else if (st == PGQRS_OK && n == 0) {
                st = c->q->workflow_runs_in_flight(&in_flight, c, wf.id);
                if (st == PGQRS_OK && in_flight > 0)
                    st = pgqrs__fail(s, PGQRS_ESTATE, "workflow '%.128s' has %lld run(s) in flight; cancel them or "
                                     "wait for them, or force the delete", name, (long long)in_flight);
                else if (st == PGQRS_OK)
                    st = pgqrs__fail(s, PGQRS_ENOTFOUND, "workflow '%.128s' does not exist", name);
            }
            if (st == PGQRS_OK)
                pgqrs__log(s, PGQRS_LOG_INFO, "workflow.delete", "workflow '%.128s' deleted with its runs and queue%s",
                           name, force ? " (forced)" : "");
        }
        pgqrs__workflow_row_clear(&wf);
    });
    return st;
}

/* ---- messages: send and recv ---- */

PGQRS_EXTERN pgqrs_status pgqrs_run_send(pgqrs_store *s, int64_t run_id, const char *topic, const char *message_json)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    if ((st = check_key(s, "topic", topic)) != PGQRS_OK || (st = check_signal_json(s, "message", message_json)) != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(s, s, {
        int64_t id = 0, woke = 0;
        pgqrs_run_send_params p = { run_id, topic, message_json };
        st = c->q->run_send(&id, c, &p);
        if (st == PGQRS_ENOTFOUND) {
            pgqrs_run_row r = { 0 };
            st = c->q->run_get(&r, c, run_id);
            if (st == PGQRS_ENOTFOUND)
                pgqrs__fail(s, st, "run %lld does not exist", (long long)run_id);
            else if (st == PGQRS_OK)
                st = pgqrs__fail(s, PGQRS_ESTATE, "run %lld is %s; messages can only be sent to PENDING or RUNNING runs",
                                 (long long)run_id, pgqrs__run_status_str(r.status));
            pgqrs__run_row_clear(&r);
        } else if (st == PGQRS_OK) {
            /* its own statement, after the message committed: a recv that recorded
             * its wait before this sees the message or is woken here */
            if (c->q->run_wake(&woke, c, run_id) != PGQRS_OK)
                pgqrs__log(s, PGQRS_LOG_WARN, "run.wake", "run %lld not woken (it wakes at its deadline): %s",
                           (long long)run_id, pgqrs_errmsg(s));
            pgqrs__log(s, PGQRS_LOG_DEBUG, "run.send", "message %lld sent to run %lld on '%.256s'%s", (long long)id,
                       (long long)run_id, topic, woke ? "; the run was woken" : "");
        }
    });
    return st;
}

/* The stored outcome of a recv or await step: *timed_out, or *value (the
 * member `member` of the output). */
static pgqrs_status decode_outcome(pgqrs_run *run, const char *output, const char *member, json_t **value,
                                   bool *timed_out)
{
    json_t *j = load_any(output);
    *value = NULL;
    *timed_out = json_is_true(json_object_get(j, "timeout"));
    if (!*timed_out && !(j && json_object_get(j, member))) {
        json_decref(j);
        return pgqrs__fail(run, PGQRS_ESTATE, "the stored step of run %lld is not a %s", (long long)run->id,
                           strcmp(member, "message") == 0 ? "recv" : "child await");
    }
    if (!*timed_out)
        *value = json_incref(json_object_get(j, member));
    json_decref(j);
    return PGQRS_OK;
}

PGQRS_EXTERN pgqrs_status pgqrs_run_recv(char **message_out, pgqrs_run *run, const char *step_id, const char *topic,
                                         int64_t timeout_ms)
{
    pgqrs_status st;
    pgqrs_store *s;
    char *output = NULL;
    int64_t now, until = 0;
    bool waiting = false;
    if (message_out)
        *message_out = NULL;
    if ((st = pgqrs__run_check_step(run, step_id)) != PGQRS_OK || (st = check_key(run, "topic", topic)) != PGQRS_OK ||
        (st = pgqrs__check_range(run, "timeout_ms", timeout_ms, 0, (int64_t)PGQRS_MAX_DELAY_SECONDS * 1000)) != PGQRS_OK)
        return st;
    s = pgqrs__run_store(run);
    now = pgqrs__store_clock(s);
    PGQRS__WITH_CONN(s, run, {
        pgqrs_step_row step = { 0 };
        pgqrs_run_recv_row got = { 0 };
        bool done = false;
        pgqrs_run_recv_params rp = { run->id, step_id, topic, pgqrs__run_worker_id(run) };
        st = pgqrs__run_read_step(run, c, step_id, &step, &done);
        if (st == PGQRS_OK && done) {
            output = step.output;   /* replay */
            step.output = NULL;
        }
        if (st == PGQRS_OK && !done)
            st = c->q->run_recv(&got, c, &rp);
        if (st == PGQRS_ENOTFOUND && !done) {
            /* none yet: record the wait (its deadline survives suspensions), then
             * look once more, for a message sent before the wait was recorded */
            pgqrs_wait_set_row w = { 0 };
            pgqrs_wait_set_params wp = { run->id, step_id, topic, false, 0, run->message_id, now + timeout_ms * 1000,
                                         pgqrs__run_worker_id(run) };
            st = c->q->wait_set(&w, c, &wp);
            if (st == PGQRS_ENOTFOUND)
                st = not_running(run, c, "recv");
            until = w.until_us;
            if (st == PGQRS_OK)
                st = c->q->run_recv(&got, c, &rp);
            if (st == PGQRS_ENOTFOUND && until <= now) {
                st = record_step(run, c, step_id, TIMEOUT_JSON);
                if (st == PGQRS_OK && !(output = pgqrs__strdup(TIMEOUT_JSON)))
                    st = pgqrs__fail(run, PGQRS_ENOMEM, "out of memory");
            } else if (st == PGQRS_ENOTFOUND) {
                st = PGQRS_OK;
                waiting = true;
            }
        }
        if (st == PGQRS_OK && got.output) {
            output = got.output;
            got.output = NULL;
        }
        pgqrs__run_recv_row_clear(&got);
        pgqrs__step_row_clear(&step);
    });
    if (st == PGQRS_OK && waiting) {
        run->waiting = true;
        run->wake_at_us = until;
        return pgqrs__fail(run, PGQRS_ESUSPENDED, "run %lld waits for a message on '%.256s'", (long long)run->id,
                           topic);
    }
    if (st == PGQRS_OK) {
        json_t *v = NULL;
        bool timed_out = false;
        st = decode_outcome(run, output, "message", &v, &timed_out);
        if (st == PGQRS_OK && timed_out)
            st = pgqrs__fail(run, PGQRS_ETIMEOUT, "no message on '%.256s' for run %lld within %lld ms", topic,
                             (long long)run->id, (long long)timeout_ms);
        else if (st == PGQRS_OK && message_out && !(*message_out = dump_any(v)))
            st = pgqrs__fail(run, PGQRS_ENOMEM, "out of memory");
        json_decref(v);
    }
    pgqrs__free(output);
    return st;
}

/* ---- events ---- */

PGQRS_EXTERN pgqrs_status pgqrs_run_set_event(pgqrs_run *run, const char *key, const char *value_json)
{
    pgqrs_status st = pgqrs__check_handle(run, PGQRS__MAGIC_RUN, "run");
    pgqrs_store *s;
    if (st != PGQRS_OK)
        return st;
    if ((st = check_key(run, "key", key)) != PGQRS_OK || (st = check_signal_json(run, "event value", value_json)) != PGQRS_OK)
        return st;
    s = pgqrs__run_store(run);
    PGQRS__WITH_CONN(s, run, {
        int64_t n = 0;
        pgqrs_event_set_params p = { run->id, key, value_json, pgqrs__run_worker_id(run) };
        st = c->q->event_set(&n, c, &p);
        if (st == PGQRS_OK && n == 0)
            st = not_running(run, c, "set_event");
    });
    if (st == PGQRS_OK)
        pgqrs__log(s, PGQRS_LOG_DEBUG, "run.event", "run %lld set event '%.256s'", (long long)run->id, key);
    return st;
}

typedef struct event_probe {
    int64_t run_id;
    const char *key;
    pgqrs_event_row row;
    bool no_wait;
} event_probe;

static pgqrs_status probe_event(pgqrs_store *s, pgqrs_conn *c, void *arg, bool *done)
{
    event_probe *p = arg;
    pgqrs_event_get_params g = { p->run_id, p->key };
    pgqrs_run_row r = { 0 };
    pgqrs_status st;
    pgqrs__event_row_clear(&p->row);
    st = c->q->event_get(&p->row, c, &g);
    if (st == PGQRS_OK) {
        *done = true;
        return st;
    }
    if (st != PGQRS_ENOTFOUND)
        return st;
    st = c->q->run_get(&r, c, p->run_id);
    if (st == PGQRS_ENOTFOUND)
        pgqrs__fail(s, st, "run %lld does not exist", (long long)p->run_id);
    else if (st == PGQRS_OK && (p->no_wait || terminal(r.status)))
        st = pgqrs__fail(s, PGQRS_ENOTFOUND, "run %lld has no event '%.256s'%s", (long long)p->run_id, p->key,
                         terminal(r.status) ? " (it has ended)" : "");
    pgqrs__run_row_clear(&r);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_event_get(char **value_out, pgqrs_store *s, int64_t run_id, const char *key,
                                          int64_t timeout_ms)
{
    event_probe p = { run_id, key, { 0 }, timeout_ms == 0 };
    char payload[32], what[320];
    pgqrs_status st;
    if (!value_out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "value_out is NULL");
    *value_out = NULL;
    PGQRS__CHECK_STORE(s);
    if ((st = check_key(s, "key", key)) != PGQRS_OK)
        return st;
    snprintf(payload, sizeof payload, "e%lld", (long long)run_id);   /* event_set */
    snprintf(what, sizeof what, "run %lld did not set event '%.256s'", (long long)run_id, key);
    st = wait_until(s, payload, timeout_ms, probe_event, &p, what);
    if (st == PGQRS_OK) {
        *value_out = p.row.value;
        p.row.value = NULL;
    }
    pgqrs__event_row_clear(&p.row);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_event_list(pgqrs_events **out, pgqrs_store *s, int64_t run_id)
{
    pgqrs_event_row *rows = NULL;
    size_t n = 0;
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        st = c->q->event_list(&rows, &n, c, run_id);
    });
    if (st == PGQRS_OK && !(*out = pgqrs__events_from_event_rows(rows, n)))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}

/* ---- child runs ---- */

bool pgqrs__is_child_key(const char *key)
{
    return key && strncmp(key, PGQRS__CHILD_KEY_PREFIX, sizeof PGQRS__CHILD_KEY_PREFIX - 1) == 0;
}

void pgqrs__wake_parent(pgqrs_store *s, void *owner, int64_t child_run_id)
{
    pgqrs_status st;
    int64_t woke = 0;
    PGQRS__WITH_CONN(s, owner, {
        st = c->q->run_wake_parent(&woke, c, child_run_id);
    });
    if (st != PGQRS_OK)
        pgqrs__log(s, PGQRS_LOG_WARN, "run.wake", "the parent of run %lld not woken (it wakes at its deadline): %s",
                   (long long)child_run_id, pgqrs_errmsg(owner));
}

PGQRS_EXTERN pgqrs_status pgqrs_run_start_child(int64_t *child_run_id_out, pgqrs_run *run, const char *step_id,
                                                const char *workflow, const char *input_json)
{
    pgqrs_status st;
    pgqrs_store *s;
    int64_t child = 0;
    char key[320];
    if (child_run_id_out)
        *child_run_id_out = 0;
    if ((st = pgqrs__run_check_step(run, step_id)) != PGQRS_OK || (st = pgqrs__check_name(run, "workflow", workflow)) != PGQRS_OK)
        return st;
    if (input_json && (st = pgqrs__check_json(run, "input", input_json)) != PGQRS_OK)
        return st;
    s = pgqrs__run_store(run);
    /* the child's idempotency key names the parent's step: a replay, or a crash
     * before the step was recorded, finds the same child */
    snprintf(key, sizeof key, "%s%lld:%s", PGQRS__CHILD_KEY_PREFIX, (long long)run->id, step_id);
    PGQRS__WITH_CONN(s, run, {
        pgqrs_step_row step = { 0 };
        pgqrs_workflow_row wf = { 0 };
        pgqrs_run_trigger_row t = { 0, false };
        bool done = false;
        st = pgqrs__run_read_step(run, c, step_id, &step, &done);
        if (st == PGQRS_OK && done) {
            json_t *j = load_any(step.output);
            json_t *v = json_object_get(j, "child_run_id");
            if (json_is_integer(v))
                child = (int64_t)json_integer_value(v);
            else
                st = pgqrs__fail(run, PGQRS_ESTATE, "step '%.256s' of run %lld did not start a child", step_id,
                                 (long long)run->id);
            json_decref(j);
        } else if (st == PGQRS_OK) {
            st = c->q->workflow_get_by_name(&wf, c, workflow);
            if (st == PGQRS_ENOTFOUND)
                pgqrs__fail(run, st, "workflow '%.128s' does not exist", workflow);
            if (st == PGQRS_OK) {
                pgqrs_run_trigger_params tp = { wf.id, wf.queue_id, input_json, key };
                st = c->q->run_trigger(&t, c, &tp);
                if (st == PGQRS_ENOTFOUND) {   /* created concurrently: it exists now */
                    pgqrs_run_row r = { 0 };
                    pgqrs_run_get_by_key_params k = { wf.id, key };
                    st = c->q->run_get_by_key(&r, c, &k);
                    t.run_id = r.id;
                    pgqrs__run_row_clear(&r);
                }
            }
            if (st == PGQRS_OK) {
                pgqrs_child_link_params lp = { run->id, step_id, t.run_id };
                char out[64];
                child = t.run_id;
                snprintf(out, sizeof out, "{\"child_run_id\":%lld}", (long long)child);
                st = c->q->child_link(c, &lp);
                if (st == PGQRS_OK)
                    st = record_step(run, c, step_id, out);
            }
        }
        pgqrs__workflow_row_clear(&wf);
        pgqrs__step_row_clear(&step);
    });
    if (st == PGQRS_OK) {
        pgqrs__log(s, PGQRS_LOG_INFO, "run.child", "run %lld step '%.256s': child run %lld of '%.128s'",
                   (long long)run->id, step_id, (long long)child, workflow);
        if (child_run_id_out)
            *child_run_id_out = child;
    }
    return st;
}

/* {"status": ..., "output": ..., "error": ...} of an ended child; NULL if out of memory. */
static char *child_outcome(const pgqrs_run_row *r)
{
    json_t *o = json_object();
    char *out;
    if (!o)
        return NULL;
    json_object_set_new(o, "status", json_string(pgqrs__run_status_str(r->status)));
    json_object_set_new(o, "output", r->output ? load_any(r->output) : json_null());
    json_object_set_new(o, "error", r->error ? load_any(r->error) : json_null());
    out = dump_any(o);
    json_decref(o);
    return out;
}

PGQRS_EXTERN pgqrs_status pgqrs_run_await_child(char **output_out, pgqrs_run *run, const char *step_id,
                                                int64_t child_run_id, int64_t timeout_ms)
{
    pgqrs_status st;
    pgqrs_store *s;
    char *output = NULL;
    int64_t now, until = 0;
    bool waiting = false;
    if (output_out)
        *output_out = NULL;
    if ((st = pgqrs__run_check_step(run, step_id)) != PGQRS_OK ||
        (st = pgqrs__check_range(run, "timeout_ms", timeout_ms, 0, (int64_t)PGQRS_MAX_DELAY_SECONDS * 1000)) != PGQRS_OK)
        return st;
    s = pgqrs__run_store(run);
    now = pgqrs__store_clock(s);
    PGQRS__WITH_CONN(s, run, {
        pgqrs_step_row step = { 0 };
        pgqrs_run_row cr = { 0 };
        bool done = false;
        st = pgqrs__run_read_step(run, c, step_id, &step, &done);
        if (st == PGQRS_OK && done) {
            output = step.output;   /* replay */
            step.output = NULL;
        } else if (st == PGQRS_OK) {
            st = c->q->run_get(&cr, c, child_run_id);
            if (st == PGQRS_ENOTFOUND)
                pgqrs__fail(run, st, "child run %lld does not exist", (long long)child_run_id);
            if (st == PGQRS_OK && !terminal(cr.status)) {
                pgqrs_wait_set_row w = { 0 };
                pgqrs_wait_set_params wp = { run->id, step_id, NULL, true, child_run_id, run->message_id,
                                             now + timeout_ms * 1000, pgqrs__run_worker_id(run) };
                st = c->q->wait_set(&w, c, &wp);
                if (st == PGQRS_ENOTFOUND)
                    st = not_running(run, c, "await");
                until = w.until_us;
                pgqrs__run_row_clear(&cr);
                if (st == PGQRS_OK)   /* it may have ended before the wait was recorded */
                    st = c->q->run_get(&cr, c, child_run_id);
            }
            if (st == PGQRS_OK && terminal(cr.status)) {
                if (!(output = child_outcome(&cr)))
                    st = pgqrs__fail(run, PGQRS_ENOMEM, "out of memory");
            } else if (st == PGQRS_OK && until <= now) {
                if (!(output = pgqrs__strdup(TIMEOUT_JSON)))
                    st = pgqrs__fail(run, PGQRS_ENOMEM, "out of memory");
            } else if (st == PGQRS_OK) {
                waiting = true;
            }
            if (st == PGQRS_OK && output)
                st = record_step(run, c, step_id, output);
        }
        pgqrs__run_row_clear(&cr);
        pgqrs__step_row_clear(&step);
    });
    if (st == PGQRS_OK && waiting) {
        run->waiting = true;
        run->wake_at_us = until;
        return pgqrs__fail(run, PGQRS_ESUSPENDED, "run %lld waits for child run %lld", (long long)run->id,
                           (long long)child_run_id);
    }
    if (st == PGQRS_OK) {
        json_t *v = NULL, *j;
        bool timed_out = false;
        st = decode_outcome(run, output, "status", &v, &timed_out);
        j = load_any(output);
        if (st == PGQRS_OK && timed_out) {
            st = pgqrs__fail(run, PGQRS_ETIMEOUT, "child run %lld did not end within %lld ms", (long long)child_run_id,
                             (long long)timeout_ms);
        } else if (st == PGQRS_OK && strcmp(json_string_value(v) ? json_string_value(v) : "", "SUCCESS") != 0) {
            /* the child's failure is this step's: recorded as the attempt's error, not retried */
            json_t *err = json_object_get(j, "error");
            char msg[160];
            snprintf(msg, sizeof msg, "child run %lld ended %s", (long long)child_run_id,
                     json_string_value(v) ? json_string_value(v) : "?");
            if (!run->error_json && json_is_object(err)) {
                json_t *e = json_pack("{s:s, s:s, s:i, s:I, s:O}", "message", msg, "status", pgqrs_errstr(PGQRS_ERROR),
                                      "code", (int)PGQRS_ERROR, "child_run_id", (json_int_t)child_run_id,
                                      "child_error", err);
                run->error_json = e ? dump_any(e) : NULL;
                json_decref(e);
            }
            pgqrs__run_set_error(run, PGQRS_ERROR, msg);
            run->fatal = true;
            st = pgqrs__fail(run, PGQRS_ERROR, "%s", msg);
        } else if (st == PGQRS_OK && output_out && !(*output_out = dump_any(json_object_get(j, "output")))) {
            st = pgqrs__fail(run, PGQRS_ENOMEM, "out of memory");
        }
        json_decref(j);
        json_decref(v);
    }
    pgqrs__free(output);
    return st;
}

/* Cancels the children of run_id, and theirs, on one connection (a pool of one
 * must not be asked for a second). Children already ended are left alone. */
pgqrs_status pgqrs__cancel_children(pgqrs_store *s, pgqrs_conn *c, int64_t run_id)
{
    int64_t *todo = NULL;
    size_t n = 0, cap = 0, next = 0;
    pgqrs_status st = PGQRS_OK;
    char reason[64];
    for (int64_t id = run_id;; id = todo[next++]) {
        pgqrs_child_row *kids = NULL;
        size_t nk = 0;
        st = c->q->child_list(&kids, &nk, c, id);
        snprintf(reason, sizeof reason, "parent run %lld was cancelled", (long long)id);
        for (size_t i = 0; st == PGQRS_OK && i < nk; i++) {
            pgqrs_run_row r = { 0 };
            pgqrs_run_cancel_params p = { kids[i].child_run_id, reason };
            pgqrs_status cs = c->q->run_cancel(&r, c, &p);
            pgqrs__run_row_clear(&r);
            if (cs == PGQRS_ENOTFOUND)
                continue;   /* ended, already cancelling, or gone */
            if (cs != PGQRS_OK) {
                st = cs;
                break;
            }
            pgqrs__log(s, PGQRS_LOG_INFO, "run.cancel", "run %lld: cancelled with its parent run %lld",
                       (long long)kids[i].child_run_id, (long long)id);
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                int64_t *t = pgqrs__realloc(todo, ncap * sizeof *t);
                if (!t) {
                    st = pgqrs__conn_oom(c);
                    break;
                }
                todo = t;
                cap = ncap;
            }
            todo[n++] = kids[i].child_run_id;
        }
        pgqrs__child_rows_free(kids, nk);
        if (st != PGQRS_OK || next == n)
            break;
    }
    pgqrs__free(todo);
    return st;
}
