/* test_integrity.c: the guarantees the hot-path foreign keys used to give,
 * kept without them on PostgreSQL (migration 0003) and by them on SQLite and
 * Turso, checked on every backend the same way: pgqrs_schema_verify reports any
 * message or archived message naming a missing queue or worker.
 *   - a worker that holds messages is never deleted; once its messages are back,
 *     it is, and nothing is lost;
 *   - a queue deleted with live and archived messages leaves nothing behind;
 *   - producers racing a queue delete, consumers racing a worker purge, and
 *     archives racing a zombie reclaim leave no orphan and lose no message.
 * The races run threads with their own stores (own connections). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

const char *th_errmsg(const void *h) { return pgqrs_errmsg(h); }

static const int64_t T0 = INT64_C(1900000000000000);
#define SEC INT64_C(1000000)

static pgqrs_store *open_store(const char *dsn)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    pgqrs_store *s = NULL;
    o.heartbeat_interval_s = -1;
    o.busy_timeout_ms = 20000;
    if (pgqrs_connect(&s, dsn, &o) != PGQRS_OK)
        fprintf(stderr, "connect: %s\n", pgqrs_errmsg(NULL));
    return s;
}

static int64_t pending(pgqrs_store *s, const char *q)
{
    pgqrs_metrics *m = NULL;
    int64_t n = -1;
    if (pgqrs_metrics_list(&m, s, q) == PGQRS_OK && pgqrs_metrics_count(m) == 1)
        n = pgqrs_metrics_at(m, 0)->pending;
    pgqrs_metrics_free(m);
    return n;
}

static void test_integrity__worker_holding_messages_is_not_purged(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_producer *p = NULL;
    pgqrs_consumer *c = NULL;
    pgqrs_batch *b = NULL;
    pgqrs_worker_info *w = NULL;
    const char *payloads[3] = { "1", "2", "3" };
    int64_t n = -1, wid;
    CHECK(s);
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    pgqrs_store_set_time(s, T0);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    CHECK_OK(pgqrs_enqueue_batch(NULL, p, payloads, 3, 0), p);
    CHECK_OK(pgqrs_consumer_new(&c, s, "q"), s);
    wid = pgqrs_consumer_worker_id(c);
    CHECK_OK(pgqrs_dequeue(&b, c, 2, 600), c);
    CHECK_I64(2, pgqrs_batch_count(b));
    pgqrs_batch_free(b);
    /* silent for an hour and holding two messages: not purged */
    pgqrs_store_set_time(s, T0 + 3600 * SEC);
    CHECK_OK(pgqrs_worker_purge_stale(&n, s, 60), s);
    CHECK_OK(pgqrs_worker_get(&w, s, wid), s);
    pgqrs_worker_info_free(w);
    w = NULL;
    CHECK_OK(pgqrs_schema_verify(s), s);
    /* reclaimed: its messages are pending again, and it can go */
    CHECK_OK(pgqrs_worker_reclaim_zombies(&n, s, 60), s);
    CHECK_I64(3, pending(s, "q"));
    CHECK_OK(pgqrs_worker_purge_stale(&n, s, 60), s);
    CHECK_MSG(n >= 1, "purged %lld", (long long)n);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_worker_get(&w, s, wid), s);
    CHECK_OK(pgqrs_schema_verify(s), s);
    CHECK_I64(3, pending(s, "q"));
    pgqrs_consumer_free(c);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

static void test_integrity__queue_delete_takes_everything(void)
{
    pgqrs_store *s = open_store(th_fresh_dsn());
    pgqrs_producer *p = NULL;
    pgqrs_consumer *c = NULL;
    pgqrs_batch *b = NULL;
    pgqrs_queue_info *q = NULL;
    pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
    const char *payloads[4] = { "1", "2", "3", "4" };
    int64_t n = 0, first = 0;
    CHECK(s);
    CHECK_OK(pgqrs_schema_install(s), s);
    qo.max_attempts = 1;
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", &qo), s);
    pgqrs_store_set_time(s, T0);
    CHECK_OK(pgqrs_producer_new(&p, s, "q"), s);
    CHECK_OK(pgqrs_enqueue_batch(NULL, p, payloads, 4, 0), p);
    CHECK_OK(pgqrs_consumer_new(&c, s, "q"), s);
    CHECK_OK(pgqrs_dequeue(&b, c, 2, 5), c);
    first = pgqrs_batch_at(b, 0)->id;
    CHECK_OK(pgqrs_archive(c, first), c);   /* one archived, one held (becomes a dead letter) */
    pgqrs_batch_free(b);
    pgqrs_store_set_time(s, T0 + 10 * SEC);
    CHECK_OK(pgqrs_dequeue(&b, c, 3, 5), c);   /* the expired one dead-letters (a short claim); two more are held */
    pgqrs_batch_free(b);
    CHECK_OK(pgqrs_dlq_count(&n, s, "q"), s);
    CHECK_I64(1, n);
    CHECK_ST(PGQRS_ESTATE, pgqrs_queue_delete(s, "q", 0), s);   /* live messages: refused */
    CHECK_OK(pgqrs_queue_delete(s, "q", 1), s);
    CHECK_OK(pgqrs_schema_verify(s), s);
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_queue_get(&q, s, "q"), s);
    /* the old handles find the queue gone; a new queue of the same name is empty */
    CHECK_ST(PGQRS_ENOTFOUND, pgqrs_enqueue(NULL, p, "5", 0), p);
    CHECK_OK(pgqrs_schema_verify(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "q", NULL), s);
    CHECK_I64(0, pending(s, "q"));
    CHECK_OK(pgqrs_dlq_count(&n, s, "q"), s);
    CHECK_I64(0, n);
    pgqrs_consumer_free(c);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

/* ---- races ---- */

typedef struct {
    const char *dsn;
    atomic_int *stop;
    int64_t ok, gone, busy, other;
    char err[256];
} racer;

/* SQLite's write lock is not fair: under valgrind (every thread about 50 times
 * slower, scheduled one at a time) a writer can wait past busy_timeout_ms while
 * the others take the lock in turn. That is the documented PGQRS_EBUSY, not a
 * loss; the checks here are about what is left in the tables. */
static int contended(pgqrs_status st)
{
    return st == PGQRS_EBUSY && !th_is_postgres();
}

/* Under valgrind the racers pause 2 ms after each call: SQLite's lock is taken
 * by whoever asks first, and with every thread run one at a time the racers
 * would otherwise starve the main thread's deletes, reclaims and purges for up
 * to busy_timeout_ms each (minutes per test). Natively they never pause. */
static void racer_pause(void)
{
    if (th_under_valgrind())
        usleep(2000);
}

static void *produce_main(void *arg)
{
    racer *r = arg;
    pgqrs_store *s = open_store(r->dsn);
    while (s && !atomic_load(r->stop)) {
        pgqrs_producer *p = NULL;
        pgqrs_status st = pgqrs_producer_new(&p, s, "race");
        for (int i = 0; st == PGQRS_OK && i < 50 && !atomic_load(r->stop); i++) {
            const char *two[2] = { "{\"a\":1}", "{\"a\":2}" };
            st = i % 2 ? pgqrs_enqueue(NULL, p, "{\"a\":0}", 0) : pgqrs_enqueue_batch(NULL, p, two, 2, 0);
            if (st == PGQRS_OK)
                r->ok++;
            racer_pause();
        }
        if (st == PGQRS_ENOTFOUND) {
            r->gone++;   /* the queue is between a delete and the next create */
            racer_pause();
        }
        else if (contended(st))
            r->busy++;
        else if (st != PGQRS_OK && r->other++ == 0)
            snprintf(r->err, sizeof r->err, "%s", p ? pgqrs_errmsg(p) : pgqrs_errmsg(s));
        pgqrs_producer_free(p);
    }
    pgqrs_store_free(s);
    return NULL;
}

static void test_integrity__producers_racing_queue_delete(void)
{
    enum { PRODUCERS = 3 };
    const int ROUNDS = th_under_valgrind() ? 6 : 25;
    pthread_t t[PRODUCERS];
    racer r[PRODUCERS];
    atomic_int stop = 0;
    char failed[512] = "";
    pgqrs_store *s;
    int64_t total = 0;
    if (th_is_memory())
        SKIP("sqlite::memory: is private to one connection: no two stores can race on it");
    CHECK((s = open_store(th_fresh_dsn())));
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "race", NULL), s);
    /* PostgreSQL: every enqueue takes 10 ms more (a test trigger), so enqueues
     * are in flight while the queue is deleted; without the delete's lock on
     * pgqrs_messages this leaves messages naming the deleted queue */
    if (th_is_postgres() && !th_is_pgbouncer())
        CHECK(th_pg_exec("CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS "
                         "$$ BEGIN PERFORM pg_sleep(0.01); RETURN NULL; END $$; "
                         "CREATE TRIGGER slow_insert AFTER INSERT ON pgqrs_messages "
                         "FOR EACH STATEMENT EXECUTE FUNCTION slow_insert()"));
    memset(r, 0, sizeof r);
    for (int i = 0; i < PRODUCERS; i++) {
        r[i].dsn = th_current_dsn();
        r[i].stop = &stop;
        pthread_create(&t[i], NULL, produce_main, &r[i]);
    }
    /* a failure in this loop is reported after the producers are joined: they
     * read this function's stack */
    for (int round = 0; round < ROUNDS && !failed[0]; round++) {
        pgqrs_queue_options qo = PGQRS_QUEUE_OPTIONS_INIT;
        pgqrs_status st;
        usleep(20000);
        st = pgqrs_queue_delete(s, "race", 1);
        if (st != PGQRS_OK && st != PGQRS_EBUSY) {
            snprintf(failed, sizeof failed, "delete round %d: %s", round, pgqrs_errmsg(s));
            break;
        }
        qo.exist_ok = 1;
        for (int tries = 0; tries == 0 || (contended(st) && tries < 5); tries++)
            st = pgqrs_queue_create(NULL, s, "race", &qo);
        if (st != PGQRS_OK)
            snprintf(failed, sizeof failed, "create round %d: %s", round, pgqrs_errmsg(s));
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    CHECK_MSG(!failed[0], "%s", failed);
    for (int i = 0; i < PRODUCERS; i++) {
        CHECK_MSG(r[i].other == 0, "producer %d: %lld unexpected failures, first: %s", i, (long long)r[i].other, r[i].err);
        total += r[i].ok;
    }
    CHECK_MSG(total > 0, "no enqueue succeeded");
    CHECK_OK(pgqrs_schema_verify(s), s);
    pgqrs_store_free(s);
}

static void *consume_main(void *arg)
{
    racer *r = arg;
    pgqrs_store *s = open_store(r->dsn);
    while (s && !atomic_load(r->stop)) {
        pgqrs_consumer *c = NULL;
        pgqrs_status st = pgqrs_consumer_new(&c, s, "race");
        for (int i = 0; st == PGQRS_OK && i < 20 && !atomic_load(r->stop); i++) {
            pgqrs_batch *b = NULL;
            st = pgqrs_dequeue(&b, c, 5, 1);
            if (st == PGQRS_OK && pgqrs_batch_count(b) > 0) {
                int64_t ids[5];
                size_t n = pgqrs_batch_count(b);
                for (size_t k = 0; k < n; k++)
                    ids[k] = pgqrs_batch_at(b, k)->id;
                /* half are archived, half left to expire or be reclaimed */
                if (i % 2 == 0)
                    st = pgqrs_archive_batch(NULL, c, ids, n);
                if (st == PGQRS_ENOTOWNED || st == PGQRS_ENOTFOUND)
                    st = PGQRS_OK;   /* reclaimed meanwhile and taken by another */
                r->ok += (int64_t)n;
            }
            pgqrs_batch_free(b);
            racer_pause();
        }
        if (st == PGQRS_ESTATE)
            r->gone++;   /* this consumer's worker was reclaimed or purged */
        else if (contended(st))
            r->busy++;
        else if (st != PGQRS_OK && r->other++ == 0)
            snprintf(r->err, sizeof r->err, "%s", c ? pgqrs_errmsg(c) : pgqrs_errmsg(s));
        pgqrs_consumer_free(c);
    }
    pgqrs_store_free(s);
    return NULL;
}

static void test_integrity__consumers_racing_reclaim_and_purge(void)
{
    enum { CONSUMERS = 3, MESSAGES = 3000 };
    /* under valgrind a round can wait for SQLite's write lock up to busy_timeout_ms */
    const int ROUNDS = th_under_valgrind() ? 8 : 60;
    pthread_t t[CONSUMERS];
    racer r[CONSUMERS];
    atomic_int stop = 0;
    char failed[512] = "";
    pgqrs_store *s;
    pgqrs_producer *p = NULL;
    pgqrs_metrics *m = NULL;
    int64_t n;
    if (th_is_memory())
        SKIP("sqlite::memory: is private to one connection: no two stores can race on it");
    CHECK((s = open_store(th_fresh_dsn())));
    CHECK_OK(pgqrs_schema_install(s), s);
    CHECK_OK(pgqrs_queue_create(NULL, s, "race", NULL), s);
    CHECK_OK(pgqrs_producer_new(&p, s, "race"), s);
    for (int i = 0; i < MESSAGES; i++)
        CHECK_OK(pgqrs_enqueue(NULL, p, "{}", 0), p);
    /* PostgreSQL: every message a claim takes costs it 4 ms more (a test
     * trigger; a release, which clears the consumer, does not), so claims are in
     * flight while their worker is reclaimed and purged; without the purge's lock
     * on pgqrs_messages this leaves claimed messages naming deleted workers */
    if (th_is_postgres() && !th_is_pgbouncer())
        CHECK(th_pg_exec("CREATE FUNCTION slow_claim() RETURNS trigger LANGUAGE plpgsql AS "
                         "$$ BEGIN PERFORM pg_sleep(0.004); RETURN NEW; END $$; "
                         "CREATE TRIGGER slow_claim BEFORE UPDATE OF consumer_worker_id ON pgqrs_messages "
                         "FOR EACH ROW WHEN (NEW.consumer_worker_id IS NOT NULL) EXECUTE FUNCTION slow_claim()"));
    memset(r, 0, sizeof r);
    for (int i = 0; i < CONSUMERS; i++) {
        r[i].dsn = th_current_dsn();
        r[i].stop = &stop;
        pthread_create(&t[i], NULL, consume_main, &r[i]);
    }
    /* this store's clock runs an hour ahead: every worker the consumers register
     * counts as silent, so each round stops them and releases their messages
     * while they claim and archive, then purges them */
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        pgqrs_store_set_time(s, (int64_t)ts.tv_sec * SEC + 3600 * SEC);
    }
    /* a failure in this loop is reported after the consumers are joined: they
     * read this function's stack */
    for (int round = 0; round < ROUNDS && !failed[0]; round++) {
        pgqrs_status st;
        usleep(10000);
        st = pgqrs_worker_reclaim_zombies(&n, s, 60);
        if (st != PGQRS_OK && !contended(st)) {
            snprintf(failed, sizeof failed, "reclaim round %d: %s", round, pgqrs_errmsg(s));
            break;
        }
        st = pgqrs_worker_purge_stale(&n, s, 60);
        if (st != PGQRS_OK && st != PGQRS_EBUSY) {
            snprintf(failed, sizeof failed, "purge round %d: %s", round, pgqrs_errmsg(s));
            break;
        }
        /* while the consumers run: an orphan would be healed when its consumer
         * is freed (it releases what it holds), so look for it now */
        for (int tries = 0; tries == 0 || (contended(st) && tries < 5); tries++)
            st = pgqrs_schema_verify(s);
        if (st != PGQRS_OK)
            snprintf(failed, sizeof failed, "round %d: %s", round, pgqrs_errmsg(s));
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(t[i], NULL);
    CHECK_MSG(!failed[0], "%s", failed);
    for (int i = 0; i < CONSUMERS; i++) {
        CHECK_MSG(r[i].other == 0, "consumer %d: %lld unexpected failures, first: %s", i, (long long)r[i].other, r[i].err);
    }
    CHECK_OK(pgqrs_schema_verify(s), s);
    /* nothing lost: every message is live or archived, exactly once */
    CHECK_OK(pgqrs_metrics_list(&m, s, "race"), s);
    n = pgqrs_metrics_at(m, 0)->pending + pgqrs_metrics_at(m, 0)->in_flight + pgqrs_metrics_at(m, 0)->delayed +
        pgqrs_metrics_at(m, 0)->archived + pgqrs_metrics_at(m, 0)->dead_lettered;
    pgqrs_metrics_free(m);
    CHECK_I64(MESSAGES, n);
    pgqrs_producer_free(p);
    pgqrs_store_free(s);
}

int main(int argc, char **argv)
{
    static const th_test tests[] = {
        { "integrity__worker_holding_messages_is_not_purged", test_integrity__worker_holding_messages_is_not_purged },
        { "integrity__queue_delete_takes_everything", test_integrity__queue_delete_takes_everything },
        { "integrity__producers_racing_queue_delete", test_integrity__producers_racing_queue_delete },
        { "integrity__consumers_racing_reclaim_and_purge", test_integrity__consumers_racing_reclaim_and_purge },
    };
    return th_main(argc, argv, "test_integrity", tests, sizeof tests / sizeof *tests);
}
