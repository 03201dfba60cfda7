/* encode.h: array parameters bound as one value, never spliced into SQL text.
 * JSON arrays feed json_each() on SQLite and jsonb_array_elements() on PostgreSQL;
 * PostgreSQL array literals feed = ANY($n). An empty input gives "[]" / "{}". */
#ifndef PGQRS_ENCODE_H
#define PGQRS_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "drivers/conn.h"

pgqrs_status pgqrs__enc_i64_array(pgqrs_conn *c, pgqrs_buf *out, const int64_t *v, size_t n);
/* Each element must already be valid JSON text (the producer validates payloads). */
pgqrs_status pgqrs__enc_json_array(pgqrs_conn *c, pgqrs_buf *out, const char *const *v, size_t n);
pgqrs_status pgqrs__enc_i64_pgarray(pgqrs_conn *c, pgqrs_buf *out, const int64_t *v, size_t n);

#endif
