"""Dead letters, metrics, workers and handle lifecycles."""

import datetime

import pytest

import pgqrs
from conftest import T0

S = datetime.timedelta(seconds=1)


def _dead_letter(store, admin, queue, payload):
    """Enqueues `payload` on a max_attempts=1 queue and lets it die."""
    producer, consumer = store.producer(queue), store.consumer(queue)
    mid = producer.enqueue(payload)
    (m,) = consumer.dequeue(vt=10)
    assert m.read_count == 1
    store.set_time(T0 + 60 * S)                     # the lease expires...
    assert consumer.dequeue() == []                 # ...and the next claim dead-letters it
    return mid


def test_dlq_list_count_replay(store, admin):
    admin.create_queue("poison", max_attempts=1)
    store.set_time(T0)
    mid = _dead_letter(store, admin, "poison", {"bad": True})
    assert admin.dlq_count("poison") == 1
    (d,) = admin.dlq_list("poison")
    assert d.id == mid and d.state == "dead_letter" and d.payload == {"bad": True}
    assert d.archived_at == T0 + 60 * S and d.read_count == 1
    assert admin.list_archived("poison") == []        # dead letters are not "archived"
    (mt,) = admin.metrics("poison")
    assert mt.dead_lettered == 1 and mt.pending == 0 and mt.in_flight == 0
    with pytest.raises(pgqrs.NotFound):
        admin.dlq_replay("poison", 999999)
    admin.dlq_replay("poison", d)
    assert admin.dlq_count("poison") == 0 and admin.dlq_list("poison") == []
    (m,) = store.consumer("poison").dequeue()
    assert m.payload == {"bad": True} and m.read_count == 1


def test_dlq_replay_all_and_paging(store, admin):
    admin.create_queue("poison", max_attempts=1)
    store.set_time(T0)
    producer, consumer = store.producer("poison"), store.consumer("poison")
    ids = producer.enqueue_batch([{"n": i} for i in range(5)])
    assert len(consumer.dequeue(batch_size=5, vt=10)) == 5
    store.set_time(T0 + 60 * S)
    assert consumer.dequeue(batch_size=5) == []
    assert admin.dlq_count("poison") == 5
    assert [m.id for m in admin.dlq_list("poison", limit=2)] == ids[:2]
    assert [m.id for m in admin.dlq_list("poison", after_id=ids[1], limit=100)] == ids[2:]
    with pytest.raises(pgqrs.InvalidInput):
        admin.dlq_list("poison", limit=0)
    assert admin.dlq_replay_all("poison") == 5
    assert admin.dlq_count("poison") == 0
    assert sorted(m.payload["n"] for m in consumer.dequeue(batch_size=10)) == list(range(5))
    with pytest.raises(pgqrs.NotFound):
        admin.dlq_count("missing")


def test_metrics(store, admin):
    admin.create_queue("b")
    admin.create_queue("a")
    store.set_time(T0)
    p = store.producer("a")
    p.enqueue_batch([{"n": i} for i in range(4)])
    p.enqueue({"later": 1}, delay=300)
    c = store.consumer("a")
    held = c.dequeue(batch_size=2, vt=60)
    c.archive(held[0])
    store.set_time(T0 + 10 * S)
    ms = admin.metrics()
    assert [m.name for m in ms] == ["a", "b"] and all(isinstance(m, pgqrs.QueueMetrics) for m in ms)
    a, b = ms
    assert (a.pending, a.in_flight, a.delayed, a.archived, a.dead_lettered) == (2, 1, 1, 1, 0)
    assert a.oldest_pending_age == 10 * S and a.queue_id == admin.get_queue("a").id
    assert (b.pending, b.in_flight, b.delayed, b.archived, b.dead_lettered, b.oldest_pending_age_us) == (0,) * 6
    assert admin.metrics("b") == [b]


def test_purge_archive(store, admin, queue):
    store.set_time(T0)
    p, c = store.producer(queue), store.consumer(queue)
    p.enqueue_batch([1, 2])
    for m in c.dequeue(batch_size=2):
        c.archive(m)
    store.set_time(T0 + 100 * S)
    assert admin.purge_archive(queue, older_than=200) == 0
    assert admin.purge_archive(older_than=datetime.timedelta(seconds=50)) == 2
    assert admin.list_archived(queue) == []


def test_workers_list_and_health(store, admin, queue):
    producer, consumer = store.producer(queue), store.consumer(queue)
    workers = admin.list_workers(queue)
    assert {(w.id, w.kind, w.status) for w in workers} == {
        (producer.worker_id, "producer", "ready"), (consumer.worker_id, "consumer", "ready")}
    assert workers[0].id == consumer.worker_id                   # newest first
    w = consumer.worker()
    assert isinstance(w, pgqrs.WorkerInfo) and w.queue_id == admin.get_queue(queue).id and w.pid > 0
    assert w.hostname and w.started_at is not None and w.stopped_at is None
    h = admin.worker_health()
    assert isinstance(h, pgqrs.WorkerHealth)
    assert (h.total, h.ready, h.suspended, h.stopped, h.stale) == (2, 2, 0, 0, 0)
    admin.create_queue("other")
    store.producer("other").close()
    assert len(admin.list_workers()) == 3 and len(admin.list_workers(queue)) == 2
    assert admin.worker_health().stopped == 1
    with pytest.raises(pgqrs.NotFound):
        admin.get_worker(987654)


def test_worker_lifecycle(store, admin, queue):
    producer, consumer = store.producer(queue), store.consumer(queue)
    producer.enqueue({"n": 1})
    consumer.suspend()
    assert consumer.worker().status == "suspended"
    with pytest.raises(pgqrs.IllegalState) as e:
        consumer.dequeue()
    assert str(e.value)
    with pytest.raises(pgqrs.IllegalState):
        consumer.suspend()
    consumer.resume()
    with pytest.raises(pgqrs.IllegalState):
        consumer.resume()
    consumer.heartbeat()
    assert len(consumer.dequeue(vt=300)) == 1
    with pytest.raises(pgqrs.IllegalState):
        consumer.shutdown()                          # holds a message
    consumer.shutdown(release=True)
    assert consumer.worker().status == "stopped"
    assert admin.metrics(queue)[0].pending == 1
    producer.suspend()
    producer.resume()
    producer.heartbeat()
    producer.shutdown()
    assert producer.worker().status == "stopped"


def test_reclaim_zombies_and_purge_stale(store, admin, queue):
    store.set_time(T0)
    producer, consumer = store.producer(queue), store.consumer(queue)
    producer.enqueue({"n": 1})
    (m,) = consumer.dequeue(vt=3600)
    store.set_time(T0 + 1000 * S)
    assert admin.worker_health(stale_after=500).stale == 2
    assert admin.reclaim_zombies(older_than=500) == 2
    assert {w.status for w in admin.list_workers(queue)} == {"stopped"}
    c2 = store.consumer(queue)
    (again,) = c2.dequeue(vt=100000)
    assert again.id == m.id
    store.set_time(T0 + 5000 * S)
    assert admin.purge_stale_workers(older_than=3000) == 2   # silent too, but c2 holds a message
    assert [w.id for w in admin.list_workers(queue)] == [c2.worker_id]


def test_context_managers_close(store, admin, queue):
    with store.producer(queue) as producer:
        producer.enqueue_batch([1, 2])
        pid = producer.worker_id
    assert producer.closed
    with store.consumer(queue) as consumer:
        assert len(consumer.dequeue(batch_size=2, vt=600)) == 2
        cid = consumer.worker_id
    assert consumer.closed
    assert admin.get_worker(pid).status == "stopped" and admin.get_worker(cid).status == "stopped"
    mt = admin.metrics(queue)[0]
    assert mt.pending == 2 and mt.in_flight == 0     # the consumer released what it held
    consumer.close()                                 # idempotent
    with pytest.raises(pgqrs.Misuse) as e:
        consumer.archive(1)
    assert "consumer is closed" in str(e.value)
    with store.admin() as a:
        assert a.get_queue(queue).name == queue


def test_dropped_handles_are_freed(store, admin, queue):
    """A producer/consumer dropped without close() is freed by its finaliser,
    not only when the store closes."""
    store.producer(queue).enqueue({"n": 1})
    c = store.consumer(queue)
    c.dequeue(vt=600)
    wid = c.worker_id
    del c
    assert admin.get_worker(wid).status == "stopped"
    assert admin.metrics(queue)[0].pending == 1
    assert not store._children                       # nothing left for close()
