/* args.c: command-line parsing. Options are long only ("--name VALUE" or
 * "--name=VALUE"), may appear anywhere after the command, and "--" ends them. The
 * global options (--dsn, --json, --help) are accepted at every level. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_global_option(cli_ctx *ctx, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "--json") == 0) {
        ctx->json = true;
        return 1;
    }
    if (strncmp(arg, "--dsn=", 6) == 0) {
        ctx->dsn = arg + 6;
        return 1;
    }
    if (strcmp(arg, "--dsn") == 0) {
        if (*i + 1 >= argc) {
            cli_usage(ctx, "--dsn needs a value");
            return -1;
        }
        ctx->dsn = argv[++*i];
        return 1;
    }
    return 0;
}

static int find_option(const cli_command *cmd, const char *name, size_t len)
{
    if (!cmd->options)
        return -1;
    for (int k = 0; cmd->options[k].name; k++)
        if (strlen(cmd->options[k].name) == len && strncmp(cmd->options[k].name, name, len) == 0)
            return k;
    return -1;
}

/* The n-th word of params ("QUEUE [PAYLOAD]"), without brackets and dots. */
static void param_name(const char *params, int n, char *out, size_t outlen)
{
    const char *p = params ? params : "";
    size_t len;
    snprintf(out, outlen, "argument");
    for (;;) {
        p += strspn(p, " []()|");
        len = strcspn(p, " []()|");
        if (len == 0)
            return;
        if (n-- == 0)
            break;
        p += len;
    }
    while (len > 0 && p[len - 1] == '.')
        len--;
    snprintf(out, outlen, "%.*s", (int)len, p);
}

int cli_parse(cli_ctx *ctx, const cli_command *cmd, int argc, char **argv, cli_args *a)
{
    bool help = false, only_pos = false;
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_pos && strcmp(arg, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && arg[0] == '-' && arg[1] != '\0') {
            const char *name, *eq;
            int g, k;
            if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
                help = true;
                continue;
            }
            if ((g = cli_global_option(ctx, argc, argv, &i)) < 0)
                return CLI_EXIT_USAGE;
            if (g > 0)
                continue;
            if (strncmp(arg, "--", 2) != 0)
                return cli_usage(ctx, "unknown option '%s'", arg);
            name = arg + 2;
            eq = strchr(name, '=');
            k = find_option(cmd, name, eq ? (size_t)(eq - name) : strlen(name));
            if (k < 0)
                return cli_usage(ctx, "unknown option '--%.*s'", eq ? (int)(eq - name) : (int)strlen(name), name);
            if (k >= CLI_MAX_OPTIONS)
                return cli_error(ctx, CLI_EXIT_INTERNAL, "too many options in the command table");
            if (cmd->options[k].arg) {
                if (eq)
                    a->values[k] = eq + 1;
                else if (i + 1 < argc)
                    a->values[k] = argv[++i];
                else
                    return cli_usage(ctx, "--%s needs a value %s", cmd->options[k].name, cmd->options[k].arg);
            } else {
                if (eq)
                    return cli_usage(ctx, "--%s takes no value", cmd->options[k].name);
                a->values[k] = "";
            }
            continue;
        }
        if (a->npos >= CLI_MAX_POSITIONALS)
            return cli_usage(ctx, "too many arguments (at most %d)", CLI_MAX_POSITIONALS);
        a->pos[a->npos++] = arg;
    }
    if (help)
        return 0;
    if (a->npos < cmd->min_pos) {
        char name[64];
        param_name(cmd->params, a->npos, name, sizeof name);
        return cli_usage(ctx, "missing %s", name);
    }
    if (cmd->max_pos >= 0 && a->npos > cmd->max_pos)
        return cli_usage(ctx, "unexpected argument '%s'", a->pos[cmd->max_pos]);
    return -1;
}

const char *cli_opt(const cli_args *a, const char *name)
{
    int k = find_option(a->cmd, name, strlen(name));
    return k < 0 || k >= CLI_MAX_OPTIONS ? NULL : a->values[k];
}

bool cli_flag(const cli_args *a, const char *name)
{
    return cli_opt(a, name) != NULL;
}

static bool parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;
    if (!s || !*s)
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || end == s)
        return false;
    *out = (int64_t)v;
    return true;
}

bool cli_opt_int(const cli_ctx *ctx, const cli_args *a, const char *name, int64_t def, int64_t lo, int64_t hi,
                 int64_t *out)
{
    const char *v = cli_opt(a, name);
    if (!v) {
        *out = def;
        return true;
    }
    if (!parse_i64(v, out) || *out < lo || *out > hi) {
        if (hi >= INT32_MAX)
            cli_usage(ctx, "--%s must be an integer >= %lld, got '%s'", name, (long long)lo, v);
        else
            cli_usage(ctx, "--%s must be an integer %lld..%lld, got '%s'", name, (long long)lo, (long long)hi, v);
        return false;
    }
    return true;
}

bool cli_opt_double(const cli_ctx *ctx, const cli_args *a, const char *name, double def, double lo, double hi,
                    double *out)
{
    const char *v = cli_opt(a, name);
    char *end = NULL;
    if (!v) {
        *out = def;
        return true;
    }
    errno = 0;
    *out = strtod(v, &end);
    /* written so that NaN fails too */
    if (errno || end == v || *end || !(*out >= lo && *out <= hi)) {
        cli_usage(ctx, "--%s must be a number %g..%g, got '%s'", name, lo, hi, v);
        return false;
    }
    return true;
}

bool cli_parse_id(const cli_ctx *ctx, const char *s, int64_t *out)
{
    if (!parse_i64(s, out) || *out <= 0) {
        cli_usage(ctx, "'%s' is not a valid id (a positive integer)", s);
        return false;
    }
    return true;
}
