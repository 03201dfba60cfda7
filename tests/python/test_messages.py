"""Enqueue, dequeue, visibility, archive/delete/release, delays."""

import datetime

import pytest

import pgqrs
from conftest import T0

S = datetime.timedelta(seconds=1)


def test_round_trip_dict_payloads(store, admin, queue):
    producer = store.producer(queue)
    consumer = store.consumer(queue)
    payload = {"task": "send_email", "to": "ada@example.com", "n": 3, "tags": ["a", "ü"], "x": None, "f": 1.5}
    store.set_time(T0)
    mid = producer.enqueue(payload)
    assert isinstance(mid, int) and mid > 0
    msgs = consumer.dequeue(batch_size=10, vt=30)
    assert len(msgs) == 1
    m = msgs[0]
    assert isinstance(m, pgqrs.Message)
    assert m.id == mid and m.payload == payload and m.read_count == 1 and m.state == "live"
    assert m.queue_id == admin.get_queue(queue).id
    assert m.producer_worker_id == producer.worker_id and m.consumer_worker_id == consumer.worker_id
    assert m.enqueued_at == T0 and m.dequeued_at == T0 and m.vt == T0 + 30 * S
    assert m.enqueued_at.tzinfo is datetime.timezone.utc and m.archived_at is None
    assert m.vt_us == m.enqueued_at_us + 30_000_000
    consumer.archive(m.id)
    assert consumer.dequeue(batch_size=10) == []
    (a,) = admin.list_archived(queue)
    assert a.id == mid and a.state == "archived" and a.archived_at == T0 and a.payload == payload
    with pytest.raises(pgqrs.NotFound) as e:
        consumer.archive(m.id)
    assert str(mid) in str(e.value)


def test_any_json_value(store, queue):
    producer, consumer = store.producer(queue), store.consumer(queue)
    values = [1, -2.5, "text", "", [], {}, None, True, False, [1, {"a": [None]}], {"k": "\u2603\n\"\\"}]
    ids = [producer.enqueue(v) for v in values]
    got = consumer.dequeue(batch_size=100)
    assert [m.id for m in got] == ids
    assert [m.payload for m in got] == values


def test_enqueue_json_text(store, queue):
    producer, consumer = store.producer(queue), store.consumer(queue)
    producer.enqueue_json('{"a": [1, 2]}')
    (m,) = consumer.dequeue()
    assert m.payload == {"a": [1, 2]} and isinstance(m.payload_json, str)


def test_bad_json_is_invalid_input_and_writes_nothing(store, admin, queue):
    producer = store.producer(queue)
    for bad in ("{not json", "", "{\"a\":1", "[1,]"):
        with pytest.raises(pgqrs.InvalidInput) as e:
            producer.enqueue_json(bad)
        assert str(e.value) and e.value.status == pgqrs.Status.EINVAL
    with pytest.raises(pgqrs.InvalidInput):
        producer.enqueue({"when": datetime.datetime.now()})       # not JSON-serialisable
    with pytest.raises(pgqrs.InvalidInput):
        producer.enqueue(float("nan"))                            # not JSON
    with pytest.raises(pgqrs.InvalidInput):
        producer.enqueue_json(b"{}")
    with pytest.raises(pgqrs.InvalidInput):
        producer.enqueue({"s": "\ud800"})                        # a lone surrogate has no UTF-8
    with pytest.raises(pgqrs.InvalidInput):
        producer.enqueue({"s": "a\u0000b"})                      # U+0000: refused by the library (jsonb has none)
    with pytest.raises(pgqrs.InvalidInput):
        producer.enqueue_batch_json(['{"ok": 1}', "{bad"])       # all or none
    assert admin.metrics(queue)[0].pending == 0
    assert admin.list_messages(queue) == []


def test_batch_enqueue_ids_in_order(store, admin, queue):
    producer, consumer = store.producer(queue), store.consumer(queue)
    payloads = [{"n": i} for i in range(50)]
    ids = producer.enqueue_batch(payloads)
    assert len(ids) == 50 and ids == sorted(ids) and len(set(ids)) == 50
    assert producer.enqueue_batch([]) == []
    more = producer.enqueue_batch_json(['{"n": 50}', '{"n": 51}'])
    assert more[0] > ids[-1]
    got = consumer.dequeue(batch_size=100)
    assert [m.id for m in got] == ids + more
    assert [m.payload["n"] for m in got] == list(range(52))
    listed = admin.list_messages(queue, after_id=ids[9], limit=5)
    assert [m.id for m in listed] == ids[10:15]


def test_delayed_messages(store, admin, queue):
    producer, consumer = store.producer(queue), store.consumer(queue)
    store.set_time(T0)
    late = producer.enqueue({"late": True}, delay=60)
    later = producer.enqueue_batch([{"b": 1}, {"b": 2}], delay=datetime.timedelta(minutes=2))
    now = producer.enqueue({"now": True})
    assert [m.id for m in consumer.dequeue(batch_size=10, vt=600)] == [now]
    (mt,) = admin.metrics(queue)
    assert mt.delayed == 3 and mt.in_flight == 1 and mt.pending == 0
    store.set_time(T0 + 59 * S)
    assert consumer.dequeue(batch_size=10) == []
    store.set_time(T0 + 60 * S)
    assert [m.id for m in consumer.dequeue(batch_size=10, vt=600)] == [late]
    store.set_time(T0 + 121 * S)
    assert [m.id for m in consumer.dequeue(batch_size=10)] == later
    with pytest.raises(pgqrs.InvalidInput):
        producer.enqueue({}, delay=-1)
    with pytest.raises(pgqrs.InvalidInput):
        producer.enqueue({}, delay=1.5)
    with pytest.raises(pgqrs.InvalidInput):
        producer.enqueue({}, delay=365 * 86400 + 1)


def test_visibility_timeout_expiry(store, queue):
    producer = store.producer(queue)
    a, b = store.consumer(queue), store.consumer(queue)
    store.set_time(T0)
    mid = producer.enqueue({"job": 1})
    (m,) = a.dequeue(vt=30)
    assert b.dequeue() == []
    store.set_time(T0 + 29 * S)
    assert b.dequeue() == []
    store.set_time(T0 + 30 * S)
    (m2,) = b.dequeue(vt=30)                              # the lease expired: b takes it over
    assert m2.id == mid and m2.read_count == 2 and m2.consumer_worker_id == b.worker_id
    with pytest.raises(pgqrs.NotOwned) as e:
        a.archive(m)
    assert str(mid) in str(e.value) and e.value.status == pgqrs.Status.ENOTOWNED
    b.archive(m2)


def test_extend_release_delete(store, admin, queue):
    producer, consumer = store.producer(queue), store.consumer(queue)
    store.set_time(T0)
    i1, i2, i3 = producer.enqueue_batch([1, 2, 3])
    msgs = consumer.dequeue(batch_size=3, vt=10)
    assert consumer.extend_vt(i1, 100) == T0 + 100 * S
    store.set_time(T0 + 11 * S)
    other = store.consumer(queue)
    assert [m.id for m in other.dequeue(batch_size=3)] == [i2, i3]   # i1 was extended
    with pytest.raises(pgqrs.NotOwned):
        consumer.extend_vt(i2, 10)
    consumer.release(msgs[0], delay=5)
    assert other.dequeue() == []
    store.set_time(T0 + 16 * S)
    (r,) = other.dequeue()
    assert r.id == i1 and r.read_count == 2
    other.delete(i1)
    assert [m.id for m in admin.list_messages(queue)] == [i2, i3]
    assert admin.list_archived(queue) == []
    with pytest.raises(pgqrs.InvalidInput):
        consumer.extend_vt(i2, -5)


def test_batch_settle_statuses(store, admin, queue):
    producer, consumer = store.producer(queue), store.consumer(queue)
    store.set_time(T0)
    ids = producer.enqueue_batch([{"n": i} for i in range(4)])
    mine = consumer.dequeue(batch_size=2, vt=30)
    theirs = store.consumer(queue).dequeue(batch_size=2, vt=30)
    got = consumer.archive_batch([mine[0], theirs[0].id, 424242])
    assert got == [pgqrs.Status.OK, pgqrs.Status.ENOTOWNED, pgqrs.Status.ENOTFOUND]
    assert consumer.release_batch([mine[1].id], delay=0) == [pgqrs.Status.OK]
    (again,) = consumer.dequeue()
    assert consumer.delete_batch([again]) == [pgqrs.Status.OK]
    assert consumer.archive_batch([]) == []
    assert [m.id for m in admin.list_archived(queue)] == [ids[0]]


def test_archive_and_dequeue(store, admin, queue):
    producer, consumer = store.producer(queue), store.consumer(queue)
    store.set_time(T0)
    ids = producer.enqueue_batch([{"n": i} for i in range(3)])
    held = consumer.archive_and_dequeue([], batch_size=2, vt=30)
    assert [m.id for m in held] == ids[:2]
    held = consumer.archive_and_dequeue(held, batch_size=2, vt=30)
    assert [m.id for m in held] == ids[2:]
    assert consumer.archive_and_dequeue([m.id for m in held], batch_size=2) == []
    assert sorted(m.id for m in admin.list_archived(queue)) == ids
    # not held: nothing claimed (and, with transactions, nothing archived)
    producer.enqueue({"n": 9})
    with pytest.raises(pgqrs.NotFound):
        consumer.archive_and_dequeue([424242])
    (m,) = admin.metrics(queue)
    assert m.pending == 1 and m.in_flight == 0


def test_dequeue_arguments(store, queue):
    consumer = store.consumer(queue)
    for kwargs in ({"batch_size": 0}, {"batch_size": 100000}, {"vt": -1}, {"vt": 604801}):
        with pytest.raises(pgqrs.InvalidInput):
            consumer.dequeue(**kwargs)
    with pytest.raises(pgqrs.InvalidInput):
        consumer.dequeue(batch_size="10")
    assert consumer.dequeue(batch_size=1000, vt=datetime.timedelta(seconds=5)) == []


def test_threads_share_a_store(store, admin, queue):
    """One store, a consumer per thread: every message is delivered exactly once."""
    import threading
    n = 200
    store.producer(queue).enqueue_batch([{"n": i} for i in range(n)])
    seen, errors = [], []
    lock = threading.Lock()

    def work():
        try:
            with store.consumer(queue) as c:
                while True:
                    msgs = c.dequeue(batch_size=7, vt=600)
                    if not msgs:
                        return
                    for m in msgs:
                        c.archive(m)
                    with lock:
                        seen.extend(m.payload["n"] for m in msgs)
        except Exception as e:       # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(seen) == list(range(n))
    (mt,) = admin.metrics(queue)
    assert mt.archived == n and mt.pending == 0 and mt.in_flight == 0
