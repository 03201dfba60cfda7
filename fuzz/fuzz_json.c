/* fuzz_json.c: libFuzzer target for the JSON payload path: pgqrs_enqueue on one
 * sqlite::memory: store (created once). Checks, besides ASan/UBSan: the library
 * accepts exactly what jansson accepts as a JSON value (PGQRS_OK or PGQRS_EINVAL,
 * never anything else), and an accepted payload comes back from the dequeue equal
 * as JSON; it is then archived, so the database stays small. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgqrs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pgqrs_store *store;
static pgqrs_producer *prod;
static pgqrs_consumer *cons;

static void setup(void)
{
    pgqrs_connect_options o = PGQRS_CONNECT_OPTIONS_INIT;
    o.heartbeat_interval_s = -1;
    if (pgqrs_connect(&store, "sqlite::memory:", &o) != PGQRS_OK || pgqrs_schema_install(store) != PGQRS_OK ||
        pgqrs_queue_create(NULL, store, "fuzz", NULL) != PGQRS_OK ||
        pgqrs_producer_new(&prod, store, "fuzz") != PGQRS_OK || pgqrs_consumer_new(&cons, store, "fuzz") != PGQRS_OK) {
        fprintf(stderr, "fuzz_json setup failed: %s\n", pgqrs_errmsg(store));
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    json_error_t e;
    json_t *want;
    pgqrs_status st;
    int64_t id = 0;
    if (!store)
        setup();
    if (size > 65536)
        return 0;
    s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    want = json_loads(s, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &e);
    st = pgqrs_enqueue(&id, prod, s, 0);
    if (st != (want ? PGQRS_OK : PGQRS_EINVAL)) {
        fprintf(stderr, "enqueue('%s'): status %d, jansson %s: %s\n", s, (int)st, want ? "accepts" : "rejects",
                pgqrs_errmsg(prod));
        abort();
    }
    if (st == PGQRS_OK) {
        pgqrs_batch *b = NULL;
        json_t *got;
        if (pgqrs_dequeue(&b, cons, 1, 30) != PGQRS_OK || pgqrs_batch_count(b) != 1 || pgqrs_batch_at(b, 0)->id != id) {
            fprintf(stderr, "dequeue after enqueue('%s') failed: %s\n", s, pgqrs_errmsg(cons));
            abort();
        }
        got = json_loads(pgqrs_batch_at(b, 0)->payload, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &e);
        if (!got || !json_equal(got, want)) {
            fprintf(stderr, "payload changed: sent '%s' got '%s'\n", s, pgqrs_batch_at(b, 0)->payload);
            abort();
        }
        json_decref(got);
        pgqrs_batch_free(b);
        if (pgqrs_archive(cons, id) != PGQRS_OK)
            abort();
    }
    json_decref(want);
    free(s);
    return 0;
}
