/* dsn.h: parses a pgqrs DSN into what a backend needs, and redacts secrets.
 * A helper without a handle: errors go into the caller's buffer, already redacted. */
#ifndef PGQRS_DSN_H
#define PGQRS_DSN_H

#include <stdbool.h>
#include <stddef.h>

#include "drivers/conn.h"

#define PGQRS__ERR_LEN 512

typedef struct pgqrs__dsn {
    pgqrs__backend backend;
    char *uri;          /* PostgreSQL: the URI for libpq, pgqrs parameters removed */
    char *schema;       /* PostgreSQL: ?schema=, a validated identifier, or NULL */
    bool pgbouncer;     /* PostgreSQL: ?pgbouncer=true: no named prepared statements */
    char *path;         /* SQLite: a file path or ":memory:" */
    bool turso_local;   /* SQLite: opened as turso:///path.db (a Turso-format file) */
    char *url;          /* Turso: http(s)://host[:port], never with the token */
    char *auth_token;   /* Turso: ?authToken= or $PGQRS_TURSO_AUTH_TOKEN, or NULL */
    int connect_timeout_ms;   /* Turso: ?connect_timeout=<s>, 0: the connect options' */
    int request_timeout_ms;   /* Turso: ?timeout=<s>, 0: 30 s */
} pgqrs__dsn;

/* Fills *out (zeroed first) or returns PGQRS_EINVAL / PGQRS_ENOMEM with a message
 * in err that never contains a password or token. */
pgqrs_status pgqrs__dsn_parse(pgqrs__dsn *out, const char *dsn, char *err, size_t errlen);
void pgqrs__dsn_clear(pgqrs__dsn *d);   /* NULL: no-op */
/* Writes dsn to out with the URI password and the values of password=, token=,
 * authToken= and sslpassword= parameters replaced by "***". */
void pgqrs__dsn_redact(const char *dsn, char *out, size_t outlen);
/* true when s is a plain SQL identifier: [A-Za-z_][A-Za-z0-9_]{0,62}. */
bool pgqrs__is_identifier(const char *s);

#endif
