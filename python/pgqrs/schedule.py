"""Schedules, the scheduler and retention (docs/schedules.md).

``admin.create_schedule(...)`` and friends manage schedules; ``store.scheduler()``
returns a :class:`Scheduler` that fires their ticks (``run_once`` for one round,
``run`` for the loop of ``pgqrs schedule run``); ``admin.set_retention`` and
``admin.run_retention`` manage what is deleted. :func:`cron_next` computes fire
times without a store."""

import ctypes
import dataclasses
import datetime
import json
from typing import Any, Optional

from . import _lib
from ._core import (I64_MAX, I64_MIN, Handle, check, datetime_to_us, decode, encode_name, fetch_list, lib, to_int,
                    us_to_datetime, utf8)
from .errors import InvalidInput, Status

@dataclasses.dataclass(frozen=True)
class ScheduleInfo:
    """A schedule (``struct pgqrs_schedule_info``)."""
    id: int
    name: str
    cron: str
    timezone: str
    queue_id: Optional[int]
    workflow_id: Optional[int]
    target: str
    payload: Any = dataclasses.field(hash=False, compare=False)
    overlap: str = "skip"
    misfire: str = "skip"
    misfire_grace_s: int = 60
    paused: bool = False
    next_at_us: int = 0
    last_tick_at_us: int = 0
    created_at_us: int = 0
    updated_at_us: int = 0

    @property
    def next_at(self) -> Optional[datetime.datetime]:
        return us_to_datetime(self.next_at_us)

    @property
    def last_tick_at(self) -> Optional[datetime.datetime]:
        return us_to_datetime(self.last_tick_at_us)

    @classmethod
    def _from_c(cls, s):
        raw = decode(s.payload)
        return cls(id=s.id, name=decode(s.name), cron=decode(s.cron), timezone=decode(s.timezone),
                   queue_id=s.queue_id or None, workflow_id=s.workflow_id or None, target=decode(s.target),
                   payload=None if raw is None else json.loads(raw), overlap=decode(s.overlap),
                   misfire=decode(s.misfire), misfire_grace_s=s.misfire_grace_s, paused=bool(s.paused),
                   next_at_us=s.next_at_us, last_tick_at_us=s.last_tick_at_us, created_at_us=s.created_at_us,
                   updated_at_us=s.updated_at_us)


def cron_next(expr, timezone="UTC", after=None, count=1):
    """The next `count` fire times of cron expression `expr` in `timezone` after
    `after` (an aware datetime, naive = UTC; None = now), as aware UTC datetimes.
    :class:`InvalidInput` for a bad expression or zone."""
    return [us_to_datetime(us) for us in cron_next_us(expr, timezone, None if after is None else datetime_to_us(after),
                                                       count)]


def cron_next_us(expr, timezone="UTC", after_us=None, count=1):
    """Like :func:`cron_next` in UTC microseconds since the epoch."""
    if after_us is None:
        after_us = datetime_to_us(datetime.datetime.now(datetime.timezone.utc))
    n = to_int(count, "count", 0, 100000)
    out = (ctypes.c_int64 * max(n, 1))()
    got = ctypes.c_size_t()
    L = lib()
    check(L.pgqrs_cron_next(out, ctypes.byref(got), utf8(expr, "cron expression"),
                            None if timezone is None else utf8(timezone, "time zone"),
                            to_int(after_us, "after_us", I64_MIN, I64_MAX), n), None)
    return [out[i] for i in range(got.value)]


def _json(value, what):
    if value is None:
        return None
    try:
        return json.dumps(value).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise InvalidInput("%s is not JSON-serialisable: %s" % (what, e), Status.EINVAL) from None


def create_schedule(store, name, cron, *, queue=None, payload=None, workflow=None, input=None, timezone=None,
                    overlap=None, misfire=None, misfire_grace=None, paused=False):
    """See :meth:`pgqrs.Admin.create_schedule`."""
    if queue is not None and input is not None:
        raise InvalidInput("a queue schedule takes payload=, not input=", Status.EINVAL)
    if workflow is not None and payload is not None:
        raise InvalidInput("a workflow schedule takes input=, not payload=", Status.EINVAL)
    opts = _lib.ScheduleOptionsC()
    opts.version = _lib.PGQRS_SCHEDULE_OPTIONS_VERSION
    keep = []   # the bytes the struct points to live until the call returns

    def s(v, what):
        if v is None:
            return None
        b = utf8(v, what)
        keep.append(b)
        return b
    opts.cron = s(cron, "cron expression")
    opts.timezone = s(timezone, "time zone")
    opts.queue = s(queue, "queue name")
    opts.workflow = s(workflow, "workflow name")
    opts.payload_json = _json(payload if queue is not None else input, "payload" if queue is not None else "input")
    opts.overlap = s(overlap, "overlap")
    opts.misfire = s(misfire, "misfire")
    opts.misfire_grace_s = 0 if misfire_grace is None else (-1 if misfire_grace == 0 else
                                                            to_int(misfire_grace, "misfire_grace", 1, I64_MAX))
    opts.paused = 1 if paused else 0
    out = ctypes.POINTER(_lib.ScheduleInfoC)()
    sp = store._ptr()
    L = lib()
    check(L.pgqrs_schedule_create(ctypes.byref(out), sp, encode_name(name, "schedule name"), ctypes.byref(opts)), sp)
    try:
        return ScheduleInfo._from_c(out.contents)
    finally:
        L.pgqrs_schedule_info_free(out)


def get_schedule(store, name):
    out = ctypes.POINTER(_lib.ScheduleInfoC)()
    sp = store._ptr()
    L = lib()
    check(L.pgqrs_schedule_get(ctypes.byref(out), sp, encode_name(name, "schedule name")), sp)
    try:
        return ScheduleInfo._from_c(out.contents)
    finally:
        L.pgqrs_schedule_info_free(out)


def list_schedules(store):
    sp = store._ptr()
    L = lib()
    return fetch_list(lambda out: L.pgqrs_schedule_list(out, sp), sp, L.pgqrs_schedules_count, L.pgqrs_schedules_at,
                      L.pgqrs_schedules_free, ScheduleInfo._from_c)


def schedule_call(store, fn, name):
    sp = store._ptr()
    check(getattr(lib(), fn)(sp, encode_name(name, "schedule name")), sp)


_POLICY_FIELDS = ("archive_max_age_s", "archive_max_rows", "dlq_max_age_s", "dlq_max_rows", "run_max_age_s")


def set_retention(store, queue=None, **policy):
    unknown = set(policy) - set(_POLICY_FIELDS)
    if unknown:
        raise InvalidInput("unknown retention field(s): %s" % ", ".join(sorted(unknown)), Status.EINVAL)
    p = _lib.RetentionPolicyC()
    p.version = _lib.PGQRS_RETENTION_POLICY_VERSION
    for f in _POLICY_FIELDS:
        setattr(p, f, to_int(policy.get(f) or 0, f, -1, I64_MAX))
    sp = store._ptr()
    check(lib().pgqrs_retention_set(sp, encode_name(queue, allow_none=True), ctypes.byref(p)), sp)


def get_retention(store, queue=None, effective=False):
    p = _lib.RetentionPolicyC()
    p.version = _lib.PGQRS_RETENTION_POLICY_VERSION
    sp = store._ptr()
    check(lib().pgqrs_retention_get(ctypes.byref(p), sp, encode_name(queue, allow_none=True), 1 if effective else 0), sp)
    return {f: getattr(p, f) for f in _POLICY_FIELDS}


def run_retention(store, batch_size=None, max_rows=None, tick_max_age=None):
    o = _lib.RetentionOptionsC()
    o.version = _lib.PGQRS_RETENTION_OPTIONS_VERSION
    o.batch_size = to_int(batch_size or 0, "batch_size", 0, 100000)
    o.max_rows = to_int(max_rows or 0, "max_rows", 0, I64_MAX)
    o.tick_max_age_s = to_int(tick_max_age or 0, "tick_max_age", -1, I64_MAX)
    r = _lib.RetentionReportC()
    r.version = _lib.PGQRS_RETENTION_REPORT_VERSION
    sp = store._ptr()
    check(lib().pgqrs_retention_run(ctypes.byref(r), sp, ctypes.byref(o)), sp)
    return {"archived": r.archived, "dead_letters": r.dead_letters, "runs": r.runs, "ticks": r.ticks,
            "statements": r.statements, "complete": bool(r.complete)}


class Scheduler:
    """Fires due ticks of every schedule (``pgqrs_scheduler``). Use one per thread;
    :meth:`stop` may be called from any thread (or a signal handler)."""

    def __init__(self, store, *, max_schedules=0, max_ticks=0, poll_interval_ms=0, retention_interval=0,
                 retention_batch_size=0):
        o = _lib.SchedulerOptionsC()
        o.version = _lib.PGQRS_SCHEDULER_OPTIONS_VERSION
        o.max_schedules = to_int(max_schedules, "max_schedules", 0, 100000)
        o.max_ticks = to_int(max_ticks, "max_ticks", 0, 100000)
        o.poll_interval_ms = to_int(poll_interval_ms, "poll_interval_ms", 0, 3600000)
        o.retention_interval_s = to_int(retention_interval, "retention_interval", -1, I64_MAX)
        o.retention.batch_size = to_int(retention_batch_size, "retention_batch_size", 0, 100000)
        ptr = ctypes.c_void_p()
        sp = store._ptr()
        L = lib()
        check(L.pgqrs_scheduler_new(ctypes.byref(ptr), sp, ctypes.byref(o)), sp)
        self._store = store
        self._h = Handle(ptr.value, L.pgqrs_scheduler_free, "scheduler")
        store._adopt(self._h)

    def run_once(self, now=None):
        """One round at `now` (an aware datetime; None = now). Returns when the
        next active schedule is due (a datetime), or None when none is active."""
        p = self._h.get()
        nxt = ctypes.c_int64()
        check(lib().pgqrs_scheduler_run_once(ctypes.byref(nxt), p, 0 if now is None else datetime_to_us(now)), p)
        return us_to_datetime(nxt.value)

    def run(self):
        """Rounds until :meth:`stop` (from another thread or a signal handler)."""
        p = self._h.get()
        check(lib().pgqrs_scheduler_run(p), p)

    def stop(self):
        if not self._h.closed:
            lib().pgqrs_scheduler_stop(self._h.get())

    @property
    def stats(self):
        s = _lib.SchedulerStatsC()
        s.version = _lib.PGQRS_SCHEDULER_STATS_VERSION
        p = self._h.get()
        check(lib().pgqrs_scheduler_stats_get(ctypes.byref(s), p), p)
        return {f: getattr(s, f) for f, _ in _lib.SchedulerStatsC._fields_ if f != "version"}

    def close(self):
        self._store._forget(self._h)
        self._h.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
