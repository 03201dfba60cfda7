/* fuzz_cli.c: libFuzzer target for the CLI argument parser (src/cli/args.c).
 * The input is split on NUL bytes into argv; the first byte picks a command of
 * the CLI's own table (cli_groups), and cli_parse parses the rest against it.
 * On success every option is read back (cli_opt, cli_flag, cli_opt_int) and every
 * positional is tried as an id (cli_parse_id). Usage errors go to stderr (run with
 * -close_fd_mask=2). Checks, besides ASan/UBSan: the documented return values
 * (-1 parsed, 0 help, else an exit code 1..6) and positional counts within the
 * command's bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const cli_command *commands[256];
static const cli_group *groups[256];
static int ncommands;

static void collect(void)
{
    for (int g = 0; cli_groups[g] && ncommands < 256; g++) {
        if (cli_groups[g]->single) {
            groups[ncommands] = cli_groups[g];
            commands[ncommands++] = cli_groups[g]->single;
        }
        for (const cli_command *c = cli_groups[g]->commands; c && c->name && ncommands < 256; c++) {
            groups[ncommands] = cli_groups[g];
            commands[ncommands++] = c;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *argv[200];
    int argc = 0, rc;
    cli_ctx ctx;
    cli_args a;
    const cli_command *cmd;
    if (!ncommands)
        collect();
    if (size < 1 || size > 8192 || !ncommands)
        return 0;
    cmd = commands[data[0] % ncommands];
    buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    for (size_t i = 0; i < size - 1 && argc < 199;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;
    memset(&ctx, 0, sizeof ctx);
    ctx.prog = "pgqrs fuzz";
    rc = cli_parse(&ctx, cmd, argc, argv, &a);
    if (rc == -1) {
        if (a.npos < cmd->min_pos || (cmd->max_pos >= 0 && a.npos > cmd->max_pos) || a.npos > CLI_MAX_POSITIONALS)
            abort();
        for (int k = 0; cmd->options && cmd->options[k].name; k++) {
            int64_t v;
            (void)cli_opt(&a, cmd->options[k].name);
            (void)cli_flag(&a, cmd->options[k].name);
            (void)cli_opt_int(&ctx, &a, cmd->options[k].name, 0, -5, 1000, &v);
        }
        for (int k = 0; k < a.npos; k++) {
            int64_t id;
            if (cli_parse_id(&ctx, a.pos[k], &id) && id <= 0)
                abort();
        }
    } else if (rc < 0 || rc > CLI_EXIT_INTERNAL) {
        abort();
    }
    free(buf);
    return 0;
}
