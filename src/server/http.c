/* http.c: libmicrohttpd glue and the public pgqrs_server_* calls. One internal
 * polling thread serves every connection; each request is parsed and routed by
 * router.c, authorized, then handled on the store (which is thread-safe). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/handle.h"
#include "server/server.h"

#define SERVER_MAGIC 0x51535631u

struct pgqrs_server {
    uint32_t magic;
    pgqrs_store *store;
    struct MHD_Daemon *d;
    srv_policy pol;
    char *token;
    char session[40], csrf[40];
    int port;
    int log_requests;
    int pipe_fd[2];
    atomic_int stopping;
};

typedef struct conn_state {
    char *uri;
    pgqrs_buf body;
    bool too_big;
    bool started;    /* the first call (headers only) has been seen */
} conn_state;

PGQRS_EXTERN pgqrs_status pgqrs_server_options_init(pgqrs_server_options *opts, unsigned int version)
{
    return pgqrs__struct_init(opts, sizeof *opts, version, PGQRS_SERVER_OPTIONS_VERSION, "server options");
}

static int random_hex(char *out, size_t nbytes)
{
    unsigned char raw[32];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    if (fd < 0 || nbytes > sizeof raw)
        return -1;
    while (got < nbytes) {
        ssize_t r = read(fd, raw + got, nbytes - got);
        if (r <= 0 && errno != EINTR) {
            close(fd);
            return -1;
        }
        if (r > 0)
            got += (size_t)r;
    }
    close(fd);
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *con)
{
    conn_state *cs = pgqrs__calloc(1, sizeof *cs);
    (void)cls;
    (void)con;
    if (cs)
        cs->uri = pgqrs__strdup(uri ? uri : "/");
    return cs;
}

static void completed(void *cls, struct MHD_Connection *con, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    conn_state *cs = *con_cls;
    (void)cls;
    (void)con;
    (void)toe;
    if (cs) {
        pgqrs__free(cs->uri);
        pgqrs__buf_free(&cs->body);
        pgqrs__free(cs);
        *con_cls = NULL;
    }
}

/* The path for a log line: printable ASCII only, at most 200 bytes. */
static void log_line(const char *method, const char *path, int status)
{
    char p[204];
    size_t o = 0;
    for (const char *s = path ? path : "?"; *s && o < 200; s++)
        p[o++] = (*s > 0x20 && *s < 0x7f) ? *s : '?';
    p[o] = 0;
    fprintf(stderr, "pgqrs serve: %.8s %s %d\n", method, p, status);
}

static enum MHD_Result send_resp(struct MHD_Connection *con, pgqrs_server *srv, srv_resp *resp)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(resp->body.len, resp->body.data ? resp->body.data : "",
                                                             MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", resp->content_type ? resp->content_type : "text/plain; charset=utf-8");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                            "frame-ancestors 'none'; base-uri 'none'");
    if (resp->location[0])
        MHD_add_response_header(r, "Location", resp->location);
    if (resp->allow)
        MHD_add_response_header(r, "Allow", resp->allow);
    if (resp->set_cookie) {
        char c[128];
        snprintf(c, sizeof c, "pgqrs_session=%s; Path=/; HttpOnly; SameSite=Strict", srv->session);
        MHD_add_response_header(r, "Set-Cookie", c);
    }
    ret = MHD_queue_response(con, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls)
{
    pgqrs_server *srv = cls;
    conn_state *cs = *con_cls;
    srv_resp resp = { 0 };
    srv_req req;
    const char *msg = "";
    int rc;
    enum MHD_Result ret;
    (void)url;
    (void)version;
    if (!cs || !cs->uri)
        return MHD_NO;   /* out of memory: close the connection */
    if (!cs->started) {
        /* the first call has the headers only: the body (if any) comes next */
        cs->started = true;
        const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
        if (!(cl && strtoull(cl, NULL, 10) > SRV_MAX_BODY))
            return MHD_YES;
        cs->too_big = true;   /* answer at once: no need to read it */
    } else if (*upload_data_size) {
        if (cs->too_big || cs->body.len + *upload_data_size > SRV_MAX_BODY) {
            cs->too_big = true;
        } else if (pgqrs__buf_append(&cs->body, upload_data, *upload_data_size) != 0) {
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    const char *clen = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
    if (clen && strtoull(clen, NULL, 10) > SRV_MAX_BODY)
        cs->too_big = true;
    if (cs->too_big) {
        rc = 413;
        msg = "request body too large (at most 65536 bytes)";
        memset(&req, 0, sizeof req);
    } else {
        rc = srv_parse(&req, method, cs->uri, cs->body.data, cs->body.len,
                       MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type"), &msg);
    }
    if (rc == 0) {
        srv_headers h = {
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Host"),
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Origin"),
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Sec-Fetch-Site"),
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Cookie"),
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization"),
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-Pgqrs-Token"),
        };
        bool set_cookie = false;
        rc = srv_authorize(&srv->pol, &req, &h, &set_cookie, &msg);
        if (rc == 0 && set_cookie) {
            /* drop ?token= from the address bar and history: back to the path */
            resp.status = 303;
            resp.set_cookie = true;
            snprintf(resp.location, sizeof resp.location, "%s", req.path);
            resp.content_type = "text/plain; charset=utf-8";
        } else if (rc == 0) {
            struct timeval tv;
            gettimeofday(&tv, NULL);
            srv_ctx ctx = { srv->store, &srv->pol, (int64_t)tv.tv_sec * 1000000 + tv.tv_usec };
            srv_handle(&ctx, &req, &resp);
        }
    }
    if (rc != 0) {
        srv_req tmp = { 0 };
        tmp.path = req.path ? req.path : (char *)"/";
        srv_error(&resp, &tmp, rc, msg);
        if (rc == 405)
            resp.allow = "GET, HEAD, POST";
    }
    if (srv->log_requests)
        log_line(method, req.path ? req.path : "/", resp.status);
    ret = send_resp(con, srv, &resp);
    pgqrs__buf_free(&resp.body);
    srv_req_clear(&req);
    return ret;
}

/* Splits "host:port" / "[v6]:port" and resolves the host numerically or by name. */
static pgqrs_status parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len, int *loopback)
{
    char host[256], port[16];
    const char *colon;
    struct addrinfo hints = { 0 }, *res = NULL;
    size_t hl;
    if (listen[0] == '[') {
        const char *e = strchr(listen, ']');
        if (!e || e[1] != ':')
            return pgqrs__fail(NULL, PGQRS_EINVAL, "--listen: expected [ADDRESS]:PORT");
        hl = (size_t)(e - listen - 1);
        colon = e + 1;
        if (hl >= sizeof host)
            return pgqrs__fail(NULL, PGQRS_EINVAL, "--listen: address too long");
        memcpy(host, listen + 1, hl);
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return pgqrs__fail(NULL, PGQRS_EINVAL, "--listen: expected HOST:PORT");
        hl = (size_t)(colon - listen);
        if (hl >= sizeof host || hl == 0)
            return pgqrs__fail(NULL, PGQRS_EINVAL, "--listen: bad host");
        memcpy(host, listen, hl);
    }
    host[hl] = 0;
    if (strlen(colon + 1) == 0 || strlen(colon + 1) > 5 || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        strtol(colon + 1, NULL, 10) > 65535)
        return pgqrs__fail(NULL, PGQRS_EINVAL, "--listen: bad port");
    snprintf(port, sizeof port, "%s", colon + 1);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return pgqrs__fail(NULL, PGQRS_EINVAL, "--listen: cannot resolve the host");
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        *loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        *loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
    }
    return PGQRS_OK;
}

PGQRS_EXTERN pgqrs_status pgqrs_server_new(pgqrs_server **out, pgqrs_store *store, const pgqrs_server_options *opts)
{
    pgqrs_server_options o = PGQRS_SERVER_OPTIONS_INIT;
    struct sockaddr_storage ss = { 0 };
    socklen_t sl = 0;
    int loopback = 0;
    pgqrs_server *srv;
    pgqrs_status st;
    if (!out)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "out is NULL");
    *out = NULL;
    if ((st = pgqrs__check_handle(store, PGQRS__MAGIC_STORE, "store")) != PGQRS_OK)
        return pgqrs__fail(NULL, st, "store is not a live store");
    if (opts) {
        if (opts->version != PGQRS_SERVER_OPTIONS_VERSION)
            return pgqrs__fail(NULL, PGQRS_EINVAL, "server options: unknown version %u", opts->version);
        o = *opts;
    }
    if (!o.listen || !*o.listen)
        o.listen = "127.0.0.1:8080";
    if (o.token && !*o.token)
        o.token = NULL;
    if (o.token && strlen(o.token) < 16)
        return pgqrs__fail(NULL, PGQRS_EINVAL, "the token must be at least 16 bytes");
    if (o.token && strlen(o.token) > 256)
        return pgqrs__fail(NULL, PGQRS_EINVAL, "the token must be at most 256 bytes");
    for (const char *p = o.token; p && *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == ';' || *p == ',')
            return pgqrs__fail(NULL, PGQRS_EINVAL, "the token must be printable ASCII without spaces, ';' or ','");
    if ((st = parse_listen(o.listen, &ss, &sl, &loopback)) != PGQRS_OK)
        return st;
    if (!loopback && !o.token)
        return pgqrs__fail(NULL, PGQRS_EINVAL,
                           "refusing to listen on a non-loopback address without a token (--token or PGQRS_SERVE_TOKEN)");
    if (!(srv = pgqrs__calloc(1, sizeof *srv)))
        return pgqrs__fail(NULL, PGQRS_ENOMEM, "out of memory");
    srv->magic = SERVER_MAGIC;
    srv->store = store;
    srv->log_requests = o.log_requests;
    srv->pipe_fd[0] = srv->pipe_fd[1] = -1;
    if (o.token && !(srv->token = pgqrs__strdup(o.token))) {
        pgqrs_server_free(srv);
        return pgqrs__fail(NULL, PGQRS_ENOMEM, "out of memory");
    }
    if (random_hex(srv->session, 16) || random_hex(srv->csrf, 16) || pipe(srv->pipe_fd) != 0) {
        pgqrs_server_free(srv);
        return pgqrs__fail(NULL, PGQRS_ERROR, "cannot read random bytes or create a pipe");
    }
    fcntl(srv->pipe_fd[1], F_SETFL, O_NONBLOCK);
    srv->pol.token = srv->token;
    srv->pol.session = srv->session;
    srv->pol.csrf = srv->csrf;
    srv->pol.read_only = o.read_only;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_URI_LOG_CALLBACK, uri_log, srv, MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                              (unsigned)32, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024), MHD_OPTION_END);
    if (!srv->d) {
        pgqrs_server_free(srv);
        return pgqrs__fail(NULL, PGQRS_ECONN, "cannot listen on %.200s (in use, or not an address of this machine)",
                           o.listen);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? (int)info->port : 0;
    *out = srv;
    return PGQRS_OK;
}

PGQRS_EXTERN int pgqrs_server_port(const pgqrs_server *srv)
{
    return srv && srv->magic == SERVER_MAGIC ? srv->port : 0;
}

PGQRS_EXTERN pgqrs_status pgqrs_server_wait(pgqrs_server *srv)
{
    if (!srv || srv->magic != SERVER_MAGIC)
        return pgqrs__fail(NULL, PGQRS_EMISUSE, "not a live server");
    while (!atomic_load(&srv->stopping)) {
        struct pollfd p = { srv->pipe_fd[0], POLLIN, 0 };
        (void)poll(&p, 1, 1000);
    }
    return PGQRS_OK;
}

PGQRS_EXTERN void pgqrs_server_stop(pgqrs_server *srv)
{
    if (!srv || srv->magic != SERVER_MAGIC)
        return;
    atomic_store(&srv->stopping, 1);
    if (srv->pipe_fd[1] >= 0) {
        ssize_t w = write(srv->pipe_fd[1], "x", 1);
        (void)w;
    }
}

PGQRS_EXTERN void pgqrs_server_free(pgqrs_server *srv)
{
    if (!srv || srv->magic != SERVER_MAGIC)
        return;
    if (srv->d)
        MHD_stop_daemon(srv->d);
    if (srv->pipe_fd[0] >= 0)
        close(srv->pipe_fd[0]);
    if (srv->pipe_fd[1] >= 0)
        close(srv->pipe_fd[1]);
    if (srv->token) {
        memset(srv->token, 0, strlen(srv->token));
        pgqrs__free(srv->token);
    }
    srv->magic = PGQRS__MAGIC_FREED;
    pgqrs__free(srv);
}
