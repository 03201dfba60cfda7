/* bench/pgq_bench.c: PgQ (Skytools, Debian postgresql-15-pgq3) driven through its
 * SQL API from C via libpq, the same scenarios as pgqrs_bench.
 *   pgq_bench drain   CONNINFO CONSUMERS BATCH MESSAGES TAG TMPDIR
 *   pgq_bench enqueue CONNINFO PRODUCERS BATCH MESSAGES TAG TMPDIR
 * (TAG names the queues, e.g. d_1_10.)
 * Mapping (PgQ is batch/event oriented and every consumer sees every event):
 *  - batch B: the queue's ticker_max_count is B and the prefill ticks after every
 *    B events (pgq.ticker), so each pgq.next_batch returns exactly B events;
 *  - C consumers: PgQ has no competing consumers in the core extension (pgq_coop
 *    is not packaged), so C consumers = C queues of MESSAGES/C events each, one
 *    consumer process per queue (PgQ scales by partitioning);
 *  - dequeue = pgq.next_batch + pgq.get_batch_events, archive = pgq.finish_batch,
 *    each in autocommit (two commits per batch, as pgqrs dequeue + archive).
 * If BENCH_PGQD_CONF is set, pgqd (the ticker/maintenance daemon) runs during the
 * drain (not during the prefill: concurrent pgq.ticker calls are unsafe). */
#include <signal.h>
#include <libpq-fe.h>
#include "common.h"

typedef struct { double end_us; long done; long errors; } child_result;

static PGconn *conn(const char *ci)
{
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) { fprintf(stderr, "connect: %s", PQerrorMessage(c)); _exit(2); }
    return c;
}
static PGresult *ok(PGconn *c, PGresult *r, const char *what)
{
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) { fprintf(stderr, "%s: %s", what, PQerrorMessage(c)); _exit(2); }
    return r;
}
static void exec1(PGconn *c, const char *sql) { PQclear(ok(c, PQexec(c, sql), sql)); }

/* payloads as a text[] literal: {"{\"task\":\"send_email\",\"n\":1}",...} */
static char *payload_array(long from, long n)
{
    size_t cap = (size_t)n * 48 + 16, len = 0;
    char *s = malloc(cap);
    s[len++] = '{';
    for (long i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s\"{\\\"task\\\":\\\"send_email\\\",\\\"n\\\":%ld}\"", i ? "," : "", from + i);
    s[len++] = '}';
    s[len] = 0;
    return s;
}
static void prepare_insert(PGconn *c)
{
    PQclear(ok(c, PQprepare(c, "ins", "SELECT pgq.insert_event($1, 'send_email', d) FROM unnest($2::text[]) d", 2, NULL), "prepare"));
    PQclear(ok(c, PQprepare(c, "ins1", "SELECT pgq.insert_event($1, 'send_email', $2)", 2, NULL), "prepare"));
}
static PGresult *insert(PGconn *c, const char *q, long from, long n)
{
    if (n == 1) {
        char buf[64];
        snprintf(buf, sizeof buf, "{\"task\":\"send_email\",\"n\":%ld}", from);
        const char *v[2] = { q, buf };
        return PQexecPrepared(c, "ins1", 2, v, NULL, NULL, 0);
    }
    char *arr = payload_array(from, n);
    const char *v[2] = { q, arr };
    PGresult *r = PQexecPrepared(c, "ins", 2, v, NULL, NULL, 0);
    free(arr);
    return r;
}

static void create_queue(PGconn *c, const char *q, int max_count)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT pgq.create_queue('%s'); SELECT pgq.set_queue_config('%s','ticker_max_count','%d');"
             "SELECT pgq.set_queue_config('%s','ticker_max_lag','1 hour');"
             "SELECT pgq.set_queue_config('%s','ticker_idle_period','1 hour');"
             "SELECT pgq.register_consumer('%s','bench');",
             q, q, max_count, q, q, q);
    exec1(c, sql);
}

static void consumer_child(const char *ci, const char *q, long expect, const char *tmp, barrier *b, int ready_fd, int res_fd)
{
    PGconn *c = conn(ci);
    PQclear(ok(c, PQprepare(c, "nb", "SELECT pgq.next_batch($1, 'bench')", 1, NULL), "prepare"));
    PQclear(ok(c, PQprepare(c, "ev", "SELECT ev_id, ev_type, ev_data FROM pgq.get_batch_events($1)", 1, NULL), "prepare"));
    PQclear(ok(c, PQprepare(c, "fb", "SELECT pgq.finish_batch($1)", 1, NULL), "prepare"));
    samples dq = {0}, ar = {0};
    child_result r = {0};
    if (write(ready_fd, "r", 1) != 1) _exit(2);
    barrier_wait_child(b);
    double give_up = now_us() + 600e6;
    while (r.done < expect && now_us() < give_up) {
        const char *v[1] = { q };
        double t0 = now_us();
        PGresult *res = PQexecPrepared(c, "nb", 1, v, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) { r.errors++; fprintf(stderr, "next_batch: %s", PQerrorMessage(c)); PQclear(res); continue; }
        if (PQgetisnull(res, 0, 0)) { PQclear(res); usleep(1000); continue; }
        char bid[32];
        snprintf(bid, sizeof bid, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        const char *bv[1] = { bid };
        res = PQexecPrepared(c, "ev", 1, bv, NULL, NULL, 0);
        double t1 = now_us();
        if (PQresultStatus(res) != PGRES_TUPLES_OK) { r.errors++; fprintf(stderr, "get_batch_events: %s", PQerrorMessage(c)); }
        long n = PQntuples(res);
        PQclear(res);
        if (n) samples_add(&dq, t1 - t0);   /* empty (idle) ticks are not counted as dequeues */
        t0 = now_us();
        res = PQexecPrepared(c, "fb", 1, bv, NULL, NULL, 0);
        t1 = now_us();
        if (PQresultStatus(res) != PGRES_TUPLES_OK) { r.errors++; fprintf(stderr, "finish_batch: %s", PQerrorMessage(c)); }
        PQclear(res);
        if (n) samples_add(&ar, t1 - t0);
        r.done += n;
        r.end_us = t1;
    }
    if (r.done < expect) r.errors++;
    samples_save(&dq, tmp, "dequeue");
    samples_save(&ar, tmp, "archive");
    PQfinish(c);
    if (write(res_fd, &r, sizeof r) != sizeof r) _exit(2);
    _exit(0);
}

static void collect(int res_fd, int n, double *end, long *done, long *errors)
{
    child_result r;
    *end = 0; *done = 0; *errors = 0;
    for (int i = 0; i < n; i++) {
        if (read(res_fd, &r, sizeof r) != sizeof r) { (*errors)++; continue; }
        if (r.end_us > *end) *end = r.end_us;
        *done += r.done;
        *errors += r.errors;
    }
}

static int cmd_drain(const char *ci, int consumers, int batch, long messages, const char *tmp, const char *tag)
{
    PGconn *c = conn(ci);
    exec1(c, "SET synchronous_commit = off");   /* the prefill is not measured */
    prepare_insert(c);
    char q[16][64];
    long per = messages / consumers;
    double p0 = now_us();
    for (int k = 0; k < consumers; k++) {
        snprintf(q[k], sizeof q[k], "%s_%d", tag, k);
        create_queue(c, q[k], batch);
        for (long i = 0; i < per; i += batch) {
            long n = per - i < batch ? per - i : batch;
            PQclear(ok(c, insert(c, q[k], k * per + i, n), "prefill"));
            char sql[128];
            snprintf(sql, sizeof sql, "SELECT pgq.ticker('%s')", q[k]);
            exec1(c, sql);
        }
    }
    exec1(c, "SET synchronous_commit = on");
    double prefill_s = (now_us() - p0) / 1e6;
    PQfinish(c);
    pid_t pgqd = 0;
    const char *conf = getenv("BENCH_PGQD_CONF");
    if (conf && *conf) {
        pgqd = fork();
        if (pgqd == 0) { execlp("pgqd", "pgqd", conf, (char *)NULL); _exit(127); }
        usleep(200000);
    }
    barrier b;
    barrier_init(&b);
    int ready[2], res[2];
    if (pipe(ready) || pipe(res)) { perror("pipe"); exit(2); }
    for (int k = 0; k < consumers; k++) {
        if (fork() == 0) { close(ready[0]); close(res[0]); consumer_child(ci, q[k], per, tmp, &b, ready[1], res[1]); }
    }
    close(ready[1]); close(res[1]); close(b.rd);
    ready_wait(ready[0], consumers);
    double start = now_us();
    close(b.wr);
    double end; long done, errors;
    collect(res[0], consumers, &end, &done, &errors);
    int bad = 0, st;
    for (int k = 0; k < consumers; k++) {
        if (waitpid(-1, &st, 0) < 0) break;
        if (!WIFEXITED(st) || WEXITSTATUS(st)) bad++;
    }
    if (pgqd > 0) { kill(pgqd, SIGTERM); waitpid(pgqd, NULL, 0); }
    double secs = (end - start) / 1e6;
    samples dq = {0}, ar = {0};
    samples_load(&dq, tmp, "dequeue");
    samples_load(&ar, tmp, "archive");
    printf("{\"messages\":%ld,\"drained\":%ld,\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"prefill_s\":%.2f,\"pgqd\":%s,\"errors\":%ld",
           per * consumers, done, secs, done / secs, prefill_s, pgqd > 0 ? "true" : "false", errors + bad);
    print_lat(stdout, "dequeue", &dq);
    print_lat(stdout, "archive", &ar);
    printf("}\n");
    return 0;
}

static int cmd_enqueue(const char *ci, int producers, int batch, long messages, const char *tmp, const char *tag)
{
    PGconn *c = conn(ci);
    char q[64];
    snprintf(q, sizeof q, "%s", tag);
    create_queue(c, q, 500);
    PQfinish(c);
    long per = messages / producers;
    barrier b;
    barrier_init(&b);
    int ready[2], res[2];
    if (pipe(ready) || pipe(res)) { perror("pipe"); exit(2); }
    for (int k = 0; k < producers; k++) {
        if (fork() == 0) {
            close(ready[0]); close(res[0]);
            PGconn *pc = conn(ci);
            prepare_insert(pc);
            samples lat = {0};
            child_result r = {0};
            if (write(ready[1], "r", 1) != 1) _exit(2);
            barrier_wait_child(&b);
            for (long i = 0; i < per; i += batch) {
                long n = per - i < batch ? per - i : batch;
                double t0 = now_us();
                PGresult *pr = insert(pc, q, k * per + i, n);
                double t1 = now_us();
                if (PQresultStatus(pr) != PGRES_TUPLES_OK) { r.errors++; fprintf(stderr, "insert_event: %s", PQerrorMessage(pc)); }
                else r.done += n;
                PQclear(pr);
                samples_add(&lat, t1 - t0);
                r.end_us = t1;
            }
            samples_save(&lat, tmp, "enqueue");
            PQfinish(pc);
            if (write(res[1], &r, sizeof r) != sizeof r) _exit(2);
            _exit(0);
        }
    }
    close(ready[1]); close(res[1]); close(b.rd);
    ready_wait(ready[0], producers);
    double start = now_us();
    close(b.wr);
    double end; long done, errors;
    collect(res[0], producers, &end, &done, &errors);
    int bad = wait_children(producers);
    double secs = (end - start) / 1e6;
    samples lat = {0};
    samples_load(&lat, tmp, "enqueue");
    printf("{\"messages\":%ld,\"enqueued\":%ld,\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"errors\":%ld", per * producers, done,
           secs, done / secs, errors + bad);
    print_lat(stdout, "call", &lat);
    printf("}\n");
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc == 8 && !strcmp(argv[1], "drain")) return cmd_drain(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]), argv[7], argv[6]);
    if (argc == 8 && !strcmp(argv[1], "enqueue")) return cmd_enqueue(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]), argv[7], argv[6]);
    fprintf(stderr, "usage: see the top of bench/pgq_bench.c\n");
    return 2;
}
