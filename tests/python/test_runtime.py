"""The runtime from Python: consumer.run / pgqrs.Runtime, handler outcomes (return
value = result, exception = retry per policy, NonRetryable = dead letter,
pgqrs.Retry = own delay), concurrency, SIGTERM draining, and the calls the package
binds beside it (dequeue_wait, the log callback, counters). Every backend."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import pgqrs
from conftest import T0, run_python


def make_queue(admin, name="jobs", **kw):
    kw.setdefault("max_attempts", 3)
    kw.setdefault("retry_delay", 1)
    kw.setdefault("retry_jitter", 0)
    return admin.create_queue(name, **kw)


def test_queue_retry_policy(admin):
    q = make_queue(admin, "p", retry_delay=0.25, retry_multiplier=3, retry_max_delay=9)
    assert (q.retry_initial_delay_ms, q.retry_multiplier, q.retry_max_delay_ms, q.retry_jitter) == (250, 3.0, 9000, 0.0)
    q = admin.update_queue("p", retry_jitter=0.5)
    assert (q.retry_initial_delay_ms, q.retry_jitter, q.max_attempts) == (250, 0.5, 3)
    assert admin.get_queue("p").retry_jitter == 0.5
    with pytest.raises(pgqrs.InvalidInput):
        admin.update_queue("p", retry_max_delay=0.01)
    with pytest.raises(pgqrs.NotFound):
        admin.update_queue("nope", max_attempts=2)
    d = admin.create_queue("defaults")
    assert (d.retry_initial_delay_ms, d.retry_multiplier, d.retry_max_delay_ms, d.retry_jitter) == (1000, 2.0, 300000, 0.25)


def test_outcomes(store, admin):
    store.set_time(T0)
    make_queue(admin)
    p = store.producer("jobs")
    ids = p.enqueue_batch([{"do": "done"}, {"do": "raise"}, {"do": "fatal"}, {"do": "later"}, {"do": "none"}])
    seen = []

    def handler(job):
        seen.append((job.id, job.attempt, job.queue, job.max_attempts))
        assert job.message.id == job.id and job.message.state == "live"
        what = job.payload["do"]
        if what == "raise":
            raise RuntimeError("transient")
        if what == "fatal":
            raise pgqrs.NonRetryable("bad input")
        if what == "later":
            raise pgqrs.Retry(delay=7.5)
        if what == "none":
            return None
        return {"ok": True, "attempt": job.attempt}

    with store.consumer("jobs") as c:
        stats = c.run(handler, concurrency=2, until_empty=True)
    assert stats.claimed == 5 and stats.done == 2 and stats.retried == 2 and stats.dead_lettered == 1
    assert sorted(s[0] for s in seen) == sorted(ids) and all(s[1] == 1 and s[2] == "jobs" and s[3] == 3 for s in seen)
    archived = {m.id: m for m in admin.list_archived("jobs")}
    assert archived[ids[0]].result == {"ok": True, "attempt": 1}
    assert archived[ids[4]].result is None
    (dead,) = admin.dlq_list("jobs")
    assert dead.id == ids[2] and dead.result == {"error": "NonRetryable", "message": "bad input"}
    live = {m.id: m for m in admin.list_messages("jobs")}
    t0_us = pgqrs._core.datetime_to_us(T0)
    assert live[ids[1]].vt_us == t0_us + 1000 * 1000            # the queue's policy: 1 s
    assert live[ids[3]].vt_us == t0_us + 7500 * 1000            # pgqrs.Retry(7.5)
    assert live[ids[1]].consumer_worker_id is None and live[ids[1]].read_count == 1


def test_backoff_on_a_moved_clock(store, admin):
    store.set_time(T0)
    make_queue(admin, max_attempts=3)
    store.producer("jobs").enqueue({"n": 1})
    attempts = []

    def flaky(job):
        attempts.append(job.attempt)
        raise RuntimeError("no")

    def run():
        with pgqrs.Runtime(store, until_empty=True, idle_min=0.001, idle_max=0.005) as rt:
            rt.add("jobs", flaky)
            return rt.run()

    run()
    store.set_time(T0 + pgqrs_seconds(0.999))
    run()
    assert attempts == [1]
    store.set_time(T0 + pgqrs_seconds(1))
    run()
    store.set_time(T0 + pgqrs_seconds(3))           # 1 s, then 2 s
    stats = run()
    assert attempts == [1, 2, 3] and stats.dead_lettered == 1
    assert admin.dlq_count("jobs") == 1


def pgqrs_seconds(s):
    import datetime
    return datetime.timedelta(seconds=s)


def test_decorator_and_two_queues(store, admin):
    make_queue(admin, "a")
    make_queue(admin, "b")
    store.producer("a").enqueue_batch([{"i": i} for i in range(5)])
    store.producer("b").enqueue_batch([{"i": i} for i in range(3)])
    rt = store.runtime(concurrency=3, until_empty=True, idle_max=0.02)
    got = {"a": 0, "b": 0}
    lock = threading.Lock()

    @rt.handler("a")
    def on_a(job):
        with lock:
            got["a"] += 1
        return job.payload["i"]

    @rt.handler("b")
    def on_b(job):
        with lock:
            got["b"] += 1

    stats = rt.run()
    rt.close()
    assert got == {"a": 5, "b": 3} and stats.done == 8
    assert sorted(m.result for m in admin.list_archived("a")) == [0, 1, 2, 3, 4]
    with pytest.raises(pgqrs.NotFound):
        store.runtime().add("nope", on_a)


def test_concurrency_overlaps_what_releases_the_gil(store, admin):
    make_queue(admin)
    store.producer("jobs").enqueue_batch([{"i": i} for i in range(8)])
    now = [0]
    peak = [0]
    lock = threading.Lock()

    def sleepy(job):
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.1)                        # releases the GIL
        with lock:
            now[0] -= 1

    t = time.monotonic()
    store.consumer("jobs").run(sleepy, concurrency=4, until_empty=True)
    took = time.monotonic() - t
    assert peak[0] >= 2 and took < 0.8 * 0.1 * 8


def test_bad_options(store, admin):
    make_queue(admin)
    with pytest.raises(pgqrs.InvalidInput):
        pgqrs.Runtime(store, concurrency=0 - 1)
    with pytest.raises(pgqrs.InvalidInput):
        pgqrs.Runtime(store, batch_size=10 ** 6)
    rt = pgqrs.Runtime(store)
    with pytest.raises(pgqrs.IllegalState):
        rt.run()                                 # no queue
    rt.close()
    rt.stop()                                    # closed: a no-op


WORKER = r"""
import sys, time, pgqrs
store = pgqrs.connect(sys.argv[1])
def slow(job):
    open(sys.argv[2] + ".%d" % job.id, "w").close()
    time.sleep(0.5)
    return {"ok": job.id}
print("ready", flush=True)
stats = store.consumer("jobs").run(slow, concurrency=1, batch_size=5)
print("stats", stats.done, stats.given_back, flush=True)
store.close()
"""


def test_sigterm_drains(file_dsn, tmp_path):
    with pgqrs.connect(file_dsn) as store:
        store.admin().install()
        make_queue(store.admin())
        store.producer("jobs").enqueue_batch([{"i": i} for i in range(5)])
    mark = str(tmp_path / "started")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(pgqrs.__file__), ".."))
    proc = subprocess.Popen([sys.executable, str(script), file_dsn, mark], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready"
    for _ in range(200):
        if any(f.startswith("started.") for f in os.listdir(tmp_path)):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert out.strip() == "stats 1 4"              # the running one finished; 4 went back
    with pgqrs.connect(file_dsn) as store:
        live = store.admin().list_messages("jobs")
        assert len(live) == 4 and all(m.read_count == 0 and m.consumer_worker_id is None for m in live)
        assert [m.result for m in store.admin().list_archived("jobs")] == [{"ok": m.id} for m in store.admin().list_archived("jobs")]


def test_dequeue_wait_log_callback_counters(store, admin):
    make_queue(admin)
    events = []
    store.set_log_callback(lambda level, event, message: events.append((level, event)), level="debug")
    c = store.consumer("jobs")
    t = time.monotonic()
    assert c.dequeue_wait(timeout=0.2) == []
    assert time.monotonic() - t >= 0.19
    store.producer("jobs").enqueue({"x": 1})
    (m,) = c.dequeue_wait(timeout=5)
    c.archive(m)
    assert (20, "worker.register") in events and (10, "message.dequeue") in events
    n = store.counters()
    assert n["enqueued"] == 1 and n["dequeued"] == 1 and n["archived"] == 1
    with pytest.raises(pgqrs.NotFound):
        store.producer("nope")
    assert store.counters()["errors"].get(pgqrs.Status.ENOTFOUND, 0) >= 1
    store.set_log_callback(None)
    with pytest.raises(pgqrs.InvalidInput):
        c.dequeue_wait(timeout=-1)


def test_every_c_call_is_bound():
    """The package declares every PGQRS_EXTERN function of include/pgqrs.h."""
    import re
    from pgqrs import _lib
    from conftest import ROOT
    with open(os.path.join(ROOT, "include", "pgqrs.h"), encoding="utf-8") as f:
        header = f.read()
    declared = set(re.findall(r"PGQRS_EXTERN\s+[^;{]*?\b(pgqrs_\w+)\s*\(", header))
    assert len(declared) > 100
    missing = sorted(declared - set(_lib._SIGNATURES))
    assert not missing, "not bound in python/pgqrs/_lib.py: %s" % ", ".join(missing)
