/* dsn.h: parses a pgqrs DSN into what its driver needs, and redacts secrets.
 * A helper without a handle: errors go into the caller's buffer, already redacted.
 * The scheme table that maps a DSN to its parser and driver is in registry.c. */
#ifndef PGQRS_DSN_H
#define PGQRS_DSN_H

#include <stdbool.h>
#include <stddef.h>

#include "pgqrs.h"

#define PGQRS__ERR_LEN 512

struct pgqrs__driver;

typedef struct pgqrs__dsn {
    const struct pgqrs__driver *driver;   /* NULL: this library was built without it */
    const char *backend;      /* "postgres", "sqlite" or "turso"; static */
    const char *build_flag;   /* what builds the driver in ("WITH_POSTGRES=1"); static */
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
 * in err that never contains a password or token (registry.c). */
pgqrs_status pgqrs__dsn_parse(pgqrs__dsn *out, const char *dsn, char *err, size_t errlen);
/* The parsers the scheme table calls: the DSN after its scheme prefix matched. */
pgqrs_status pgqrs__dsn_parse_postgres(pgqrs__dsn *d, const char *dsn, char *err, size_t errlen);
pgqrs_status pgqrs__dsn_parse_sqlite(pgqrs__dsn *d, const char *dsn, char *err, size_t errlen);
pgqrs_status pgqrs__dsn_parse_turso_file(pgqrs__dsn *d, const char *dsn, char *err, size_t errlen);
pgqrs_status pgqrs__dsn_parse_turso(pgqrs__dsn *d, const char *dsn, char *err, size_t errlen);
/* "invalid DSN '<redacted dsn>': why"; returns PGQRS_EINVAL. */
pgqrs_status pgqrs__dsn_invalid(char *err, size_t errlen, const char *dsn, const char *why);
void pgqrs__dsn_clear(pgqrs__dsn *d);   /* NULL: no-op */
/* Writes dsn to out with the URI password and the values of password=, token=,
 * authToken= and sslpassword= parameters replaced by "***". */
void pgqrs__dsn_redact(const char *dsn, char *out, size_t outlen);
/* Writes a message to out with every secret it may quote removed: the password of
 * each URI in it (scheme://user:***@host) and the values of password=, token=,
 * authToken= and sslpassword= anywhere in it. For messages, not DSNs. */
void pgqrs__redact_text(const char *msg, char *out, size_t outlen);
/* true when s is a plain SQL identifier: [A-Za-z_][A-Za-z0-9_]{0,62}. */
bool pgqrs__is_identifier(const char *s);

#endif
