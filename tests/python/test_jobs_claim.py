"""Priorities and unique keys (issue 17): Producer.enqueue(priority=, unique_key=),
enqueue_with -> (id, created), enqueue_batch_with, bad input."""

import datetime

import pytest

import pgqrs
from conftest import T0

S = datetime.timedelta(seconds=1)


def test_priority_order_and_fifo(store, queue):
    producer, consumer = store.producer(queue), store.consumer(queue)
    store.set_time(T0)
    a = producer.enqueue("a")
    b = producer.enqueue("b", priority=5)
    c = producer.enqueue("c", priority=5)
    d = producer.enqueue("d", priority=-3)
    later = producer.enqueue("later", priority=100, delay=10)
    got = [consumer.dequeue(batch_size=1)[0].id for _ in range(4)]
    assert got == [b, c, a, d]
    assert consumer.dequeue(batch_size=1) == []
    store.set_time(T0 + 10 * S)
    (m,) = consumer.dequeue(batch_size=1)
    assert m.id == later and m.priority == 100 and m.unique_key is None


def test_unique_key_created_and_existing(store, queue):
    producer, consumer = store.producer(queue), store.consumer(queue)
    mid, created = producer.enqueue_with({"n": 1}, unique_key="job-1", priority=2)
    assert created is True
    assert producer.enqueue_with({"n": 2}, unique_key="job-1") == (mid, False)
    assert producer.enqueue({"n": 3}, unique_key="job-1") == mid
    (m,) = consumer.dequeue(batch_size=10)
    assert m.id == mid and m.unique_key == "job-1" and m.priority == 2 and m.payload == {"n": 1}
    consumer.archive(m.id)
    mid2, created = producer.enqueue_with({"n": 4}, unique_key="job-1")
    assert created is True and mid2 != mid


def test_batch_with(store, queue):
    producer = store.producer(queue)
    pre = producer.enqueue("pre", unique_key="a")
    keys = ["a", "b", "b", None]
    if not store.capabilities["transactions"]:
        with pytest.raises(pgqrs.NotSupported):
            producer.enqueue_batch_with([1, 2, 3, 4], unique_keys=keys)
        return
    res = producer.enqueue_batch_with([1, 2, 3, 4], unique_keys=keys, priority=[0, 1, 1, 9])
    assert res[0] == (pre, False)
    assert res[1][1] is True and res[2] == (res[1][0], False) and res[3][1] is True
    plain = producer.enqueue_batch_with(["x", "y"], priority=3)
    assert [c for _, c in plain] == [True, True] and plain[0][0] < plain[1][0]


def test_bad_input_changes_nothing(store, admin, queue):
    producer = store.producer(queue)
    for kw in ({"priority": 40000}, {"priority": -40000}, {"unique_key": ""}, {"unique_key": "k" * 513}):
        with pytest.raises(pgqrs.InvalidInput):
            producer.enqueue_with({}, **kw)
    with pytest.raises(pgqrs.InvalidInput):
        producer.enqueue_batch_with([1, 2], unique_keys=["ok", ""])
    with pytest.raises(pgqrs.InvalidInput):
        producer.enqueue_batch_with([1, 2], priority=[1])
    assert admin.list_messages(queue) == []
