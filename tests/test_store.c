/* test_store.c: the generated store layer end to end: migrations and the queue
 * accessors through the query-interface struct, one source for every backend. */
#include <stdlib.h>

#include "base/alloc.h"
#include "drivers/driver.h"
#include "drivers/turso.h"
#include "drivers/dsn.h"
#include "harness.h"
#include "queue/migrate.h"

static pgqrs_conn *conn;

const char *th_errmsg(const void *handle) { return handle ? ((const pgqrs_conn *)handle)->msg : "(no handle)"; }

/* A connection to a fresh, empty database of the backend under test. */
static pgqrs_conn *open_fresh(void)
{
    pgqrs__dsn d;
    char err[PGQRS__ERR_LEN];
    pgqrs_conn *c = NULL;
    pgqrs_status st = pgqrs__dsn_parse(&d, th_fresh_dsn(), err, sizeof err);
    if (st == PGQRS_OK)
        st = pgqrs__conn_open_dsn(&c, &d, NULL, NULL, err, sizeof err);
    if (st != PGQRS_OK)
        fprintf(stderr, "open_fresh: %s\n", err);
    pgqrs__dsn_clear(&d);
    return c;
}

#define SETUP() do { pgqrs__conn_close(conn); conn = open_fresh(); CHECK(conn); } while (0)
#define INSTALL() do { SETUP(); CHECK_OK(pgqrs__migrate(conn, NULL), conn); } while (0)
/* queue_create's parameters with the default retry policy */
#define QP(name, max_attempts) { (name), (max_attempts), 1000, 2.0, 300000, 0.25, false, 0, false, 0, false, 0 }

static void test_interface__every_slot_is_filled(void)
{
    /* the instance is filled with designated initializers; a query added to the
     * interface but missing from a backend would leave a NULL slot */
    const pgqrs_queries *all[] = {
#if PGQRS_WITH_POSTGRES
        &pgqrs__queries_postgres,
#endif
#if PGQRS_WITH_SQLITE
        &pgqrs__queries_sqlite,
#endif
#if PGQRS_WITH_TURSO
        &pgqrs__queries_turso,
#endif
    };
    size_t first = offsetof(pgqrs_queries, exec_script);
    for (size_t b = 0; b < sizeof all / sizeof *all; b++) {
        const char *base = (const char *)all[b];
        CHECK(all[b]->n_migrations >= 1);
        /* Turso sends SQL text per request: no statement cache */
        CHECK(all[b]->stmt_slots >= 1 || strcmp(all[b]->backend, "turso") == 0);
        for (size_t off = first; off + sizeof(void (*)(void)) <= sizeof(pgqrs_queries); off += sizeof(void (*)(void))) {
            void (*fn)(void);
            memcpy(&fn, base + off, sizeof fn);
            CHECK_MSG(fn != NULL, "%s: slot at offset %zu is NULL", all[b]->backend, off);
        }
    }
}

static void test_migrate__install_twice_is_a_noop(void)
{
    int applied = -1;
    pgqrs_schema_version_row *rows = NULL;
    size_t n = 0;
    SETUP();
    CHECK_OK(pgqrs__migrate(conn, &applied), conn);
    CHECK_I64((int64_t)conn->q->n_migrations, applied);
    CHECK_OK(pgqrs__migrate(conn, &applied), conn);
    CHECK_I64(0, applied);
    CHECK_OK(conn->q->schema_version_list(&rows, &n, conn), conn);
    CHECK_I64((int64_t)conn->q->n_migrations, (int64_t)n);
    CHECK_I64(1, rows[0].version);
    CHECK_STR(conn->q->migrations[0].checksum, rows[0].checksum);
    CHECK_STR(conn->q->migrations[0].name, rows[0].name);
    CHECK(llabs(rows[0].applied_at_us - pgqrs__now_us()) < 60 * 1000000LL);
    pgqrs__schema_version_rows_free(rows, n);
    CHECK_OK(pgqrs__verify_schema(conn), conn);
}

static void test_migrate__changed_migration_is_refused(void)
{
    pgqrs__migration *edited;
    size_t n;
    INSTALL();
    n = conn->q->n_migrations;
    edited = malloc(n * sizeof *edited);
    CHECK(edited != NULL);
    if (!edited)
        return;
    memcpy(edited, conn->q->migrations, n * sizeof *edited);
    edited[0].checksum = "0000000000000000000000000000000000000000000000000000000000000000";
    CHECK_ST(PGQRS_ESTATE, pgqrs__migrate_with(conn, edited, n, NULL), conn);
    CHECK(strstr(conn->msg, "was changed after it was applied") != NULL);
    free(edited);
}

static void test_migrate__verify_detects_missing_install(void)
{
    SETUP();
    CHECK_OK(conn->q->schema_version_ensure(conn), conn);
    CHECK_ST(PGQRS_ESTATE, pgqrs__verify_schema(conn), conn);
    CHECK(strstr(conn->msg, "missing") != NULL);
}

static void test_queue__create_get_list_delete(void)
{
    pgqrs_queue_row q = { 0 }, got = { 0 };
    pgqrs_queue_row *rows = NULL;
    size_t n = 0;
    int64_t *deleted = NULL;
    pgqrs_queue_create_params p = QP("emails", 5);
    pgqrs_queue_create_params p2 = QP("alerts", 3);
    pgqrs_queue_delete_params del;
    INSTALL();

    CHECK_OK(conn->q->queue_create(&q, conn, &p), conn);
    CHECK(q.id > 0);
    CHECK_STR("emails", q.name);
    CHECK_I64(5, q.max_attempts);
    CHECK(llabs(q.created_at_us - pgqrs__now_us()) < 60 * 1000000LL);

    /* the name is taken: no row, nothing inserted */
    CHECK_ST(PGQRS_ENOTFOUND, conn->q->queue_create(&got, conn, &p), conn);
    CHECK(got.name == NULL);

    CHECK_OK(conn->q->queue_get_by_name(&got, conn, "emails"), conn);
    CHECK_I64(q.id, got.id);
    CHECK_I64(q.created_at_us, got.created_at_us);
    pgqrs__queue_row_clear(&got);
    CHECK_OK(conn->q->queue_get(&got, conn, q.id), conn);
    CHECK_STR("emails", got.name);
    pgqrs__queue_row_clear(&got);
    CHECK_ST(PGQRS_ENOTFOUND, conn->q->queue_get_by_name(&got, conn, "nope"), conn);

    CHECK_OK(conn->q->queue_create(&got, conn, &p2), conn);
    pgqrs__queue_row_clear(&got);
    CHECK_OK(conn->q->queue_list(&rows, &n, conn), conn);
    CHECK_I64(2, (int64_t)n);
    CHECK_STR("alerts", rows[0].name);   /* ordered by name */
    CHECK_STR("emails", rows[1].name);
    pgqrs__queue_rows_free(rows, n);

    del.id = q.id;
    del.force = false;
    CHECK_OK(conn->q->queue_delete(&deleted, &n, conn, &del), conn);
    CHECK_I64(1, (int64_t)n);
    CHECK_I64(q.id, deleted[0]);
    pgqrs__free(deleted);
    deleted = NULL;
    CHECK_OK(conn->q->queue_delete(&deleted, &n, conn, &del), conn);
    CHECK_I64(0, (int64_t)n);
    pgqrs__free(deleted);
    CHECK_ST(PGQRS_ENOTFOUND, conn->q->queue_get(&got, conn, q.id), conn);
    pgqrs__queue_row_clear(&q);
}

static void test_queue__names_round_trip_unchanged(void)
{
    /* parameters are bound, never spliced: quotes, ';', comment markers and
     * unicode come back exactly as sent */
    static const char *const names[] = { "o'brien", "x\"; DROP TABLE pgqrs_queues; --", "/* c */ -- d",
                                         "caf\xc3\xa9 \xe2\x9c\x93", "a\\b" };
    INSTALL();
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        pgqrs_queue_row q = { 0 }, got = { 0 };
        pgqrs_queue_create_params p = QP(names[i], 1);
        CHECK_OK(conn->q->queue_create(&q, conn, &p), conn);
        CHECK_OK(conn->q->queue_get_by_name(&got, conn, names[i]), conn);
        CHECK_STR(names[i], got.name);
        CHECK_I64(q.id, got.id);
        pgqrs__queue_row_clear(&q);
        pgqrs__queue_row_clear(&got);
    }
}

static void test_queue__check_constraints_hold(void)
{
    pgqrs_queue_row q = { 0 };
    pgqrs_queue_create_params empty = QP("", 5), zero = QP("ok", 0);
    INSTALL();
    CHECK_ST(PGQRS_EINVAL, conn->q->queue_create(&q, conn, &empty), conn);
    CHECK_ST(PGQRS_EINVAL, conn->q->queue_create(&q, conn, &zero), conn);
    CHECK_ST(PGQRS_EMISUSE, conn->q->queue_get_by_name(&q, conn, NULL), conn);
}

static void test_queue__write_rolls_back_as_a_whole(void)
{
    /* an explicit transaction spans accessors; rollback undoes them all */
    pgqrs_queue_row q = { 0 };
    pgqrs_queue_create_params p = QP("tx", 1);
    INSTALL();
    if (th_is_turso()) {
        /* the capability Turso documents: no interactive transactions; every
         * accessor is one atomic request instead, and nothing was begun */
        CHECK_ST(PGQRS_ENOTSUPPORTED, pgqrs__tx_begin(conn), conn);
        CHECK_OK(conn->q->queue_create(&q, conn, &p), conn);
        pgqrs__queue_row_clear(&q);
        CHECK_OK(conn->q->queue_get_by_name(&q, conn, "tx"), conn);
        pgqrs__queue_row_clear(&q);
        return;
    }
    CHECK_OK(pgqrs__tx_begin(conn), conn);
    CHECK_OK(conn->q->queue_create(&q, conn, &p), conn);
    pgqrs__queue_row_clear(&q);
    CHECK_OK(pgqrs__tx_rollback(conn), conn);
    CHECK_ST(PGQRS_ENOTFOUND, conn->q->queue_get_by_name(&q, conn, "tx"), conn);
}

static void test_queue__f64_columns_round_trip(void)
{
    /* doubles go in as text (PostgreSQL), REAL (SQLite) or a Hrana float and come
     * back bit for bit; queue_update changes only what it is given */
    pgqrs_queue_row q = { 0 }, got = { 0 };
    pgqrs_queue_create_params p = { "f", 3, 250, 4.0 / 3.0, 1234567, 0.1, false, 0, false, 0, false, 0 };
    pgqrs_queue_update_params u = { 0 };
    INSTALL();
    CHECK_OK(conn->q->queue_create(&q, conn, &p), conn);
    CHECK(q.retry_multiplier == 4.0 / 3.0);
    CHECK(q.retry_jitter == 0.1);
    CHECK_I64(250, q.retry_initial_delay_ms);
    CHECK_I64(1234567, q.retry_max_delay_ms);
    u.id = q.id;
    u.has_retry_multiplier = true;
    u.retry_multiplier = 2.5;
    u.has_retry_jitter = true;
    u.retry_jitter = 0;
    CHECK_OK(conn->q->queue_update(&got, conn, &u), conn);
    CHECK(got.retry_multiplier == 2.5);
    CHECK(got.retry_jitter == 0.0);
    CHECK_I64(3, got.max_attempts);              /* NULL: unchanged */
    CHECK_I64(250, got.retry_initial_delay_ms);
    pgqrs__queue_row_clear(&got);
    CHECK_OK(conn->q->queue_get(&got, conn, q.id), conn);
    CHECK(got.retry_multiplier == 2.5);
    pgqrs__queue_row_clear(&got);
    u.id = q.id + 1000;
    CHECK_ST(PGQRS_ENOTFOUND, conn->q->queue_update(&got, conn, &u), conn);
    pgqrs__queue_row_clear(&q);
}

static void test_queue__allocation_failures_leak_nothing(void)
{
    /* fail the Nth allocation until a whole list succeeds: every error path must
     * free what it took (ASan/valgrind catch leaks) and report ENOMEM */
    pgqrs_queue_create_params a = QP("a", 1), b = QP("b", 1);
    pgqrs_queue_row q = { 0 };
    int ok = 0;
    INSTALL();
    CHECK_OK(conn->q->queue_create(&q, conn, &a), conn);
    pgqrs__queue_row_clear(&q);
    CHECK_OK(conn->q->queue_create(&q, conn, &b), conn);
    pgqrs__queue_row_clear(&q);
    for (long nth = 0; nth < 64 && !ok; nth++) {
        pgqrs_queue_row *rows = NULL;
        size_t n = 7;
        pgqrs_status st;
        pgqrs__alloc_fail_after(nth);
        st = conn->q->queue_list(&rows, &n, conn);
        pgqrs__alloc_fail_after(-1);
        if (st == PGQRS_OK) {
            CHECK_I64(2, (int64_t)n);
            pgqrs__queue_rows_free(rows, n);
            ok = 1;
        } else {
            CHECK_I64(PGQRS_ENOMEM, st);
            CHECK(rows == NULL && n == 0);
        }
    }
    CHECK(ok);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "interface__every_slot_is_filled", test_interface__every_slot_is_filled },
        { "migrate__install_twice_is_a_noop", test_migrate__install_twice_is_a_noop },
        { "migrate__changed_migration_is_refused", test_migrate__changed_migration_is_refused },
        { "migrate__verify_detects_missing_install", test_migrate__verify_detects_missing_install },
        { "queue__create_get_list_delete", test_queue__create_get_list_delete },
        { "queue__names_round_trip_unchanged", test_queue__names_round_trip_unchanged },
        { "queue__check_constraints_hold", test_queue__check_constraints_hold },
        { "queue__write_rolls_back_as_a_whole", test_queue__write_rolls_back_as_a_whole },
        { "queue__f64_columns_round_trip", test_queue__f64_columns_round_trip },
        { "queue__allocation_failures_leak_nothing", test_queue__allocation_failures_leak_nothing },
    };
    int rc = th_main(argc, argv, "test_store", tests, sizeof tests / sizeof *tests);
    pgqrs__conn_close(conn);
    return rc;
}
