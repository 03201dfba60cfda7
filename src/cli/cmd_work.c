/* cmd_work.c: `pgqrs work QUEUE [OPTIONS] -- COMMAND [ARGS...]`: a worker that
 * runs COMMAND once per message, on the library's runtime (pgqrs_runtime_*).
 * Each handler thread spawns the command with the payload on its standard input
 * and PGQRS_MESSAGE_ID, PGQRS_ATTEMPT, PGQRS_MAX_ATTEMPTS and PGQRS_QUEUE in its
 * environment, reads its standard output and maps its exit status: 0 done (the
 * output, when it is JSON, is the stored result), WORK_EXIT_FAIL dead-letter now,
 * anything else (a signal too) a retry per the queue's policy. SIGTERM and SIGINT
 * stop the runtime (pgqrs_runtime_stop is async-signal-safe): it drains.
 * Progress: each line the command writes to descriptor 3 (PGQRS_PROGRESS_FD) is
 * stored as the message's progress when it is JSON. A cancel request (seen by
 * the runtime at a lease extension) sends SIGTERM to the command's process group,
 * SIGKILL 5 s later; the runtime archives the message as cancelled. */
#define _GNU_SOURCE   /* pipe2: close-on-exec at creation, so no concurrent spawn inherits it */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

extern char **environ;

#define WORK_EXIT_FAIL 65       /* EX_DATAERR: the input is bad; never retry it */
#define MAX_OUTPUT (1 << 20)    /* standard output kept for the result; past it: no result */
#define MAX_CHILDREN 1024
#define PROGRESS_FD 3           /* the command's descriptor for progress lines */

typedef struct work_ctx {
    char *const *argv;          /* the command */
    int fail_exit;
    int64_t timeout_ms;         /* 0: none */
    pthread_mutex_t mu;
    pid_t children[MAX_CHILDREN];
    int n_children;
    bool spawn_error_shown;
    cli_progress prog;
    pgqrs_runtime *rt;
    const char *queue;
} work_ctx;

static pgqrs_runtime *volatile signal_rt;

static void on_signal(int sig)
{
    (void)sig;
    pgqrs_runtime_stop(signal_rt);   /* the second signal (SA_RESETHAND) is the default: it ends pgqrs */
}

static void track(work_ctx *w, pid_t pid, bool add)
{
    pthread_mutex_lock(&w->mu);
    if (add && w->n_children < MAX_CHILDREN) {
        w->children[w->n_children++] = pid;
    } else if (!add) {
        for (int i = 0; i < w->n_children; i++)
            if (w->children[i] == pid) {
                w->children[i] = w->children[--w->n_children];
                break;
            }
    }
    pthread_mutex_unlock(&w->mu);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* environ, minus any PGQRS_MESSAGE_ID/ATTEMPT/MAX_ATTEMPTS/QUEUE, plus this job's. */
static char **job_env(pgqrs_job *job, char bufs[5][192])
{
    size_t n = 0, k = 0;
    char **env;
    while (environ[n])
        n++;
    if (!(env = calloc(n + 6, sizeof *env)))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "PGQRS_MESSAGE_ID=", 17) != 0 && strncmp(environ[i], "PGQRS_ATTEMPT=", 14) != 0 &&
            strncmp(environ[i], "PGQRS_MAX_ATTEMPTS=", 19) != 0 && strncmp(environ[i], "PGQRS_QUEUE=", 12) != 0 &&
            strncmp(environ[i], "PGQRS_PROGRESS_FD=", 18) != 0)
            env[k++] = environ[i];
    snprintf(bufs[0], 192, "PGQRS_MESSAGE_ID=%lld", (long long)pgqrs_job_id(job));
    snprintf(bufs[1], 192, "PGQRS_ATTEMPT=%d", (int)pgqrs_job_attempt(job));
    snprintf(bufs[2], 192, "PGQRS_MAX_ATTEMPTS=%d", (int)pgqrs_job_max_attempts(job));
    snprintf(bufs[3], 192, "PGQRS_QUEUE=%.170s", pgqrs_job_queue(job));
    snprintf(bufs[4], 192, "PGQRS_PROGRESS_FD=%d", PROGRESS_FD);
    for (int i = 0; i < 5; i++)
        env[k++] = bufs[i];
    env[k] = NULL;
    return env;
}

/* The command's standard output as a result: the JSON it is, or NULL. */
static bool is_json(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &e);
    json_decref(v);
    return v != NULL;
}

/* Progress lines from the command's descriptor 3: each complete line that is
 * JSON (and small enough) becomes the message's progress; others are ignored
 * with a line on stderr. */
typedef struct progress_in {
    char line[PGQRS_MAX_PROGRESS_BYTES + 2];
    size_t len;
    bool too_long;   /* the current line passed the limit: dropped up to its newline */
} progress_in;

static void progress_line(work_ctx *w, pgqrs_job *job, progress_in *pi)
{
    const char *why = NULL;
    pi->line[pi->len] = '\0';
    if (pi->len == 0 && !pi->too_long)
        return;
    if (pi->too_long)
        why = "longer than 8192 bytes";
    else if (!is_json(pi->line))
        why = "not JSON";
    else if (pgqrs_job_set_progress(job, pi->line) != PGQRS_OK)
        why = pgqrs_errmsg(job);
    if (why) {
        pthread_mutex_lock(&w->mu);
        fprintf(stderr, "pgqrs work: message %lld: progress line ignored (%s)\n", (long long)pgqrs_job_id(job), why);
        pthread_mutex_unlock(&w->mu);
    }
    pi->len = 0;
    pi->too_long = false;
}

static void progress_bytes(work_ctx *w, pgqrs_job *job, progress_in *pi, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '\n') {
            progress_line(w, job, pi);
        } else if (pi->len < PGQRS_MAX_PROGRESS_BYTES) {
            pi->line[pi->len++] = b[i];
        } else {
            pi->too_long = true;
        }
    }
}

/* Runs the command for one job; its outcome. */
static int work_job(pgqrs_job *job, void *user)
{
    work_ctx *w = user;
    char bufs[5][192];
    char **env = job_env(job, bufs);
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, prog[2] = { -1, -1 }, status = 0, outcome;
    progress_in *pi = calloc(1, sizeof *pi);
    bool cancel_sent = false, cancel_killed = false;
    int64_t cancel_at = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t dflt;
    const char *payload = pgqrs_job_payload(job);
    size_t plen = strlen(payload), sent = 0, got = 0, cap = 0;
    char *buf = NULL;
    bool overflow = false, term_sent = false, kill_sent = false;
    int64_t start = mono_ms();
    pid_t pid = -1;
    int rc;
    if (!env || !pi || pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(prog, O_CLOEXEC) != 0) {
        free(env);
        free(pi);
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0)
                close(in[i]);
            if (out[i] >= 0)
                close(out[i]);
            if (prog[i] >= 0)
                close(prog[i]);
        }
        return PGQRS_JOB_RETRY;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, prog[1], PROGRESS_FD);
    /* pgqrs ignores SIGPIPE; an ignored signal stays ignored across exec: give
     * the command the default back */
    posix_spawnattr_init(&attr);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setpgroup(&attr, 0);   /* its own process group: a cancel stops all of it */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    rc = posix_spawnp(&pid, w->argv[0], &fa, &attr, w->argv, env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(in[0]);
    close(out[1]);
    close(prog[1]);
    if (rc != 0) {
        pthread_mutex_lock(&w->mu);
        if (!w->spawn_error_shown)
            fprintf(stderr, "pgqrs work: cannot run %s: %s (the message is retried)\n", w->argv[0], strerror(rc));
        w->spawn_error_shown = true;
        pthread_mutex_unlock(&w->mu);
        close(in[1]);
        close(out[0]);
        close(prog[0]);
        free(pi);
        return PGQRS_JOB_RETRY;
    }
    track(w, pid, true);
    fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
    if (plen == 0) {
        close(in[1]);
        in[1] = -1;
    }
    while (out[0] >= 0) {   /* write the payload, read the output, until it closes its end */
        struct pollfd p[3] = { { out[0], POLLIN, 0 }, { prog[0], POLLIN, 0 }, { in[1], POLLOUT, 0 } };
        int wait = 200;
        if (!cancel_sent && pgqrs_job_cancel_requested(job)) {
            kill(-pid, SIGTERM);   /* the command's process group */
            cancel_sent = true;
            cancel_at = mono_ms();
        } else if (cancel_sent && !cancel_killed && mono_ms() - cancel_at >= 5000) {
            kill(-pid, SIGKILL);
            cancel_killed = true;
        }
        if (w->timeout_ms > 0) {
            int64_t left = w->timeout_ms - (mono_ms() - start);
            if (left <= 0 && !term_sent) {
                kill(pid, SIGTERM);
                term_sent = true;
            } else if (left <= -5000 && !kill_sent) {
                kill(pid, SIGKILL);
                kill_sent = true;
            }
        }
        if (poll(p, in[1] >= 0 ? 3 : 2, wait) < 0 && errno != EINTR)
            break;
        if (prog[0] >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char chunk[4096];
            ssize_t n = read(prog[0], chunk, sizeof chunk);
            if (n > 0) {
                progress_bytes(w, job, pi, chunk, (size_t)n);
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                progress_line(w, job, pi);   /* a last line without its newline */
                close(prog[0]);
                prog[0] = -1;
            }
        }
        if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = write(in[1], payload + sent, plen - sent);
            if (n > 0)
                sent += (size_t)n;
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == plen) {
                close(in[1]);   /* all sent, or it stopped reading (EPIPE): its end of file */
                in[1] = -1;
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char chunk[4096];
            ssize_t n = read(out[0], chunk, sizeof chunk);
            if (n > 0 && !overflow) {
                if (got + (size_t)n + 1 > cap) {
                    size_t ncap = cap ? cap * 2 : 8192;
                    char *nb;
                    while (ncap < got + (size_t)n + 1)
                        ncap *= 2;
                    if (ncap > MAX_OUTPUT + 1 || !(nb = realloc(buf, ncap))) {
                        overflow = true;
                        continue;
                    }
                    buf = nb;
                    cap = ncap;
                }
                memcpy(buf + got, chunk, (size_t)n);
                got += (size_t)n;
            } else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                close(out[0]);
                out[0] = -1;
            }
        }
    }
    if (in[1] >= 0)
        close(in[1]);
    if (out[0] >= 0)
        close(out[0]);
    if (prog[0] >= 0) {   /* what it wrote before closing its standard output */
        char chunk[4096];
        ssize_t n;
        fcntl(prog[0], F_SETFL, fcntl(prog[0], F_GETFL) | O_NONBLOCK);
        while ((n = read(prog[0], chunk, sizeof chunk)) > 0)
            progress_bytes(w, job, pi, chunk, (size_t)n);
        progress_line(w, job, pi);
        close(prog[0]);
    }
    free(pi);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    track(w, pid, false);
    if (buf)
        buf[got] = '\0';
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        outcome = PGQRS_JOB_DONE;
    else if (WIFEXITED(status) && WEXITSTATUS(status) == w->fail_exit)
        outcome = PGQRS_JOB_FAIL;
    else
        outcome = PGQRS_JOB_RETRY;
    if (buf && got && !overflow && is_json(buf)) {
        pgqrs_job_set_result(job, buf);
    } else if (buf && got) {
        /* not JSON: the command's own output, passed on (stderr keeps stdout for --json) */
        pthread_mutex_lock(&w->mu);
        fwrite(buf, 1, got, stderr);
        pthread_mutex_unlock(&w->mu);
    }
    free(buf);
    if (w->prog.on) {
        pgqrs_runtime_stats st = PGQRS_RUNTIME_STATS_INIT;
        if (pgqrs_runtime_stats_get(&st, w->rt) == PGQRS_OK) {
            pthread_mutex_lock(&w->mu);
            cli_progress_update(&w->prog, false, "work %.60s: %lld done, %lld retried, %lld dead-lettered, %lld running",
                                w->queue, (long long)st.done, (long long)st.retried, (long long)st.dead_lettered,
                                (long long)st.running);
            pthread_mutex_unlock(&w->mu);
        }
    }
    return outcome;
}

static int run_work(cli_ctx *ctx, const cli_args *a)
{
    pgqrs_runtime_options o = PGQRS_RUNTIME_OPTIONS_INIT;
    pgqrs_runtime_stats st = PGQRS_RUNTIME_STATS_INIT;
    struct sigaction sa, old_term, old_int, old_pipe;
    work_ctx w;
    pgqrs_scheduler_stats ss = PGQRS_SCHEDULER_STATS_INIT;
    int64_t concurrency, batch, vt, shutdown_s, timeout_s, fail_exit, retention;
    pgqrs_status rs;
    int rc = 0;
    if (a->npos < 2)
        return cli_usage(ctx, "missing COMMAND (pgqrs work QUEUE -- COMMAND [ARGS...])");
    if (!cli_opt_int(ctx, a, "concurrency", 1, 1, 1024, &concurrency) ||
        !cli_opt_int(ctx, a, "batch-size", 0, 1, PGQRS_MAX_BATCH_LIMIT, &batch) ||
        !cli_opt_int(ctx, a, "vt", 0, 1, PGQRS_MAX_VT_SECONDS, &vt) ||
        !cli_opt_int(ctx, a, "shutdown-timeout", 30, 0, 86400, &shutdown_s) ||
        !cli_opt_int(ctx, a, "timeout", 0, 1, (int64_t)86400 * 7, &timeout_s) ||
        !cli_opt_int(ctx, a, "fail-exit", WORK_EXIT_FAIL, 1, 255, &fail_exit) ||
        !cli_opt_int(ctx, a, "retention-interval", 60, 0, INT64_MAX / 1000000, &retention))
        return CLI_EXIT_USAGE;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    w.argv = (char *const *)&a->pos[1];
    w.fail_exit = (int)fail_exit;
    w.timeout_ms = timeout_s * 1000;
    w.queue = a->pos[0];
    o.concurrency = (int)concurrency;
    o.batch_size = (int)batch;
    o.vt_seconds = (int)vt;
    o.shutdown_ms = shutdown_s ? shutdown_s * 1000 : 1;
    o.until_empty = cli_flag(a, "until-empty");
    o.no_scheduler = cli_flag(a, "no-scheduler");
    o.scheduler.retention_interval_s = retention == 0 ? -1 : retention;
    if ((rs = pgqrs_runtime_new(&w.rt, ctx->store, &o)) != PGQRS_OK) {
        pthread_mutex_destroy(&w.mu);
        return cli_fail(ctx, rs, ctx->store, NULL);
    }
    if ((rs = pgqrs_runtime_add_queue(w.rt, a->pos[0], work_job, &w)) != PGQRS_OK) {
        rc = cli_fail(ctx, rs, w.rt, NULL);
        pgqrs_runtime_free(w.rt);
        pthread_mutex_destroy(&w.mu);
        return rc;
    }
    /* argv must stay NULL-terminated for posix_spawnp: pos[] is followed by zeros
     * (cli_args is zeroed) unless all CLI_MAX_POSITIONALS are used */
    if (a->npos >= CLI_MAX_POSITIONALS) {
        pgqrs_runtime_free(w.rt);
        pthread_mutex_destroy(&w.mu);
        return cli_usage(ctx, "COMMAND has too many arguments (at most %d)", CLI_MAX_POSITIONALS - 2);
    }
    signal_rt = w.rt;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    sa.sa_handler = SIG_IGN;   /* a command that does not read its input: EPIPE, not death */
    sa.sa_flags = 0;
    sigaction(SIGPIPE, &sa, &old_pipe);
    cli_progress_start(&w.prog);
    rs = pgqrs_runtime_run(w.rt);
    cli_progress_end(&w.prog);
    pgqrs_runtime_stats_get(&st, w.rt);
    if (pgqrs_runtime_scheduler(w.rt))
        pgqrs_scheduler_stats_get(&ss, pgqrs_runtime_scheduler(w.rt));
    if (rs == PGQRS_ETIMEOUT) {
        /* the shutdown timeout passed: the commands still running are killed (their
         * messages were released for another delivery) */
        pthread_mutex_lock(&w.mu);
        for (int i = 0; i < w.n_children; i++)
            kill(w.children[i], SIGKILL);
        pthread_mutex_unlock(&w.mu);
        rc = cli_fail(ctx, rs, w.rt, "stopping");
    } else if (rs != PGQRS_OK) {
        rc = cli_fail(ctx, rs, w.rt, NULL);
    }
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    signal_rt = NULL;
    if (rc == 0) {
        if (ctx->json) {
            json_t *j = json_object();
            json_object_set_new(j, "queue", json_string(a->pos[0]));
            json_object_set_new(j, "claimed", json_integer(st.claimed));
            json_object_set_new(j, "done", json_integer(st.done));
            json_object_set_new(j, "retried", json_integer(st.retried));
            json_object_set_new(j, "dead_lettered", json_integer(st.dead_lettered));
            json_object_set_new(j, "given_back", json_integer(st.given_back));
            json_object_set_new(j, "lost", json_integer(st.lost));
            json_object_set_new(j, "cancelled", json_integer(st.cancelled));
            json_object_set_new(j, "ticks_fired", json_integer(ss.fired));
            json_object_set_new(j, "purged", json_integer(ss.purged));
            rc = cli_json_print(j);
        } else {
            printf("%s: %lld done, %lld retried, %lld dead-lettered, %lld given back, %lld cancelled\n", a->pos[0],
                   (long long)st.done, (long long)st.retried, (long long)st.dead_lettered, (long long)st.given_back,
                   (long long)st.cancelled);
        }
    }
    if (rs == PGQRS_ETIMEOUT) {
        /* handler threads may still be waiting for killed children: they are left
         * to the process's exit rather than freed under them */
        fflush(stdout);
        _exit(rc);
    }
    pgqrs_runtime_free(w.rt);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

static const cli_option work_opts[] = {
    { "concurrency", "N", "Commands run at once (handler threads), 1..1024 (default 1)." },
    { "batch-size", "N", "Most messages claimed at once (default 10); at most N + --concurrency\n"
                         "messages are held, the ones waiting for a thread with their leases kept." },
    { "vt", "SECONDS", "Lease of each held message, renewed every third of it while it waits or\n"
                       "runs (default: the store's, 30)." },
    { "until-empty", NULL, "Exit 0 once the queue has no pending message and nothing runs (a message\n"
                           "waiting for its retry or delay does not count)." },
    { "timeout", "SECONDS", "A command running longer gets SIGTERM (SIGKILL 5 s later); that is a\n"
                            "retry (default: no limit)." },
    { "fail-exit", "CODE", "The exit status that dead-letters the message now (default 65)." },
    { "shutdown-timeout", "SECONDS", "After SIGTERM or SIGINT, how long running commands may take to finish\n"
                                     "(default 30); then they are killed, their messages released, exit 3." },
    { "no-scheduler", NULL, "Do not fire schedules or apply retention here (a scheduler runs by\n"
                            "default: 'pgqrs schedule --help')." },
    { "retention-interval", "SECONDS", "Apply retention every this often (default 60; 0 = never)." },
    { NULL, NULL, NULL },
};

static const cli_command work_command = {
    .name = NULL,
    .summary = "run a command once per message of a queue",
    .params = "QUEUE -- COMMAND [ARGS...]",
    .description =
        "A worker: claims the messages of QUEUE and runs COMMAND once per message,\n"
        "--concurrency at a time, with the payload (JSON) on its standard input and\n"
        "PGQRS_MESSAGE_ID, PGQRS_ATTEMPT (1 = the first delivery), PGQRS_MAX_ATTEMPTS\n"
        "and PGQRS_QUEUE in its environment (the rest of the environment is pgqrs's).\n"
        "Its exit status decides:\n"
        "  0       done: the message is archived; its standard output, when it is\n"
        "          JSON, is stored with it as the result ('message' and 'dlq' lists)\n"
        "  65      (--fail-exit) dead-lettered now, whatever attempts remain\n"
        "  other   (or a signal) retried after the queue's retry policy's delay\n"
        "          ('queue update'); dead-lettered after its last attempt.\n"
        "Progress: each line the command writes to descriptor 3 (its number is in\n"
        "PGQRS_PROGRESS_FD) is stored as the message's progress when it is JSON of at\n"
        "most 8192 bytes ('message get'); other lines are ignored with a line on\n"
        "stderr. Cancel: when 'message cancel' asks to stop a message that is running,\n"
        "its command (run in a process group of its own) gets SIGTERM, SIGKILL 5 s\n"
        "later, and the message is archived as cancelled whatever it exits with.\n"
        "Standard output that is not JSON is passed on to pgqrs's stderr; the\n"
        "command's stderr is pgqrs's. Finished messages are settled in batches with\n"
        "the next claim: after a crash of pgqrs (kill -9, power loss) a command that\n"
        "had finished may run again (at-least-once; docs/worker.md).\n"
        "SIGTERM or SIGINT drains: no new message is claimed, the claimed ones not\n"
        "started go back to the queue, running commands finish (--shutdown-timeout),\n"
        "then pgqrs prints what it did and exits 0; a second signal ends it at once.\n"
        "With --until-empty it exits 0 once the queue has no pending message. While it\n"
        "runs it is also a scheduler, as 'pgqrs schedule run' is: it fires the due\n"
        "ticks of every schedule (of any queue) and applies retention, unless\n"
        "--no-scheduler. While it runs, a progress line shows on stderr when it is a\n"
        "terminal. Prints \"QUEUE: N done, N retried, N dead-lettered, N given back,\n"
        "N cancelled\"; with --json {\"queue\", \"claimed\", \"done\", \"retried\",\n"
        "\"dead_lettered\", \"given_back\", \"lost\", \"cancelled\", \"ticks_fired\",\n"
        "\"purged\"}.\n"
        "Put -- before COMMAND when it has options of its own.\n",
    .options = work_opts,
    .example = "pgqrs work emails --concurrency 4 -- ./send-email.sh\n"
               "pgqrs work thumbnails --until-empty -- python3 thumb.py\n"
               "pgqrs work q -- sh -c 'jq -e .ok >/dev/null || exit 65'\n",
    .min_pos = 1, .max_pos = -1, .needs_store = true, .run = run_work,
};

const cli_group cli_group_work = {
    .name = "work",
    .summary = "run a command once per message (a worker in any language)",
    .description = "A worker for QUEUE that runs a command per message; see 'pgqrs work --help'.\n",
    .commands = NULL,
    .single = &work_command,
};
