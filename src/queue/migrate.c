/* migrate.c: version-tracked, checksummed, idempotent schema install and verify. */
#include "queue/migrate.h"

#include <string.h>

#include "base/alloc.h"

/* A session without a schema to create tables in (PostgreSQL: a search_path
 * naming no existing schema) sees every table missing, and install cannot create
 * them ("no schema has been selected to create in"): say that instead. */
static pgqrs_status check_schema_selected(pgqrs_conn *c)
{
    pgqrs_schema_selected_row r = { 0 };
    pgqrs_status st = c->q->schema_selected(&r, c);
    if (st == PGQRS_OK && !r.selected)
        st = pgqrs__conn_fail(c, PGQRS_ESTATE,
                              "schema %.100s does not exist (search_path); create it with CREATE SCHEMA, then install",
                              r.search_path);
    pgqrs__schema_selected_row_clear(&r);
    return st;
}

/* Applies m unless recorded; *did = 1 when applied. Runs inside the caller's transaction. */
static pgqrs_status apply_one(pgqrs_conn *c, const pgqrs__migration *m, const pgqrs__migration *all, size_t n,
                              int *did)
{
    pgqrs_schema_version_row *rows = NULL;
    size_t nrows = 0;
    /* lock first, then create the version table: two CREATE TABLE IF NOT EXISTS
     * racing outside the lock can fail on PostgreSQL's catalog */
    pgqrs_status st = c->q->migration_lock(c);
    if (st == PGQRS_OK)
        st = c->q->schema_version_ensure(c);
    if (st == PGQRS_OK)
        st = c->q->schema_version_list(&rows, &nrows, c);
    for (size_t i = 0; st == PGQRS_OK && i < nrows; i++) {
        const pgqrs_schema_version_row *r = &rows[i];
        if (r->version > all[n - 1].version) {
            st = pgqrs__conn_fail(c, PGQRS_ESTATE,
                                  "database schema has migration %d (%s), newer than this library's %d",
                                  (int)r->version, r->name, (int)all[n - 1].version);
        } else if (r->version == m->version) {
            if (strcmp(r->checksum, m->checksum) != 0)
                st = pgqrs__conn_fail(c, PGQRS_ESTATE,
                                      "migration %s was changed after it was applied (recorded checksum %.12s, "
                                      "embedded %.12s); add a new migration instead",
                                      m->name, r->checksum, m->checksum);
            else
                *did = -1;   /* already there */
        }
    }
    if (st == PGQRS_OK && *did == 0 && c->q->apply_migration) {
        st = c->q->apply_migration(c, m);   /* its version row and statements, one atomic request */
        if (st == PGQRS_OK)
            *did = 1;
    } else if (st == PGQRS_OK && *did == 0) {
        pgqrs_schema_version_insert_params p = { m->version, m->name, m->checksum };
        st = c->q->exec_script(c, m->sql);
        if (st == PGQRS_OK)
            st = c->q->schema_version_insert(c, &p);
        if (st == PGQRS_OK)
            *did = 1;
    }
    pgqrs__schema_version_rows_free(rows, nrows);
    return st;
}

pgqrs_status pgqrs__migrate_with(pgqrs_conn *c, const pgqrs__migration *m, size_t n, int *applied_out)
{
    int applied = 0;
    pgqrs_status st = PGQRS_OK;
    for (size_t i = 0; st == PGQRS_OK && i < n; i++) {
        int did = 0;
        if (c->q->apply_migration) {
            /* no interactive transactions (Turso over HTTP): the checks run on their
             * own and the migration is one batch that records its version first, so
             * a concurrent install that got there first makes it fail on the
             * version's primary key (EEXISTS) before any DDL; then check again */
            st = apply_one(c, &m[i], m, n, &did);
            if (st == PGQRS_EEXISTS) {
                did = 0;
                st = apply_one(c, &m[i], m, n, &did);
            }
            if (st == PGQRS_OK && did == 1)
                applied++;
            continue;
        }
        st = pgqrs__tx_begin(c);
        if (st != PGQRS_OK)
            break;
        st = apply_one(c, &m[i], m, n, &did);
        if (st != PGQRS_OK) {
            pgqrs__conn_rollback_keep(c, st);
            break;
        }
        st = pgqrs__tx_commit(c);
        if (st == PGQRS_OK && did == 1)
            applied++;
    }
    if (applied_out)
        *applied_out = applied;
    return st;
}

pgqrs_status pgqrs__migrate(pgqrs_conn *c, int *applied_out)
{
    return pgqrs__migrate_with(c, c->q->migrations, c->q->n_migrations, applied_out);
}

pgqrs_status pgqrs__verify_schema(pgqrs_conn *c)
{
    pgqrs_table_list_row *tables = NULL;
    pgqrs_schema_version_row *versions = NULL;
    size_t nt = 0, nv = 0;
    pgqrs_status st = c->q->table_list(&tables, &nt, c);
    if (st == PGQRS_OK && nt == 0)
        st = check_schema_selected(c);
    for (size_t i = 0; st == PGQRS_OK && i < pgqrs__schema_table_count; i++) {
        bool found = false;
        for (size_t j = 0; j < nt && !found; j++)
            found = strcmp(tables[j].name, pgqrs__schema_tables[i]) == 0;
        if (!found)
            st = pgqrs__conn_fail(c, PGQRS_ESTATE, "table %s is missing; run install", pgqrs__schema_tables[i]);
    }
    if (st == PGQRS_OK)
        st = c->q->schema_version_list(&versions, &nv, c);
    if (st == PGQRS_OK && nv != c->q->n_migrations)
        st = pgqrs__conn_fail(c, PGQRS_ESTATE, "schema has %zu of %zu migrations applied; run install", nv,
                              c->q->n_migrations);
    for (size_t i = 0; st == PGQRS_OK && i < nv; i++) {
        const pgqrs__migration *m = &c->q->migrations[i];
        if (versions[i].version != m->version || strcmp(versions[i].checksum, m->checksum) != 0)
            st = pgqrs__conn_fail(c, PGQRS_ESTATE, "migration %s does not match the applied schema", m->name);
    }
    if (st == PGQRS_OK) {
        pgqrs_integrity_orphans_row o = { 0 };
        st = c->q->integrity_orphans(&o, c);
        if (st == PGQRS_OK &&
            (o.messages_without_queue || o.messages_without_worker || o.archive_without_queue || o.steps_without_run))
            st = pgqrs__conn_fail(c, PGQRS_ESTATE,
                                  "orphans: %lld message(s) name a missing queue, %lld a missing worker; %lld archived "
                                  "message(s) name a missing queue; %lld workflow step(s) a missing run",
                                  (long long)o.messages_without_queue, (long long)o.messages_without_worker,
                                  (long long)o.archive_without_queue, (long long)o.steps_without_run);
    }
    pgqrs__table_list_rows_free(tables, nt);
    pgqrs__schema_version_rows_free(versions, nv);
    return st;
}
