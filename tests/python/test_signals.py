"""Workflows that talk, in Python: run.recv / store.send, run.set_event /
store.get_event, run.start_child / run.await_child, store.delete_workflow. On
SQLite (file and :memory:) and PostgreSQL (when PGQRS_TEST_PG_DSN is set), on a
fixed clock moved with store.set_time."""

import datetime
import threading

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


def test_send_recv_suspends_and_wakes(wstore):
    calls = []

    @pgqrs.workflow(name="approve")
    def approve(run, order):
        calls.append(run.attempt)
        decision = run.recv("decision", "approval", timeout=3600)
        run.set_event("decided", decision)
        return {"order": order, "decision": decision}

    wstore.define(approve)
    rid = wstore.trigger("approve", 7)
    with wstore.workflow_worker("approve") as w:
        assert w.run_once() == 1            # suspended in recv
        info = wstore.run_get(rid)
        assert info.status == "PENDING" and info.retry_at == T0 + 3600 * SEC
        assert w.run_once() == 0
        with pytest.raises(pgqrs.NotFound):
            wstore.get_event(rid, "decided")
        wstore.send(rid, "approval", {"ok": True, "by": "ann"})
        assert w.run_once() == 1
    info = wstore.run_get(rid)
    assert info.status == "SUCCESS" and info.output == {"order": 7, "decision": {"ok": True, "by": "ann"}}
    assert calls == [1, 2]
    assert wstore.get_event(rid, "decided") == {"ok": True, "by": "ann"}
    events = wstore.list_events(rid)
    assert [(e.key, e.value) for e in events] == [("decided", {"ok": True, "by": "ann"})]
    assert isinstance(events[0], pgqrs.EventInfo) and events[0].updated_at == T0
    with pytest.raises(pgqrs.IllegalState):
        wstore.send(rid, "approval", 1)     # finished
    with pytest.raises(pgqrs.NotFound):
        wstore.send(rid + 1000, "approval", 1)
    with pytest.raises(pgqrs.InvalidInput):
        wstore.send(rid, "", 1)
    with pytest.raises(pgqrs.InvalidInput):
        wstore.send(rid, "t", "x" * (1 << 20))   # one 1 MiB string is over the limit as JSON


def test_recv_timeout(wstore):
    @pgqrs.workflow(name="late")
    def late(run, _):
        try:
            return {"got": run.recv("r", "t", timeout=10)}
        except pgqrs.Timeout:
            return {"timeout": True}

    wstore.define(late)
    rid = wstore.trigger("late")
    with wstore.workflow_worker("late") as w:
        assert w.run_once() == 1
        at(wstore, 11)
        assert w.run_once() == 1
    assert wstore.run_get(rid).output == {"timeout": True}


def test_get_event_waits(wstore):
    @pgqrs.workflow(name="pub")
    def pub(run, _):
        run.set_event("progress", {"done": 1})
        return None

    wstore.define(pub)
    rid = wstore.trigger("pub")
    with pytest.raises(pgqrs.Timeout):
        wstore.get_event(rid, "progress", timeout=0.05)
    with wstore.workflow_worker("pub") as w:
        t = threading.Thread(target=w.run_once)
        t.start()
        try:
            assert wstore.get_event(rid, "progress", timeout=10) == {"done": 1}
        finally:
            t.join()
    with pytest.raises(pgqrs.NotFound):
        wstore.get_event(rid, "other", timeout=10)   # the run ended without it


def test_child_runs_and_delete(wstore):
    @pgqrs.workflow(name="kid")
    def kid(run, x):
        if x == "fail":
            raise pgqrs.NonRetryable("kid failed")
        return {"kid": x}

    @pgqrs.workflow(name="parent")
    def parent(run, x):
        cid = run.start_child("spawn", "kid", x)
        return {"child": run.await_child("join", cid), "id": cid}

    wstore.define(kid)
    wstore.define(parent)
    ok = wstore.trigger("parent", "hello")
    bad = wstore.trigger("parent", "fail")
    with wstore.workflow_worker("parent") as pw, wstore.workflow_worker("kid") as kw:
        assert pw.run_once() == 1 and pw.run_once() == 1     # both started a child and wait
        assert kw.run_once() == 1 and kw.run_once() == 1
        assert pw.run_once() == 1 and pw.run_once() == 1
    info = wstore.run_get(ok)
    assert info.status == "SUCCESS" and info.output["child"] == {"kid": "hello"}
    assert wstore.run_get(info.output["id"]).status == "SUCCESS"
    failed = wstore.run_get(bad)
    assert failed.status == "ERROR" and "child_run_id" in failed.error_json
    assert len(wstore.list_runs(workflow="kid")) == 2     # one child per parent
    # a parent cancelled while it waits cancels its child
    third = wstore.trigger("parent", "x")
    with wstore.workflow_worker("parent") as pw:
        assert pw.run_once() == 1
    wstore.run_cancel(third, "stop")
    kids = [r for r in wstore.list_runs(workflow="kid") if r.status == "CANCELLED"]
    assert len(kids) == 1 and "parent" in kids[0].cancel_reason
    # delete: refused while runs are in flight, then forced
    wstore.trigger("kid", "pending")
    with pytest.raises(pgqrs.IllegalState):
        wstore.delete_workflow("kid")
    wstore.delete_workflow("kid", force=True)
    with pytest.raises(pgqrs.NotFound):
        wstore.delete_workflow("kid")
    assert [w.name for w in wstore.list_workflows()] == ["parent"]
