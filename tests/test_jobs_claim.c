/* test_jobs_claim.c: priorities and unique keys (issue 17), on every backend.
 * pgqrs_enqueue_with / pgqrs_enqueue_batch_with and the claim order (priority
 * DESC, then FIFO), the unique key among a queue's live messages (also raced by
 * 8 producer processes), and bad input that changes nothing. Time is moved with
 * pgqrs_store_set_time, never slept. */
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

#define SEC 1000000LL

static pgqrs_store *store;
static pgqrs_producer *prod;
static pgqrs_consumer *cons;
static int64_t T0;

static void teardown(void)
{
    pgqrs_consumer_free(cons);
    pgqrs_producer_free(prod);
    pgqrs_store_free(store);
    cons = NULL;
    prod = NULL;
    store = NULL;
}

static pgqrs_status setup_store(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_status st;
    teardown();
    o.heartbeat_interval_s = -1;
    if ((st = pgqrs_connect(&store, th_fresh_dsn(), &o)) != PGQRS_OK)
        return st;
    if ((st = pgqrs_schema_install(store)) != PGQRS_OK)
        return st;
    T0 = (int64_t)time(NULL) * SEC;
    pgqrs_store_set_time(store, T0);
    if ((st = pgqrs_queue_create(NULL, store, "q", NULL)) != PGQRS_OK)
        return st;
    if ((st = pgqrs_producer_new(&prod, store, "q")) != PGQRS_OK)
        return st;
    return pgqrs_consumer_new(&cons, store, "q");
}

#define SETUP() CHECK_OK(setup_store(), store)

static pgqrs_enqueue_options opt(int32_t priority, const char *key, int64_t delay_ms)
{
    pgqrs_enqueue_options o = PGQRS_ENQUEUE_OPTIONS_INIT;
    o.priority = priority;
    o.unique_key = key;
    o.delay_ms = delay_ms;
    return o;
}

/* Enqueues with options; *created_out (may be NULL) gets created. */
#define ENQW(idp, createdp, json, pri, key, delay) do { pgqrs_enqueue_options o_ = opt((pri), (key), (delay)); \
    CHECK_OK(pgqrs_enqueue_with((idp), (createdp), prod, (json), &o_), prod); } while (0)

/* Claims one message; *id gets its id, 0 when nothing was visible. */
static pgqrs_status claim_one(int64_t *id)
{
    pgqrs_batch *b = NULL;
    pgqrs_status st = pgqrs_dequeue(&b, cons, 1, 30);
    *id = 0;
    if (st == PGQRS_OK && pgqrs_batch_count(b) == 1)
        *id = pgqrs_batch_at(b, 0)->id;
    pgqrs_batch_free(b);
    return st;
}
#define CLAIM(idp) CHECK_OK(claim_one(idp), cons)

static size_t live_count(void)
{
    pgqrs_batch *b = NULL;
    size_t n = (size_t)-1;
    if (pgqrs_message_list(&b, store, "q", 0, 10000) == PGQRS_OK)
        n = pgqrs_batch_count(b);
    pgqrs_batch_free(b);
    return n;
}

/* ---- priority ------------------------------------------------------------------- */

static void test_priority__order_fifo_and_negative(void)
{
    int64_t a, b, c, d, e, f, g, got;
    SETUP();
    ENQW(&a, NULL, "\"a\"", 0, NULL, 0);
    ENQW(&b, NULL, "\"b\"", 5, NULL, 0);
    ENQW(&c, NULL, "\"c\"", 0, NULL, 0);
    ENQW(&d, NULL, "\"d\"", 5, NULL, 0);
    ENQW(&e, NULL, "\"e\"", -3, NULL, 0);
    ENQW(&f, NULL, "\"f\"", PGQRS_PRIORITY_MAX, NULL, 0);
    ENQW(&g, NULL, "\"g\"", PGQRS_PRIORITY_MIN, NULL, 0);
    const int64_t want[] = { f, b, d, a, c, e, g };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        CLAIM(&got);
        CHECK_I64(want[i], got);
    }
    CLAIM(&got);
    CHECK_I64(0, got);
}

static void test_priority__plain_enqueue_is_priority_zero(void)
{
    int64_t a, hi, lo, got;
    pgqrs_batch *bt = NULL;
    SETUP();
    CHECK_OK(pgqrs_enqueue(&a, prod, "1", 0), prod);
    ENQW(&lo, NULL, "2", -1, NULL, 0);
    ENQW(&hi, NULL, "3", 1, NULL, 0);
    CHECK_OK(pgqrs_message_list(&bt, store, "q", 0, 100), store);
    CHECK_I64(3, pgqrs_batch_count(bt));
    CHECK_I64(0, pgqrs_batch_at(bt, 0)->priority);
    CHECK_I64(-1, pgqrs_batch_at(bt, 1)->priority);
    CHECK_I64(1, pgqrs_batch_at(bt, 2)->priority);
    pgqrs_batch_free(bt);
    CLAIM(&got);
    CHECK_I64(hi, got);
    CLAIM(&got);
    CHECK_I64(a, got);
    CLAIM(&got);
    CHECK_I64(lo, got);
}

static void test_priority__delayed_high_waits_until_visible(void)
{
    int64_t hi, lo, got;
    SETUP();
    ENQW(&hi, NULL, "\"hi\"", 100, NULL, 10000);   /* visible at T0 + 10 s */
    ENQW(&lo, NULL, "\"lo\"", 0, NULL, 0);
    CLAIM(&got);
    CHECK_I64(lo, got);
    CLAIM(&got);
    CHECK_I64(0, got);
    pgqrs_store_set_time(store, T0 + 10 * SEC);
    CLAIM(&got);
    CHECK_I64(hi, got);
}

static void test_priority__fifo_by_visibility_within_a_priority(void)
{
    int64_t first, second, got;
    SETUP();
    ENQW(&first, NULL, "1", 7, NULL, 2000);   /* enqueued first, visible later */
    ENQW(&second, NULL, "2", 7, NULL, 1000);
    pgqrs_store_set_time(store, T0 + 5 * SEC);
    CLAIM(&got);
    CHECK_I64(second, got);
    CLAIM(&got);
    CHECK_I64(first, got);
}

static void test_priority__batch_claim_takes_the_top(void)
{
    int64_t ids[6];
    pgqrs_batch *b = NULL;
    SETUP();
    for (int i = 0; i < 6; i++)
        ENQW(&ids[i], NULL, "{}", i % 3, NULL, 0);   /* priorities 0 1 2 0 1 2 */
    CHECK_OK(pgqrs_dequeue(&b, cons, 2, 30), cons);
    CHECK_I64(2, pgqrs_batch_count(b));
    for (size_t i = 0; i < 2; i++) {
        const pgqrs_message *m = pgqrs_batch_at(b, i);
        CHECK_I64(2, m->priority);
        CHECK(m->id == ids[2] || m->id == ids[5]);
    }
    pgqrs_batch_free(b);
    b = NULL;
    CHECK_OK(pgqrs_dequeue(&b, cons, 3, 30), cons);
    CHECK_I64(3, pgqrs_batch_count(b));
    int ones = 0;
    for (size_t i = 0; i < 3; i++)
        ones += pgqrs_batch_at(b, i)->priority == 1;
    pgqrs_batch_free(b);
    CHECK_I64(2, ones);
}

/* ---- unique keys ---------------------------------------------------------------- */

static void test_unique__created_then_existing(void)
{
    int64_t id1 = 0, id2 = 0, id3 = 0;
    int created = -1;
    pgqrs_batch *b = NULL;
    SETUP();
    ENQW(&id1, &created, "{\"n\":1}", 0, "job-1", 0);
    CHECK_I64(1, created);
    CHECK(id1 > 0);
    ENQW(&id2, &created, "{\"n\":2}", 9, "job-1", 0);
    CHECK_I64(0, created);
    CHECK_I64(id1, id2);
    ENQW(&id3, &created, "{\"n\":3}", 0, "job-2", 0);
    CHECK_I64(1, created);
    CHECK(id3 != id1);
    CHECK_I64(2, live_count());
    CHECK_OK(pgqrs_message_list(&b, store, "q", 0, 10), store);
    CHECK_STR("job-1", pgqrs_batch_at(b, 0)->unique_key);
    CHECK_I64(0, pgqrs_batch_at(b, 0)->priority);   /* the second enqueue changed nothing */
    pgqrs_batch_free(b);
    /* a delayed message holds its key too */
    ENQW(&id1, &created, "{}", 0, "later", 60000);
    CHECK_I64(1, created);
    ENQW(&id2, &created, "{}", 0, "later", 0);
    CHECK_I64(0, created);
    CHECK_I64(id1, id2);
}

static void test_unique__key_free_after_archive(void)
{
    int64_t id1 = 0, id2 = 0, got = 0;
    int created = -1;
    SETUP();
    ENQW(&id1, &created, "{}", 0, "k", 0);
    CHECK_I64(1, created);
    CLAIM(&got);
    CHECK_I64(id1, got);
    ENQW(&id2, &created, "{}", 0, "k", 0);   /* in flight: still live */
    CHECK_I64(0, created);
    CHECK_I64(id1, id2);
    CHECK_OK(pgqrs_archive(cons, id1), cons);
    ENQW(&id2, &created, "{}", 0, "k", 0);
    CHECK_I64(1, created);
    CHECK(id2 != id1);
}

static void test_unique__per_queue(void)
{
    pgqrs_producer *p2 = NULL;
    pgqrs_enqueue_options o = opt(0, "same", 0);
    int64_t id1 = 0, id2 = 0;
    int c1 = -1, c2 = -1;
    SETUP();
    CHECK_OK(pgqrs_queue_create(NULL, store, "other", NULL), store);
    CHECK_OK(pgqrs_producer_new(&p2, store, "other"), store);
    CHECK_OK(pgqrs_enqueue_with(&id1, &c1, prod, "{}", &o), prod);
    pgqrs_status st = pgqrs_enqueue_with(&id2, &c2, p2, "{}", &o);
    pgqrs_producer_free(p2);
    CHECK_I64(PGQRS_OK, st);
    CHECK_I64(1, c1);
    CHECK_I64(1, c2);
    CHECK(id1 != id2);
}

/* ---- batches -------------------------------------------------------------------- */

static void test_batch__priorities_without_keys(void)
{
    const char *pl[4] = { "1", "2", "3", "4" };
    pgqrs_enqueue_options o[4] = { opt(0, NULL, 0), opt(3, NULL, 0), opt(-1, NULL, 0), opt(3, NULL, 5000) };
    int64_t ids[4] = { 0 }, got;
    int created[4] = { -1, -1, -1, -1 };
    SETUP();
    CHECK_OK(pgqrs_enqueue_batch_with(ids, created, prod, pl, 4, o), prod);
    for (int i = 0; i < 4; i++)
        CHECK_I64(1, created[i]);
    CHECK(ids[0] < ids[1] && ids[1] < ids[2] && ids[2] < ids[3]);
    CLAIM(&got);
    CHECK_I64(ids[1], got);
    CLAIM(&got);
    CHECK_I64(ids[0], got);
    CLAIM(&got);
    CHECK_I64(ids[2], got);
    CLAIM(&got);
    CHECK_I64(0, got);   /* ids[3] is delayed */
    pgqrs_store_set_time(store, T0 + 5 * SEC);
    CLAIM(&got);
    CHECK_I64(ids[3], got);
    /* opts NULL: the defaults */
    CHECK_OK(pgqrs_enqueue_batch_with(ids, NULL, prod, pl, 2, NULL), prod);
    CHECK_I64(2, live_count() - 4);
}

static void test_batch__unique_keys(void)
{
    const char *pl[6] = { "0", "1", "2", "3", "4", "5" };
    pgqrs_enqueue_options o[6] = { opt(0, "a", 0), opt(0, "b", 0), opt(0, "b", 0),
                                   opt(0, NULL, 0), opt(2, "c", 0), opt(0, "a", 0) };
    int64_t pre = 0, ids[6] = { 0 };
    int created[6] = { -1, -1, -1, -1, -1, -1 };
    pgqrs_capabilities caps = PGQRS_CAPABILITIES_INIT;
    SETUP();
    ENQW(&pre, NULL, "\"pre\"", 0, "a", 0);
    CHECK_OK(pgqrs_store_capabilities(&caps, store), store);
    if (!caps.transactions) {
        /* Turso over HTTP: refused, nothing written */
        CHECK_ST(PGQRS_ENOTSUPPORTED, pgqrs_enqueue_batch_with(ids, created, prod, pl, 6, o), prod);
        CHECK_I64(1, live_count());
        /* a keyless batch still works there */
        o[0].unique_key = o[1].unique_key = o[2].unique_key = o[4].unique_key = o[5].unique_key = NULL;
        CHECK_OK(pgqrs_enqueue_batch_with(ids, created, prod, pl, 6, o), prod);
        CHECK_I64(7, live_count());
        return;
    }
    CHECK_OK(pgqrs_enqueue_batch_with(ids, created, prod, pl, 6, o), prod);
    CHECK_I64(pre, ids[0]);
    CHECK_I64(0, created[0]);      /* live before the call */
    CHECK_I64(1, created[1]);      /* first "b" creates ... */
    CHECK_I64(0, created[2]);      /* ... the second gets its id */
    CHECK_I64(ids[1], ids[2]);
    CHECK_I64(1, created[3]);
    CHECK_I64(1, created[4]);
    CHECK_I64(pre, ids[5]);
    CHECK_I64(0, created[5]);
    CHECK(ids[3] != ids[1] && ids[4] != ids[1] && ids[3] != ids[4]);
    CHECK_I64(4, live_count());    /* pre, b, keyless, c */
}

/* ---- bad input ------------------------------------------------------------------ */

static void test_badinput__change_nothing(void)
{
    char big[PGQRS_MAX_UNIQUE_KEY_BYTES + 2];
    int64_t id = 7;
    int created = 7;
    SETUP();
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';   /* 513 bytes */
    pgqrs_enqueue_options bad[] = { opt(40000, NULL, 0), opt(-40000, NULL, 0), opt(0, big, 0), opt(0, "", 0),
                                    opt(0, NULL, -1), opt(0, NULL, (int64_t)PGQRS_MAX_DELAY_SECONDS * 1000 + 1),
                                    opt(0, "\xff\xfe", 0) };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_with(&id, &created, prod, "{}", &bad[i]), prod);
        CHECK_I64(0, id);
        CHECK_I64(0, created);
        CHECK(strlen(pgqrs_errmsg(prod)) > 0);
    }
    CHECK(strstr(pgqrs_errmsg(prod), "UTF-8") != NULL);
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_with(&id, NULL, prod, "{}", &bad[0]), prod);
    CHECK(strstr(pgqrs_errmsg(prod), "priority 40000") != NULL);
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_with(&id, NULL, prod, "{}", &bad[2]), prod);
    CHECK(strstr(pgqrs_errmsg(prod), "513 bytes") != NULL);
    CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_with(&id, NULL, prod, "{}", &bad[3]), prod);
    CHECK(strstr(pgqrs_errmsg(prod), "empty") != NULL);
    /* exactly at the limits is fine */
    big[PGQRS_MAX_UNIQUE_KEY_BYTES] = '\0';
    ENQW(&id, &created, "{}", PGQRS_PRIORITY_MAX, big, 0);
    CHECK_I64(1, created);
    CHECK_I64(1, live_count());
    /* a batch with one bad row writes nothing */
    {
        const char *pl[3] = { "1", "2", "3" };
        pgqrs_enqueue_options o[3] = { opt(0, NULL, 0), opt(0, "x", 0), opt(40000, NULL, 0) };
        int64_t ids[3] = { 0 };
        CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch_with(ids, NULL, prod, pl, 3, o), prod);
        CHECK(strstr(pgqrs_errmsg(prod), "message 2") != NULL);
        o[2] = opt(0, "", 0);
        CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch_with(ids, NULL, prod, pl, 3, o), prod);
        const char *badpl[3] = { "1", "{", "3" };
        o[2] = opt(0, NULL, 0);
        CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch_with(ids, NULL, prod, badpl, 3, o), prod);
        CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_batch_with(ids, NULL, prod, pl, 0, o), prod);
        CHECK_ST(PGQRS_EMISUSE, pgqrs_enqueue_batch_with(ids, NULL, prod, NULL, 3, o), prod);
    }
    /* version 0 options, invalid payload, NULL producer */
    {
        pgqrs_enqueue_options v0 = opt(0, NULL, 0);
        v0.version = 0;
        CHECK(pgqrs_enqueue_with(&id, NULL, prod, "{}", &v0) != PGQRS_OK);
        CHECK_ST(PGQRS_EINVAL, pgqrs_enqueue_with(&id, NULL, prod, "{nope", NULL), prod);
        CHECK(pgqrs_enqueue_with(&id, NULL, NULL, "{}", NULL) == PGQRS_EMISUSE);
    }
    CHECK_I64(1, live_count());
}

/* ---- 8 producer processes racing on the same keys -------------------------------- */

#define RACE_PROCS 8
#define RACE_KEYS 40

static int race_child(int idx, const char *dsn, int gate_fd, int out_fd)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    pgqrs_producer *p = NULL;
    char ch;
    o.heartbeat_interval_s = -1;
    o.pool_size = 1;
    if (pgqrs_connect(&s, dsn, &o) != PGQRS_OK || pgqrs_producer_new(&p, s, "q") != PGQRS_OK) {
        fprintf(stderr, "    child %d: %s\n", idx, pgqrs_errmsg(s));
        return 10;
    }
    while (read(gate_fd, &ch, 1) < 0 && errno == EINTR)
        ;
    for (int r = 0; r < RACE_KEYS; r++) {
        int k = (r * 7 + idx * 5) % RACE_KEYS;   /* each child its own order */
        char key[32], payload[64];
        int64_t id = 0;
        int created = 0;
        pgqrs_enqueue_options eo = PGQRS_ENQUEUE_OPTIONS_INIT;
        snprintf(key, sizeof key, "key-%d", k);
        snprintf(payload, sizeof payload, "{\"child\":%d,\"key\":%d}", idx, k);
        eo.unique_key = key;
        pgqrs_status st = pgqrs_enqueue_with(&id, &created, p, payload, &eo);
        if (st != PGQRS_OK) {
            fprintf(stderr, "    child %d: enqueue %s: %s: %s\n", idx, key, pgqrs_errstr(st), pgqrs_errmsg(p));
            return 11;
        }
        char line[96];
        int len = snprintf(line, sizeof line, "%d %lld %d\n", k, (long long)id, created);
        if (write(out_fd, line, (size_t)len) != len)
            return 12;
    }
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
    return 0;
}

static void test_unique__eight_processes_race(void)
{
    pid_t pids[RACE_PROCS];
    int gate[2], outp[RACE_PROCS][2];
    int64_t key_id[RACE_KEYS] = { 0 };
    int created_per_key[RACE_KEYS] = { 0 };
    pgqrs_batch *b = NULL;
    if (th_is_memory())
        SKIP("sqlite::memory: is private to one connection: processes cannot share it");
    SETUP();
    CHECK(pipe(gate) == 0);
    fflush(NULL);
    for (int i = 0; i < RACE_PROCS; i++) {
        CHECK(pipe(outp[i]) == 0);
        pids[i] = fork();
        CHECK(pids[i] >= 0);
        if (pids[i] == 0) {
            close(gate[1]);
            close(outp[i][0]);
            _exit(race_child(i, th_current_dsn(), gate[0], outp[i][1]));
        }
        close(outp[i][1]);
    }
    close(gate[0]);
    close(gate[1]);   /* go */
    int bad = 0;
    for (int i = 0; i < RACE_PROCS; i++) {
        FILE *f = fdopen(outp[i][0], "r");
        int k, c;
        long long id;
        while (f && fscanf(f, "%d %lld %d", &k, &id, &c) == 3) {
            if (k < 0 || k >= RACE_KEYS) {
                bad++;
                continue;
            }
            if (key_id[k] == 0)
                key_id[k] = id;
            else if (key_id[k] != id)
                bad++;   /* two ids for one key */
            created_per_key[k] += c;
        }
        if (f)
            fclose(f);
        int ws = 0;
        while (waitpid(pids[i], &ws, 0) < 0 && errno == EINTR)
            ;
        CHECK_MSG(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child %d failed (status %d)", i, ws);
    }
    CHECK_I64(0, bad);
    for (int k = 0; k < RACE_KEYS; k++) {
        CHECK_MSG(created_per_key[k] == 1, "key-%d created %d times", k, created_per_key[k]);
        CHECK(key_id[k] != 0);
    }
    CHECK_OK(pgqrs_message_list(&b, store, "q", 0, 10000), store);
    size_t n = pgqrs_batch_count(b);
    bool ok = n == RACE_KEYS;
    for (size_t i = 0; ok && i < n; i++) {
        const pgqrs_message *m = pgqrs_batch_at(b, i);
        int k = -1;
        ok = m->unique_key && sscanf(m->unique_key, "key-%d", &k) == 1 && k >= 0 && k < RACE_KEYS &&
             key_id[k] == m->id;
    }
    pgqrs_batch_free(b);
    CHECK_MSG(ok, "%zu live rows, want exactly one per key (%d), each the id every producer got", n, RACE_KEYS);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "priority__order_fifo_and_negative", test_priority__order_fifo_and_negative },
        { "priority__plain_enqueue_is_priority_zero", test_priority__plain_enqueue_is_priority_zero },
        { "priority__delayed_high_waits_until_visible", test_priority__delayed_high_waits_until_visible },
        { "priority__fifo_by_visibility_within_a_priority", test_priority__fifo_by_visibility_within_a_priority },
        { "priority__batch_claim_takes_the_top", test_priority__batch_claim_takes_the_top },
        { "unique__created_then_existing", test_unique__created_then_existing },
        { "unique__key_free_after_archive", test_unique__key_free_after_archive },
        { "unique__per_queue", test_unique__per_queue },
        { "unique__eight_processes_race", test_unique__eight_processes_race },
        { "batch__priorities_without_keys", test_batch__priorities_without_keys },
        { "batch__unique_keys", test_batch__unique_keys },
        { "badinput__change_nothing", test_badinput__change_nothing },
    };
    int rc = th_main(argc, argv, "test_jobs_claim", tests, sizeof tests / sizeof *tests);
    teardown();
    return rc;
}
