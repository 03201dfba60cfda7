/* cmd_serve.c: `pgqrs serve`: the dashboard, its JSON API and /metrics
 * (src/server/, docs/dashboard.md) until SIGINT or SIGTERM. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static pgqrs_server *volatile serving;

static void on_signal(int sig)
{
    (void)sig;
    pgqrs_server_stop(serving);
}

static int run_serve(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_server_options o = PGQRS_SERVER_OPTIONS_INIT;
    pgqrs_server *srv = NULL;
    struct sigaction sa;
    o.listen = cli_opt(a, "listen");
    o.token = cli_opt(a, "token");
    if (!o.token)
        o.token = getenv("PGQRS_SERVE_TOKEN");
    o.read_only = cli_flag(a, "read-only");
    o.log_requests = !cli_flag(a, "quiet");
    pgqrs_status st = pgqrs_server_new(&srv, ctx->store, &o);
    if (st != PGQRS_OK)
        return cli_fail(ctx, st, NULL, "cannot start");
    serving = srv;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* the address only: never the DSN or the token */
    const char *l = o.listen ? o.listen : "127.0.0.1:8080";
    const char *colon = strrchr(l, ':');
    fprintf(stderr, "pgqrs serve: listening on http://%.*s:%d/ (%s%s%s)\n", colon ? (int)(colon - l) : 0, l,
            pgqrs_server_port(srv), pgqrs_store_backend(ctx->store), o.read_only ? ", read-only" : "",
            o.token && *o.token ? ", token required" : ", loopback, no token");
    fflush(stderr);
    pgqrs_server_wait(srv);
    serving = NULL;
    pgqrs_server_free(srv);
    fprintf(stderr, "pgqrs serve: stopped\n");
    return 0;
}

static const cli_option serve_options[] = {
    { "listen", "HOST:PORT", "address to listen on (default 127.0.0.1:8080; port 0: any free port)" },
    { "token", "TOKEN", "token every request needs (default: $PGQRS_SERVE_TOKEN); required off loopback" },
    { "read-only", NULL, "refuse every action (replay, delete, cancel, reclaim, pause, resume)" },
    { "quiet", NULL, "no line per request on stderr" },
    { NULL, NULL, NULL },
};

static const cli_command serve_cmd = {
    .name = NULL,
    .summary = "serve the web dashboard, its JSON API and Prometheus /metrics",
    .params = "",
    .description = "Serves HTML pages (queues, messages by state, workers, workflows and runs,\n"
                   "schedules), a JSON API under /api/ and /metrics in the Prometheus text format,\n"
                   "until SIGINT or SIGTERM. Every asset is built in: no CDN, no JavaScript.\n"
                   "\n"
                   "Security: without a token it listens on loopback only (127.0.0.1, ::1) and\n"
                   "answers only requests whose Host is a loopback name. With a token (at least\n"
                   "16 bytes; prefer $PGQRS_SERVE_TOKEN, which no process listing shows) every\n"
                   "request needs it: open http://HOST:PORT/?token=TOKEN once (the page sets a\n"
                   "session cookie and drops the token from the address), or send\n"
                   "'Authorization: Bearer TOKEN'. Actions (POST) also need the same origin and\n"
                   "the pages' form field or the bearer token; --read-only refuses them all.\n"
                   "Requests over 64 KiB of body, 32 parameters or 4096 bytes of URI are refused.\n"
                   "No page, header, log line or error shows the DSN or the token.\n"
                   "\n"
                   "Docs: docs/dashboard.md (pages, JSON API, metrics).\n",
    .options = serve_options,
    .example = "pgqrs --dsn sqlite:///var/lib/app/jobs.db serve\n"
               "PGQRS_SERVE_TOKEN=$(openssl rand -hex 16) pgqrs serve --listen 0.0.0.0:8080\n"
               "curl -s http://127.0.0.1:8080/metrics\n",
    .min_pos = 0,
    .max_pos = 0,
    .needs_store = true,
    .run = run_serve,
};

const cli_group cli_group_serve = {
    .name = "serve",
    .summary = "serve the web dashboard, its JSON API and Prometheus /metrics",
    .single = &serve_cmd,
};
