/* registry.c: the one table of DSN schemes: each names its parser and its driver.
 * A backend left out of the build (make WITH_POSTGRES=0 ...) keeps its schemes,
 * so its DSNs still parse and connecting says how to build it in. */
#include <stdio.h>
#include <string.h>

#include "drivers/driver.h"

#ifndef PGQRS_WITH_POSTGRES
#define PGQRS_WITH_POSTGRES 1
#endif
#ifndef PGQRS_WITH_SQLITE
#define PGQRS_WITH_SQLITE 1
#endif
#ifndef PGQRS_WITH_TURSO
#define PGQRS_WITH_TURSO 1
#endif

#if PGQRS_WITH_POSTGRES
#define PG_DRIVER (&pgqrs__driver_postgres)
#else
#define PG_DRIVER NULL
#endif
#if PGQRS_WITH_SQLITE
#define SQLITE_DRIVER (&pgqrs__driver_sqlite)
#define TURSO_FILE_DRIVER (&pgqrs__driver_turso_file)
#else
#define SQLITE_DRIVER NULL
#define TURSO_FILE_DRIVER NULL
#endif
#if PGQRS_WITH_TURSO
#define TURSO_DRIVER (&pgqrs__driver_turso)
#else
#define TURSO_DRIVER NULL
#endif

static const struct scheme {
    const char *prefix;
    pgqrs_status (*parse)(pgqrs__dsn *d, const char *dsn, char *err, size_t errlen);
    const pgqrs__driver *driver;
    const char *backend;
    const char *build_flag;
} schemes[] = {
    { "postgres://", pgqrs__dsn_parse_postgres, PG_DRIVER, "postgres", "WITH_POSTGRES=1" },
    { "postgresql://", pgqrs__dsn_parse_postgres, PG_DRIVER, "postgres", "WITH_POSTGRES=1" },
    { "sqlite:", pgqrs__dsn_parse_sqlite, SQLITE_DRIVER, "sqlite", "WITH_SQLITE=1" },
    /* a local Turso-format file is a SQLite file: the SQLite driver opens it */
    { "turso://", pgqrs__dsn_parse_turso_file, TURSO_FILE_DRIVER, "turso", "WITH_SQLITE=1" },
    { "libsql://", pgqrs__dsn_parse_turso, TURSO_DRIVER, "turso", "WITH_TURSO=1" },
    { "http://", pgqrs__dsn_parse_turso, TURSO_DRIVER, "turso", "WITH_TURSO=1" },
    { "https://", pgqrs__dsn_parse_turso, TURSO_DRIVER, "turso", "WITH_TURSO=1" },
};

pgqrs_status pgqrs__dsn_parse(pgqrs__dsn *out, const char *dsn, char *err, size_t errlen)
{
    pgqrs_status st;
    memset(out, 0, sizeof *out);
    if (!dsn || !*dsn) {
        snprintf(err, errlen, "invalid DSN: empty");
        return PGQRS_EINVAL;
    }
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        const struct scheme *sc = &schemes[i];
        if (strncmp(dsn, sc->prefix, strlen(sc->prefix)) != 0)
            continue;
        out->driver = sc->driver;
        out->backend = sc->backend;
        out->build_flag = sc->build_flag;
        st = sc->parse(out, dsn, err, errlen);
        if (st == PGQRS_ENOMEM)
            snprintf(err, errlen, "out of memory");
        if (st != PGQRS_OK)
            pgqrs__dsn_clear(out);
        return st;
    }
    return pgqrs__dsn_invalid(err, errlen, dsn, "unsupported scheme (expected postgres://, postgresql://, sqlite://, "
                                                "sqlite::memory:, turso://, libsql://, http://, https://)");
}

pgqrs_status pgqrs__conn_open_dsn(pgqrs_conn **out, const pgqrs__dsn *d, const pgqrs__open_opts *o,
                                  const pgqrs__conn_env *env, char *err, size_t errlen)
{
    pgqrs__open_opts dflt = { 0, 0, false, NULL };
    *out = NULL;
    if (!d->driver) {
        snprintf(err, errlen, "this libpgqrs was built without %s (make %s)", d->backend, d->build_flag);
        return PGQRS_ENOTSUPPORTED;
    }
    return d->driver->open(out, d, o ? o : &dflt, env, err, errlen);
}

void pgqrs__conn_close(pgqrs_conn *c)
{
    if (c)
        c->drv->close(c);
}
