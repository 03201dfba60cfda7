"""Per-queue limits through the binding: create_queue / update_queue and a
limited claim (docs/design.md, "Per-queue limits")."""

import datetime

import pytest

import pgqrs


def _limits_supported(store):
    return store.capabilities["transactions"]


def test_create_and_update_limits(store, admin):
    if not _limits_supported(store):
        with pytest.raises(pgqrs.NotSupported):
            admin.create_queue("lim", concurrency_limit=3)
        return
    q = admin.create_queue("lim", concurrency_limit=3, rate_limit=(10, 1))
    assert (q.concurrency_limit, q.rate_limit, q.rate_period_ms) == (3, 10, 1000)
    q = admin.update_queue("lim", rate_limit=(5, datetime.timedelta(minutes=2)), max_attempts=4)
    assert (q.concurrency_limit, q.rate_limit, q.rate_period_ms, q.max_attempts) == (3, 5, 120000, 4)
    q = admin.update_queue("lim", concurrency_limit=pgqrs.NO_LIMIT)
    assert q.concurrency_limit is None and q.rate_limit == 5
    q = admin.update_queue("lim", rate_limit=pgqrs.NO_LIMIT)
    assert q.rate_limit is None and q.rate_period_ms is None
    assert admin.get_queue("lim") == q
    free = admin.create_queue("free")
    assert free.concurrency_limit is None and free.rate_limit is None


@pytest.mark.parametrize("kwargs", [
    {"concurrency_limit": 0}, {"concurrency_limit": -1}, {"concurrency_limit": 10**7},
    {"rate_limit": 5}, {"rate_limit": (5, 0)}, {"rate_limit": (0, 1)}, {"rate_limit": (5, -1)},
])
def test_bad_limits_change_nothing(admin, kwargs):
    admin.create_queue("q")
    with pytest.raises(pgqrs.InvalidInput):
        admin.update_queue("q", max_attempts=9, **kwargs)
    q = admin.get_queue("q")
    assert q.max_attempts == 5 and q.concurrency_limit is None and q.rate_limit is None


def test_concurrency_limit_caps_a_claim(store, admin):
    if not _limits_supported(store):
        pytest.skip("no transactions: limits are refused (test_create_and_update_limits)")
    admin.create_queue("lim", concurrency_limit=2)
    p = store.producer("lim")
    for i in range(5):
        p.enqueue({"n": i})
    c = store.consumer("lim")
    assert len(c.dequeue(10)) == 2
    assert len(c.dequeue(10)) == 0
