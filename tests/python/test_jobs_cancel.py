"""Job control from Python (issue 17): Admin.get_message / cancel_message,
Consumer.set_progress / heartbeat / archive_cancelled, and a runtime handler that
sees job.cancel_requested and stores job.set_progress. Every backend."""

import threading
import time

import pytest

import pgqrs
from conftest import T0


def test_get_and_cancel(store, admin):
    store.set_time(T0)
    admin.create_queue("jobs")
    admin.create_queue("other")
    p = store.producer("jobs")
    a = p.enqueue({"n": 1})
    d = p.enqueue({"n": 2}, delay=60)
    o = store.producer("other").enqueue({"n": 3})
    assert admin.get_message(a).state == "pending"
    assert admin.get_message(d).state == "delayed"
    assert admin.cancel_message(d) == "cancelled"
    m = admin.get_message(d)
    assert m.state == "cancelled" and m.payload == {"n": 2} and m.archived_at is not None
    with pytest.raises(pgqrs.IllegalState):
        admin.cancel_message(d)
    with pytest.raises(pgqrs.NotFound):
        admin.cancel_message(o, queue="jobs")
    with pytest.raises(pgqrs.NotFound):
        admin.cancel_message(99999999)
    with pytest.raises(pgqrs.NotFound):
        admin.get_message(99999999)
    assert admin.get_message(o).state == "pending"
    with store.consumer("jobs") as c:
        (m,) = c.dequeue(1, vt=30)
        assert m.id == a and admin.get_message(a).state == "in_flight"
        c.set_progress(a, {"pct": 50})
        assert admin.get_message(a).progress == {"pct": 50}
        assert [x.progress for x in admin.list_messages("jobs")] == [{"pct": 50}]
        with pytest.raises(pgqrs.InvalidInput):
            c.set_progress(a, "x" * 9000)
        _, requested = c.message_heartbeat(a, 30)
        assert requested is False
        assert admin.cancel_message(a) == "requested"
        assert admin.cancel_message(a) == "requested"
        assert admin.get_message(a).cancel_requested_at_us > 0
        _, requested = c.message_heartbeat(a, 30)
        assert requested is True
        with store.consumer("jobs") as other:
            with pytest.raises(pgqrs.NotOwned):
                other.set_progress(a, {"pct": 99})
            with pytest.raises(pgqrs.NotOwned):
                other.archive_cancelled(a)
        c.archive_cancelled(a)
    m = admin.get_message(a)
    assert m.state == "cancelled" and m.progress == {"pct": 50}


def test_runtime_handler_sees_cancel(store, admin):
    admin.create_queue("jobs")
    mid = store.producer("jobs").enqueue({"n": 1})
    started = threading.Event()
    saw = []

    def handler(job):
        job.set_progress({"step": 1})
        started.set()
        for _ in range(3000):
            if job.cancel_requested:
                break
            time.sleep(0.01)
        saw.append(job.cancel_requested)
        return {"stopped": True}

    def cancel_when_started():
        if started.wait(30):
            admin.cancel_message(mid)

    t = threading.Thread(target=cancel_when_started)
    t.start()
    with store.consumer("jobs") as c:
        stats = c.run(handler, vt=1, until_empty=True, scheduler=False, handle_signals=False)
    t.join()
    assert saw == [True]
    assert stats.cancelled == 1 and stats.done == 0
    m = admin.get_message(mid)
    assert m.state == "cancelled" and m.progress == {"step": 1} and m.result == {"stopped": True}
