/* help.c: man-style help for the tool, each group and each command, printed to
 * stdout by --help; and the one-line usage error. */
#include <stdarg.h>
#include <string.h>

#include "cli.h"

static const char exit_status[] =
    "    0  success\n"
    "    1  usage error: unknown command or option, missing argument, an option\n"
    "       value that is not a number of the accepted form (e.g. negative)\n"
    "    2  not found: no such queue, message, dead letter, worker, workflow or run\n"
    "    3  database error: cannot connect, query failed, lock or pool timeout\n"
    "    4  invalid input: invalid JSON, a value past a limit (e.g. --vt over 7\n"
    "       days), a bad queue name or DSN\n"
    "    5  conflict: name taken, queue not empty, schema missing or outdated,\n"
    "       message held by another worker\n"
    "    6  internal error: out of memory, cannot write the output\n";

static const char global_options[] =
    "    --dsn DSN\n"
    "        The database (default: $PGQRS_DSN):\n"
    "        postgres://user:pass@host:port/db?schema=NAME (or postgresql://),\n"
    "        sqlite:///absolute/path.db or sqlite://relative/path.db.\n"
    "        Never printed; error messages redact passwords and tokens.\n"
    "    --json\n"
    "        Machine-readable output: one JSON document on stdout.\n"
    "    -h, --help\n"
    "        Print this help and exit 0.\n";

static void indent(FILE *f, const char *text)
{
    while (text && *text) {
        size_t len = strcspn(text, "\n");
        if (len)
            fprintf(f, "    %.*s\n", (int)len, text);
        else
            fputc('\n', f);
        text += len;
        if (*text == '\n')
            text++;
    }
}

void cli_help_top(FILE *f)
{
    fprintf(f, "NAME\n    pgqrs - durable job queues on PostgreSQL and SQLite (pgqrs %s)\n\n", pgqrs_version());
    fprintf(f, "SYNOPSIS\n"
               "    pgqrs [--dsn DSN] [--json] COMMAND [SUBCOMMAND] [OPTIONS] [ARGUMENTS]\n"
               "    pgqrs COMMAND [SUBCOMMAND] --help\n"
               "    pgqrs --version\n\n");
    fprintf(f, "DESCRIPTION\n"
               "    Installs the pgqrs schema and administers queues, messages, dead letters and\n"
               "    workers; 'pgqrs work' runs a command once per message of a queue. Human\n"
               "    output is plain aligned text; --json prints one JSON document.\n"
               "    Errors are one line on stderr. Long operations show progress on stderr when\n"
               "    it is a terminal and stay quiet when it is not.\n\n");
    fprintf(f, "COMMANDS\n");
    for (size_t i = 0; cli_groups[i]; i++)
        fprintf(f, "    %-10s %s\n", cli_groups[i]->name, cli_groups[i]->summary);
    fprintf(f, "\n    Run 'pgqrs COMMAND --help' for the subcommands and options of each.\n\n");
    fprintf(f, "GLOBAL OPTIONS\n%s    --version\n        Print the version and exit 0.\n\n", global_options);
    fprintf(f, "EXIT STATUS\n%s\n", exit_status);
    fprintf(f, "EXAMPLE\n"
               "    export PGQRS_DSN=sqlite:///var/lib/app/jobs.db\n"
               "    pgqrs install\n"
               "    pgqrs queue create emails\n"
               "    echo '{\"to\":\"ann@example.com\"}' | pgqrs message send emails\n"
               "    pgqrs --json queue metrics emails\n");
}

void cli_help_group(FILE *f, const cli_group *g)
{
    if (g->single) {
        cli_help_command(f, g, g->single);
        return;
    }
    fprintf(f, "NAME\n    pgqrs %s - %s\n\n", g->name, g->summary);
    fprintf(f, "SYNOPSIS\n    pgqrs [--dsn DSN] [--json] %s COMMAND [OPTIONS] [ARGUMENTS]\n\n", g->name);
    if (g->description) {
        fprintf(f, "DESCRIPTION\n");
        indent(f, g->description);
        fputc('\n', f);
    }
    fprintf(f, "COMMANDS\n");
    for (const cli_command *c = g->commands; c->name; c++)
        fprintf(f, "    %-12s %s\n", c->name, c->summary);
    fprintf(f, "\n    Run 'pgqrs %s COMMAND --help' for the options of each.\n\n", g->name);
    fprintf(f, "GLOBAL OPTIONS\n%s\n", global_options);
    fprintf(f, "EXIT STATUS\n%s", exit_status);
}

void cli_help_command(FILE *f, const cli_group *g, const cli_command *c)
{
    char full[64];
    if (c->name)
        snprintf(full, sizeof full, "%s %s", g->name, c->name);
    else
        snprintf(full, sizeof full, "%s", g->name);
    fprintf(f, "NAME\n    pgqrs %s - %s\n\n", full, c->summary);
    /* the options go before a " -- " in the parameters: after it nothing is an option */
    const char *dashes = c->params ? strstr(c->params, " -- ") : NULL;
    fprintf(f, "SYNOPSIS\n    pgqrs [--dsn DSN] [--json] %s", full);
    if (c->params && *c->params)
        fprintf(f, " %.*s", dashes ? (int)(dashes - c->params) : (int)strlen(c->params), c->params);
    for (const cli_option *o = c->options; o && o->name; o++) {
        if (o->arg)
            fprintf(f, " [--%s %s]", o->name, o->arg);
        else
            fprintf(f, " [--%s]", o->name);
    }
    if (dashes)
        fprintf(f, "%s", dashes);
    fprintf(f, "\n\n");
    if (c->description) {
        fprintf(f, "DESCRIPTION\n");
        indent(f, c->description);
        fputc('\n', f);
    }
    fprintf(f, "OPTIONS\n");
    for (const cli_option *o = c->options; o && o->name; o++) {
        if (o->arg)
            fprintf(f, "    --%s %s\n", o->name, o->arg);
        else
            fprintf(f, "    --%s\n", o->name);
        fprintf(f, "        ");
        for (const char *h = o->help; *h; h++) {
            fputc(*h, f);
            if (*h == '\n')
                fprintf(f, "        ");
        }
        fputc('\n', f);
    }
    fprintf(f, "%s\n", global_options);
    fprintf(f, "EXIT STATUS\n%s\n", exit_status);
    if (c->example) {
        fprintf(f, "EXAMPLE\n");
        indent(f, c->example);
    }
}

int cli_usage(const cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", ctx->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s --help')\n", ctx->prog);
    return CLI_EXIT_USAGE;
}
