/* conn.c: what every driver's connection shares: recording failures on the
 * owning handle, the `now` rule, session setup, the query-backed transactions. */
#include "drivers/conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "drivers/driver.h"
#include "drivers/dsn.h"

void pgqrs__conn_init(pgqrs_conn *c, const pgqrs__driver *drv, const pgqrs__conn_env *env)
{
    c->drv = drv;
    c->q = drv->q;
    c->clock = env ? env->clock : NULL;
    c->log = env ? env->log : NULL;
    c->owner = NULL;
    c->rng = pgqrs__rng_seed(c);
}

pgqrs_status pgqrs__conn_fail(pgqrs_conn *c, pgqrs_status st, const char *fmt, ...)
{
    char raw[PGQRS__MSG_LEN], red[PGQRS__MSG_LEN];
    va_list ap;
    if (!c || c->mute)
        return st;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* a server may echo a conninfo string or URI back; no message leaves with a secret */
    pgqrs__redact_text(raw, red, sizeof red);
    if (c->owner)
        return pgqrs__record(c->owner, st, red);
    snprintf(c->msg, sizeof c->msg, "%s", red);
    for (char *nl; (nl = strpbrk(c->msg, "\r\n")) != NULL;)
        *nl = ' ';
    return st;
}

pgqrs_status pgqrs__conn_not_found(pgqrs_conn *c, const char *what)
{
    return pgqrs__conn_fail(c, PGQRS_ENOTFOUND, "%s: no matching row", what);
}

pgqrs_status pgqrs__conn_oom(pgqrs_conn *c) { return pgqrs__conn_fail(c, PGQRS_ENOMEM, "out of memory"); }

const char *pgqrs__conn_msg(const pgqrs_conn *c)
{
    return c->owner ? pgqrs_errmsg(c->owner) : c->msg;
}

pgqrs_status pgqrs__conn_rollback_keep(pgqrs_conn *c, pgqrs_status st)
{
    bool was = c->mute;
    c->mute = true;
    c->drv->tx_rollback(c);
    c->mute = was;
    return st;
}

bool pgqrs__conn_now(const pgqrs_conn *c, int64_t *now_us)
{
    int64_t o = c->clock ? atomic_load(&((pgqrs__clock *)c->clock)->override_us) : 0;
    if (o) {
        *now_us = o;
        return true;
    }
    if (!c->drv->database_clock) {
        *now_us = pgqrs__now_us();
        return true;
    }
    *now_us = 0;
    return false;
}

pgqrs_status pgqrs__conn_session_init(pgqrs_conn *c, bool relaxed_durability)
{
    pgqrs_status st = c->q->session_setup(c);
    if (st == PGQRS_OK && relaxed_durability)
        st = c->q->session_relaxed_durability(c);
    return st;
}

pgqrs_status pgqrs__tx_begin_query(pgqrs_conn *c) { return c->q->tx_begin(c); }
pgqrs_status pgqrs__tx_commit_query(pgqrs_conn *c) { return c->q->tx_commit(c); }
pgqrs_status pgqrs__tx_rollback_query(pgqrs_conn *c) { return c->q->tx_rollback(c); }
