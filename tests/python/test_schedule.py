"""Schedules, the scheduler and retention through the Python package."""

import datetime
import threading

import pytest

import pgqrs

UTC = datetime.timezone.utc
T0 = datetime.datetime(2030, 3, 17, 16, 0, tzinfo=UTC)
MIN = datetime.timedelta(minutes=1)


def test_create_list_get(store, admin, queue):
    store.set_time(T0)
    info = admin.create_schedule("nightly", "0 3 * * *", queue=queue, payload={"kind": "nightly"},
                                 timezone="Europe/Berlin")
    assert info.name == "nightly" and info.target == queue and info.payload == {"kind": "nightly"}
    assert info.next_at == datetime.datetime(2030, 3, 18, 2, 0, tzinfo=UTC)   # 03:00 CET
    assert info.overlap == "skip" and info.misfire == "skip" and info.misfire_grace_s == 60
    assert [s.name for s in admin.list_schedules()] == ["nightly"]
    assert admin.get_schedule("nightly").timezone == "Europe/Berlin"
    with pytest.raises(pgqrs.AlreadyExists):
        admin.create_schedule("nightly", "0 3 * * *", queue=queue)


@pytest.mark.parametrize("kwargs,exc,text", [
    (dict(cron="0 3 * *"), pgqrs.InvalidInput, "5 fields"),
    (dict(cron="* * * * *", timezone="Nowhere/City"), pgqrs.InvalidInput, "Nowhere/City"),
    (dict(cron="* * * * *", queue="missing"), pgqrs.NotFound, "missing"),
    (dict(cron="* * * * *", misfire="sometimes"), pgqrs.InvalidInput, "misfire"),
])
def test_bad_input_writes_nothing(admin, queue, kwargs, exc, text):
    kwargs = dict(kwargs)
    kwargs.setdefault("queue", queue)
    cron = kwargs.pop("cron")
    with pytest.raises(exc) as e:
        admin.create_schedule("bad", cron, **kwargs)
    assert text in str(e.value)
    assert admin.list_schedules() == []


def test_scheduler_fires_pause_resume(store, admin, queue):
    store.set_time(T0)
    admin.create_schedule("every-minute", "* * * * *", queue=queue, overlap="allow")
    with store.scheduler(retention_interval=-1) as sch:
        assert sch.run_once(T0 + MIN) == T0 + 2 * MIN
        admin.pause_schedule("every-minute")
        sch.run_once(T0 + 2 * MIN)
        store.set_time(T0 + 2 * MIN + datetime.timedelta(seconds=30))
        admin.resume_schedule("every-minute")
        assert sch.run_once(T0 + 3 * MIN) == T0 + 4 * MIN
        assert sch.stats["fired"] == 2
    assert len(admin.list_messages(queue)) == 2


def test_workflow_target_and_stop(store, admin):
    @pgqrs.workflow(name="report")
    def report(run, inp):
        return {"got": inp}

    store.define(report)
    store.set_time(T0)
    admin.create_schedule("hourly", "@hourly", workflow="report", input={"kind": "hourly"})
    sch = store.scheduler(poll_interval_ms=10)
    sch.run_once(T0 + 60 * MIN)
    assert sch.stats["fired"] == 1
    threading.Timer(0.2, sch.stop).start()
    sch.run()        # returns once stopped
    sch.close()


def test_retention(store, admin, queue):
    admin.set_retention(archive_max_age_s=3600)
    admin.set_retention(queue, archive_max_rows=2, archive_max_age_s=-1)
    assert admin.get_retention(queue) == {"archive_max_age_s": -1, "archive_max_rows": 2, "dlq_max_age_s": 0,
                                          "dlq_max_rows": 0, "run_max_age_s": 0}
    assert admin.get_retention(queue, effective=True)["archive_max_age_s"] == 0
    with store.producer(queue) as p, store.consumer(queue) as c:
        for _ in range(5):
            p.enqueue({"n": 1})
        for m in c.dequeue(batch_size=5, vt=30):
            c.archive(m.id)
    report = admin.run_retention(batch_size=2)
    assert report["archived"] == 3 and report["complete"]
    with pytest.raises(pgqrs.InvalidInput):
        admin.set_retention(queue, dlq_max_rows=-7)


def test_cron_next():
    after = datetime.datetime(2024, 3, 9, 12, 0, tzinfo=UTC)
    assert pgqrs.cron_next("0 9 * * *", "America/New_York", after, 2) == [
        datetime.datetime(2024, 3, 9, 14, 0, tzinfo=UTC), datetime.datetime(2024, 3, 10, 13, 0, tzinfo=UTC)]
    with pytest.raises(pgqrs.InvalidInput):
        pgqrs.cron_next("* * * * * *")


def test_the_runtime_runs_the_scheduler(store, admin, queue):
    store.set_time(T0)
    admin.create_schedule("every-second", "@every 1s", queue=queue, payload={"job": "tick"}, overlap="allow")
    store.set_time(T0 + datetime.timedelta(seconds=3))      # three ticks due
    seen = []

    # scheduler=False: nothing fires, until_empty returns at once
    with pgqrs.Runtime(store, until_empty=True, scheduler=False) as rt:
        rt.add(queue, lambda job: seen.append(job.payload))
        rt.run(handle_signals=False)
        assert rt.scheduler_stats() is None
    assert seen == []

    rt = pgqrs.Runtime(store, scheduler_poll_interval=0.02, retention_interval=-1)

    @rt.handler(queue)
    def handle(job):
        seen.append(job.payload)
        if len(seen) == 3:
            rt.stop()

    timer = threading.Timer(20, rt.stop)       # a bound, not a figure: stop in any case
    timer.start()
    try:
        rt.run(handle_signals=False)
    finally:
        timer.cancel()
    assert seen == [{"job": "tick"}] * 3
    stats = rt.scheduler_stats()
    assert stats["fired"] == 3 and stats["retention_runs"] == 0
    rt.close()
    with pytest.raises(pgqrs.InvalidInput):
        pgqrs.Runtime(store, retention_interval=-2)
