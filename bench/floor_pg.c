/* bench/floor_pg.c: the PostgreSQL floor of the drain scenario: the minimal
 * prepared statements of a visibility-timeout queue on libpq, nothing else.
 *   floor_pg drain CONNINFO SCHEMA CONSUMERS BATCH MESSAGES TMPDIR
 *   floor_pg fill  CONNINFO SCHEMA MESSAGES   (the schema and the backlog only, for EXPLAIN)
 *   floor_pg sql   claim|archive SCHEMA       (prints the statement, for EXPLAIN)
 *
 * SCHEMA is dropped and created (a fresh one per cell, like pgqrs_bench's
 * ?schema=). One producer connection fills the backlog first (1,000 messages
 * per INSERT, payloads as pgqrs_bench's); then CONSUMERS processes, each its own
 * connection with its statements prepared once (PQprepare), loop over
 *   claim:   UPDATE q SET vt = now() + 30 s, read_ct = read_ct + 1
 *            WHERE id = ANY(ARRAY(SELECT id FROM q WHERE vt <= now() ORDER BY vt, id
 *                                 LIMIT $1 FOR UPDATE SKIP LOCKED)) RETURNING ...
 *   archive: WITH d AS (DELETE FROM q WHERE id = ANY($1) RETURNING ...)
 *            INSERT INTO a SELECT ... FROM d
 * each in autocommit (its own transaction: two commits per batch, like
 * pgqrs_dequeue + pgqrs_archive_batch), until the queue is empty.
 *
 * Schema: the queue table has the one index the claim needs, (vt, id) (a range
 * scan in claim order that stops after LIMIT rows), plus its primary key: the
 * archive's DELETE finds its B rows by id, and without an index on id that is a
 * sequential scan of the whole backlog per batch (the claim's outer UPDATE joins
 * its subquery back by id through the same key). No foreign key, no trigger; the
 * archive table has no index at all.
 *
 * The claim is `id = ANY(ARRAY(subquery))` rather than `id IN (subquery)`: the same
 * rows, but the plan cannot flip. With `IN`, the generic plan of the prepared
 * statement (the planner cannot see LIMIT $1) is a hash semi join over a
 * sequential scan of the whole backlog per claim as soon as it guesses the LIMIT
 * large relative to the table: measured on PostgreSQL 15 with 2,000 rows and no
 * statistics, and with 50,000 rows once analyzed (autovacuum analyzes). `=
 * ANY(ARRAY(...))` is an InitPlan plus one primary-key probe per claimed id,
 * whatever the statistics say.
 *
 * Timing runs from the moment every consumer is connected and prepared until the
 * last archive returns. Prints one JSON line, the shape of pgqrs_bench drain.
 * BENCH_AFTER_PREFILL, when set, is run with system() after the prefill and
 * before the consumers connect (bench/profile.sh resets statistics there). */
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "common.h"

typedef struct { double end_us; long done; long errors; } child_result;

static PGconn *conn(const char *ci)
{
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) { fprintf(stderr, "connect: %s", PQerrorMessage(c)); _exit(2); }
    return c;
}
static void check(PGconn *c, PGresult *r, const char *what)
{
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) { fprintf(stderr, "%s: %s", what, PQerrorMessage(c)); _exit(2); }
}
static void exec1(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    check(c, r, sql);
    PQclear(r);
}
static void prepare(PGconn *c, const char *name, const char *sql)
{
    PGresult *r = PQprepare(c, name, sql, 0, NULL);
    check(c, r, name);
    PQclear(r);
}

static char schema[64];

static void setup(const char *ci, long messages)
{
    PGconn *c = conn(ci);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s;"
             "CREATE TABLE %s.q (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload jsonb NOT NULL,"
             " vt timestamptz NOT NULL DEFAULT now(), read_ct integer NOT NULL DEFAULT 0);"
             "CREATE INDEX q_vt_id_idx ON %s.q (vt, id);"
             "CREATE TABLE %s.a (id bigint NOT NULL, payload jsonb NOT NULL, read_ct integer NOT NULL,"
             " archived_at timestamptz NOT NULL);",
             schema, schema, schema, schema, schema);
    exec1(c, sql);
    snprintf(sql, sizeof sql, "INSERT INTO %s.q (payload) SELECT value FROM jsonb_array_elements($1::jsonb)", schema);
    prepare(c, "fill", sql);
    enum { CHUNK = 1000 };
    char *buf = malloc(CHUNK * 48 + 16);
    for (long i = 0; i < messages;) {
        size_t len = 0;
        buf[len++] = '[';
        for (long k = 0; k < CHUNK && i < messages; k++, i++)
            len += (size_t)sprintf(buf + len, "%s{\"task\":\"send_email\",\"n\":%ld}", k ? "," : "", i);
        buf[len++] = ']';
        buf[len] = 0;
        const char *v[1] = { buf };
        PGresult *r = PQexecPrepared(c, "fill", 1, v, NULL, NULL, 0);
        check(c, r, "prefill");
        PQclear(r);
    }
    free(buf);
    PQfinish(c);
}

static int64_t be64(const char *p)
{
    uint32_t hi, lo;
    memcpy(&hi, p, 4);
    memcpy(&lo, p + 4, 4);
    return (int64_t)((uint64_t)ntohl(hi) << 32 | ntohl(lo));
}

/* the two statements: $1 batch size, $2 visibility timeout in ms; $1 the ids */
static void claim_sql(char *sql, size_t len)
{
    snprintf(sql, len,
             "UPDATE %s.q SET vt = now() + $2::bigint * interval '1 millisecond', read_ct = read_ct + 1"
             " WHERE id = ANY(ARRAY(SELECT id FROM %s.q WHERE vt <= now() ORDER BY vt, id LIMIT $1 FOR UPDATE SKIP LOCKED))"
             " RETURNING id, payload, vt, read_ct",
             schema, schema);
}
static void archive_sql(char *sql, size_t len)
{
    snprintf(sql, len,
             "WITH d AS (DELETE FROM %s.q WHERE id = ANY($1::bigint[]) RETURNING id, payload, read_ct)"
             " INSERT INTO %s.a (id, payload, read_ct, archived_at) SELECT id, payload, read_ct, now() FROM d",
             schema, schema);
}

static void consumer(const char *ci, int batch, const char *tmp, barrier *b, int ready_fd, int res_fd)
{
    PGconn *c = conn(ci);
    char sql[1024];
    /* planned once, like prepared once: without this PostgreSQL re-plans the claim
     * on every execution, since its generic plan (LIMIT $1 unknown) costs more than
     * the custom plans of the first five */
    exec1(c, "SET plan_cache_mode = force_generic_plan");
    claim_sql(sql, sizeof sql);
    prepare(c, "claim", sql);
    archive_sql(sql, sizeof sql);
    prepare(c, "archive", sql);
    samples dq = {0}, ar = {0};
    child_result r = {0};
    char nb[16];
    snprintf(nb, sizeof nb, "%d", batch);
    char *ids = malloc((size_t)batch * 24 + 4);
    if (write(ready_fd, "r", 1) != 1) _exit(2);
    barrier_wait_child(b);
    int empty_in_row = 0;
    for (;;) {
        const char *cv[2] = { nb, "30000" };
        double t0 = now_us();
        PGresult *res = PQexecPrepared(c, "claim", 2, cv, NULL, NULL, 1);
        double t1 = now_us();
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "claim: %s", PQerrorMessage(c));
            PQclear(res);
            if (++r.errors > 100) break;
            continue;
        }
        samples_add(&dq, t1 - t0);
        int n = PQntuples(res);
        if (n == 0) {
            PQclear(res);
            /* SKIP LOCKED may pass over rows another consumer is claiming right
             * now: look twice before leaving, as pgqrs_bench does */
            if (++empty_in_row >= 2) break;
            usleep(2000);
            continue;
        }
        empty_in_row = 0;
        size_t len = 0;
        ids[len++] = '{';
        for (int i = 0; i < n; i++)
            len += (size_t)sprintf(ids + len, "%s%lld", i ? "," : "", (long long)be64(PQgetvalue(res, i, 0)));
        ids[len++] = '}';
        ids[len] = 0;
        PQclear(res);
        const char *av[1] = { ids };
        t0 = now_us();
        res = PQexecPrepared(c, "archive", 1, av, NULL, NULL, 1);
        t1 = now_us();
        if (PQresultStatus(res) != PGRES_COMMAND_OK || atoi(PQcmdTuples(res)) != n) {
            fprintf(stderr, "archive: %s", PQerrorMessage(c));
            r.errors++;
        } else
            r.done += n;
        PQclear(res);
        samples_add(&ar, t1 - t0);
        r.end_us = t1;
    }
    samples_save(&dq, tmp, "dequeue");
    samples_save(&ar, tmp, "archive");
    PQfinish(c);
    if (write(res_fd, &r, sizeof r) != sizeof r) _exit(2);
    _exit(0);
}

static int cmd_drain(const char *ci, int consumers, int batch, long messages, const char *tmp)
{
    double p0 = now_us();
    setup(ci, messages);
    double prefill_s = (now_us() - p0) / 1e6;
    const char *hook = getenv("BENCH_AFTER_PREFILL");
    if (hook && *hook && system(hook) != 0) { fprintf(stderr, "BENCH_AFTER_PREFILL failed\n"); return 2; }
    barrier b;
    barrier_init(&b);
    int ready[2], res[2];
    if (pipe(ready) || pipe(res)) { perror("pipe"); return 2; }
    for (int k = 0; k < consumers; k++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 2; }
        if (pid == 0) { close(ready[0]); close(res[0]); consumer(ci, batch, tmp, &b, ready[1], res[1]); }
    }
    close(ready[1]);
    close(res[1]);
    close(b.rd);
    ready_wait(ready[0], consumers);
    double start = now_us();
    close(b.wr);   /* go */
    double end = 0;
    long done = 0, errors = 0;
    child_result r;
    for (int i = 0; i < consumers; i++) {
        if (read(res[0], &r, sizeof r) != sizeof r) { errors++; continue; }
        if (r.end_us > end) end = r.end_us;
        done += r.done;
        errors += r.errors;
    }
    errors += wait_children(consumers);
    double secs = (end - start) / 1e6;
    samples dq = {0}, ar = {0};
    samples_load(&dq, tmp, "dequeue");
    samples_load(&ar, tmp, "archive");
    printf("{\"messages\":%ld,\"drained\":%ld,\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"prefill_s\":%.2f,\"errors\":%ld", messages,
           done, secs, done / secs, prefill_s, errors + (done != messages));
    print_lat(stdout, "dequeue", &dq);
    print_lat(stdout, "archive", &ar);
    printf("}\n");
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc == 4 && !strcmp(argv[1], "sql")) {
        char sql[1024];
        snprintf(schema, sizeof schema, "%s", argv[3]);
        if (!strcmp(argv[2], "claim")) claim_sql(sql, sizeof sql);
        else archive_sql(sql, sizeof sql);
        puts(sql);
        return 0;
    }
    int fill = argc == 5 && !strcmp(argv[1], "fill");
    if (!fill && (argc != 8 || strcmp(argv[1], "drain"))) {
        fprintf(stderr, "usage: floor_pg drain CONNINFO SCHEMA CONSUMERS BATCH MESSAGES TMPDIR\n"
                        "       floor_pg fill CONNINFO SCHEMA MESSAGES\n       floor_pg sql claim|archive SCHEMA\n");
        return 2;
    }
    const char *s = argv[3];
    if (!*s || strlen(s) >= sizeof schema || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(s)) {
        fprintf(stderr, "floor_pg: SCHEMA must be a lower-case identifier\n");
        return 2;
    }
    snprintf(schema, sizeof schema, "%s", s);
    if (fill) {
        setup(argv[2], atol(argv[4]));
        return 0;
    }
    return cmd_drain(argv[2], atoi(argv[4]), atoi(argv[5]), atol(argv[6]), argv[7]);
}
