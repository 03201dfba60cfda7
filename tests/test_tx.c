/* test_tx.c: transactional enqueue (issue 17, item 1): pgqrs_tx_enqueue,
 * pgqrs_tx_enqueue_batch and pgqrs_workflow_trigger_tx on the application's own
 * connection inside its own transaction: a libpq PGconn on PostgreSQL (also
 * through PgBouncer transaction pooling), a sqlite3 handle on a SQLite file (WAL,
 * the consumer on the store's own connections). The message exists if and only
 * if the application commits; a consumer never sees it while the transaction is
 * open. sqlite::memory: cannot be opened by a second connection: SKIP. Turso has
 * no application connection: the refusal is asserted.
 * The SQL below is the application's (BEGIN, COMMIT, its own table), not the
 * library's. */
#include <stdlib.h>

#if PGQRS_WITH_POSTGRES
#include <libpq-fe.h>
#endif
#if PGQRS_WITH_SQLITE
#include <sqlite3.h>
#endif

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

/* ---- Fixture: a store, a queue, and the application's connection ---------------- */

static pgqrs_store *store;
static pgqrs_tx *tx;
#if PGQRS_WITH_POSTGRES
static PGconn *app_pg;
#endif
#if PGQRS_WITH_SQLITE
static sqlite3 *app_sq;
#endif

static void cleanup(void)
{
    pgqrs_tx_free(tx);
    tx = NULL;
#if PGQRS_WITH_POSTGRES
    if (app_pg)
        PQfinish(app_pg);
    app_pg = NULL;
#endif
#if PGQRS_WITH_SQLITE
    if (app_sq)
        sqlite3_close(app_sq);   /* SQLITE_BUSY (a leak valgrind reports) if pgqrs left a statement */
    app_sq = NULL;
#endif
    pgqrs_store_free(store);
    store = NULL;
}

#if PGQRS_WITH_POSTGRES
/* The application's own libpq connection to the test's database: the store's DSN
 * without the pgqrs-only parameters; the test's schema goes on the connection's
 * search_path through its startup options, as an application would configure it
 * (through PgBouncer each test has its own database instead). */
static bool open_app_pg(void)
{
    char uri[1024], options[200] = "";
    const char *keys[3] = { "dbname", NULL, NULL }, *vals[3] = { uri, NULL, NULL };
    char *p;
    snprintf(uri, sizeof uri, "%s", th_current_dsn());
    if ((p = strstr(uri, "&pgbouncer=true")) != NULL)
        memmove(p, p + strlen("&pgbouncer=true"), strlen(p + strlen("&pgbouncer=true")) + 1);
    if ((p = strstr(uri, "schema=")) != NULL) {
        snprintf(options, sizeof options, "-c search_path=%s", p + strlen("schema="));
        p[-1] = '\0';   /* drop "?schema=..." or "&schema=..." (it is last) */
        keys[1] = "options", vals[1] = options;
    }
    app_pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(app_pg) != CONNECTION_OK) {
        fprintf(stderr, "test_tx: app connection: %s", PQerrorMessage(app_pg));
        return false;
    }
    return true;
}

/* Runs the application's SQL; true when it ended as want. */
static bool pg_run(const char *sql, ExecStatusType want)
{
    PGresult *r = PQexec(app_pg, sql);
    bool ok = PQresultStatus(r) == want;
    PQclear(r);
    return ok;
}
#endif

#if PGQRS_WITH_SQLITE
static bool sq_run(const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(app_sq, sql, NULL, NULL, &err);
    sqlite3_free(err);
    return rc == SQLITE_OK;
}
#endif

/* A fresh installed store, queue "jobs", and the application's connection
 * wrapped in tx. Sets *skip when the backend has no application connection. */
static pgqrs_status setup(const char **skip)
{
    pgqrs_status st;
    *skip = NULL;
    cleanup();
    if ((st = pgqrs_connect(&store, th_fresh_dsn(), NULL)) != PGQRS_OK || (st = pgqrs_schema_install(store)) != PGQRS_OK ||
        (st = pgqrs_queue_create(NULL, store, "jobs", NULL)) != PGQRS_OK)
        return st;
    if (th_is_turso()) {
        *skip = "Turso has no application connection type (app_transactions = 0, refusal in turso__refused)";
        return PGQRS_OK;
    }
    if (th_is_memory()) {
        *skip = "sqlite::memory: cannot be opened by the application's second connection";
        return PGQRS_OK;
    }
#if PGQRS_WITH_POSTGRES
    if (th_is_postgres()) {
        if (!open_app_pg())
            return PGQRS_ECONN;
        return pgqrs_tx_wrap_pg(&tx, store, app_pg);
    }
#endif
#if PGQRS_WITH_SQLITE
    {
        const char *path = th_current_dsn() + strlen("sqlite://");
        if (sqlite3_open_v2(path, &app_sq, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
            return PGQRS_ECONN;
        sqlite3_busy_timeout(app_sq, 5000);
        if (!sq_run("PRAGMA journal_mode=WAL"))
            return PGQRS_ERROR;
        return pgqrs_tx_wrap_sqlite(&tx, store, app_sq);
    }
#endif
    return PGQRS_ENOTSUPPORTED;
}

#define SETUP() do { const char *why_; CHECK_OK(setup(&why_), store); if (why_) SKIP("%s", why_); } while (0)

/* The application's BEGIN / COMMIT / ROLLBACK / a statement that fails. */
static bool app_begin(void)
{
#if PGQRS_WITH_POSTGRES
    if (app_pg)
        return pg_run("BEGIN", PGRES_COMMAND_OK) && pg_run("CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY)", PGRES_COMMAND_OK);
#endif
#if PGQRS_WITH_SQLITE
    if (app_sq)
        return sq_run("BEGIN") && sq_run("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY)");
#endif
    return false;
}

static bool app_end(bool commit)
{
#if PGQRS_WITH_POSTGRES
    if (app_pg)
        return pg_run(commit ? "COMMIT" : "ROLLBACK", PGRES_COMMAND_OK);
#endif
#if PGQRS_WITH_SQLITE
    if (app_sq)
        return sq_run(commit ? "COMMIT" : "ROLLBACK");
#endif
    return false;
}

/* One of the application's own statements, in its transaction. */
static bool app_insert(int id)
{
    char sql[80];
    snprintf(sql, sizeof sql, "INSERT INTO orders (id) VALUES (%d)", id);
#if PGQRS_WITH_POSTGRES
    if (app_pg)
        return pg_run(sql, PGRES_COMMAND_OK);
#endif
#if PGQRS_WITH_SQLITE
    if (app_sq)
        return sq_run(sql);
#endif
    return false;
}

/* What a consumer on the store's own connections sees: pending messages of q. */
static int64_t pending(const char *q)
{
    pgqrs_metrics *m = NULL;
    int64_t n = -1;
    if (pgqrs_metrics_list(&m, store, q) == PGQRS_OK && pgqrs_metrics_count(m) == 1)
        n = pgqrs_metrics_at(m, 0)->pending;
    pgqrs_metrics_free(m);
    return n;
}

/* Claims what a consumer can see now; -1 on failure. */
static int64_t claim(const char *q)
{
    pgqrs_consumer *c = NULL;
    pgqrs_batch *b = NULL;
    int64_t n = -1;
    if (pgqrs_consumer_new(&c, store, q) == PGQRS_OK && pgqrs_dequeue(&b, c, 10, 30) == PGQRS_OK)
        n = (int64_t)pgqrs_batch_count(b);
    else
        fprintf(stderr, "test_tx: claim: %s\n", c ? pgqrs_errmsg(c) : pgqrs_errmsg(store));
    pgqrs_batch_free(b);
    pgqrs_consumer_free(c);
    return n;
}

/* ---- Tests ------------------------------------------------------------------- */

static void test_enqueue__commit_makes_it_visible(void)
{
    int64_t id = 0;
    SETUP();
    CHECK(app_begin());
    CHECK(app_insert(1));
    CHECK_OK(pgqrs_tx_enqueue(&id, tx, "jobs", "{\"order\":1}", 0), tx);
    CHECK(id > 0);
    CHECK_I64(0, pending("jobs"));   /* the consumer's connection: not yet */
    CHECK(app_end(true));
    CHECK_I64(1, pending("jobs"));
    CHECK_I64(1, claim("jobs"));
}

static void test_enqueue__consumer_never_sees_it_uncommitted(void)
{
    SETUP();
    CHECK(app_begin());
    CHECK_OK(pgqrs_tx_enqueue(NULL, tx, "jobs", "{}", 0), tx);
    CHECK_I64(0, pending("jobs"));
    if (th_is_postgres())   /* SQLite: the open write transaction holds the lock a claim needs */
        CHECK_I64(0, claim("jobs"));
    CHECK_OK(pgqrs_tx_enqueue(NULL, tx, "jobs", "{}", 0), tx);
    CHECK_I64(0, pending("jobs"));
    CHECK(app_end(true));
    CHECK_I64(2, claim("jobs"));
}

static void test_enqueue__rollback_leaves_nothing(void)
{
    SETUP();
    CHECK(app_begin());
    CHECK(app_insert(1));
    CHECK_OK(pgqrs_tx_enqueue(NULL, tx, "jobs", "{\"order\":1}", 0), tx);
    CHECK(app_end(false));
    CHECK_I64(0, pending("jobs"));
    CHECK_I64(0, claim("jobs"));
}

/* The application's next statement fails after the enqueue; it rolls back. */
static void test_enqueue__later_failure_then_rollback_leaves_nothing(void)
{
    SETUP();
    CHECK(app_begin());
    CHECK(app_insert(1));
    CHECK_OK(pgqrs_tx_enqueue(NULL, tx, "jobs", "{}", 0), tx);
    CHECK(!app_insert(1));   /* duplicate key */
    if (th_is_postgres()) {
        /* PostgreSQL aborted the transaction: a further enqueue is refused, not run */
        CHECK_ST(PGQRS_ESTATE, pgqrs_tx_enqueue(NULL, tx, "jobs", "{}", 0), tx);
        CHECK(strstr(pgqrs_errmsg(tx), "aborted") != NULL);
    }
    CHECK(app_end(false));
    CHECK_I64(0, pending("jobs"));
}

static void test_enqueue__no_open_transaction_is_refused(void)
{
    SETUP();
    CHECK_ST(PGQRS_ESTATE, pgqrs_tx_enqueue(NULL, tx, "jobs", "{}", 0), tx);
    CHECK(strstr(pgqrs_errmsg(tx), "no transaction is open") != NULL);
    CHECK_I64(0, pending("jobs"));
}

static void test_batch__commit_and_rollback(void)
{
    static const char *const payloads[] = { "{\"n\":1}", "{\"n\":2}", "{\"n\":3}" };
    int64_t ids[3] = { 0, 0, 0 };
    SETUP();
    CHECK(app_begin());
    CHECK_OK(pgqrs_tx_enqueue_batch(ids, tx, "jobs", payloads, 3, 0), tx);
    CHECK(ids[0] > 0 && ids[1] > ids[0] && ids[2] > ids[1]);
    CHECK_I64(0, pending("jobs"));
    CHECK(app_end(false));
    CHECK_I64(0, pending("jobs"));
    CHECK(app_begin());
    CHECK_OK(pgqrs_tx_enqueue_batch(ids, tx, "jobs", payloads, 3, 0), tx);
    CHECK(app_end(true));
    CHECK_I64(3, pending("jobs"));
}

static pgqrs_status noop_fn(pgqrs_run *run, const char *input, char **output, void *user)
{
    (void)run, (void)input, (void)output, (void)user;
    return PGQRS_OK;
}

static void test_workflow_trigger__commit_and_rollback(void)
{
    pgqrs_run_info *ri = NULL;
    int64_t rolled = 0, kept = 0;
    int created = 0;
    SETUP();
    CHECK_OK(pgqrs_workflow_define(store, "ship", noop_fn, NULL, NULL), store);
    CHECK(app_begin());
    CHECK_OK(pgqrs_workflow_trigger_tx(&rolled, &created, tx, "ship", "{\"order\":1}", NULL), tx);
    CHECK(rolled > 0 && created == 1);
    CHECK_I64(0, pending("workflow:ship"));
    CHECK(app_end(false));
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_run_get(&ri, store, rolled), store);
    CHECK_I64(0, pending("workflow:ship"));

    CHECK(app_begin());
    CHECK_OK(pgqrs_workflow_trigger_tx(&kept, &created, tx, "ship", "{\"order\":2}", NULL), tx);
    CHECK(app_end(true));
    CHECK_OK(pgqrs_run_get(&ri, store, kept), store);
    CHECK_STR("PENDING", ri->status);
    pgqrs_run_info_free(ri);
    CHECK_I64(1, pending("workflow:ship"));
}

static void test_workflow_trigger__idempotency_key_in_tx(void)
{
    pgqrs_trigger_options o = PGQRS_TRIGGER_OPTIONS_INIT;
    int64_t a = 0, b = 0;
    int created = -1;
    SETUP();
    CHECK_OK(pgqrs_workflow_define(store, "ship", noop_fn, NULL, NULL), store);
    o.idempotency_key = "order-7";
    CHECK(app_begin());
    CHECK_OK(pgqrs_workflow_trigger_tx(&a, &created, tx, "ship", NULL, &o), tx);
    CHECK_I64(1, created);
    CHECK_OK(pgqrs_workflow_trigger_tx(&b, &created, tx, "ship", NULL, &o), tx);
    CHECK_I64(0, created);
    CHECK_I64(a, b);
    CHECK(app_end(true));
    CHECK_I64(1, pending("workflow:ship"));
}

/* A failed call is undone to its savepoint: the application's transaction stays
 * usable (on PostgreSQL too, where a failed statement aborts a transaction) and
 * what it did before is kept. */
static void test_badinput__leaves_the_transaction_usable(void)
{
    static const char *const bad_batch[] = { "{}", "not json" };
    SETUP();
    CHECK(app_begin());
    CHECK_OK(pgqrs_tx_enqueue(NULL, tx, "jobs", "{\"kept\":1}", 0), tx);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_tx_enqueue(NULL, tx, "missing", "{}", 0), tx);
    CHECK(strstr(pgqrs_errmsg(tx), "missing") != NULL);
    CHECK_ST(PGQRS_EINVAL, pgqrs_tx_enqueue(NULL, tx, "jobs", "not json", 0), tx);
    CHECK_ST(PGQRS_EINVAL, pgqrs_tx_enqueue(NULL, tx, "jobs", "{}", -1), tx);
    CHECK_ST(PGQRS_EINVAL, pgqrs_tx_enqueue(NULL, tx, "", "{}", 0), tx);
    CHECK_ST(PGQRS_EINVAL, pgqrs_tx_enqueue_batch(NULL, tx, "jobs", bad_batch, 2, 0), tx);
    CHECK_ST(PGQRS_EINVAL, pgqrs_tx_enqueue_batch(NULL, tx, "jobs", bad_batch, 0, 0), tx);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_tx_enqueue_batch(NULL, tx, "missing", bad_batch, 1, 0), tx);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_workflow_trigger_tx(NULL, NULL, tx, "nope", NULL, NULL), tx);
    CHECK_ST(PGQRS_EMISUSE, pgqrs_tx_enqueue(NULL, NULL, "jobs", "{}", 0), NULL);
    CHECK(app_insert(2));   /* the application's transaction still works */
    CHECK_OK(pgqrs_tx_enqueue(NULL, tx, "jobs", "{\"kept\":2}", 0), tx);
    CHECK(app_end(true));
    CHECK_I64(2, pending("jobs"));
}

static void test_wrap__bad_input(void)
{
    pgqrs_tx *t = NULL;
    int dummy = 0;
    pgqrs_status (*same)(pgqrs_tx **, pgqrs_store *, void *);
    SETUP();
    same = th_is_postgres() ? pgqrs_tx_wrap_pg : pgqrs_tx_wrap_sqlite;
    CHECK_ST(PGQRS_EMISUSE, same(&t, store, NULL), store);
    CHECK_ST(PGQRS_EMISUSE, same(NULL, store, &dummy), store);
    CHECK_ST(PGQRS_EMISUSE, same(&t, NULL, &dummy), NULL);
    /* the other backend's connection type is refused before it is touched */
    if (th_is_postgres())
        CHECK_ST(PGQRS_EINVAL, pgqrs_tx_wrap_sqlite(&t, store, &dummy), store);
    else
        CHECK_ST(PGQRS_EINVAL, pgqrs_tx_wrap_pg(&t, store, &dummy), store);
    CHECK(t == NULL);
    pgqrs_tx_free(NULL);
}

static void test_capabilities__app_transactions(void)
{
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT, v1;
    cleanup();
    CHECK_OK(pgqrs_connect(&store, th_fresh_dsn(), NULL), store);
    CHECK_OK(pgqrs_store_capabilities(&caps, store), store);
    CHECK_I64(th_is_turso() ? 0 : 1, caps.app_transactions);
    /* a version-1 struct is still filled, up to its last field */
    memset(&v1, 0x5a, sizeof v1);
    CHECK_OK(pgqrs_capabilities_init(&v1, 1), NULL);
    v1.app_transactions = 77;   /* past the end of a version-1 struct: untouched */
    CHECK_OK(pgqrs_store_capabilities(&v1, store), store);
    CHECK_I64(77, v1.app_transactions);
    CHECK_I64(caps.transactions, v1.transactions);
    cleanup();
}

static void test_turso__refused(void)
{
    pgqrs_tx *t = NULL;
    int dummy = 0;
    if (!th_is_turso())
        SKIP("Turso only: the other backends have an application connection");
    cleanup();
    CHECK_OK(pgqrs_connect(&store, th_fresh_dsn(), NULL), store);
    CHECK_ST(PGQRS_ENOTSUPPORTED, pgqrs_tx_wrap_sqlite(&t, store, &dummy), store);
    CHECK_ST(PGQRS_ENOTSUPPORTED, pgqrs_tx_wrap_pg(&t, store, &dummy), store);
    CHECK(t == NULL);
    cleanup();
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "enqueue__commit_makes_it_visible", test_enqueue__commit_makes_it_visible },
        { "enqueue__consumer_never_sees_it_uncommitted", test_enqueue__consumer_never_sees_it_uncommitted },
        { "enqueue__rollback_leaves_nothing", test_enqueue__rollback_leaves_nothing },
        { "enqueue__later_failure_then_rollback_leaves_nothing", test_enqueue__later_failure_then_rollback_leaves_nothing },
        { "enqueue__no_open_transaction_is_refused", test_enqueue__no_open_transaction_is_refused },
        { "batch__commit_and_rollback", test_batch__commit_and_rollback },
        { "workflow_trigger__commit_and_rollback", test_workflow_trigger__commit_and_rollback },
        { "workflow_trigger__idempotency_key_in_tx", test_workflow_trigger__idempotency_key_in_tx },
        { "badinput__leaves_the_transaction_usable", test_badinput__leaves_the_transaction_usable },
        { "wrap__bad_input", test_wrap__bad_input },
        { "capabilities__app_transactions", test_capabilities__app_transactions },
        { "turso__refused", test_turso__refused },
    };
    int rc = th_main(argc, argv, "test_tx", tests, sizeof tests / sizeof *tests);
    cleanup();
    return rc;
}
