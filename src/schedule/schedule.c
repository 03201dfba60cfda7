/* schedule.c: schedules (create, get, list, pause, resume, delete) and
 * pgqrs_cron_next. */
#include <string.h>

#include "base/alloc.h"
#include "pgqrs_public.h"
#include "queue/worker_handle.h"
#include "schedule/schedule.h"

enum { DEFAULT_GRACE_S = 60, MAX_CRON_BYTES = 256 };

PGQRS_EXTERN pgqrs_status pgqrs_schedule_options_init(pgqrs_schedule_options *opts, unsigned int version)
{
    return pgqrs__struct_init(opts, sizeof *opts, version, PGQRS_SCHEDULE_OPTIONS_VERSION, "schedule options");
}

pgqrs_status pgqrs__schedule_load(void *handle, const char *cron, const char *zone, pgqrs__cron *c_out,
                                  const pgqrs__tz **z_out)
{
    char err[256];
    pgqrs_status st;
    if (!cron)
        return pgqrs__fail(handle, PGQRS_EMISUSE, "cron expression is NULL");
    if (strlen(cron) > MAX_CRON_BYTES)
        return pgqrs__fail(handle, PGQRS_EINVAL, "cron expression is longer than %d bytes", MAX_CRON_BYTES);
    if ((st = pgqrs__cron_parse(c_out, cron, err, sizeof err)) != PGQRS_OK)
        return pgqrs__fail(handle, st, "invalid cron expression '%.100s': %s", cron, err);
    if ((st = pgqrs__tz_get(z_out, zone ? zone : "UTC", err, sizeof err)) != PGQRS_OK)
        return pgqrs__fail(handle, st, "%s", err);
    return PGQRS_OK;
}

pgqrs_status pgqrs__schedule_now(pgqrs_conn *c, int64_t *now_us)
{
    pgqrs_clock_now_row r = { 0 };
    pgqrs_status st = c->q->clock_now(&r, c);
    *now_us = r.now_us;
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_cron_next(int64_t *times_out, size_t *count_out, const char *expr,
                                          const char *zone, int64_t after_us, size_t n)
{
    pgqrs__cron cron;
    const pgqrs__tz *z = NULL;
    pgqrs_status st;
    size_t got = 0;
    if (count_out)
        *count_out = 0;
    if (!times_out && n > 0)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "times_out is NULL");
    if (n > 100000)
        return pgqrs__fail(NULL, PGQRS_EINVAL, "n must be at most 100000, got %zu", n);
    if ((st = pgqrs__schedule_load(NULL, expr, zone, &cron, &z)) != PGQRS_OK)
        return st;
    for (int64_t at = after_us; got < n && pgqrs__cron_next(&cron, z, at, &times_out[got]); at = times_out[got++])
        ;
    if (count_out)
        *count_out = got;
    return PGQRS_OK;
}

static pgqrs_status parse_choice(pgqrs_store *s, const char *what, const char *value, const char *a, const char *b,
                                 int *out)
{
    if (!value || strcmp(value, a) == 0)
        *out = 0;
    else if (strcmp(value, b) == 0)
        *out = 1;
    else
        return pgqrs__fail(s, PGQRS_EINVAL, "%s must be '%s' or '%s', got '%.32s'", what, a, b, value);
    return PGQRS_OK;
}

static pgqrs_status info_out(pgqrs_store *s, pgqrs_schedule_info **out, pgqrs_schedule_row *row)
{
    if (!out) {
        pgqrs__schedule_row_clear(row);
        return PGQRS_OK;
    }
    *out = pgqrs__schedule_info_from_schedule_row(row);
    return *out ? PGQRS_OK : pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
}

PGQRS_EXTERN pgqrs_status pgqrs_schedule_create(pgqrs_schedule_info **out, pgqrs_store *s, const char *name,
                                                const pgqrs_schedule_options *opts)
{
    pgqrs_status st;
    pgqrs__cron cron;
    const pgqrs__tz *z = NULL;
    int overlap = 0, misfire = 0;
    int64_t grace;
    const char *payload;
    pgqrs_schedule_row row = { 0 };
    if (out)
        *out = NULL;
    PGQRS__CHECK_STORE(s);
    if ((st = pgqrs__check_name(s, "schedule", name)) != PGQRS_OK)
        return st;
    if (!opts)
        return pgqrs__fail(s, PGQRS_EMISUSE, "schedule options are NULL (cron and a target are required)");
    if ((st = pgqrs__check_version(s, "schedule options", opts->version, PGQRS_SCHEDULE_OPTIONS_VERSION)) != PGQRS_OK)
        return st;
    if ((st = pgqrs__schedule_load(s, opts->cron, opts->timezone, &cron, &z)) != PGQRS_OK)
        return st;
    if (!opts->queue == !opts->workflow)
        return pgqrs__fail(s, PGQRS_EINVAL, "a schedule needs exactly one target: a queue or a workflow");
    if ((st = parse_choice(s, "overlap", opts->overlap, "skip", "allow", &overlap)) != PGQRS_OK ||
        (st = parse_choice(s, "misfire", opts->misfire, "skip", "latest", &misfire)) != PGQRS_OK)
        return st;
    grace = opts->misfire_grace_s == 0 ? DEFAULT_GRACE_S : opts->misfire_grace_s == -1 ? 0 : opts->misfire_grace_s;
    if (grace < 0 || grace > INT64_C(366) * 86400)
        return pgqrs__fail(s, PGQRS_EINVAL, "misfire_grace_s must be -1..%lld, got %lld", (long long)366 * 86400,
                           (long long)opts->misfire_grace_s);
    payload = opts->payload_json ? opts->payload_json : opts->queue ? "{}" : NULL;
    if (payload && (st = pgqrs__check_json(s, opts->queue ? "payload" : "input", payload)) != PGQRS_OK)
        return st;
    PGQRS__WITH_CONN(s, s, {
        pgqrs_schedule_create_params p = { 0 };
        pgqrs_queue_row q = { 0 };
        pgqrs_workflow_row wf = { 0 };
        int64_t now_us = 0;
        p.name = name;
        p.cron = opts->cron;
        p.timezone = opts->timezone ? opts->timezone : "UTC";
        p.payload = payload;
        p.overlap = overlap ? PGQRS_DB_SCHEDULE_OVERLAP_ALLOW : PGQRS_DB_SCHEDULE_OVERLAP_SKIP;
        p.misfire = misfire ? PGQRS_DB_SCHEDULE_MISFIRE_LATEST : PGQRS_DB_SCHEDULE_MISFIRE_SKIP;
        p.misfire_grace_s = grace;
        p.paused = opts->paused != 0;
        if (opts->queue) {
            st = pgqrs__queue_lookup(c, opts->queue, &q);
            p.has_queue_id = true;
            p.queue_id = q.id;
            p.target = opts->queue;
        } else {
            st = pgqrs__check_name(s, "workflow", opts->workflow);
            if (st == PGQRS_OK && (st = c->q->workflow_get_by_name(&wf, c, opts->workflow)) == PGQRS_ENOTFOUND)
                pgqrs__fail(s, st, "workflow '%.128s' does not exist", opts->workflow);
            p.has_workflow_id = true;
            p.workflow_id = wf.id;
            p.target = opts->workflow;
        }
        if (st == PGQRS_OK)
            st = pgqrs__schedule_now(c, &now_us);
        if (st == PGQRS_OK && !pgqrs__cron_next(&cron, z, now_us, &p.next_at_us))
            st = pgqrs__fail(s, PGQRS_EINVAL, "cron expression '%.100s' never fires (no time matches within ten years)",
                             opts->cron);
        if (st == PGQRS_OK && (st = c->q->schedule_create(&row, c, &p)) == PGQRS_ENOTFOUND)
            st = pgqrs__fail(s, PGQRS_EEXISTS, "schedule '%.128s' already exists", name);
        pgqrs__queue_row_clear(&q);
        pgqrs__workflow_row_clear(&wf);
    });
    if (st != PGQRS_OK)
        return st;
    pgqrs__log(s, PGQRS_LOG_INFO, "schedule.create", "schedule '%.128s' (%.100s, %.64s) created; first tick %lld",
               name, opts->cron, opts->timezone ? opts->timezone : "UTC", (long long)row.next_at_us);
    return info_out(s, out, &row);
}

static pgqrs_status lookup(pgqrs_conn *c, const char *name, pgqrs_schedule_row *row)
{
    pgqrs_status st = pgqrs__check_name(c->owner, "schedule", name);
    if (st == PGQRS_OK && (st = c->q->schedule_get_by_name(row, c, name)) == PGQRS_ENOTFOUND)
        st = pgqrs__fail(c->owner, st, "schedule '%.128s' does not exist", name);
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_schedule_get(pgqrs_schedule_info **out, pgqrs_store *s, const char *name)
{
    pgqrs_status st;
    pgqrs_schedule_row row = { 0 };
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, st = lookup(c, name, &row));
    return st == PGQRS_OK ? info_out(s, out, &row) : st;
}

PGQRS_EXTERN pgqrs_status pgqrs_schedule_list(pgqrs_schedules **out, pgqrs_store *s)
{
    pgqrs_status st;
    pgqrs_schedule_row *rows = NULL;
    size_t n = 0;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, st = c->q->schedule_list(&rows, &n, c));
    if (st == PGQRS_OK && !(*out = pgqrs__schedules_from_schedule_rows(rows, n)))
        st = pgqrs__fail(s, PGQRS_ENOMEM, "out of memory");
    return st;
}

static pgqrs_status set_paused(pgqrs_store *s, const char *name, bool paused)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_schedule_row row = { 0 }, after = { 0 };
        pgqrs_schedule_set_paused_params p = { 0, paused, false, 0 };
        st = lookup(c, name, &row);
        p.id = row.id;
        if (st == PGQRS_OK && row.paused == paused) {
            /* already so: nothing changes (a resume of an active schedule keeps its next tick) */
        } else if (st == PGQRS_OK && !paused) {
            /* the next tick after now: the pause's ticks are not fired late */
            pgqrs__cron cron;
            const pgqrs__tz *z = NULL;
            int64_t now_us = 0;
            st = pgqrs__schedule_load(s, row.cron, row.timezone, &cron, &z);
            if (st == PGQRS_OK)
                st = pgqrs__schedule_now(c, &now_us);
            if (st == PGQRS_OK && !(p.has_next_at = pgqrs__cron_next(&cron, z, now_us, &p.next_at_us)))
                st = pgqrs__fail(s, PGQRS_EINVAL, "schedule '%.128s' never fires again", name);
        }
        if (st == PGQRS_OK && row.paused != paused &&
            (st = c->q->schedule_set_paused(&after, c, &p)) == PGQRS_ENOTFOUND)
            pgqrs__fail(s, st, "schedule '%.128s' does not exist", name);
        if (st == PGQRS_OK && row.paused != paused)
            pgqrs__log(s, PGQRS_LOG_INFO, paused ? "schedule.pause" : "schedule.resume", "schedule '%.128s' %s%s",
                       name, paused ? "paused" : "resumed", paused ? "" : "; ticks of the pause are skipped");
        pgqrs__schedule_row_clear(&row);
        pgqrs__schedule_row_clear(&after);
    });
    return st;
}

PGQRS_EXTERN pgqrs_status pgqrs_schedule_pause(pgqrs_store *s, const char *name) { return set_paused(s, name, true); }

PGQRS_EXTERN pgqrs_status pgqrs_schedule_resume(pgqrs_store *s, const char *name) { return set_paused(s, name, false); }

PGQRS_EXTERN pgqrs_status pgqrs_schedule_delete(pgqrs_store *s, const char *name)
{
    pgqrs_status st;
    PGQRS__CHECK_STORE(s);
    PGQRS__WITH_CONN(s, s, {
        pgqrs_schedule_row row = { 0 };
        int64_t n = 0;
        st = lookup(c, name, &row);
        if (st == PGQRS_OK && (st = c->q->schedule_delete(&n, c, row.id)) == PGQRS_OK && n == 0)
            st = pgqrs__fail(s, PGQRS_ENOTFOUND, "schedule '%.128s' does not exist", name);
        if (st == PGQRS_OK)
            pgqrs__log(s, PGQRS_LOG_INFO, "schedule.delete", "schedule '%.128s' deleted", name);
        pgqrs__schedule_row_clear(&row);
    });
    return st;
}
