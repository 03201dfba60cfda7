"""Durable workflows in Python (pgqrs.workflow, pgqrs.step, store.define/trigger/...):
handlers and steps run by the C engine through ctypes callbacks. Every test runs on
SQLite (file and :memory:) and PostgreSQL (when PGQRS_TEST_PG_DSN is set), on a
fixed clock moved with store.set_time; executions are counted in Python, so
"executed once" means the Python function really ran once."""

import datetime
import gc
import threading
import time

import pytest

import pgqrs
from conftest import T0

SEC = datetime.timedelta(seconds=1)


@pytest.fixture
def wstore(store):
    store.set_time(T0)
    return store


def at(store, seconds):
    store.set_time(T0 + seconds * SEC)


class Counter(dict):
    def hit(self, key):
        self[key] = self.get(key, 0) + 1
        return self[key]


# ---- lifecycle ---------------------------------------------------------------------------

def test_lifecycle(wstore):
    n = Counter()

    @pgqrs.step
    def a(run, x):
        n.hit("a")
        return {"step": "a", "x": x}

    @pgqrs.workflow(name="greet")
    def greet(run, data):
        n.hit("handler")
        first = a(run, data["n"])
        second = run.step("b", lambda run, y: [y, n.hit("b")], 5)
        return {"a": first, "b": second, "in": data, "run": run.id, "attempt": run.attempt}

    assert isinstance(greet, pgqrs.Workflow) and greet.name == "greet"
    assert wstore.define(greet) is greet
    run_id = wstore.trigger("greet", {"who": "world", "n": [1, 2]})
    assert isinstance(run_id, int) and run_id > 0
    info = wstore.run_get(run_id)
    assert info.status == "PENDING" and info.attempts == 0 and not info.finished
    assert info.input == {"who": "world", "n": [1, 2]} and info.output is None and info.error is None
    assert info.created_at == T0 and info.started_at is None and info.idempotency_key is None

    with wstore.workflow_worker("greet") as w:
        assert w.worker_id > 0 and w.name == "greet"
        at(wstore, 3)
        assert w.run_once() is True
        assert w.run_once() is False
    assert n == {"handler": 1, "a": 1, "b": 1}
    info = wstore.run_get(run_id)
    assert info.status == "SUCCESS" and info.finished and info.attempts == 1
    assert info.output == {"a": {"step": "a", "x": [1, 2]}, "b": [5, 1], "in": {"who": "world", "n": [1, 2]},
                           "run": run_id, "attempt": 1}
    assert info.started_at == info.completed_at == T0 + 3 * SEC
    steps = wstore.list_steps(run_id)
    assert [(s.step_id, s.status, s.attempts) for s in steps] == [("a", "SUCCESS", 1), ("b", "SUCCESS", 1)]
    assert steps[0].output == {"step": "a", "x": [1, 2]} and steps[0].run_id == run_id
    assert steps[0].completed_at == T0 + 3 * SEC and steps[0].error is None
    [wf] = wstore.list_workflows()
    assert wf.name == "greet" and wf.queue == "workflow:greet" and wf.retry_policy["max_attempts"] == 3
    assert wstore.admin().metrics("workflow:greet")[0].pending == 0


def test_null_input_and_output_and_define_forms(wstore):
    calls = []

    def handler(run, data):
        calls.append(data)

    wf = wstore.define(handler, name="plain")      # a plain function with options here
    assert wf.name == "plain"
    rid = wstore.trigger(wf)                        # a Workflow works as the name too
    assert wstore.run_get(rid).input is None
    with wstore.workflow_worker(wf) as w:
        assert w.run_once()
    info = wstore.run_get(rid)
    assert calls == [None] and info.status == "SUCCESS" and info.output is None and info.output_json == "null"

    @pgqrs.workflow
    def bare(run, data):
        return data * 2

    assert bare.name == "bare" and bare(None, 21) == 42      # the decorated function is still callable
    bare.define(wstore)
    rid = bare.trigger(wstore, 21)
    with wstore.workflow_worker("bare") as w:
        w.run_once()
    assert wstore.run_get(rid).output == 42


def test_callbacks_survive_garbage_collection(wstore):
    def define():
        hits = []

        def handler(run, data):                     # only the store references it now
            hits.append(1)
            return run.step("s", lambda run: len(hits))
        wstore.define(handler, name="gc")

    define()
    gc.collect()
    rid = wstore.trigger("gc")
    gc.collect()
    with wstore.workflow_worker("gc") as w:
        assert w.run_once()
    assert wstore.run_get(rid).output == 1


# ---- step replay and retries -----------------------------------------------------------------

def test_step_replay_across_a_retry(wstore):
    n = Counter()
    seen = []

    @pgqrs.workflow(name="replay", retry=pgqrs.RetryPolicy(initial_delay=5, jitter=0))
    def replay(run, data):
        n.hit("handler")
        a = run.step("a", lambda run: {"a": n.hit("a")})
        b = run.step("b", lambda run: {"b": n.hit("b")})
        seen.append((run.attempt, a, b))
        if run.attempt == 1:
            raise ValueError("first attempt")
        return "done"

    wstore.define(replay)
    rid = wstore.trigger("replay", {})
    w = wstore.workflow_worker("replay")
    assert w.run_once()
    info = wstore.run_get(rid)
    assert info.status == "PENDING" and info.attempts == 1 and info.retry_at == T0 + 5 * SEC
    assert info.error == {"message": "first attempt", "type": "ValueError", "retryable": True}
    at(wstore, 4)
    assert not w.run_once()                       # not due yet
    at(wstore, 5)
    assert w.run_once()
    assert n == {"handler": 2, "a": 1, "b": 1}    # the steps really ran once
    assert seen == [(1, {"a": 1}, {"b": 1}), (2, {"a": 1}, {"b": 1})]   # stored outputs came back
    info = wstore.run_get(rid)
    assert info.status == "SUCCESS" and info.attempts == 2 and info.output == "done"
    assert [s.attempts for s in wstore.list_steps(rid)] == [1, 1]
    w.close()


def test_failing_step_is_retried_per_its_policy(wstore):
    n = Counter()

    class Flaky(Exception):
        pass

    @pgqrs.step(name="flaky", retry=pgqrs.RetryPolicy(max_attempts=3, initial_delay=10, multiplier=2, jitter=0))
    def flaky(run):
        if n.hit("flaky") <= 2:
            raise Flaky("boom %d" % n["flaky"])
        return {"ok": True}

    raised = []

    @pgqrs.workflow(name="flaky")
    def handler(run, data):
        try:
            out = flaky(run)
        except Flaky as e:                          # the step's own exception comes back
            raised.append(str(e))
            raise
        return {"got": out, "after": run.step("after", lambda run: n.hit("after"))}

    wstore.define(handler)
    rid = wstore.trigger("flaky")
    with wstore.workflow_worker("flaky") as w:
        assert w.run_once()
        info = wstore.run_get(rid)
        assert info.status == "PENDING" and info.retry_at == T0 + 10 * SEC
        assert info.error["message"] == "boom 1" and info.error["type"].endswith("Flaky")
        [s] = wstore.list_steps(rid)
        assert (s.step_id, s.status, s.attempts, s.retry_at) == ("flaky", "ERROR", 1, T0 + 10 * SEC)
        at(wstore, 9)
        assert not w.run_once()
        at(wstore, 10)
        assert w.run_once()
        assert wstore.run_get(rid).retry_at == T0 + 30 * SEC   # the delay doubles
        at(wstore, 30)
        assert w.run_once()
    assert raised == ["boom 1", "boom 2"] and n == {"flaky": 3, "after": 1}
    info = wstore.run_get(rid)
    assert info.status == "SUCCESS" and info.attempts == 3 and info.output == {"got": {"ok": True}, "after": 1}
    step = {s.step_id: s for s in wstore.list_steps(rid)}["flaky"]
    assert step.status == "SUCCESS" and step.attempts == 3 and step.output == {"ok": True}


def test_non_retryable_in_handler_ends_in_error_at_once(wstore):
    n = Counter()

    class Declined(pgqrs.NonRetryable):
        pass

    @pgqrs.workflow(name="fatal")
    def fatal(run, data):
        n.hit("handler")
        run.step("a", lambda run: n.hit("a"))
        raise Declined("card declined")

    wstore.define(fatal)
    rid = wstore.trigger("fatal")
    with wstore.workflow_worker("fatal") as w:
        assert w.run_once()
        at(wstore, 100000)
        assert not w.run_once()
    info = wstore.run_get(rid)
    assert info.status == "ERROR" and info.attempts == 1 and info.retry_at is None
    assert info.error["message"] == "card declined" and info.error["retryable"] is False
    assert info.error["type"].endswith("Declined")
    assert n == {"handler": 1, "a": 1}


def test_non_retryable_in_step_ends_in_error_at_once(wstore):
    n = Counter()

    def bad_step(run):
        n.hit("step")
        raise pgqrs.NonRetryable("no such card")

    @pgqrs.workflow(name="fatalstep")
    def handler(run, data):
        n.hit("handler")
        run.step("s", bad_step)
        n.hit("after")

    wstore.define(handler)
    rid = wstore.trigger("fatalstep")
    with wstore.workflow_worker("fatalstep") as w:
        assert w.run_once()
        at(wstore, 100000)
        assert not w.run_once()
    info = wstore.run_get(rid)
    assert info.status == "ERROR" and info.attempts == 1
    assert info.error == {"message": "no such card", "type": "pgqrs.errors.NonRetryable", "retryable": False}
    [s] = wstore.list_steps(rid)
    assert s.status == "ERROR" and s.retry_at is None
    assert n == {"handler": 1, "step": 1}


def test_default_policy_is_three_attempts(wstore):
    n = Counter()

    def always_fails(run, data):
        n.hit("handler")
        raise RuntimeError("nope")

    wstore.define(always_fails, name="dflt")
    rid = wstore.trigger("dflt")
    with wstore.workflow_worker("dflt") as w:
        for i in range(6):
            at(wstore, 1000 * (i + 1))               # past any default delay
            w.run_once()
    info = wstore.run_get(rid)
    assert n == {"handler": 3} and info.status == "ERROR" and info.attempts == 3
    assert info.error["type"] == "RuntimeError"


def test_unserialisable_outputs_fail_for_good(wstore):
    @pgqrs.workflow(name="badout")
    def badout(run, data):
        return {"when": datetime.datetime.now()}

    @pgqrs.workflow(name="badstep")
    def badstep(run, data):
        return run.step("s", lambda run: object())

    wstore.define(badout)
    wstore.define(badstep)
    r1, r2 = wstore.trigger("badout"), wstore.trigger("badstep")
    for name in ("badout", "badstep"):
        with wstore.workflow_worker(name) as w:
            assert w.run_once()
    for rid in (r1, r2):
        info = wstore.run_get(rid)
        assert info.status == "ERROR" and info.attempts == 1 and "JSON" in info.error["message"]


def test_library_errors_from_steps(wstore):
    got = {}

    @pgqrs.workflow(name="libErr")
    def handler(run, data):
        for key, bad in (("empty", ""), ("long", "x" * 257)):
            try:
                run.step(bad, lambda run: 1)
            except pgqrs.InvalidInput as e:
                got[key] = e.status
        try:
            run.sleep("neg", -1)
        except pgqrs.InvalidInput:
            got["sleep"] = True
        with pytest.raises(TypeError):
            run.step("x", "not callable")
        return "ok"

    wstore.define(handler)
    rid = wstore.trigger("libErr")
    with wstore.workflow_worker("libErr") as w:
        w.run_once()
    assert got == {"empty": pgqrs.Status.EINVAL, "long": pgqrs.Status.EINVAL, "sleep": True}
    assert wstore.run_get(rid).status == "SUCCESS"


# ---- durable sleep -----------------------------------------------------------------------------

def test_durable_sleep(wstore):
    n = Counter()
    raised = []

    @pgqrs.workflow(name="nap")
    def nap(run, data):
        n.hit("handler")
        run.step("one", lambda run: n.hit("one"))
        try:
            run.sleep("nap", 60)
        except pgqrs.RunSuspended as e:
            raised.append(e.status)
            raise
        run.step("two", lambda run: n.hit("two"))
        return {"slept": True}

    wstore.define(nap)
    rid = wstore.trigger("nap")
    with wstore.workflow_worker("nap") as w:
        assert w.run_once()
        info = wstore.run_get(rid)
        assert info.status == "PENDING" and info.retry_at == T0 + 60 * SEC and info.error is None
        assert raised == [pgqrs.Status.ESUSPENDED]
        at(wstore, 59)
        assert not w.run_once()
        at(wstore, 61)
        assert w.run_once()
    assert n == {"handler": 2, "one": 1, "two": 1}
    info = wstore.run_get(rid)
    assert info.status == "SUCCESS" and info.output == {"slept": True} and info.attempts == 2


def test_swallowed_suspension_still_suspends(wstore):
    n = Counter()

    @pgqrs.workflow(name="swallow")
    def swallow(run, data):
        n.hit("handler")
        try:
            run.sleep("nap", timedelta_10s())
        except Exception:                          # a careless handler
            pass
        return "finished"

    wstore.define(swallow)
    rid = wstore.trigger("swallow")
    with wstore.workflow_worker("swallow") as w:
        w.run_once()
        assert wstore.run_get(rid).status == "PENDING"
        at(wstore, 10)
        w.run_once()
    info = wstore.run_get(rid)
    assert info.status == "SUCCESS" and info.output == "finished" and n == {"handler": 2}


def timedelta_10s():
    return datetime.timedelta(seconds=10)


def test_sleep_zero_does_not_suspend(wstore):
    @pgqrs.workflow(name="zero")
    def zero(run, data):
        run.sleep("z", 0)
        return 1

    wstore.define(zero)
    rid = wstore.trigger("zero")
    with wstore.workflow_worker("zero") as w:
        w.run_once()
    assert wstore.run_get(rid).status == "SUCCESS"


# ---- cancellation ------------------------------------------------------------------------------

def test_cancel_pending(wstore):
    n = Counter()
    wstore.define(lambda run, data: n.hit("handler"), name="greet")
    rid = wstore.trigger("greet", {})
    at(wstore, 2)
    wstore.run_cancel(rid, reason="changed my mind")
    info = wstore.run_get(rid)
    assert info.status == "CANCELLED" and info.cancel_reason == "changed my mind"
    assert info.cancelled_at == T0 + 2 * SEC and info.attempts == 0
    with pytest.raises(pgqrs.IllegalState):
        wstore.run_cancel(rid)
    with pytest.raises(pgqrs.NotFound):
        wstore.run_cancel(rid + 1000)
    with wstore.workflow_worker("greet") as w:
        w.run_once()
        at(wstore, 10000)
        assert not w.run_once()
    assert n == {} and wstore.run_get(rid).status == "CANCELLED"


def test_cancel_running_stops_at_next_step(wstore):
    n = Counter()
    seen = {}

    def cancel_self(run):
        n.hit("one")
        run.store.run_cancel(run.id, reason="from inside")
        seen["inside"] = run.store.run_get(run.id).status
        with pytest.raises(pgqrs.IllegalState):
            run.store.run_cancel(run.id)
        return {"one": 1}

    @pgqrs.workflow(name="selfcancel")
    def handler(run, data):
        run.step("one", cancel_self)
        try:
            run.step("two", lambda run: n.hit("two"))
        except pgqrs.RunCancelled as e:
            seen["raised"] = e.status
            raise
        return "should not finish"

    wstore.define(handler)
    rid = wstore.trigger("selfcancel")
    at(wstore, 1)
    with wstore.workflow_worker("selfcancel") as w:
        assert w.run_once()
    assert seen == {"inside": "CANCELLING", "raised": pgqrs.Status.ECANCELLED}
    assert n == {"one": 1}
    info = wstore.run_get(rid)
    assert info.status == "CANCELLED" and info.cancel_reason == "from inside" and info.output is None
    assert info.cancelled_at == T0 + 1 * SEC
    assert [(s.step_id, s.status, s.output) for s in wstore.list_steps(rid)] == [("one", "SUCCESS", {"one": 1})]


def test_cancel_while_sleeping(wstore):
    @pgqrs.workflow(name="nap")
    def nap(run, data):
        run.sleep("nap", 60)
        return "woke"

    wstore.define(nap)
    rid = wstore.trigger("nap")
    with wstore.workflow_worker("nap") as w:
        w.run_once()
        at(wstore, 30)
        wstore.run_cancel(rid)
        at(wstore, 61)
        w.run_once()
    assert wstore.run_get(rid).status == "CANCELLED"


# ---- triggering, waiting, listing ------------------------------------------------------------------

def test_idempotent_trigger(wstore):
    wstore.define(lambda run, data: data, name="idem")
    a = wstore.trigger("idem", {"v": 1}, idempotency_key="order-7")
    assert wstore.trigger("idem", {"v": 2}, idempotency_key="order-7") == a
    assert wstore.trigger_ex("idem", {"v": 3}, idempotency_key="order-7") == (a, False)
    b, created = wstore.trigger_ex("idem", {"v": 4}, idempotency_key="order-8")
    assert created is True and b != a
    info = wstore.run_get(a)
    assert info.idempotency_key == "order-7" and info.input == {"v": 1}
    c, d = wstore.trigger("idem"), wstore.trigger("idem")
    assert len({a, b, c, d}) == 4
    assert wstore.admin().metrics("workflow:idem")[0].pending == 4


def test_trigger_errors(wstore):
    with pytest.raises(pgqrs.NotFound):
        wstore.trigger("nope", {})
    with pytest.raises(pgqrs.NotFound):
        wstore.workflow_worker("nope")
    wstore.define(lambda run, data: None, name="strict")
    with pytest.raises(pgqrs.InvalidInput):
        wstore.trigger("strict", {1, 2})            # not JSON
    with pytest.raises(pgqrs.InvalidInput):
        wstore.trigger("strict", float("nan"))
    with pytest.raises(pgqrs.InvalidInput):
        wstore.trigger("", {})
    with pytest.raises(pgqrs.InvalidInput):
        wstore.define(lambda run, data: None, name="x" * 120)
    with pytest.raises(TypeError):
        wstore.define("not a function")
    assert wstore.list_runs() == []
    with pytest.raises(pgqrs.NotFound):
        wstore.run_get(12345)
    assert wstore.list_steps(12345) == []


def test_run_wait(wstore):
    wstore.define(lambda run, data: {"echo": data}, name="wait")
    rid = wstore.trigger("wait", 5)
    started = time.monotonic()
    with pytest.raises(pgqrs.Timeout):
        wstore.run_wait(rid, timeout=0.1)
    assert 0.05 <= time.monotonic() - started < 5
    with pytest.raises(pgqrs.Timeout):
        wstore.run_wait(rid, timeout=0)
    with pytest.raises(pgqrs.NotFound):
        wstore.run_wait(rid + 1000, timeout=0.1)
    with wstore.workflow_worker("wait") as w:
        w.run_once()
    info = wstore.run_wait(rid, timeout=5)
    assert info.status == "SUCCESS" and info.output == {"echo": 5}
    other = wstore.trigger("wait")
    wstore.run_cancel(other)
    assert wstore.run_wait(other).status == "CANCELLED"     # no limit; already final


def test_run_wait_while_a_thread_polls(wstore):
    wstore.set_time(None)
    wstore.define(lambda run, data: run.step("s", lambda run: data + 1), name="bg")
    rid = wstore.trigger("bg", 41)
    w = wstore.workflow_worker("bg")
    t = threading.Thread(target=w.poll, kwargs={"max_runs": 1, "idle_timeout": 10})
    t.start()
    try:
        assert wstore.run_wait(rid, timeout=10).output == 42
    finally:
        t.join(15)
        w.close()


def test_list_filters(wstore):
    for name in ("wa", "wb"):
        wstore.define(lambda run, data: None, name=name)
    r1 = wstore.trigger("wa")
    at(wstore, 10)
    r2 = wstore.trigger("wa")
    r3 = wstore.trigger("wb")
    at(wstore, 20)
    r4 = wstore.trigger("wb")
    wstore.run_cancel(r2)
    assert [r.id for r in wstore.list_runs()] == [r4, r3, r2, r1]          # newest first
    assert [r.id for r in wstore.list_runs(workflow="wa")] == [r2, r1]
    assert [r.id for r in wstore.list_runs(status="CANCELLED")] == [r2]
    assert [r.id for r in wstore.list_runs(status="pending")] == [r4, r3, r1]   # any case
    assert wstore.list_runs(status="SUCCESS") == []
    assert [r.id for r in wstore.list_runs(since=T0 + 10 * SEC)] == [r4, r3, r2]
    assert [r.id for r in wstore.list_runs(since=T0 + 15 * SEC)] == [r4]
    assert [r.id for r in wstore.list_runs(limit=2)] == [r4, r3]
    assert [r.id for r in wstore.list_runs(workflow="wb", status="PENDING", since=T0 + 5 * SEC)] == [r4, r3]
    assert wstore.list_runs(workflow="wa", status="PENDING", since=T0 + 5 * SEC) == []
    with pytest.raises(pgqrs.NotFound):
        wstore.list_runs(workflow="nope")
    with pytest.raises(pgqrs.InvalidInput):
        wstore.list_runs(status="BOGUS")
    with pytest.raises(pgqrs.InvalidInput):
        wstore.list_runs(limit=10001)
    assert [w.name for w in wstore.list_workflows()] == ["wa", "wb"]


# ---- the worker loop -------------------------------------------------------------------------------

def test_poll_max_runs_idle_timeout_and_interrupt(wstore):
    n = Counter()

    @pgqrs.workflow(name="mixed", retry=pgqrs.RetryPolicy(max_attempts=2, initial_delay=3600))
    def mixed(run, data):
        n.hit("handler")
        if data == "fatal":
            raise pgqrs.NonRetryable("fatal")
        if data == "retry":
            raise KeyError("retry")
        return data

    wstore.define(mixed)
    ids = [wstore.trigger("mixed", v) for v in ("fatal", "retry", "ok")]
    with wstore.workflow_worker("mixed") as w:
        assert w.poll(max_runs=3, idle_timeout=5, poll_interval=0.005) == 3
        assert [wstore.run_get(i).status for i in ids] == ["ERROR", "PENDING", "SUCCESS"]
        started = time.monotonic()
        assert w.poll(idle_timeout=0.3) == 0
        assert 0.25 <= time.monotonic() - started < 5
        threading.Timer(0.2, w.interrupt).start()
        started = time.monotonic()
        assert w.poll() == 0                         # no limits: returns when interrupted
        assert time.monotonic() - started < 5
        assert w.poll() == 0                         # an interrupted worker stays stopped
    assert n == {"handler": 3}


def test_keyboard_interrupt_in_handler_stops_the_worker(wstore):
    n = Counter()

    @pgqrs.workflow(name="ctrlc", retry=pgqrs.RetryPolicy(initial_delay=1, jitter=0))
    def ctrlc(run, data):
        n.hit("handler")
        if run.attempt == 1:
            raise KeyboardInterrupt
        return "second time lucky"

    wstore.define(ctrlc)
    rid = wstore.trigger("ctrlc")
    w = wstore.workflow_worker("ctrlc")
    with pytest.raises(KeyboardInterrupt):
        w.poll(idle_timeout=5)
    info = wstore.run_get(rid)
    assert info.status == "PENDING" and info.error["type"] == "KeyboardInterrupt"   # the attempt failed, retryable
    w.close()
    at(wstore, 1)
    with wstore.workflow_worker("ctrlc") as w2:
        assert w2.run_once()
    assert wstore.run_get(rid).output == "second time lucky" and n == {"handler": 2}


def test_run_is_only_valid_in_its_handler(wstore):
    kept = []

    @pgqrs.workflow(name="keep")
    def keep(run, data):
        kept.append(run)
        return run.id

    wstore.define(keep)
    rid = wstore.trigger("keep")
    with wstore.workflow_worker("keep") as w:
        w.run_once()
    assert kept[0].id == rid and kept[0].attempt == 1 and "Run %d" % rid in repr(kept[0])
    with pytest.raises(pgqrs.Misuse):
        kept[0].step("late", lambda run: 1)
    with pytest.raises(TypeError):
        pgqrs.step(lambda run: 1)("not a run")


def test_store_close_closes_workers(dsn):
    s = pgqrs.connect(dsn, heartbeat_interval_s=-1)
    s.admin().install()
    s.define(lambda run, data: None, name="c")
    w = s.workflow_worker("c")
    s.close()
    assert w.closed
    w.close()
    with pytest.raises(pgqrs.Misuse):
        w.run_once()


def test_retry_policy():
    p = pgqrs.RetryPolicy(initial_delay=1, multiplier=2, max_delay=5, jitter=0)
    assert [p.delay(r) for r in (1, 2, 3, 4, 10)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert 0.75 <= pgqrs.RetryPolicy().delay(1) <= 1.0          # defaults: 1 s, 25 % jitter down
    with pytest.raises(pgqrs.InvalidInput):
        pgqrs.RetryPolicy(multiplier=0.5).delay(1)
    with pytest.raises(pgqrs.InvalidInput):
        pgqrs.RetryPolicy(initial_delay=-1).delay(1)
    with pytest.raises(pgqrs.InvalidInput):
        pgqrs.RetryPolicy(max_attempts=0).delay(1)


# ---- the example -------------------------------------------------------------------------------------

def test_example(dsn, backend, tmp_path):
    import os
    from conftest import PYDIR, run_python
    if backend == "sqlite-memory":
        dsn = "sqlite://workflow.db"                 # the example's default: relative to cwd
    for _ in (1, 2):                                 # install and define are idempotent
        r = run_python([os.path.join(PYDIR, "examples", "workflow.py"), dsn], cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == [
            "run SUCCESS after 2 attempts: {'charge': {'charge_id': 'ch_7'}}",
            "steps: charge_card=SUCCESS, cool-off=SUCCESS, send_receipt=SUCCESS",
            "charge_card executed 1 time(s)"], r.stdout
        assert r.stderr == ""
