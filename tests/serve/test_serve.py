#!/usr/bin/python3
"""`pgqrs serve` end to end (issue 20): seeds a store through the Python binding,
starts the server on a free loopback port and checks the JSON API, /metrics
(parsed with python3-prometheus-client), authorization (token, same origin,
read-only, non-loopback refusal), request limits, every HTML page in headless
Chromium, and that a dead-letter replay and a run cancel done through the
pages' forms change the database.

    tests/serve/test_serve.py BACKEND [--screenshots DIR]
BACKEND: sqlite, postgres (PGQRS_TEST_PG_DSN, a fresh schema) or turso
(PGQRS_TURSODB: a tursodb --sync-server of its own). Prints
"serve: N passed, N failed, N skipped". Every wait is bounded; every process it
starts is stopped by PID in a finally block."""
import html
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
import pgqrs  # noqa: E402

PGQRS = os.environ.get("PGQRS_BIN", os.path.join(ROOT, "build", "pgqrs"))
TOKEN = "serve-test-token-" + uuid.uuid4().hex
passed = failed = skipped = 0
procs = []


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(cmd, env=None, stderr_file=None):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr_file or subprocess.PIPE, env=env)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


class Server:
    """A `pgqrs serve` on a free port; .log holds its stderr."""

    def __init__(self, dsn, *args, env=None):
        self.logf = tempfile.NamedTemporaryFile(prefix="pgqrs-serve-", suffix=".log", delete=False)
        self.p = start([PGQRS, "--dsn", dsn, "serve", "--listen", "127.0.0.1:0"] + list(args),
                       env=env, stderr_file=self.logf)
        self.port = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.p.poll() is None:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", self.log())
            if m:
                self.port = int(m.group(1))
                break
            time.sleep(0.05)
        if not self.port:
            raise RuntimeError("pgqrs serve did not start: " + self.log())
        self.base = "http://127.0.0.1:%d" % self.port

    def log(self):
        with open(self.logf.name, errors="replace") as f:
            return f.read()

    def close(self):
        stop(self.p)
        os.unlink(self.logf.name)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def http(base, path, method="GET", body=None, headers=None):
    """(status, headers, body text); never raises for an HTTP status."""
    h = {"Host": urllib.parse.urlsplit(base).netloc}
    h.update(headers or {})
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with OPENER.open(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8", "replace")


def jget(base, path, headers=None):
    st, _, body = http(base, path, headers=headers)
    try:
        return st, json.loads(body)
    except ValueError:
        return st, None


def chromium(url, shot=None):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        return None
    prof = tempfile.mkdtemp(prefix="pgqrs-chromium-")
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--user-data-dir=" + prof, "--timeout=15000"]
    args += (["--screenshot=" + shot, "--window-size=1280,800", "--hide-scrollbars"] if shot else ["--dump-dom"])
    try:
        r = subprocess.run(["timeout", "-k", "5", "60"] + args + [url], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=90)
        return r.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return ""
    finally:
        shutil.rmtree(prof, ignore_errors=True)


def form_fields(page, action_suffix):
    """(action, {field: value}) of the first form whose action ends with action_suffix."""
    for m in re.finditer(r'<form class="inline" method="post" action="([^"]*)">(.*?)</form>', page, re.S):
        action = html.unescape(m.group(1))
        if action.endswith(action_suffix):
            fields = {html.unescape(n): html.unescape(v)
                      for n, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', m.group(2))}
            return action, fields
    return None, None


def post_form(srv, action, fields):
    """POSTs a form as a browser does from the page: same origin."""
    return http(srv.base, action, "POST", urllib.parse.urlencode(fields),
                {"Content-Type": "application/x-www-form-urlencoded", "Origin": srv.base,
                 "Sec-Fetch-Site": "same-origin"})


def make_dsn(backend, tmp):
    """(dsn, cleanup)"""
    if backend == "sqlite":
        return "sqlite://" + os.path.join(tmp, "serve.db"), None
    if backend == "postgres":
        pg = os.environ.get("PGQRS_TEST_PG_DSN")
        if not pg:
            return None, None
        schema = "serve_" + uuid.uuid4().hex[:12]
        psql = shutil.which("psql") or os.path.join(os.environ.get("PGQRS_TEST_PG_BIN", ""), "psql")
        subprocess.run([psql, "-X", "-q", "-d", pg, "-c", "CREATE SCHEMA " + schema], check=True, timeout=60,
                       stdout=subprocess.DEVNULL)
        sep = "&" if "?" in pg else "?"
        return pg + sep + "schema=" + schema, lambda: subprocess.run(
            [psql, "-X", "-q", "-d", pg, "-c", "DROP SCHEMA %s CASCADE" % schema], timeout=60,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if backend == "turso":
        exe = os.environ.get("PGQRS_TURSODB")
        if not exe:
            return None, None
        port = free_port()
        p = start([exe, os.path.join(tmp, "turso.db"), "--sync-server", "127.0.0.1:%d" % port])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        return "http://127.0.0.1:%d" % port, lambda: stop(p)
    raise SystemExit("unknown backend " + backend)


WEIRD = 'we"ird<q>\\x'


def seed(dsn):
    """The store as the pages should show it. Returns (store, consumer, ids)."""
    store = pgqrs.connect(dsn, heartbeat_interval_s=-1)
    a = store.admin()
    a.install()
    a.create_queue("emails", max_attempts=1)
    a.create_queue(WEIRD)
    p = store.producer("emails")
    c = store.consumer("emails")
    ids = {}
    ids["dead"] = p.enqueue({"to": "dead@example.com"})
    c.release(c.dequeue(1)[0])                   # read once: the next claim dead-letters it
    ids["arch"] = p.enqueue({"to": "arch@example.com"})
    ids["flight"] = p.enqueue({"to": "flight@example.com"})
    ids["pend"] = p.enqueue({"to": "pend@example.com"})
    ids["pend2"] = p.enqueue({"to": "pend2@example.com"})
    ids["delayed"] = p.enqueue({"to": "later@example.com"}, delay=3600)
    m = c.dequeue(1)[0]                          # dead-letters "dead", returns "arch"
    c.archive(m)
    held = c.dequeue(1, vt=600)                  # "flight" stays in flight
    ids["held"] = held[0].id

    @pgqrs.workflow(name="child")
    def child(run, inp):
        return inp

    @pgqrs.workflow(name="parent")
    def parent(run, inp):
        v = run.step("fetch", lambda r: {"fetched": inp})
        run.set_event("stage", {"fetched": True})
        run.start_child("spawn", "child", {"from": "parent"})
        return v

    store.define(child)
    store.define(parent)
    ids["run_ok"] = store.trigger("parent", {"n": 1})
    with store.workflow_worker("parent") as w:
        w.run_once()
    ids["run_pending"] = store.trigger("parent", {"n": 2})
    a.create_schedule("nightly", "0 3 * * *", queue="emails", payload={"job": "nightly"})
    return store, c, ids


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    shots = None
    if "--screenshots" in sys.argv:
        shots = sys.argv[sys.argv.index("--screenshots") + 1]
    tmp = tempfile.mkdtemp(prefix="pgqrs-serve-test-")
    dsn, cleanup = make_dsn(backend, tmp)
    if not dsn:
        print("serve on %s: skipped (no database: run through scripts/with-postgres.sh / with-turso.sh)" % backend)
        print("serve: 0 passed, 0 failed, 1 skipped")
        return 0
    srv = ro = tok = None
    store = cons = None
    try:
        store, cons, ids = seed(dsn)
        srv = Server(dsn)
        B = srv.base
        # ---- JSON API
        st, q = jget(B, "/api/queues")
        check("api/queues status", st == 200, st)
        em = {x["name"]: x for x in (q or {}).get("queues", [])}.get("emails", {})
        check("api/queues metrics", (em.get("pending"), em.get("in_flight"), em.get("delayed"),
                                     em.get("dead_letters"), em.get("archived")) == (2, 1, 1, 1, 1), em)
        check("api/queues age", em.get("oldest_pending_age_seconds", -1) >= 0, em)
        want = {"pending": [ids["pend"], ids["pend2"]], "delayed": [ids["delayed"]], "in_flight": [ids["held"]],
                "archived": [ids["arch"]], "dead_letter": [ids["dead"]], "cancelled": []}
        for state, expect in want.items():
            st, j = jget(B, "/api/queues/emails/messages?state=" + state)
            got = [m["id"] for m in (j or {}).get("messages", [])]
            check("api/messages " + state, st == 200 and got == expect, (st, got, expect))
        st, j = jget(B, "/api/queues/emails/messages?state=in_flight")
        check("api/messages fields", j and all(k in j["messages"][0] for k in ("progress", "priority", "payload")), j)
        st, j = jget(B, "/api/queues/nope/messages")
        check("api/messages unknown queue 404", st == 404, st)
        st, j = jget(B, "/api/workers")
        check("api/workers", st == 200 and j["health"]["total"] >= 2 and len(j["workers"]) >= 2, j)
        st, j = jget(B, "/api/workflows")
        check("api/workflows", st == 200 and sorted(w["name"] for w in j["workflows"]) == ["child", "parent"], j)
        st, j = jget(B, "/api/runs?status=SUCCESS")
        check("api/runs by status", st == 200 and [r["id"] for r in j["runs"]] == [ids["run_ok"]], j)
        st, j = jget(B, "/api/runs?status=PENDING&workflow=parent")
        check("api/runs by workflow", st == 200 and [r["id"] for r in j["runs"]] == [ids["run_pending"]], j)
        st, j = jget(B, "/api/runs/%d" % ids["run_ok"])
        check("api/run", st == 200 and j["status"] == "SUCCESS" and [s["step_id"] for s in j["steps"]][:1] == ["fetch"]
              and [e["key"] for e in j["events"]] == ["stage"] and len(j["children"]) == 1, j)
        child_id = j["children"][0]["id"] if j and j.get("children") else 0
        st, j = jget(B, "/api/runs/999999")
        check("api/run unknown 404", st == 404, st)
        st, j = jget(B, "/api/schedules")
        s0 = (j or {}).get("schedules", [{}])[0]
        check("api/schedules", st == 200 and s0.get("name") == "nightly" and s0.get("next_at") and not s0["paused"], j)
        # ---- /metrics
        st, hdr, body = http(B, "/metrics")
        check("metrics status", st == 200 and hdr.get("Content-Type", "").startswith("text/plain; version=0.0.4"))
        try:
            from prometheus_client.parser import text_string_to_metric_families
            fams = {f.name: f for f in text_string_to_metric_families(body)}
            samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fams.values() for s in f.samples}
            check("metrics depth", samples.get(("pgqrs_queue_depth", (("queue", "emails"),))) == 2, samples)
            check("metrics in flight", samples.get(("pgqrs_queue_in_flight", (("queue", "emails"),))) == 1)
            check("metrics delayed", samples.get(("pgqrs_queue_delayed", (("queue", "emails"),))) == 1)
            check("metrics dead letters", samples.get(("pgqrs_queue_dead_letters", (("queue", "emails"),))) == 1)
            check("metrics archived counter", fams.get("pgqrs_queue_archived") is not None
                  and fams["pgqrs_queue_archived"].type == "counter"
                  and samples.get(("pgqrs_queue_archived_total", (("queue", "emails"),))) == 1, list(fams))
            check("metrics age", samples.get(("pgqrs_queue_oldest_pending_age_seconds", (("queue", "emails"),)), -1) >= 0)
            check("metrics escaped label", ("pgqrs_queue_depth", (("queue", WEIRD),)) in samples,
                  [k for k in samples if k[0] == "pgqrs_queue_depth"])
            check("metrics workers", samples.get(("pgqrs_workers", (("status", "ready"),)), 0) >= 1)
            check("metrics runs", samples.get(("pgqrs_workflow_runs", (("status", "SUCCESS"),))) == 1
                  and samples.get(("pgqrs_workflow_runs", (("status", "PENDING"),))) == 2, samples)
            check("metrics help/type", all(f.documentation for f in fams.values()))
        except ImportError:
            check("prometheus_client is installed", False)
        # ---- authorization and same origin (no token: loopback only)
        st, _, _ = http(B, "/api/workers/reclaim", "POST", "")
        check("POST without token 403", st == 403, st)
        st, _, _ = http(B, "/api/queues", headers={"Host": "evil.example:%d" % srv.port})
        check("non-loopback Host refused", st == 403, st)
        page = http(B, "/queues/emails?state=dead_letter")[2]
        action, fields = form_fields(page, "/messages/%d/replay" % ids["dead"])
        check("replay form on the page", action is not None, page[:300])
        fields = fields or {}
        st, _, _ = http(B, action or "/", "POST", urllib.parse.urlencode(fields),
                        {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"})
        check("cross-origin POST 403", st == 403, st)
        st, _, _ = http(B, action or "/", "POST", urllib.parse.urlencode(fields),
                        {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site"})
        check("cross-site POST 403", st == 403, st)
        check("nothing replayed yet", store.admin().dlq_count("emails") == 1)
        # ---- limits and bad requests: 4xx, never 500
        st, _, _ = http(B, "/api/workers/reclaim", "POST", "x" * 70000,
                        {"Content-Type": "application/x-www-form-urlencoded"})
        check("oversize body 413", st == 413, st)
        st, _, _ = http(B, "/api/queues?" + "&".join("p%d=1" % i for i in range(40)))
        check("too many parameters 400", st == 400, st)
        st, _, _ = http(B, "/api/queues?x=" + "a" * 5000)
        check("URI too long 414", st == 414, st)
        for path, want_st in (("/api/queues/%zz/messages", 400), ("/nope", 404), ("/runs/abc", 404),
                              ("/api/queues/emails/messages?state=bogus", 400), ("/api/runs?limit=0", 400),
                              ("/api/runs?status=BOGUS", 400), ("/queues/%00x", 400), ("/queues/%C3", 400)):
            st, _, body = http(B, path)
            check("bad request %s -> %d" % (path, want_st), st == want_st, (st, body[:200]))
        st, hdr, _ = http(B, "/api/queues", "POST", "")
        check("wrong method 405", st == 405, st)
        # ---- every page in headless Chromium
        pages = [("/queues", ["emails", "we\"ird&lt;q&gt;", "Dead letters"]),
                 ("/queues/emails?state=dead_letter", ["dead@example.com", "Replay"]),
                 ("/queues/emails?state=in_flight", ["flight@example.com"]),
                 ("/queues/emails?state=pending", ["pend@example.com", "Cancel"]),
                 ("/queues/emails?state=delayed", ["later@example.com"]),
                 ("/queues/emails?state=archived", ["arch@example.com"]),
                 ("/queues/emails?state=cancelled", ["No messages in this state"]),
                 ("/workers", ["Reclaim zombies", "consumer"]),
                 ("/workflows", ["parent", "child", "Runs"]),
                 ("/workflows?status=SUCCESS", ["/runs/%d" % ids["run_ok"]]),
                 ("/runs/%d" % ids["run_ok"], ["Timeline", "step fetch", "event stage", "/runs/%d" % child_id]),
                 ("/runs/%d" % ids["run_pending"], ["Cancel run"]),
                 ("/schedules", ["nightly", "0 3 * * *", "Pause"])]
        have_chromium = shutil.which("chromium") is not None
        global skipped
        for path, needles in pages:
            if not have_chromium:
                skipped += 1
                continue
            dom = chromium(B + path) or ""
            missing = [n for n in needles if n not in dom]
            check("chromium %s" % path, not missing and "<script" not in dom and dsn not in dom,
                  (missing, dom[:300]))
        if shots and have_chromium:
            os.makedirs(shots, exist_ok=True)
            for path, name in (("/queues", "queues"), ("/queues/emails?state=dead_letter", "dead-letters"),
                               ("/workers", "workers"), ("/workflows", "workflows"),
                               ("/runs/%d" % ids["run_ok"], "run"), ("/schedules", "schedules")):
                chromium(B + path, os.path.join(os.path.abspath(shots), name + ".png"))
        # ---- actions from the pages' forms change the database
        st, hdr, _ = post_form(srv, action, fields)
        check("replay form 303", st == 303 and hdr.get("Location") == "/queues/emails?state=dead_letter", st)
        check("replay changed the database", store.admin().dlq_count("emails") == 0 and
              any(m.payload == {"to": "dead@example.com"} for m in store.admin().list_messages("emails")))
        page = http(B, "/runs/%d" % ids["run_pending"])[2]
        act, f = form_fields(page, "/api/runs/%d/cancel" % ids["run_pending"])
        st, _, _ = post_form(srv, act or "/", f or {})
        check("run cancel form", st == 303, st)
        check("run cancel changed the database", store.run_get(ids["run_pending"]).status == "CANCELLED")
        page = http(B, "/queues/emails?state=pending")[2]
        act, f = form_fields(page, "/messages/%d/cancel" % ids["pend"])
        st, _, _ = post_form(srv, act or "/", f or {})
        st2, j = jget(B, "/api/queues/emails/messages?state=cancelled")
        check("message cancel", st == 303 and [m["id"] for m in j["messages"]] == [ids["pend"]], (st, j))
        page = http(B, "/queues/emails?state=cancelled")[2]
        act, f = form_fields(page, "/messages/%d/requeue" % ids["pend"])
        st, _, _ = post_form(srv, act or "/", f or {})
        check("cancelled message requeued", st == 303 and any(
            m.payload == {"to": "pend@example.com"} for m in store.admin().list_messages("emails")) and
            jget(B, "/api/queues/emails/messages?state=cancelled")[1]["messages"] == [], st)
        act, f = form_fields(page, "/api/queues/emails/send")
        f = dict(f or {}, payload='{"sent": "from the page"}', delay="0")
        st, _, _ = post_form(srv, act or "/", f)
        check("send from the page", st == 303 and any(
            m.payload == {"sent": "from the page"} for m in store.admin().list_messages("emails")), st)
        st, _, body = post_form(srv, "/api/queues/emails/send", dict(f, payload="{not json"))
        check("send invalid JSON 400", st == 400, (st, body))
        page = http(B, "/queues/emails?state=pending")[2]
        act, f = form_fields(page, "/messages/%d/delete" % ids["pend2"])
        st, _, _ = post_form(srv, act or "/", f or {})
        check("message delete", st == 303 and all(m.id != ids["pend2"] for m in store.admin().list_messages("emails")))
        st, _, body = http(B, "/api/queues/emails/messages/%d/delete" % ids["held"], "POST",
                           "csrf=" + fields.get("csrf", ""), {"Content-Type": "application/x-www-form-urlencoded"})
        check("in-flight delete refused 409", st == 409, (st, body))
        st, _, body = http(B, "/api/queues/emails/messages/%d/cancel" % ids["held"], "POST",
                           "csrf=" + fields.get("csrf", ""), {"Content-Type": "application/x-www-form-urlencoded"})
        check("in-flight cancel is a request", st == 200 and json.loads(body).get("outcome") == "requested"
              and store.admin().get_message(ids["held"]).cancel_requested_at_us > 0, (st, body))
        page = http(B, "/schedules")[2]
        act, f = form_fields(page, "/api/schedules/nightly/pause")
        st, _, _ = post_form(srv, act or "/", f or {})
        check("schedule pause", st == 303 and store.admin().get_schedule("nightly").paused)
        page = http(B, "/schedules")[2]
        act, f = form_fields(page, "/api/schedules/nightly/resume")
        st, _, _ = post_form(srv, act or "/", f or {})
        check("schedule resume", st == 303 and not store.admin().get_schedule("nightly").paused)
        time.sleep(2.2)
        st, _, body = http(B, "/api/workers/reclaim?older_than_s=1", "POST", "csrf=" + fields.get("csrf", ""),
                           {"Content-Type": "application/x-www-form-urlencoded"})
        check("zombie reclaim", st == 200 and json.loads(body).get("reclaimed", 0) >= 1, (st, body))
        st, j = jget(B, "/api/queues/emails/messages?state=in_flight")
        check("reclaim released the held message", st == 200 and j["messages"] == [], j)
        # ---- --read-only
        ro = Server(dsn, "--read-only")
        page = http(ro.base, "/queues/emails?state=pending")[2]
        act, f = form_fields(page, "/cancel")
        check("read-only forms disabled", "disabled" in page)
        st, _, _ = post_form(ro, act or "/api/workers/reclaim", f or {})
        check("read-only POST 403", st == 403, st)
        # ---- a token
        tok = Server(dsn, env=dict(os.environ, PGQRS_SERVE_TOKEN=TOKEN))
        st, _, _ = http(tok.base, "/api/queues")
        check("token: GET without it 401", st == 401, st)
        st, _, _ = http(tok.base, "/api/queues", headers={"Authorization": "Bearer " + TOKEN})
        check("token: bearer 200", st == 200, st)
        st, hdr, body = http(tok.base, "/queues?token=" + TOKEN)
        cookie = (hdr.get("Set-Cookie") or "").split(";")[0]
        check("token: ?token= sets a session and drops the token", st == 303 and hdr.get("Location") == "/queues"
              and cookie.startswith("pgqrs_session=") and TOKEN not in str(hdr.items()), (st, hdr.items()))
        st, _, page = http(tok.base, "/queues/emails?state=delayed", headers={"Cookie": cookie})
        check("token: session cookie 200", st == 200 and TOKEN not in page, st)
        act, f = form_fields(page, "/messages/%d/cancel" % ids["delayed"])
        st, _, _ = http(tok.base, act or "/", "POST", urllib.parse.urlencode(f or {}),
                        {"Content-Type": "application/x-www-form-urlencoded", "Origin": tok.base, "Cookie": cookie})
        check("token: form with session 303", st == 303, st)
        st, _, _ = http(tok.base, act or "/", "POST", urllib.parse.urlencode(f or {}),
                        {"Content-Type": "application/x-www-form-urlencoded"})
        check("token: form without session 401", st == 401, st)
        st, _, body = http(tok.base, "/api/workers/reclaim", "POST", "", {"Authorization": "Bearer " + TOKEN})
        check("token: bearer action 200", st == 200, (st, body))
        st, _, _ = http(tok.base, "/api/workers/reclaim", "POST", "", {"Authorization": "Bearer wrong" + TOKEN})
        check("token: wrong bearer 401", st == 401, st)
        # ---- non-loopback needs a token; short tokens refused
        r = subprocess.run([PGQRS, "--dsn", dsn, "serve", "--listen", "0.0.0.0:%d" % free_port()],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                           env={k: v for k, v in os.environ.items() if k != "PGQRS_SERVE_TOKEN"})
        err = r.stderr.decode(errors="replace")
        check("non-loopback without token refuses to start", r.returncode != 0 and "token" in err, (r.returncode, err))
        r = subprocess.run([PGQRS, "--dsn", dsn, "serve", "--token", "short"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        check("short token refused", r.returncode != 0 and b"short" not in r.stderr, r.stderr)
        # ---- no secret in any log line
        for s in (srv, ro, tok):
            log = s.log()
            check("log has no token or DSN", TOKEN not in log and dsn not in log, log[-500:])
    except Exception as e:  # a crash of the test itself is a failure, with its reason
        import traceback
        traceback.print_exc()
        check("test ran to the end", False, repr(e))
    finally:
        for s in (srv, ro, tok):
            if s:
                s.close()
        if cons:
            cons.close()
        if store:
            store.close()
        for p in procs:
            stop(p)
        if cleanup:
            cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    print("serve on %s: %d passed, %d failed, %d skipped" % (backend, passed, failed, skipped))
    print("serve: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
