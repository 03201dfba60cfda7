"""Queue CRUD and its errors."""

import pytest

import pgqrs


def test_create_get_list_delete(admin):
    q = admin.create_queue("emails", max_attempts=7)
    assert isinstance(q, pgqrs.QueueInfo)
    assert q.name == "emails" and q.max_attempts == 7 and q.id > 0 and q.created_at is not None
    assert admin.get_queue("emails") == q
    admin.create_queue("alpha")
    assert [x.name for x in admin.list_queues()] == ["alpha", "emails"]
    admin.delete_queue("alpha")
    assert [x.name for x in admin.list_queues()] == ["emails"]


def test_default_max_attempts(admin):
    assert admin.create_queue("d").max_attempts == 5


def test_already_exists_and_exist_ok(admin):
    q = admin.create_queue("tasks")
    with pytest.raises(pgqrs.AlreadyExists) as e:
        admin.create_queue("tasks")
    assert "tasks" in str(e.value) and e.value.status == pgqrs.Status.EEXISTS
    assert admin.create_queue("tasks", exist_ok=True).id == q.id


def test_not_found(store, admin):
    for call in (lambda: admin.get_queue("missing"), lambda: admin.delete_queue("missing"),
                 lambda: admin.purge_queue("missing"), lambda: admin.metrics("missing"),
                 lambda: store.producer("missing"), lambda: store.consumer("missing")):
        with pytest.raises(pgqrs.NotFound) as e:
            call()
        assert str(e.value), "a NotFound without a message"
        assert isinstance(e.value, LookupError)


def test_invalid_names(store, admin):
    for bad in ("", "x" * 129):
        with pytest.raises(pgqrs.InvalidInput) as e:
            admin.create_queue(bad)
        assert str(e.value)
    with pytest.raises(pgqrs.InvalidInput):
        admin.create_queue("a\0b")
    with pytest.raises(pgqrs.InvalidInput):
        admin.create_queue(None)
    with pytest.raises(pgqrs.InvalidInput):
        admin.create_queue("ok", max_attempts=-1)
    assert admin.list_queues() == []
    assert admin.create_queue("x" * 128).name == "x" * 128


def test_unicode_and_sql_looking_names(store, admin):
    for name in ("émails ✉", "q'; DROP TABLE pgqrs_queues; --", "a b"):
        admin.create_queue(name)
        p = store.producer(name)
        p.enqueue({"name": name})
        (m,) = store.consumer(name).dequeue()
        assert m.payload == {"name": name}
        assert admin.get_queue(name).name == name
    assert sorted(q.name for q in admin.list_queues()) == sorted(
        ("émails ✉", "q'; DROP TABLE pgqrs_queues; --", "a b"))


def test_delete_with_live_messages_needs_force(store, admin, queue):
    store.producer(queue).enqueue({"n": 1})
    with pytest.raises(pgqrs.IllegalState):
        admin.delete_queue(queue)
    admin.get_queue(queue)
    admin.delete_queue(queue, force=True)
    with pytest.raises(pgqrs.NotFound):
        admin.get_queue(queue)


def test_purge_queue(store, admin, queue):
    store.producer(queue).enqueue_batch([{"n": i} for i in range(5)])
    assert admin.purge_queue(queue) == 5
    assert admin.purge_queue(queue) == 0
    assert admin.metrics(queue)[0].pending == 0
