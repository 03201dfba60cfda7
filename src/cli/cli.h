/* cli.h: what the pgqrs command-line tool's files share: exit codes, the command
 * table types, parsed arguments, the run context, output and progress helpers.
 *
 * Layout: main.c dispatches over the groups listed in commands.c; args.c parses a
 * command line against a command's option table; help.c prints man-style help;
 * output.c prints errors, tables and JSON; progress.c the terminal progress line;
 * one cmd_*.c file per command group. A new group (e.g. `workflow`) is one new
 * cmd_*.c file defining a cli_group and one line in commands.c. */
#ifndef PGQRS_CLI_H
#define PGQRS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "pgqrs.h"

/* ---- Exit codes (documented in every --help and docs/cli.md) ---- */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 1,      /* bad command line: unknown command/option, missing or malformed argument */
    CLI_EXIT_NOTFOUND = 2,   /* no such queue, message, dead letter or worker */
    CLI_EXIT_DB = 3,         /* database or connection error, lock or pool timeout */
    CLI_EXIT_INVALID = 4,    /* input rejected: invalid JSON, value out of range, bad name or DSN */
    CLI_EXIT_CONFLICT = 5,   /* state conflict: name taken, queue not empty, schema mismatch, held by another */
    CLI_EXIT_INTERNAL = 6    /* out of memory or a bug */
};

/* ---- Command table ---- */
typedef struct cli_option {
    const char *name;   /* long name without "--", e.g. "max-attempts" */
    const char *arg;    /* value placeholder, e.g. "N"; NULL for a flag */
    const char *help;
} cli_option;

#define CLI_MAX_OPTIONS 12
#define CLI_MAX_POSITIONALS 64

typedef struct cli_args {
    const struct cli_command *cmd;
    const char *values[CLI_MAX_OPTIONS];   /* per cmd->options index: the value, or "" for a set flag */
    const char *pos[CLI_MAX_POSITIONALS];
    int npos;
} cli_args;

typedef struct cli_ctx {
    const char *dsn;     /* --dsn or $PGQRS_DSN; never printed */
    bool json;           /* --json */
    const char *prog;    /* "pgqrs queue create", for messages */
    pgqrs_store *store;  /* opened by cli_open_store */
    int batch_size;      /* store max_batch_size to ask for; 0 = library default */
} cli_ctx;

typedef struct cli_command {
    const char *name;          /* "create"; NULL for a group that is a single command (install) */
    const char *summary;       /* one line */
    const char *params;        /* positional arguments for the synopsis, e.g. "QUEUE [PAYLOAD]" */
    const char *description;   /* paragraphs, lines end with \n */
    const cli_option *options; /* terminated by a {NULL} entry; may be NULL */
    const char *example;
    int min_pos, max_pos;      /* positional argument counts; max_pos -1 = unbounded */
    bool needs_store;
    int (*run)(cli_ctx *ctx, const cli_args *a);
} cli_command;

typedef struct cli_group {
    const char *name;          /* "queue", or "install" for a single command */
    const char *summary;
    const char *description;
    const cli_command *commands;   /* terminated by a {NULL} entry */
    const cli_command *single;     /* a top-level command without subcommands; else NULL */
} cli_group;

/* commands.c: every top-level group in the order help lists them; NULL-terminated. */
extern const cli_group *const cli_groups[];
/* cmd_*.c */
/* cmd_send_batch.c: `message send-batch`, listed in cmd_message.c's table. */
extern const cli_option cli_send_batch_options[];
int cli_send_batch_run(cli_ctx *ctx, const cli_args *a);
extern const cli_group cli_group_install, cli_group_verify, cli_group_queue, cli_group_message, cli_group_dlq,
    cli_group_worker;

/* ---- args.c ---- */
/* Parses argv (after the command name) against cmd's options plus the global
 * options (--dsn, --json, --help). Returns -1 and fills *a and ctx on success,
 * 0 when --help was given (the caller prints help), else an exit code after
 * printing the error. */
int cli_parse(cli_ctx *ctx, const cli_command *cmd, int argc, char **argv, cli_args *a);
/* Handles one global option at argv[*i]; returns 1 if it was one (advancing *i
 * past a value), 0 if not, -1 on a missing value (error printed). */
int cli_global_option(cli_ctx *ctx, int argc, char **argv, int *i);
/* The value of option `name` (NULL when absent); a flag's is "". */
const char *cli_opt(const cli_args *a, const char *name);
bool cli_flag(const cli_args *a, const char *name);
/* Reads an integer option in lo..hi into *out (def when absent). Prints a usage
 * error and returns false on a malformed value. */
bool cli_opt_int(const cli_ctx *ctx, const cli_args *a, const char *name, int64_t def, int64_t lo, int64_t hi,
                 int64_t *out);
/* Reads a decimal number option in lo..hi into *out (def when absent); as cli_opt_int. */
bool cli_opt_double(const cli_ctx *ctx, const cli_args *a, const char *name, double def, double lo, double hi,
                    double *out);
/* Parses a positive message/worker id. Prints a usage error on failure. */
bool cli_parse_id(const cli_ctx *ctx, const char *s, int64_t *out);

/* ---- help.c ---- */
void cli_help_top(FILE *f);
void cli_help_group(FILE *f, const cli_group *g);
void cli_help_command(FILE *f, const cli_group *g, const cli_command *c);
/* One line on stderr: "pgqrs queue create: <msg> (see 'pgqrs queue create --help')". Returns CLI_EXIT_USAGE. */
int cli_usage(const cli_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- output.c ---- */
/* Maps a library status to an exit code. */
int cli_exit_code(pgqrs_status st);
/* Prints "pgqrs CMD: WHAT: <errmsg of handle>" as one line on stderr, with any
 * secret of the DSN scrubbed, and returns cli_exit_code(st). */
int cli_fail(const cli_ctx *ctx, pgqrs_status st, const void *handle, const char *what);
/* Prints "pgqrs CMD: <formatted>" on stderr and returns code. */
int cli_error(const cli_ctx *ctx, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Connects ctx->store from ctx->dsn; prints the error and returns its exit code, or 0. */
int cli_open_store(cli_ctx *ctx);
/* Prints a JSON document on stdout and frees it. Returns 0 or CLI_EXIT_INTERNAL. */
int cli_json_print(json_t *doc);
/* Reads all of f into a NUL-terminated string (malloc; the caller frees it);
 * NULL when out of memory. */
char *cli_read_all(FILE *f, size_t *len_out);
/* "2024-05-01T12:00:00.123456Z" for microseconds since the epoch; "" for 0 (text)
 * or null (JSON). */
void cli_time_text(int64_t us, char *buf, size_t len);
json_t *cli_time_json(int64_t us);
/* "1h2m3s" style durations for text output. */
void cli_duration_text(int64_t us, char *buf, size_t len);
/* A message payload as a JSON value (falls back to a string). */
json_t *cli_payload_json(const char *payload);
json_t *cli_message_json(const pgqrs_message *m);
json_t *cli_queue_json(const pgqrs_queue_info *q);
json_t *cli_worker_json(const pgqrs_worker_info *w);

/* A plain aligned table for text output. */
typedef struct cli_table cli_table;
cli_table *cli_table_new(int ncols, const char *const *headers);
/* Adds a row of ncols strings (copied). Returns false when out of memory. */
bool cli_table_row(cli_table *t, const char *const *cells);
/* Prints the table (headers, then rows; columns two spaces apart) and frees it. */
void cli_table_print(cli_table *t, FILE *f);
void cli_table_free(cli_table *t);
/* Prints the messages of a batch as a table: ID, READS, ENQUEUED, VISIBLE_AT (or
 * ARCHIVED_AT when archived), PAYLOAD (one line, cut at 60 characters). */
int cli_print_batch_table(const pgqrs_batch *b, bool archived);

/* ---- progress.c: a live line on stderr when it is a terminal, nothing when not ---- */
typedef struct cli_progress {
    bool on;
    bool shown;
    double last;
} cli_progress;
void cli_progress_start(cli_progress *p);
/* Prints "\r<text>" (rate-limited to about 10 per second unless force). */
void cli_progress_update(cli_progress *p, bool force, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Clears the line. */
void cli_progress_end(cli_progress *p);

#endif
