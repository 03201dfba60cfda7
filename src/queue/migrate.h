/* migrate.h: applies embedded migrations in order, each in its own transaction,
 * recording version and checksum; refuses a changed or unknown applied migration. */
#ifndef PGQRS_MIGRATE_H
#define PGQRS_MIGRATE_H

#include "drivers/driver.h"

/* Applies the backend's embedded migrations that are not yet recorded.
 * *applied_out (may be NULL) gets how many were applied now (0: already current).
 * PGQRS_ESTATE when a recorded checksum differs from the embedded text, or the
 * database records a version this library does not know. */
pgqrs_status pgqrs__migrate(pgqrs_conn *c, int *applied_out);
/* The same with an explicit list (tests use it to simulate an edited migration). */
pgqrs_status pgqrs__migrate_with(pgqrs_conn *c, const pgqrs__migration *m, size_t n, int *applied_out);
/* PGQRS_OK when every table of the schema exists and the recorded versions are
 * exactly the embedded ones; PGQRS_ESTATE with a message naming what is missing. */
pgqrs_status pgqrs__verify_schema(pgqrs_conn *c);

#endif
