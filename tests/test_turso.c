/* test_turso.c: what the Turso backend adds to the conformance suite: DSNs and
 * token redaction, a server that is down, a server killed mid-run and restarted
 * (no lost or duplicated messages), foreign keys enforced, migrations tracked and
 * idempotent (also when installs race), and limits checked before any request is
 * sent. Tests that need a Turso server SKIP on other backends; the foreign-key and
 * migration tests run on every backend. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "conn.h"
#include "driver_turso.h"
#include "dsn.h"
#include "harness.h"
#include "migrate.h"
#include "store.h"

#define TOKEN "tok-SEKRIT-4f1c9a77"
#define NEEDS_TURSO "needs a tursodb server (PGQRS_TEST_BACKEND=turso, scripts/with-turso.sh)"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pgqrs_connect_options quiet_options(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    o.heartbeat_interval_s = -1;
    return o;
}

/* the fresh database's DSN with the token appended */
static const char *with_token(char *buf, size_t n, const char *dsn)
{
    snprintf(buf, n, "%s%sauthToken=%s", dsn, strchr(dsn, '?') ? "&" : "?", TOKEN);
    return buf;
}

static void test_dsn__turso_forms(void)
{
    char err[PGQRS__ERR_LEN], red[256];
    pgqrs__dsn d;
    CHECK_I64(PGQRS_OK, pgqrs__dsn_parse(&d, "libsql://db-org.turso.io?authToken=" TOKEN, err, sizeof err));
    CHECK_I64(PGQRS__BACKEND_TURSO, d.backend);
    CHECK_STR("https://db-org.turso.io", d.url);
    CHECK_STR(TOKEN, d.auth_token);
    pgqrs__dsn_clear(&d);
    CHECK_I64(PGQRS_OK, pgqrs__dsn_parse(&d, "libsql://127.0.0.1:8080?tls=0&timeout=5&connect_timeout=2", err, sizeof err));
    CHECK_STR("http://127.0.0.1:8080", d.url);
    CHECK_I64(5000, d.request_timeout_ms);
    CHECK_I64(2000, d.connect_timeout_ms);
    pgqrs__dsn_clear(&d);
    CHECK_I64(PGQRS_OK, pgqrs__dsn_parse(&d, "http://localhost:8080", err, sizeof err));
    CHECK_STR("http://localhost:8080", d.url);
    pgqrs__dsn_clear(&d);
    CHECK_I64(PGQRS_OK, pgqrs__dsn_parse(&d, "https://h.example", err, sizeof err));
    CHECK_STR("https://h.example", d.url);
    pgqrs__dsn_clear(&d);
    setenv("PGQRS_TURSO_AUTH_TOKEN", "from-env-token", 1);
    CHECK_I64(PGQRS_OK, pgqrs__dsn_parse(&d, "https://h.example", err, sizeof err));
    CHECK_STR("from-env-token", d.auth_token);
    pgqrs__dsn_clear(&d);
    CHECK_I64(PGQRS_OK, pgqrs__dsn_parse(&d, "https://h.example?authToken=" TOKEN, err, sizeof err));
    CHECK_STR(TOKEN, d.auth_token);   /* the DSN's wins */
    pgqrs__dsn_clear(&d);
    unsetenv("PGQRS_TURSO_AUTH_TOKEN");
    CHECK_I64(PGQRS_OK, pgqrs__dsn_parse(&d, "turso:///tmp/x.db", err, sizeof err));
    CHECK_I64(PGQRS__BACKEND_SQLITE, d.backend);
    CHECK(d.turso_local);
    CHECK_STR("/tmp/x.db", d.path);
    pgqrs__dsn_clear(&d);
    /* malformed: refused, and the token is not in the message */
    CHECK_I64(PGQRS_EINVAL, pgqrs__dsn_parse(&d, "libsql://?authToken=" TOKEN, err, sizeof err));
    CHECK_MSG(!strstr(err, TOKEN), "token in: %s", err);
    CHECK_I64(PGQRS_EINVAL, pgqrs__dsn_parse(&d, "libsql://h?bogus=1&authToken=" TOKEN, err, sizeof err));
    CHECK_MSG(!strstr(err, TOKEN), "token in: %s", err);
    CHECK_I64(PGQRS_EINVAL, pgqrs__dsn_parse(&d, "https://h/db?timeout=0", err, sizeof err));
    CHECK_I64(PGQRS_EINVAL, pgqrs__dsn_parse(&d, "https://user:" TOKEN "@h", err, sizeof err));
    CHECK_MSG(!strstr(err, TOKEN), "token in: %s", err);
    pgqrs__dsn_redact("libsql://h?tls=0&authToken=" TOKEN, red, sizeof red);
    CHECK_STR("libsql://h?tls=0&authToken=***", red);
}

static void test_turso_file__wal_opens_mvcc_refused(void)
{
#if !PGQRS_WITH_SQLITE
    {
        /* turso:/// files open through the SQLite backend, which this build left out */
        pgqrs_store *none = NULL;
        CHECK(pgqrs_connect(&none, "turso:///tmp/pgqrs-no-sqlite.db", NULL) == PGQRS_ENOTSUPPORTED);
        CHECK(none == NULL);
        return;
    }
#endif
    char path[300], dsn[320];
    pgqrs_store *s = NULL;
    FILE *f;
    unsigned char hdr[100] = "SQLite format 3";
    pgqrs_connect_options o = quiet_options();
    /* a WAL-mode file (what Turso writes by default) is a SQLite file */
    snprintf(path, sizeof path, "%s/local.turso", th_tmpdir());
    snprintf(dsn, sizeof dsn, "turso://%s", path);
    CHECK_OK(pgqrs_connect(&s, dsn, &o), NULL);
    CHECK_STR("turso", pgqrs_backend_name(s));
    CHECK_OK(pgqrs_install(s), s);
    CHECK_OK(pgqrs_queue_create(s, "q", NULL, NULL), s);
    pgqrs_store_free(s);
    /* an MVCC-mode file: format versions 255 (as tursodb writes them) */
    snprintf(path, sizeof path, "%s/mvcc.turso", th_tmpdir());
    snprintf(dsn, sizeof dsn, "turso://%s", path);
    hdr[16] = 0x10;
    hdr[18] = hdr[19] = 0xff;
    f = fopen(path, "wb");
    CHECK(f);
    fwrite(hdr, 1, sizeof hdr, f);
    fclose(f);
    CHECK_ST(PGQRS_ENOTSUPPORTED, pgqrs_connect(&s, dsn, &o), NULL);
    CHECK(s == NULL);
    CHECK_MSG(strstr(pgqrs_errmsg(NULL), "MVCC"), "message: %s", pgqrs_errmsg(NULL));
}

static void test_connect__server_down_fails_fast(void)
{
    pgqrs_store *s = NULL;
    pgqrs_connect_options o = quiet_options();
    char dsn[128];
    double t0;
    int port;
    if (!th_is_turso())
        SKIP(NEEDS_TURSO);
    /* a server that was there and is gone: its port refuses connections */
    th_fresh_dsn();
    port = atoi(strrchr(th_current_dsn(), ':') + 1);
    th_turso_kill();
    snprintf(dsn, sizeof dsn, "http://127.0.0.1:%d?connect_timeout=2&authToken=%s", port, TOKEN);
    t0 = now_s();
    CHECK_ST(PGQRS_ECONN, pgqrs_connect(&s, dsn, &o), NULL);
    CHECK(s == NULL);
    CHECK_MSG(now_s() - t0 < 2.5, "took %.2f s", now_s() - t0);
    CHECK_MSG(strstr(pgqrs_errmsg(NULL), "cannot connect"), "message: %s", pgqrs_errmsg(NULL));
    CHECK_MSG(!strstr(pgqrs_errmsg(NULL), TOKEN), "token in: %s", pgqrs_errmsg(NULL));
}

static void test_token__never_in_an_error(void)
{
    pgqrs_store *s = NULL;
    pgqrs_producer *p = NULL;
    pgqrs_connect_options o = quiet_options();
    char dsn[1200];
    if (!th_is_turso())
        SKIP(NEEDS_TURSO);
    with_token(dsn, sizeof dsn, th_fresh_dsn());
    CHECK_OK(pgqrs_connect(&s, dsn, &o), NULL);   /* tursodb ignores the token */
    CHECK_OK(pgqrs_install(s), s);
    CHECK_OK(pgqrs_queue_create(s, "q", NULL, NULL), s);
    CHECK_ST(PGQRS_EEXISTS, pgqrs_queue_create(s, "q", NULL, NULL), s);
    CHECK_MSG(!strstr(pgqrs_errmsg(s), TOKEN), "token in: %s", pgqrs_errmsg(s));
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue(p, "{not json", 0, NULL), p);
    CHECK_MSG(!strstr(pgqrs_errmsg(p), TOKEN), "token in: %s", pgqrs_errmsg(p));
    /* the server goes away: transport errors name the URL, never the token */
    th_turso_kill();
    CHECK(pgqrs_enqueue(p, "{}", 0, NULL) == PGQRS_ECONN);
    CHECK_MSG(!strstr(pgqrs_errmsg(p), TOKEN), "token in: %s", pgqrs_errmsg(p));
    CHECK(pgqrs_queue_create(s, "r", NULL, NULL) == PGQRS_ECONN);
    CHECK_MSG(!strstr(pgqrs_errmsg(s), TOKEN), "token in: %s", pgqrs_errmsg(s));
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

static void test_fk__enforced(void)
{
    pgqrs_store *s = NULL;
    pgqrs_connect_options o = quiet_options();
    pgqrs_conn *c = NULL;
    int64_t id = 0;
    pgqrs_status st;
    /* SQLite and Turso enforce them because the library turns them on and checks;
     * PostgreSQL always does: the same orphan insert is refused everywhere */
    CHECK_OK(pgqrs_connect(&s, th_fresh_dsn(), &o), NULL);
    CHECK_OK(pgqrs_install(s), s);
    CHECK_OK(pgqrs__store_acquire(s, &c), s);
    {
        /* a message for a queue that does not exist */
        pgqrs_message_enqueue_params p = { 424242, "{}", 0, false, 0, false, 0 };
        st = c->q->message_enqueue(&id, c, &p);
    }
    pgqrs__store_release(s, c);
    CHECK_MSG(st == PGQRS_ENOTFOUND, "orphan insert: got %d (%s): %s", (int)st, pgqrs_errstr(st), c->msg);
    CHECK_MSG(strstr(c->msg, "FOREIGN KEY") || strstr(c->msg, "foreign key"), "message: %s", c->msg);
    pgqrs_store_free(s);
}

static void test_migrations__tracked_and_idempotent(void)
{
    pgqrs_store *s = NULL;
    pgqrs_connect_options o = quiet_options();
    pgqrs_conn *c = NULL;
    pgqrs_schema_version_row *rows = NULL;
    size_t n = 0;
    int applied = -1;
    pgqrs_status st;
    CHECK_OK(pgqrs_connect(&s, th_fresh_dsn(), &o), NULL);
    CHECK_OK(pgqrs__store_acquire(s, &c), s);
    st = pgqrs__migrate(c, &applied);
    CHECK_MSG(st == PGQRS_OK, "migrate: %s", c->msg);
    CHECK_I64((int64_t)c->q->n_migrations, applied);
    st = pgqrs__migrate(c, &applied);
    CHECK_MSG(st == PGQRS_OK, "migrate again: %s", c->msg);
    CHECK_I64(0, applied);
    st = c->q->schema_version_list(&rows, &n, c);
    CHECK_MSG(st == PGQRS_OK, "list: %s", c->msg);
    CHECK_I64((int64_t)c->q->n_migrations, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        CHECK_STR(c->q->migrations[i].checksum, rows[i].checksum);
    pgqrs__schema_version_rows_free(rows, n);
    CHECK_MSG(pgqrs__verify_schema(c) == PGQRS_OK, "verify: %s", c->msg);
    pgqrs__store_release(s, c);
    CHECK_OK(pgqrs_install(s), s);
    pgqrs_store_free(s);
}

typedef struct { const char *dsn; pgqrs_status st; char msg[512]; } install_arg;

static void *install_main(void *arg)
{
    install_arg *a = arg;
    pgqrs_store *s = NULL;
    pgqrs_connect_options o = quiet_options();
    a->st = pgqrs_connect(&s, a->dsn, &o);
    if (a->st == PGQRS_OK)
        a->st = pgqrs_install(s);
    snprintf(a->msg, sizeof a->msg, "%s", pgqrs_errmsg(s));
    pgqrs_store_free(s);
    return NULL;
}

static void test_migrations__concurrent_installs(void)
{
    enum { N = 4 };
    pthread_t t[N];
    install_arg a[N];
    char dsn[1024];
    pgqrs_store *s = NULL;
    pgqrs_connect_options o = quiet_options();
    if (!th_is_turso())
        SKIP(NEEDS_TURSO);
    snprintf(dsn, sizeof dsn, "%s", th_fresh_dsn());
    for (int i = 0; i < N; i++) {
        a[i].dsn = dsn;
        pthread_create(&t[i], NULL, install_main, &a[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++)
        CHECK_MSG(a[i].st == PGQRS_OK, "install %d: %s", i, a[i].msg);
    CHECK_OK(pgqrs_connect(&s, dsn, &o), NULL);
    CHECK_OK(pgqrs_verify(s), s);
    pgqrs_store_free(s);
}

static void test_limits__refused_before_sending(void)
{
    pgqrs_store *s = NULL;
    pgqrs_producer *p = NULL;
    pgqrs_connect_options o = quiet_options();
    const char **many;
    char *big;
    uint64_t before;
    size_t n;
    if (!th_is_turso())
        SKIP(NEEDS_TURSO);
    o.max_batch_size = 50;
    CHECK_OK(pgqrs_connect(&s, th_fresh_dsn(), &o), NULL);
    CHECK_OK(pgqrs_install(s), s);
    CHECK_OK(pgqrs_queue_create(s, "q", NULL, NULL), s);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    n = 51;
    many = calloc(n, sizeof *many);
    CHECK(many);
    for (size_t i = 0; i < n; i++)
        many[i] = "{}";
    before = pgqrs__turso_requests_sent();
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch(p, many, n, 0, NULL), p);
    CHECK_I64((int64_t)before, (int64_t)pgqrs__turso_requests_sent());
    free(many);
    /* a request body over the transport limit (10 MiB) is refused unsent too */
    big = malloc(11u << 20);
    CHECK(big);
    memset(big, ' ', 11u << 20);
    big[0] = '"';
    big[(11u << 20) - 2] = '"';
    big[(11u << 20) - 1] = '\0';
    before = pgqrs__turso_requests_sent();
    {
        pgqrs_status st = pgqrs_enqueue(p, big, 0, NULL);
        free(big);
        CHECK_MSG(st == PGQRS_EINVAL, "got %d: %s", (int)st, pgqrs_errmsg(p));
    }
    CHECK_I64((int64_t)before, (int64_t)pgqrs__turso_requests_sent());
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

/* ---- a server killed mid-run and restarted ---- */

typedef struct { volatile int phase; } chaos_arg;

static void *chaos_main(void *arg)
{
    chaos_arg *a = arg;
    struct timespec ms50 = { 0, 50000000L };
    nanosleep(&ms50, NULL);
    th_turso_kill();           /* SIGKILL, whatever is in flight */
    a->phase = 1;
    nanosleep(&ms50, NULL);
    nanosleep(&ms50, NULL);
    a->phase = th_turso_restart() ? 2 : -1;
    return NULL;
}

static void test_restart__no_lost_or_duplicated_messages(void)
{
    enum { MAX_N = 100000, AFTER = 100 };
    pgqrs_store *s = NULL;
    pgqrs_producer *p = NULL;
    pgqrs_consumer *cons = NULL;
    pgqrs_connect_options o = quiet_options();
    pthread_t t;
    chaos_arg a = { 0 };
    unsigned char *ok = calloc(MAX_N, 1), *seen = calloc(MAX_N, 1);
    int n = 0, n_ok = 0, n_failed = 0, after_restart = 0, dups = 0, lost = 0, seen_failed = 0;
    if (!th_is_turso()) {
        free(ok);
        free(seen);
        SKIP(NEEDS_TURSO);
    }
    CHECK(ok && seen);
    CHECK_OK(pgqrs_connect(&s, th_fresh_dsn(), &o), NULL);
    CHECK_OK(pgqrs_install(s), s);
    CHECK_OK(pgqrs_queue_create(s, "q", NULL, NULL), s);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    pthread_create(&t, NULL, chaos_main, &a);
    /* enqueue until well after the restart; a failed enqueue is not retried */
    while (n < MAX_N && (a.phase != 2 || after_restart < AFTER)) {
        char payload[64];
        pgqrs_status st;
        snprintf(payload, sizeof payload, "{\"seq\":%d}", n);
        st = pgqrs_enqueue(p, payload, 0, NULL);
        if (st == PGQRS_OK)
            ok[n] = 1, n_ok++;
        else if (st == PGQRS_ECONN || st == PGQRS_ETIMEOUT)
            ok[n] = 2, n_failed++;
        else
            CHECK_MSG(0, "enqueue %d: %s", n, pgqrs_errmsg(p));
        if (a.phase == 2 && st == PGQRS_OK)
            after_restart++;
        if (a.phase == -1)
            break;
        n++;
    }
    pthread_join(t, NULL);
    CHECK_MSG(a.phase == 2, "the server did not restart");
    CHECK_MSG(n_failed > 0, "no enqueue saw the server down (%d sent)", n);
    /* drain */
    CHECK_OK(pgqrs_consumer_new(&cons, s, "q"), s);
    for (;;) {
        pgqrs_batch *b = NULL;
        size_t got;
        CHECK_OK(pgqrs_dequeue(&b, cons, 500, 60), cons);
        got = pgqrs_batch_count(b);
        for (size_t i = 0; i < got; i++) {
            const pgqrs_message *m = pgqrs_batch_at(b, i);
            const char *q = strstr(m->payload, "\"seq\":");
            int seq = q ? atoi(q + 6) : -1;
            if (seq < 0 || seq >= n) {
                pgqrs_batch_free(b);
                CHECK_MSG(0, "unexpected payload %s", m->payload);
            }
            if (seen[seq])
                dups++;
            seen[seq] = 1;
            if (ok[seq] == 2)
                seen_failed++;
            pgqrs_archive(cons, m->id);
        }
        pgqrs_batch_free(b);
        if (got == 0)
            break;
    }
    for (int i = 0; i < n; i++)
        if (ok[i] == 1 && !seen[i])
            lost++;
    if (getenv("PGQRS_TEST_VERBOSE"))
        fprintf(stderr, "    restart: %d sent, %d ok, %d failed while down (%d of those stored), %d dup, %d lost\n", n,
                n_ok, n_failed, seen_failed, dups, lost);
    CHECK_I64(0, dups);
    CHECK_I64(0, lost);
    pgqrs_consumer_free(cons);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
    free(ok);
    free(seen);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "dsn__turso_forms", test_dsn__turso_forms },
        { "turso_file__wal_opens_mvcc_refused", test_turso_file__wal_opens_mvcc_refused },
        { "connect__server_down_fails_fast", test_connect__server_down_fails_fast },
        { "token__never_in_an_error", test_token__never_in_an_error },
        { "fk__enforced", test_fk__enforced },
        { "migrations__tracked_and_idempotent", test_migrations__tracked_and_idempotent },
        { "migrations__concurrent_installs", test_migrations__concurrent_installs },
        { "limits__refused_before_sending", test_limits__refused_before_sending },
        { "restart__no_lost_or_duplicated_messages", test_restart__no_lost_or_duplicated_messages },
    };
    return th_main(argc, argv, "test_turso", tests, sizeof tests / sizeof tests[0]);
}
