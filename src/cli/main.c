/* main.c: `pgqrs [GLOBAL OPTIONS] GROUP [COMMAND] [OPTIONS] [ARGS]`. Finds the
 * group and command in cli_groups (commands.c), parses the rest (args.c), opens
 * the store when the command needs one, runs it and returns its exit code. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_group *find_group(const char *name)
{
    for (size_t i = 0; cli_groups[i]; i++)
        if (strcmp(cli_groups[i]->name, name) == 0)
            return cli_groups[i];
    return NULL;
}

static const cli_command *find_command(const cli_group *g, const char *name)
{
    for (const cli_command *c = g->commands; c && c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static bool is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

static int print_version(const cli_ctx *ctx)
{
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "version", json_string(pgqrs_version()));
        json_object_set_new(o, "version_number", json_integer(pgqrs_version_number()));
        return cli_json_print(o);
    }
    printf("pgqrs %s\n", pgqrs_version());
    return 0;
}

/* `pgqrs help [GROUP [COMMAND]]` */
static int help_command(cli_ctx *ctx, int argc, char **argv)
{
    const cli_group *g;
    const cli_command *c;
    if (argc == 0) {
        cli_help_top(stdout);
        return 0;
    }
    if (!(g = find_group(argv[0])))
        return cli_usage(ctx, "unknown command '%s'", argv[0]);
    if (argc == 1 || g->single) {
        cli_help_group(stdout, g);
        return 0;
    }
    if (!(c = find_command(g, argv[1])))
        return cli_usage(ctx, "unknown command '%s %s'", g->name, argv[1]);
    cli_help_command(stdout, g, c);
    return 0;
}

static int subcommand_list_error(cli_ctx *ctx, const cli_group *g, const char *bad)
{
    char names[256] = "";
    for (const cli_command *c = g->commands; c->name; c++) {
        if (*names)
            strncat(names, ", ", sizeof names - strlen(names) - 1);
        strncat(names, c->name, sizeof names - strlen(names) - 1);
    }
    if (bad)
        return cli_usage(ctx, "unknown command '%s' (one of: %s)", bad, names);
    return cli_usage(ctx, "missing command (one of: %s)", names);
}

static int run(cli_ctx *ctx, const cli_group *g, const cli_command *cmd, int argc, char **argv)
{
    cli_args args;
    int rc = cli_parse(ctx, cmd, argc, argv, &args);
    if (rc == 0) {
        cli_help_command(stdout, g, cmd);
        return 0;
    }
    if (rc > 0)
        return rc;
    if (cmd->needs_store && (rc = cli_open_store(ctx)) != 0)
        return rc;
    rc = cmd->run(ctx, &args);
    pgqrs_store_free(ctx->store);
    ctx->store = NULL;
    return rc;
}

/* A failed write of stdout (full disk, closed pipe) is an error too. */
static int finish(const cli_ctx *ctx, int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write the output\n", ctx->prog);
        if (rc == 0)
            rc = CLI_EXIT_INTERNAL;
    }
    return rc;
}

int main(int argc, char **argv)
{
    static char prog[96];
    cli_ctx ctx = { 0 };
    const cli_group *g;
    const cli_command *cmd;
    bool version = false;
    int i;

    ctx.prog = "pgqrs";
    ctx.dsn = getenv("PGQRS_DSN");
    for (i = 1; i < argc; i++) {
        int gl;
        if (is_help(argv[i])) {
            cli_help_top(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            version = true;
            continue;
        }
        if ((gl = cli_global_option(&ctx, argc, argv, &i)) < 0)
            return CLI_EXIT_USAGE;
        if (gl > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return cli_usage(&ctx, "unknown option '%s'", argv[i]);
        break;
    }
    if (version)
        return print_version(&ctx);
    if (i >= argc)
        return cli_usage(&ctx, "missing command");
    if (strcmp(argv[i], "help") == 0) {
        ctx.prog = "pgqrs help";
        return help_command(&ctx, argc - i - 1, argv + i + 1);
    }
    if (!(g = find_group(argv[i])))
        return cli_usage(&ctx, "unknown command '%s'", argv[i]);
    snprintf(prog, sizeof prog, "pgqrs %s", g->name);
    ctx.prog = prog;
    i++;
    if (g->single)
        return finish(&ctx, run(&ctx, g, g->single, argc - i, argv + i));

    for (; i < argc; i++) {   /* global options may come between the group and its command */
        int gl;
        if (is_help(argv[i])) {
            cli_help_group(stdout, g);
            return 0;
        }
        if ((gl = cli_global_option(&ctx, argc, argv, &i)) < 0)
            return CLI_EXIT_USAGE;
        if (gl > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return cli_usage(&ctx, "unknown option '%s'", argv[i]);
        break;
    }
    if (i >= argc)
        return subcommand_list_error(&ctx, g, NULL);
    if (!(cmd = find_command(g, argv[i])))
        return subcommand_list_error(&ctx, g, argv[i]);
    snprintf(prog, sizeof prog, "pgqrs %s %s", g->name, cmd->name);
    i++;
    return finish(&ctx, run(&ctx, g, cmd, argc - i, argv + i));
}
