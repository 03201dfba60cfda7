/* cmd_schema.c: `pgqrs install` and `pgqrs verify`. */
#include "cli.h"

static int schema_result(cli_ctx *ctx, const char *text)
{
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_true());
        json_object_set_new(o, "backend", json_string(pgqrs_store_backend(ctx->store)));
        return cli_json_print(o);
    }
    printf("%s (%s)\n", text, pgqrs_store_backend(ctx->store));
    return 0;
}

static int run_install(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_status st = pgqrs_schema_install(ctx->store);
    (void)a;
    if (st != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, "install failed");
    return schema_result(ctx, "schema installed and up to date");
}

static int run_verify(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_status st = pgqrs_schema_verify(ctx->store);
    (void)a;
    if (st != PGQRS_OK)
        return cli_fail(ctx, st, ctx->store, "schema check failed");
    return schema_result(ctx, "schema ok");
}

static const cli_command install_cmd = {
    .name = NULL,
    .summary = "install or upgrade the schema",
    .params = "",
    .description = "Applies the schema migrations that are not yet applied, each in its own\n"
                   "transaction. Safe to run again, and from several processes at once.\n"
                   "On PostgreSQL the tables go into the DSN's ?schema= (which must exist) or\n"
                   "the server's search_path.\n"
                   "\n"
                   "Output: 'schema installed and up to date (BACKEND)'; with --json\n"
                   "{\"ok\": true, \"backend\": \"postgres\"|\"sqlite\"}.\n"
                   "An applied migration that differs from this version's is exit 5.\n",
    .example = "pgqrs --dsn sqlite:///var/lib/app/jobs.db install\n"
               "pgqrs --dsn 'postgres://app@db.internal/app?schema=jobs' install\n",
    .min_pos = 0,
    .max_pos = 0,
    .needs_store = true,
    .run = run_install,
};

static const cli_command verify_cmd = {
    .name = NULL,
    .summary = "check that the schema is installed and current",
    .params = "",
    .description = "Succeeds when every table exists and the applied migrations are exactly\n"
                   "this version's. Otherwise names the first problem on stderr and exits 5\n"
                   "(run 'pgqrs install' to install or upgrade).\n"
                   "\n"
                   "Output: 'schema ok (BACKEND)'; with --json {\"ok\": true, \"backend\": ...}.\n",
    .example = "pgqrs verify || pgqrs install\n",
    .min_pos = 0,
    .max_pos = 0,
    .needs_store = true,
    .run = run_verify,
};

const cli_group cli_group_install = {
    .name = "install",
    .summary = "install or upgrade the schema",
    .single = &install_cmd,
};

const cli_group cli_group_verify = {
    .name = "verify",
    .summary = "check that the schema is installed and current",
    .single = &verify_cmd,
};
