/* commands.c: the top-level command groups, in the order `pgqrs --help` lists
 * them. A new group (e.g. `workflow`: list, runs, run get, cancel) is a new
 * cmd_workflow.c defining cli_group_workflow, declared in cli.h, and one line here. */
#include "cli.h"

extern const cli_group cli_group_workflow;   /* cmd_workflow.c */
extern const cli_group cli_group_work;       /* cmd_work.c */
extern const cli_group cli_group_schedule, cli_group_retention;   /* cmd_schedule.c */
extern const cli_group cli_group_serve;      /* cmd_serve.c */

const cli_group *const cli_groups[] = {
    &cli_group_install,
    &cli_group_verify,
    &cli_group_queue,
    &cli_group_message,
    &cli_group_dlq,
    &cli_group_worker,
    &cli_group_workflow,
    &cli_group_work,
    &cli_group_schedule,
    &cli_group_retention,
    &cli_group_serve,
    NULL,
};
