#!/usr/bin/env python3
"""turso_proxy.py: a fault-injecting HTTP proxy in front of one tursodb (Hrana over
HTTP), for tests/test_turso.c. Python 3 standard library only.

    python3 tests/turso_proxy.py --upstream http://127.0.0.1:PORT

Listens on 127.0.0.1, port 0 (the kernel picks a free one), and prints
"port N" on stdout once it accepts connections. It forwards POST /v2/pipeline
(and anything else) to the upstream, one new upstream connection per request,
and relays the answer. It is scripted through stdin, one command a line, and
answers each with one line on stdout:

    fault ACTION COUNT [ARG]  queue ACTION for the next COUNT pipeline requests
                              (COUNT -1: every request until `clear`); "ok"
      status CODE [PAD]       answer HTTP CODE before forwarding (nothing ran);
                              the body echoes the request's Authorization header,
                              as careless servers do, to test the client's scrub:
                              JSON, or with PAD text/plain: PAD x's, then the
                              header's value (to put the token where a client
                              cuts its message)
      baton-invalid           HTTP 400 text/plain "Received an invalid baton"
                              (sqld's answer when a baton is not its own; nothing ran)
      stream-expired          HTTP 500 application/json
                              {"message":"The stream has expired due to inactivity",
                               "code":"STREAM_EXPIRED"} (sqld's; nothing ran)
      drop                    forward, wait for the upstream's whole answer (so the
                              request ran), then close the client connection
                              without a byte of response
      delay SECONDS           forward, wait for the answer, then hold it SECONDS
                              before relaying it (past the client's timeout)
    clear                     drop the queued faults; "ok"
    reset                     clear, and zero the counters and the log; "ok"
    stats                     "stats SEEN FORWARDED [T_MS,KIND,ACTION ...]": pipeline
                              requests seen and forwarded upstream since the last
                              reset, then one entry per request in arrival order:
                              T_MS arrival (ms, monotonic, from the first one),
                              KIND w (a batch: a write), r (execute only) or o,
                              ACTION fwd, drop, delay, status-CODE, baton-invalid,
                              stream-expired
    quit                      stop; so does end of input (the test died)

Faults are taken in arrival order, each request consuming one COUNT of the
first queued fault. Counters count only /v2/pipeline.
"""
import argparse
import http.client
import http.server
import json
import socket
import sys
import threading
import time
import urllib.parse

lock = threading.Lock()
faults = []          # [action, remaining (-1: forever), arg]
log = []             # (t, kind, action)
seen = 0
forwarded = 0
t0 = None
upstream = None      # (host, port)


def take_fault():
    """The action for the next pipeline request, and the request's index."""
    with lock:
        if not faults:
            return "fwd", None
        f = faults[0]
        if f[1] > 0:
            f[1] -= 1
            if f[1] == 0:
                faults.pop(0)
        return f[0], f[2]


def kind_of(body):
    try:
        reqs = json.loads(body).get("requests", [])
    except (ValueError, AttributeError):
        return "o"
    types = [r.get("type") for r in reqs if isinstance(r, dict)]
    if "batch" in types:
        return "w"
    if types and all(t in ("execute", "close") for t in types):
        return "r"
    return "o"


def note(kind, action, fwd):
    global seen, forwarded, t0
    now = time.monotonic()
    with lock:
        if t0 is None:
            t0 = now
        seen += 1
        if fwd:
            forwarded += 1
        log.append(((now - t0) * 1000.0, kind, action))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as a real server: libcurl reuses connections
    disable_nagle_algorithm = True  # headers and body go out at once (no delayed-ACK stalls)

    def log_message(self, fmt, *args):
        pass

    def forward(self, body):
        conn = http.client.HTTPConnection(upstream[0], upstream[1], timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "connection", "keep-alive", "expect")}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheader("Content-Type", "application/json"), data
        finally:
            conn.close()

    def reply(self, status, ctype, data):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path != "/v2/pipeline":
            self.reply(*self.forward(body))
            return
        kind = kind_of(body)
        action, arg = take_fault()
        if action == "status":
            code = int(arg[0])
            note(kind, "status-%d" % code, False)
            auth = self.headers.get("Authorization", "")
            if len(arg) > 1:
                self.reply(code, "text/plain", ("x" * int(arg[1]) + auth + " was refused").encode())
            else:
                msg = "proxy fault: HTTP %d (request had Authorization: %s)" % (code, auth)
                self.reply(code, "application/json", json.dumps({"message": msg, "code": "PROXY_FAULT"}).encode())
        elif action == "baton-invalid":
            note(kind, action, False)
            self.reply(400, "text/plain", b"Received an invalid baton")
        elif action == "stream-expired":
            note(kind, action, False)
            self.reply(500, "application/json",
                       b'{"message":"The stream has expired due to inactivity","code":"STREAM_EXPIRED"}')
        elif action == "drop":
            note(kind, action, True)
            self.forward(body)          # it ran upstream
            self.drop()
        elif action == "delay":
            note(kind, action, True)
            answer = self.forward(body)
            time.sleep(float(arg))
            try:
                self.reply(*answer)
            except OSError:
                self.close_connection = True   # the client gave up
        else:
            note(kind, "fwd", True)
            self.reply(*self.forward(body))

    do_POST = handle_any
    do_GET = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def command(line):
    global seen, forwarded, t0
    w = line.split()
    if not w:
        return "error empty command"
    if w[0] == "fault" and len(w) >= 3:
        action = w[1]
        if action not in ("status", "baton-invalid", "stream-expired", "drop", "delay"):
            return "error unknown action " + action
        if action in ("status", "delay") and len(w) < 4:
            return "error %s needs an argument" % action
        with lock:
            faults.append([action, int(w[2]), w[3:] if action == "status" else (w[3] if len(w) > 3 else None)])
        return "ok"
    if w[0] == "clear":
        with lock:
            faults.clear()
        return "ok"
    if w[0] == "reset":
        with lock:
            faults.clear()
            log.clear()
            seen = forwarded = 0
            t0 = None
        return "ok"
    if w[0] == "stats":
        with lock:
            entries = " ".join("%.3f,%s,%s" % e for e in log)
            return ("stats %d %d %s" % (seen, forwarded, entries)).rstrip()
    return "error unknown command " + w[0]


def main():
    global upstream
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="http://HOST:PORT of tursodb")
    args = ap.parse_args()
    u = urllib.parse.urlsplit(args.upstream)
    upstream = (u.hostname, u.port or 80)
    srv = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("port %d" % srv.server_address[1], flush=True)
    for line in sys.stdin:
        line = line.strip()
        if line == "quit":
            break
        print(command(line), flush=True)
    srv.shutdown()
    srv.server_close()


if __name__ == "__main__":
    main()
