/* test_turso.c: what the Turso backend adds to the conformance suite: DSNs and
 * token redaction, a server that is down, a server killed mid-run and restarted
 * (no lost or duplicated messages), foreign keys enforced, migrations tracked and
 * idempotent (also when installs race), limits checked before any request is
 * sent, and, through a fault-injecting proxy (tests/turso_proxy.py), the retry
 * rules: 429/503 retried with growing jittered waits within busy_timeout_ms,
 * 401/403 once, a refused stream once more, a lost or timed-out write never
 * replayed. Tests that need a Turso server SKIP on other backends; the foreign-key
 * and migration tests run on every backend. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivers/conn.h"
#include "drivers/turso.h"
#include "drivers/dsn.h"
#include "harness.h"
#include "proxy.h"
#include "queue/migrate.h"
#include "queue/store.h"

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
    CHECK_STR("turso", d.backend);
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
    CHECK_STR("turso", d.backend);
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
    CHECK_STR("turso", pgqrs_store_backend(s));
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
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
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK_ST(PGQRS_EEXISTS, pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK_MSG(!strstr(pgqrs_errmsg(s), TOKEN), "token in: %s", pgqrs_errmsg(s));
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue(NULL, p, "{not json", 0), p);
    CHECK_MSG(!strstr(pgqrs_errmsg(p), TOKEN), "token in: %s", pgqrs_errmsg(p));
    /* the server goes away: transport errors name the URL, never the token */
    th_turso_kill();
    CHECK(pgqrs_enqueue(NULL, p, "{}", 0) == PGQRS_ECONN);
    CHECK_MSG(!strstr(pgqrs_errmsg(p), TOKEN), "token in: %s", pgqrs_errmsg(p));
    CHECK(pgqrs_queue_create(NULL, s, "r", NULL) == PGQRS_ECONN);
    CHECK_MSG(!strstr(pgqrs_errmsg(s), TOKEN), "token in: %s", pgqrs_errmsg(s));
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

static void test_integrity__orphan_insert_refused(void)
{
    pgqrs_store *s = NULL;
    pgqrs_connect_options o = quiet_options();
    pgqrs_conn *c = NULL;
    int64_t id = 0;
    pgqrs_status st;
    /* SQLite and Turso by their foreign keys (the library turns them on and
     * checks); PostgreSQL by the statement itself, which reads the queue row
     * (migration 0003 dropped that foreign key): the same orphan insert is
     * refused everywhere */
    CHECK_OK(pgqrs_connect(&s, th_fresh_dsn(), &o), NULL);
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs__store_acquire(s, NULL, &c), s);
    {
        /* a message for a queue that does not exist */
        pgqrs_message_enqueue_params p = { 424242, "{}", 0, false, 0 };
        st = c->q->message_enqueue(&id, c, &p);
    }
    pgqrs__store_release(s, c);
    CHECK_MSG(st == PGQRS_ENOTFOUND, "orphan insert: got %d (%s): %s", (int)st, pgqrs_errstr(st), c->msg);
    CHECK_MSG(th_is_postgres() ? strstr(c->msg, "no matching row") != NULL : strstr(c->msg, "FOREIGN KEY") != NULL,
              "message: %s", c->msg);
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
    CHECK_OK(pgqrs__store_acquire(s, NULL, &c), s);
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
    CHECK_OK(pgqrs_schema_install(s), s);
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
        a->st = pgqrs_schema_install(s);
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
    CHECK_OK(pgqrs_schema_verify(s), s);
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
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    n = 51;
    many = calloc(n, sizeof *many);
    CHECK(many);
    for (size_t i = 0; i < n; i++)
        many[i] = "{}";
    before = pgqrs__turso_requests_sent();
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch(NULL, p, many, n, 0), p);
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
        pgqrs_status st = pgqrs_enqueue(NULL, p, big, 0);
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
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    pthread_create(&t, NULL, chaos_main, &a);
    /* enqueue until well after the restart; a failed enqueue is not retried */
    while (n < MAX_N && (a.phase != 2 || after_restart < AFTER)) {
        char payload[64];
        pgqrs_status st;
        snprintf(payload, sizeof payload, "{\"seq\":%d}", n);
        st = pgqrs_enqueue(NULL, p, payload, 0);
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

/* ---- a fault-injecting HTTP proxy in front of tursodb (tests/proxy.h) ----
 * Every check below runs inside a body function, so the fixture (stores,
 * producer, proxy) is torn down however the body returns; the harness stops
 * tursodb after each test. */

static void print_stats(const char *what, const proxy_stats *ps, double elapsed_s)
{
    if (!getenv("PGQRS_TEST_VERBOSE"))
        return;
    fprintf(stderr, "    %s: %.3f s, seen %d, forwarded %d, gaps ms:", what, elapsed_s, ps->seen, ps->forwarded);
    for (int i = 1; i < ps->n; i++)
        fprintf(stderr, " %.1f", ps->t_ms[i] - ps->t_ms[i - 1]);
    fputc('\n', stderr);
}

typedef struct fx {
    proxy px;
    pgqrs_store *s;        /* through the proxy, one connection */
    pgqrs_producer *p;     /* on s */
    pgqrs_store *direct;   /* straight to tursodb: to look at what was written */
    char upstream[128];
} fx;

/* A store through the proxy: one pooled connection (one libcurl handle). */
static pgqrs_status fx_connect(fx *f, pgqrs_store **out, int busy_timeout_ms, const char *params)
{
    pgqrs_connect_options o = quiet_options();
    char dsn[512];
    o.pool_size = 1;
    o.busy_timeout_ms = busy_timeout_ms;
    snprintf(dsn, sizeof dsn, "http://127.0.0.1:%d?authToken=%s%s", f->px.port, TOKEN, params ? params : "");
    return pgqrs_connect(out, dsn, &o);
}

static void fx_setup(fx *f, int busy_timeout_ms, const char *params)
{
    pgqrs_connect_options o = quiet_options();
    char script[512];
    snprintf(f->upstream, sizeof f->upstream, "%s", th_fresh_dsn());
    CHECK_OK(pgqrs_connect(&f->direct, f->upstream, &o), NULL);
    CHECK_OK(pgqrs_schema_install(f->direct), f->direct);
    CHECK_OK(pgqrs_queue_create(NULL, f->direct, "q", NULL), f->direct);
    proxy_script(script, sizeof script);
    CHECK_MSG(proxy_start(&f->px, f->upstream), "cannot start python3 %s", script);
    CHECK_OK(fx_connect(f, &f->s, busy_timeout_ms, params), NULL);
    CHECK_OK(pgqrs_producer_new(&f->p, f->s, "q"), f->s);
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
}

static void fx_teardown(fx *f)
{
    if (f->px.pid > 0)
        proxy_cmd(&f->px, NULL, 0, "clear");   /* so the producer's goodbye goes through */
    pgqrs_producer_free(f->p);
    pgqrs_store_free(f->s);
    pgqrs_store_free(f->direct);
    proxy_stop(&f->px);
}

static void with_proxy(void (*body)(fx *), int busy_timeout_ms, const char *params)
{
    fx f;
    if (!th_is_turso())
        SKIP(NEEDS_TURSO);
    memset(&f, 0, sizeof f);
    f.px.to = f.px.from = -1;
    fx_setup(&f, busy_timeout_ms, params);
    if (!th_failed_now)
        body(&f);
    fx_teardown(&f);
}

/* Live messages of "q" whose payload holds tag (-1: cannot list). */
static int count_tagged(pgqrs_store *s, const char *tag)
{
    pgqrs_batch *b = NULL;
    int n = 0;
    if (pgqrs_message_list(&b, s, "q", 0, 1000) != PGQRS_OK)
        return -1;
    for (size_t i = 0; i < pgqrs_batch_count(b); i++)
        if (strstr(pgqrs_batch_at(b, i)->payload, tag))
            n++;
    pgqrs_batch_free(b);
    return n;
}

static pgqrs_status list_queues_n(pgqrs_store *s, int *n)
{
    pgqrs_queues *l = NULL;
    pgqrs_status st = pgqrs_queue_list(&l, s);
    *n = st == PGQRS_OK ? (int)pgqrs_queues_count(l) : -1;
    pgqrs_queues_free(l);
    return st;
}

static int count_queues(pgqrs_store *s)
{
    int n;
    return list_queues_n(s, &n) == PGQRS_OK ? n : -1;
}

/* The driver's backoff (driver_turso.c: base 10 ms doubling to a 1 s cap, each
 * delay drawn in [d/2, d]): the shortest sleep before attempt i+1. */
static double min_sleep_ms(int i)
{
    double d = 10;
    for (int k = 0; k < i && d < 1000; k++)
        d *= 2;
    return (d > 1000 ? 1000 : d) / 2;
}

static double max_sleep_ms(int i) { return 2 * min_sleep_ms(i); }

/* Gaps between arrivals are at least the backoff's shortest sleep (the sleep is
 * between one answer and the next request); the last `skip_last` gaps may be
 * cut short by busy_timeout_ms. */
static bool gaps_ok(const proxy_stats *ps, int skip_last, char *why, size_t n)
{
    for (int i = 0; i + 1 < ps->n - skip_last; i++) {
        double gap = ps->t_ms[i + 1] - ps->t_ms[i];
        if (gap < min_sleep_ms(i) - 0.5) {
            snprintf(why, n, "gap %d is %.2f ms, under the backoff's %.1f ms", i, gap, min_sleep_ms(i));
            return false;
        }
    }
    return true;
}

static void body_retried_until_success(fx *f)
{
    static const int codes[] = { 429, 503 };
    proxy_stats ps;
    char why[128], tag[32], payload[64];
    double t0, el;
    for (int k = 0; k < 2; k++) {
        snprintf(tag, sizeof tag, "after-%d", codes[k]);
        snprintf(payload, sizeof payload, "{\"tag\":\"%s\"}", tag);
        CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
        CHECK(proxy_cmd(&f->px, NULL, 0, "fault status 3 %d", codes[k]));
        t0 = now_s();
        CHECK_OK(pgqrs_enqueue(NULL, f->p, payload, 0), f->p);
        el = now_s() - t0;
        CHECK(proxy_get_stats(&f->px, &ps));
        print_stats(tag, &ps, el);
        CHECK_I64(4, ps.seen);   /* 3 refused, then the one that ran */
        CHECK_I64(1, ps.forwarded);
        for (int i = 0; i < 3; i++)
            CHECK_MSG(strncmp(ps.action[i], "status-", 7) == 0 && atoi(ps.action[i] + 7) == codes[k], "attempt %d: %s",
                      i, ps.action[i]);
        CHECK_STR("fwd", ps.action[3]);
        for (int i = 0; i < 4; i++)
            CHECK_MSG(ps.kind[i] == 'w', "attempt %d was not the write batch (%c)", i, ps.kind[i]);
        CHECK_MSG(gaps_ok(&ps, 0, why, sizeof why), "HTTP %d: %s", codes[k], why);
        CHECK_MSG(el < 5.0, "HTTP %d: took %.2f s, over busy_timeout_ms (5000)", codes[k], el);
        CHECK_I64(1, count_tagged(f->direct, tag));
    }
    /* a read is retried the same way */
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault status 2 503"));
    CHECK_I64(1, count_queues(f->s));
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(3, ps.seen);
    CHECK_I64(1, ps.forwarded);
    CHECK_MSG(ps.kind[0] == 'r' && ps.kind[2] == 'r', "not a read: %c %c", ps.kind[0], ps.kind[2]);
}

static void test_proxy__429_503_retried_until_success(void) { with_proxy(body_retried_until_success, 0, NULL); }

static void body_permanent_refusal_bounded(fx *f)
{
    proxy_stats ps;
    pgqrs_store *s2 = NULL;
    char why[128];
    double t0, el;
    int big = 0, jittered = 0;
    pgqrs_status st;
    /* 429 on every attempt, busy_timeout_ms 5000: bounded by the attempt cap (10) */
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault status -1 429"));
    t0 = now_s();
    st = pgqrs_enqueue(NULL, f->p, "{\"tag\":\"never-429\"}", 0);
    el = now_s() - t0;
    CHECK_MSG(st == PGQRS_EBUSY, "got %d: %s", (int)st, pgqrs_errmsg(f->p));
    CHECK_MSG(strstr(pgqrs_errmsg(f->p), "429"), "message: %s", pgqrs_errmsg(f->p));
    CHECK_MSG(!strstr(pgqrs_errmsg(f->p), TOKEN), "token in: %s", pgqrs_errmsg(f->p));
    CHECK(proxy_get_stats(&f->px, &ps));
    print_stats("429 forever", &ps, el);
    CHECK_MSG(ps.seen >= 2 && ps.seen <= 10, "%d attempts", ps.seen);
    CHECK_I64(0, ps.forwarded);
    CHECK_MSG(el < 5.0 + 2.0, "took %.2f s", el);
    CHECK_MSG(gaps_ok(&ps, 1, why, sizeof why), "%s", why);
    /* jitter: with no jitter every sleep would be d (the upper bound) and the gaps
     * only longer; a gap under 0.95 d proves a shorter draw. Each draw is in
     * [d/2, d], so each of the (up to 5) gaps of 80 ms and more is that short with
     * probability 0.9 less the machine's noise: that none is, is ~1e-5 */
    for (int i = 3; i + 1 < ps.n - 1; i++) {
        big++;
        jittered += ps.t_ms[i + 1] - ps.t_ms[i] < 0.95 * max_sleep_ms(i);
    }
    CHECK_MSG(big < 4 || jittered > 0, "no jitter in %d gaps of 80 ms and more", big);
    CHECK_I64(0, count_tagged(f->direct, "never-429"));

    /* 503 on every attempt with busy_timeout_ms 700: bounded by time. The backoff's
     * shortest sleeps reach 700 ms after 7 retries, so at most 9 attempts (the
     * last sleep is cut to the deadline) and the whole budget is used */
    CHECK(proxy_cmd(&f->px, NULL, 0, "clear"));
    CHECK_OK(fx_connect(f, &s2, 700, NULL), NULL);
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault status -1 503"));
    t0 = now_s();
    st = pgqrs_queue_create(NULL, s2, "never-503", NULL);
    el = now_s() - t0;
    CHECK(proxy_get_stats(&f->px, &ps));
    print_stats("503 forever", &ps, el);
    if (st != PGQRS_ECONN || strstr(pgqrs_errmsg(s2), TOKEN) || !strstr(pgqrs_errmsg(s2), "503") ||
        !strstr(pgqrs_errmsg(s2), "Bearer ***")) {
        /* the proxy's 503 body echoes the Authorization header: scrubbed */
        th_fail(__FILE__, __LINE__, "got %d: %s", (int)st, pgqrs_errmsg(s2));
        pgqrs_store_free(s2);
        return;
    }
    pgqrs_store_free(s2);
    CHECK_MSG(ps.seen >= 2 && ps.seen <= 9, "%d attempts", ps.seen);
    CHECK_I64(0, ps.forwarded);
    CHECK_MSG(el >= 0.69 && el < 0.7 + 2.0, "took %.2f s", el);
    CHECK_MSG(gaps_ok(&ps, 1, why, sizeof why), "%s", why);
    CHECK_I64(1, count_queues(f->direct));   /* only "q" */
}

static void test_proxy__permanent_429_503_bounded(void) { with_proxy(body_permanent_refusal_bounded, 0, NULL); }

/* pgqrs_connect's first request (the probe) is retried like a call's */
static void body_connect_retried(fx *f)
{
    proxy_stats ps;
    pgqrs_store *s2 = NULL;
    pgqrs_status st;
    double t0, el;
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault status 3 429"));
    st = fx_connect(f, &s2, 0, NULL);
    pgqrs_store_free(s2);
    CHECK_MSG(st == PGQRS_OK, "got %d: %s", (int)st, pgqrs_errmsg(NULL));
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_MSG(ps.seen >= 4, "%d requests", ps.seen);
    for (int i = 0; i < 3; i++)
        CHECK_STR("status-429", ps.action[i]);
    CHECK_STR("fwd", ps.action[3]);
    CHECK_I64(ps.seen - 3, ps.forwarded);
    /* for good: bounded by busy_timeout_ms (700), then PGQRS_ECONN */
    s2 = NULL;
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault status -1 503"));
    t0 = now_s();
    st = fx_connect(f, &s2, 700, NULL);
    el = now_s() - t0;
    pgqrs_store_free(s2);
    CHECK_MSG(st == PGQRS_ECONN && strstr(pgqrs_errmsg(NULL), "503"), "got %d: %s", (int)st, pgqrs_errmsg(NULL));
    CHECK(proxy_get_stats(&f->px, &ps));
    print_stats("connect, 503 forever", &ps, el);
    CHECK_MSG(ps.seen >= 2 && ps.seen <= 9, "%d attempts", ps.seen);
    CHECK_I64(0, ps.forwarded);
    CHECK_MSG(el >= 0.69 && el < 0.7 + 2.0, "took %.2f s", el);
}

static void test_proxy__connect_retries_429_503(void) { with_proxy(body_connect_retried, 0, NULL); }

static void body_auth_refused(fx *f)
{
    proxy_stats ps;
    pgqrs_store *s2 = NULL;
    pgqrs_status st;
    int n;
    /* at connect: the probe is refused */
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault status 1 401"));
    CHECK_ST(PGQRS_ECONN, fx_connect(f, &s2, 0, NULL), NULL);
    CHECK(s2 == NULL);
    CHECK_MSG(strstr(pgqrs_errmsg(NULL), "refused the auth token") && strstr(pgqrs_errmsg(NULL), "401"), "message: %s",
              pgqrs_errmsg(NULL));
    CHECK_MSG(!strstr(pgqrs_errmsg(NULL), TOKEN), "token in: %s", pgqrs_errmsg(NULL));
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(1, ps.seen);
    /* on a call, refused for good: one attempt each, never a retry storm */
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault status -1 403"));
    st = pgqrs_enqueue(NULL, f->p, "{\"tag\":\"auth\"}", 0);
    CHECK_MSG(st == PGQRS_ECONN, "got %d: %s", (int)st, pgqrs_errmsg(f->p));
    CHECK_MSG(strstr(pgqrs_errmsg(f->p), "refused the auth token") && strstr(pgqrs_errmsg(f->p), "403"), "message: %s",
              pgqrs_errmsg(f->p));
    CHECK_MSG(!strstr(pgqrs_errmsg(f->p), TOKEN), "token in: %s", pgqrs_errmsg(f->p));
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(1, ps.seen);
    CHECK_I64(0, ps.forwarded);
    CHECK(pgqrs_queue_create(NULL, f->s, "r", NULL) == PGQRS_ECONN);
    CHECK_MSG(!strstr(pgqrs_errmsg(f->s), TOKEN), "token in: %s", pgqrs_errmsg(f->s));
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(2, ps.seen);
    CHECK_ST(PGQRS_ECONN, list_queues_n(f->s, &n), f->s);   /* a read: once too */
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(3, ps.seen);
    CHECK_I64(0, count_tagged(f->direct, "auth"));
    CHECK_I64(1, count_queues(f->direct));
}

static void test_proxy__auth_refused_not_retried(void) { with_proxy(body_auth_refused, 0, NULL); }

/* A server that echoes the token where the driver cuts its message: no piece
 * of the token may survive the cut. */
static void body_token_cut(fx *f)
{
    /* message "...HTTP 500: " + the first 159 bytes of the body; the body is
     * PAD x's then "Bearer <token>": the token starts 10 bytes before the cut */
    static const char *const pieces[] = { "tok-SEKRIT", "SEKRIT-4f", "4f1c9a77" };
    pgqrs_status st;
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault status 1 500 %d", 159 - 7 - 10));
    st = pgqrs_enqueue(NULL, f->p, "{}", 0);
    CHECK_MSG(st == PGQRS_ECONN, "got %d: %s", (int)st, pgqrs_errmsg(f->p));
    CHECK_MSG(strstr(pgqrs_errmsg(f->p), "xxxxBearer"), "message: %s", pgqrs_errmsg(f->p));
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
        CHECK_MSG(!strstr(pgqrs_errmsg(f->p), pieces[i]), "token piece %s in: %s", pieces[i], pgqrs_errmsg(f->p));
}

static void test_proxy__token_cut_never_leaks(void) { with_proxy(body_token_cut, 0, NULL); }

static void body_stream_refused(fx *f)
{
    static const char *const actions[] = { "baton-invalid", "stream-expired" };
    proxy_stats ps;
    char tag[32], payload[64];
    pgqrs_status st;
    int n;
    /* once: nothing ran (the server refused the stream before the pipeline), so
     * the call goes again on a fresh stream (baton null, as always) */
    for (int k = 0; k < 2; k++) {
        snprintf(tag, sizeof tag, "%s-once", actions[k]);
        snprintf(payload, sizeof payload, "{\"tag\":\"%s\"}", tag);
        CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
        CHECK(proxy_cmd(&f->px, NULL, 0, "fault %s 1", actions[k]));
        CHECK_OK(pgqrs_enqueue(NULL, f->p, payload, 0), f->p);
        CHECK(proxy_get_stats(&f->px, &ps));
        CHECK_I64(2, ps.seen);
        CHECK_I64(1, ps.forwarded);
        CHECK_STR(actions[k], ps.action[0]);
        CHECK_I64(1, count_tagged(f->direct, tag));
    }
    /* every time: retried once only, then reported; nothing was written */
    for (int k = 0; k < 2; k++) {
        snprintf(tag, sizeof tag, "%s-always", actions[k]);
        snprintf(payload, sizeof payload, "{\"tag\":\"%s\"}", tag);
        CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
        CHECK(proxy_cmd(&f->px, NULL, 0, "fault %s -1", actions[k]));
        st = pgqrs_enqueue(NULL, f->p, payload, 0);
        CHECK_MSG(st == PGQRS_ECONN, "got %d: %s", (int)st, pgqrs_errmsg(f->p));
        CHECK_MSG(strstr(pgqrs_errmsg(f->p), "stream") && strstr(pgqrs_errmsg(f->p), "nothing ran"), "message: %s",
                  pgqrs_errmsg(f->p));
        CHECK(proxy_get_stats(&f->px, &ps));
        CHECK_I64(2, ps.seen);
        CHECK_I64(0, ps.forwarded);
        CHECK_I64(0, count_tagged(f->direct, tag));
        /* a read alike */
        CHECK_ST(PGQRS_ECONN, list_queues_n(f->s, &n), f->s);
        CHECK(proxy_get_stats(&f->px, &ps));
        CHECK_I64(4, ps.seen);
    }
}

static void test_proxy__stream_refused_retried_once(void) { with_proxy(body_stream_refused, 0, NULL); }

static void body_lost_write(fx *f)
{
    static const char *const batch[] = { "{\"tag\":\"lost-b\"}", "{\"tag\":\"lost-b\"}", "{\"tag\":\"lost-b\"}" };
    proxy_stats ps;
    pgqrs_status st;
    /* a read first: the write must not ride on (and be resent over) a kept-alive connection */
    CHECK_I64(1, count_queues(f->s));
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault drop 1"));
    st = pgqrs_enqueue(NULL, f->p, "{\"tag\":\"lost-1\"}", 0);
    CHECK_MSG(st == PGQRS_ECONN, "got %d: %s", (int)st, pgqrs_errmsg(f->p));
    CHECK_MSG(strstr(pgqrs_errmsg(f->p), "outcome is unknown") && strstr(pgqrs_errmsg(f->p), "not replayed"),
              "message: %s", pgqrs_errmsg(f->p));
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(1, ps.seen);
    CHECK_I64(1, ps.forwarded);
    CHECK_STR("drop", ps.action[0]);
    CHECK_I64('w', ps.kind[0]);
    CHECK_I64(1, count_tagged(f->direct, "lost-1"));   /* it ran, once */
    /* a batch of three: all or nothing, and here all, once */
    CHECK_I64(1, count_queues(f->s));
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault drop 1"));
    st = pgqrs_enqueue_batch(NULL, f->p, batch, 3, 0);
    CHECK_MSG(st == PGQRS_ECONN, "got %d: %s", (int)st, pgqrs_errmsg(f->p));
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(1, ps.seen);
    CHECK_I64(3, count_tagged(f->direct, "lost-b"));
    /* the store goes on */
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK_OK(pgqrs_enqueue(NULL, f->p, "{\"tag\":\"after-lost\"}", 0), f->p);
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(1, ps.seen);
    CHECK_I64(1, count_tagged(f->direct, "after-lost"));
    CHECK_I64(1, count_tagged(f->direct, "lost-1"));
}

static void test_proxy__lost_write_never_replayed(void) { with_proxy(body_lost_write, 0, NULL); }

static void body_lost_read(fx *f)
{
    proxy_stats ps;
    int n;
    /* the driver never resends a read itself; libcurl does, once, when the
     * request went out on a kept-alive connection that died before a byte came
     * back (as it would a write: hence writes always use a new connection) */
    CHECK_I64(1, count_queues(f->s));   /* leaves a kept-alive connection */
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault drop 1"));
    CHECK_I64(1, count_queues(f->s));
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(2, ps.seen);
    CHECK_I64(2, ps.forwarded);
    CHECK_MSG(ps.kind[0] == 'r' && ps.kind[1] == 'r', "not reads: %c %c", ps.kind[0], ps.kind[1]);
    /* lost on the new connection too: reported */
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault drop 2"));
    CHECK_ST(PGQRS_ECONN, list_queues_n(f->s, &n), f->s);
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(2, ps.seen);
    /* no kept-alive connection left (the last one was dropped): one attempt */
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault drop 1"));
    CHECK_ST(PGQRS_ECONN, list_queues_n(f->s, &n), f->s);
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(1, ps.seen);
    CHECK_I64(1, count_queues(f->s));
}

static void test_proxy__lost_read_resent_once_by_libcurl(void) { with_proxy(body_lost_read, 0, NULL); }

static void body_timeout(fx *f)
{
    proxy_stats ps;
    pgqrs_status st;
    int n;
    double t0, el;
    /* ?timeout=2; the proxy forwards (the write runs) and holds the answer 8 s */
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault delay 1 8"));
    t0 = now_s();
    st = pgqrs_enqueue(NULL, f->p, "{\"tag\":\"slow-1\"}", 0);
    el = now_s() - t0;
    CHECK_MSG(st == PGQRS_ETIMEOUT, "got %d: %s", (int)st, pgqrs_errmsg(f->p));
    CHECK_MSG(strstr(pgqrs_errmsg(f->p), "outcome is unknown") && strstr(pgqrs_errmsg(f->p), "not replayed"),
              "message: %s", pgqrs_errmsg(f->p));
    CHECK_MSG(el >= 1.5 && el < 6.0, "took %.2f s", el);
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(1, ps.seen);
    CHECK_I64(1, ps.forwarded);
    CHECK_I64(1, count_tagged(f->direct, "slow-1"));
    /* a read times out alike, once */
    CHECK(proxy_cmd(&f->px, NULL, 0, "reset"));
    CHECK(proxy_cmd(&f->px, NULL, 0, "fault delay 1 8"));
    t0 = now_s();
    CHECK_ST(PGQRS_ETIMEOUT, list_queues_n(f->s, &n), f->s);
    el = now_s() - t0;
    CHECK_MSG(el < 6.0, "took %.2f s", el);
    CHECK(proxy_get_stats(&f->px, &ps));
    CHECK_I64(1, ps.seen);
    /* and the store goes on */
    CHECK_OK(pgqrs_enqueue(NULL, f->p, "{\"tag\":\"after-slow\"}", 0), f->p);
    CHECK_I64(1, count_tagged(f->direct, "after-slow"));
    CHECK_I64(1, count_tagged(f->direct, "slow-1"));
}

static void test_proxy__timeout_never_replayed(void) { with_proxy(body_timeout, 0, "&timeout=2"); }

/* The backoff the retry loop sleeps: each delay in [d/2, d] for d = 10 ms
 * doubling to 1 s, and drawn, not fixed. Backend-independent. */
static void test_backoff__capped_and_jittered(void)
{
    static int salt;
    uint64_t rng = pgqrs__rng_seed(&salt);
    for (int a = 0; a < 14; a++) {
        int64_t lo = (int64_t)min_sleep_ms(a), hi = (int64_t)max_sleep_ms(a), first = -1;
        bool varied = false;
        for (int i = 0; i < 200; i++) {
            int64_t d = pgqrs__backoff_ms(a, 10, 1000, &rng);
            CHECK_MSG(d >= lo && d <= hi, "attempt %d: %" PRId64 " ms outside [%" PRId64 ", %" PRId64 "]", a, d, lo, hi);
            if (first < 0)
                first = d;
            varied |= d != first;
        }
        CHECK_MSG(varied, "attempt %d: always %" PRId64 " ms", a, first);
    }
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "dsn__turso_forms", test_dsn__turso_forms },
        { "turso_file__wal_opens_mvcc_refused", test_turso_file__wal_opens_mvcc_refused },
        { "connect__server_down_fails_fast", test_connect__server_down_fails_fast },
        { "token__never_in_an_error", test_token__never_in_an_error },
        { "integrity__orphan_insert_refused", test_integrity__orphan_insert_refused },
        { "migrations__tracked_and_idempotent", test_migrations__tracked_and_idempotent },
        { "migrations__concurrent_installs", test_migrations__concurrent_installs },
        { "limits__refused_before_sending", test_limits__refused_before_sending },
        { "restart__no_lost_or_duplicated_messages", test_restart__no_lost_or_duplicated_messages },
        { "backoff__capped_and_jittered", test_backoff__capped_and_jittered },
        { "proxy__429_503_retried_until_success", test_proxy__429_503_retried_until_success },
        { "proxy__permanent_429_503_bounded", test_proxy__permanent_429_503_bounded },
        { "proxy__connect_retries_429_503", test_proxy__connect_retries_429_503 },
        { "proxy__auth_refused_not_retried", test_proxy__auth_refused_not_retried },
        { "proxy__token_cut_never_leaks", test_proxy__token_cut_never_leaks },
        { "proxy__stream_refused_retried_once", test_proxy__stream_refused_retried_once },
        { "proxy__lost_write_never_replayed", test_proxy__lost_write_never_replayed },
        { "proxy__lost_read_resent_once_by_libcurl", test_proxy__lost_read_resent_once_by_libcurl },
        { "proxy__timeout_never_replayed", test_proxy__timeout_never_replayed },
    };
    return th_main(argc, argv, "test_turso", tests, sizeof tests / sizeof tests[0]);
}
