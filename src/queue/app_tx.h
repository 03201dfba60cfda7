/* app_tx.h: the pgqrs_tx handle (app_tx.c) and how a call runs its statements on
 * the application's connection, inside a savepoint, for the workflow layer too. */
#ifndef PGQRS_APP_TX_H
#define PGQRS_APP_TX_H

#include "queue/store.h"

struct pgqrs_tx {
    pgqrs__handle h;
    pgqrs_store *store;
    void *foreign;               /* the application's PGconn * or sqlite3 *; never closed here */
};

/* Wraps the application's connection for one call and opens the savepoint;
 * failures are recorded on tx. */
pgqrs_status pgqrs__app_tx_begin(pgqrs_tx *tx, pgqrs_conn **out);
/* Releases the savepoint when st is PGQRS_OK, else rolls back to it keeping st's
 * message; counts the call's failure, frees the wrapper; returns the final status. */
pgqrs_status pgqrs__app_tx_end(pgqrs_tx *tx, pgqrs_conn *c, pgqrs_status st);

#endif
