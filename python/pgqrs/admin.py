"""Administration: schema, queues, metrics, dead letters, inspection, workers.

``store.admin()`` returns an :class:`Admin`; it holds no C handle and registers
no worker row (every call goes through the store)."""

import ctypes
import datetime

from . import _lib
from ._core import I64_MAX, I64_MIN, check, encode_name, fetch_list, lib, to_int, to_seconds
from .errors import InvalidInput, Status
from .models import NO_LIMIT, QueueInfo, QueueMetrics, WorkerHealth, WorkerInfo
from .queue import _batch_messages, _msg_id

_P = ctypes.POINTER


def _i64(v, what):
    return to_int(v, what, I64_MIN, I64_MAX)


def _ms(v, what):
    """Milliseconds from seconds (int, float) or a timedelta; None -> 0 (the default)."""
    if v is None:
        return 0
    if isinstance(v, datetime.timedelta):
        return _i64(v // datetime.timedelta(milliseconds=1), what)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidInput("%s must be seconds (a number) or a timedelta" % what, Status.EINVAL)
    ms = round(v * 1000)
    if ms <= 0:
        raise InvalidInput("%s must be positive, got %r" % (what, v), Status.EINVAL)
    return _i64(ms, what)


def _float(v, what):
    if v is None:
        return 0.0
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidInput("%s must be a number" % what, Status.EINVAL)
    return float(v)


class Admin:
    def __init__(self, store):
        self._store = store

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def close(self):
        """Nothing to free (the store owns the connections)."""

    @property
    def store(self):
        return self._store

    def _call(self, fn, *args):
        """fn(store, *args): a call without outputs."""
        sp = self._store._ptr()
        check(getattr(lib(), fn)(sp, *args), sp)

    def _call_out(self, fn, out, *args):
        """fn(out, store, *args): outputs come first (pgqrs.h, rule 2)."""
        sp = self._store._ptr()
        check(getattr(lib(), fn)(out, sp, *args), sp)

    def _count(self, fn, *args):
        n = ctypes.c_int64()
        self._call_out(fn, ctypes.byref(n), *args)
        return n.value

    def _batch(self, fn, *args):
        out = ctypes.c_void_p()
        self._call_out(fn, ctypes.byref(out), *args)
        return _batch_messages(out)

    # ---- schema -----------------------------------------------------------------
    def install(self):
        """Applies the migrations not yet applied. Idempotent, safe concurrently."""
        self._call("pgqrs_schema_install")

    def verify(self):
        """Returns None when the schema is exactly this library's; raises
        :class:`IllegalState` with the first problem otherwise."""
        self._call("pgqrs_schema_verify")

    # ---- queues -----------------------------------------------------------------
    @staticmethod
    def _limit_options(opts, concurrency_limit, rate_limit):
        # None: not given (C 0); NO_LIMIT: none / removed (C -1)
        if concurrency_limit is NO_LIMIT:
            opts.concurrency_limit = -1
        elif concurrency_limit is not None:
            n = to_int(concurrency_limit, "concurrency_limit")
            if n < 1:
                raise InvalidInput("concurrency_limit must be positive or pgqrs.NO_LIMIT, got %r" % concurrency_limit,
                                   Status.EINVAL)
            opts.concurrency_limit = n
        if rate_limit is NO_LIMIT:
            opts.rate_limit = -1
        elif rate_limit is not None:
            if not isinstance(rate_limit, tuple) or len(rate_limit) != 2:
                raise InvalidInput("rate_limit must be (claims, period) or pgqrs.NO_LIMIT, got %r" % (rate_limit,),
                                   Status.EINVAL)
            n = to_int(rate_limit[0], "rate_limit")
            if n < 1:
                raise InvalidInput("rate_limit claims must be positive, got %r" % (rate_limit[0],), Status.EINVAL)
            opts.rate_limit = n
            opts.rate_period_ms = _ms(rate_limit[1], "rate_limit period")
        return opts

    def _queue_options(self, max_attempts, exist_ok, retry_delay, retry_multiplier, retry_max_delay, retry_jitter):
        opts = _lib.QueueOptionsC()
        check(lib().pgqrs_queue_options_init(ctypes.byref(opts), _lib.PGQRS_QUEUE_OPTIONS_VERSION), None)
        opts.max_attempts = 0 if max_attempts is None else to_int(max_attempts, "max_attempts")
        opts.exist_ok = 1 if exist_ok else 0
        opts.retry_initial_delay_ms = _ms(retry_delay, "retry_delay")
        opts.retry_max_delay_ms = _ms(retry_max_delay, "retry_max_delay")
        opts.retry_multiplier = _float(retry_multiplier, "retry_multiplier")
        if retry_jitter is not None:
            j = _float(retry_jitter, "retry_jitter")
            opts.retry_jitter = -1.0 if j == 0 else j      # 0 here is "none" (the C API's < 0)
        return opts

    def _queue_call(self, fn, name, opts):
        out = _P(_lib.QueueInfoC)()
        self._call_out(fn, ctypes.byref(out), encode_name(name), ctypes.byref(opts))
        try:
            return QueueInfo._from_c(out.contents)
        finally:
            lib().pgqrs_queue_info_free(out)

    def create_queue(self, name, *, max_attempts=None, exist_ok=False, retry_delay=None, retry_multiplier=None,
                     retry_max_delay=None, retry_jitter=None, concurrency_limit=None, rate_limit=None):
        """Creates a queue and returns its :class:`QueueInfo`. `max_attempts`:
        deliveries before a message is dead-lettered (None = the library default,
        5). The retry policy (what a runtime waits before a retry, see
        :class:`pgqrs.Runtime`): `retry_delay` before the first retry (seconds or a
        timedelta, millisecond precision; default 1 s), times `retry_multiplier`
        per retry (default 2), at most `retry_max_delay` (default 300 s),
        shortened by a random fraction of at most `retry_jitter` (0 = exact;
        default 0.25). The limits: at most `concurrency_limit` messages in flight
        at once; `rate_limit=(claims, period)`: at most that many claims in any
        period (seconds or a timedelta), across every process (None: no limit).
        :class:`AlreadyExists` unless `exist_ok`;
        :class:`InvalidInput` for a bad name (1 to 128 bytes of UTF-8) or policy;
        :class:`NotSupported` for a limit on Turso over HTTP."""
        opts = self._queue_options(max_attempts, exist_ok, retry_delay, retry_multiplier, retry_max_delay,
                                   retry_jitter)
        self._limit_options(opts, concurrency_limit, rate_limit)
        return self._queue_call("pgqrs_queue_create", name, opts)

    def update_queue(self, name, *, max_attempts=None, retry_delay=None, retry_multiplier=None,
                     retry_max_delay=None, retry_jitter=None, concurrency_limit=None, rate_limit=None):
        """Changes what is given (not None) of a queue's max attempts, retry
        policy and limits in one statement; returns the :class:`QueueInfo`.
        Running runtimes use the policy from their next retry on, and a limit
        within a second. `concurrency_limit=pgqrs.NO_LIMIT` /
        `rate_limit=pgqrs.NO_LIMIT` removes that limit. :class:`NotFound`;
        :class:`InvalidInput` when the result is inconsistent (the cap below the
        first delay, a bad limit)."""
        opts = self._queue_options(max_attempts, False, retry_delay, retry_multiplier, retry_max_delay,
                                   retry_jitter)
        self._limit_options(opts, concurrency_limit, rate_limit)
        return self._queue_call("pgqrs_queue_update", name, opts)

    def get_queue(self, name):
        """The queue's :class:`QueueInfo`; :class:`NotFound` if there is none."""
        out = _P(_lib.QueueInfoC)()
        self._call_out("pgqrs_queue_get", ctypes.byref(out), encode_name(name))
        try:
            return QueueInfo._from_c(out.contents)
        finally:
            lib().pgqrs_queue_info_free(out)

    def list_queues(self):
        """Every queue, by name."""
        L, sp = lib(), self._store._ptr()
        return fetch_list(lambda o: L.pgqrs_queue_list(o, sp), sp, L.pgqrs_queues_count,
                          L.pgqrs_queues_at, L.pgqrs_queues_free, QueueInfo._from_c)

    def delete_queue(self, name, *, force=False):
        """Deletes the queue with its archive and dead letters. :class:`IllegalState`
        while it holds live messages unless `force`."""
        self._call("pgqrs_queue_delete", encode_name(name), 1 if force else 0)

    def purge_queue(self, name):
        """Deletes every live message of the queue; returns how many."""
        return self._count("pgqrs_queue_purge", encode_name(name))

    def purge_archive(self, name=None, *, older_than=0):
        """Retention: deletes archived (not dead-lettered) messages archived more
        than `older_than` seconds (or a timedelta) ago, of one queue or all."""
        return self._count("pgqrs_archive_purge", encode_name(name, allow_none=True),
                           to_seconds(older_than, "older_than", I64_MIN, I64_MAX))

    def metrics(self, name=None):
        """:class:`QueueMetrics` of one queue (a one-element list) or of all, by
        name. :class:`NotFound` if the named queue is missing."""
        L, sp = lib(), self._store._ptr()
        n = encode_name(name, allow_none=True)
        return fetch_list(lambda o: L.pgqrs_metrics_list(o, sp, n), sp, L.pgqrs_metrics_count,
                          L.pgqrs_metrics_at, L.pgqrs_metrics_free, QueueMetrics._from_c)

    # ---- messages: inspection and dead letters ------------------------------------
    def list_messages(self, queue, *, after_id=0, limit=100):
        """Live messages of a queue in id order, without claiming them."""
        return self._batch("pgqrs_message_list", encode_name(queue), _i64(after_id, "after_id"),
                           to_int(limit, "limit"))

    def list_archived(self, queue, *, after_id=0, limit=100):
        """Archived (not dead-lettered) messages of a queue in id order."""
        return self._batch("pgqrs_archive_list", encode_name(queue), _i64(after_id, "after_id"),
                           to_int(limit, "limit"))

    def dlq_list(self, queue, *, after_id=0, limit=100):
        """Dead letters of a queue in id order, after `after_id`, at most `limit` (1..10000)."""
        return self._batch("pgqrs_dlq_list", encode_name(queue), _i64(after_id, "after_id"),
                           to_int(limit, "limit"))

    def dlq_count(self, queue):
        return self._count("pgqrs_dlq_count", encode_name(queue))

    # ---- job control: a message by id, cancel (issue 17) -------------------------
    def get_message(self, message):
        """The :class:`Message` with this id (or the id of a :class:`Message`), live
        or archived; its ``state`` is "pending", "delayed", "in_flight", "archived",
        "dead_letter" or "cancelled". :class:`NotFound` if there is none."""
        msgs = self._batch("pgqrs_message_get", _msg_id(message))
        return msgs[0]

    def cancel_message(self, message, *, queue=None):
        """Cancels a message: one pending or delayed is archived as cancelled now
        (returns "cancelled"); one in flight gets a cancel request its worker sees
        (returns "requested"). With `queue`, only if it is in that queue.
        :class:`IllegalState` if it is already archived, dead-lettered or
        cancelled; :class:`NotFound` if there is no such message."""
        out = ctypes.c_int()
        self._call_out("pgqrs_message_cancel", ctypes.byref(out), encode_name(queue, allow_none=True),
                       _msg_id(message))
        return "cancelled" if out.value == 1 else "requested"

    def dlq_replay(self, queue, message):
        """Moves one dead letter (id or :class:`Message`) back to the queue as a
        new pending message. :class:`NotFound` if it is no dead letter of `queue`."""
        self._call("pgqrs_dlq_replay", encode_name(queue), _msg_id(message))

    def dlq_replay_all(self, queue):
        """Moves every dead letter of the queue back; returns how many."""
        return self._count("pgqrs_dlq_replay_all", encode_name(queue))

    # ---- workers ----------------------------------------------------------------
    def list_workers(self, queue=None):
        """Workers of one queue or of all, newest first (:class:`WorkerInfo`)."""
        L, sp = lib(), self._store._ptr()
        n = encode_name(queue, allow_none=True)
        return fetch_list(lambda o: L.pgqrs_worker_list(o, sp, n), sp, L.pgqrs_workers_count,
                          L.pgqrs_workers_at, L.pgqrs_workers_free, WorkerInfo._from_c)

    def get_worker(self, worker_id):
        out = _P(_lib.WorkerInfoC)()
        self._call_out("pgqrs_worker_get", ctypes.byref(out), _i64(worker_id, "worker_id"))
        try:
            return WorkerInfo._from_c(out.contents)
        finally:
            lib().pgqrs_worker_info_free(out)

    def worker_health(self, *, stale_after=0):
        """:class:`WorkerHealth` counts; `stale_after` seconds (0 = the store's
        zombie_after_s)."""
        h = _lib.WorkerHealthC()
        h.version = _lib.PGQRS_WORKER_HEALTH_VERSION
        self._call_out("pgqrs_worker_health_get", ctypes.byref(h),
                       to_seconds(stale_after, "stale_after", I64_MIN, I64_MAX))
        return WorkerHealth(total=h.total, ready=h.ready, suspended=h.suspended, stopped=h.stopped, stale=h.stale)

    def reclaim_zombies(self, *, older_than=0):
        """Marks every worker silent for more than `older_than` seconds (0 = the
        store's zombie_after_s) stopped and makes its messages pending; returns
        the worker count."""
        return self._count("pgqrs_worker_reclaim_zombies", to_seconds(older_than, "older_than", I64_MIN, I64_MAX))

    def purge_stale_workers(self, *, older_than):
        """Deletes workers stopped (or silent) for more than `older_than` seconds
        that hold no messages; returns how many."""
        return self._count("pgqrs_worker_purge_stale", to_seconds(older_than, "older_than", I64_MIN, I64_MAX))

    # ---- schedules and retention (pgqrs.schedule) -------------------------------------
    def create_schedule(self, name, cron, *, queue=None, payload=None, workflow=None, input=None, timezone=None,
                        overlap=None, misfire=None, misfire_grace=None, paused=False):
        """Creates a schedule firing `cron` in `timezone` (None = UTC): a message
        `payload` into `queue`, or a run of `workflow` with `input`. overlap
        "skip" (default) or "allow", misfire "skip" (default) or "latest",
        misfire_grace seconds (None = 60). Returns its :class:`ScheduleInfo`.
        :class:`InvalidInput` names a bad expression, zone or option;
        :class:`NotFound` a missing target; :class:`AlreadyExists` a taken name."""
        from .schedule import create_schedule
        return create_schedule(self._store, name, cron, queue=queue, payload=payload, workflow=workflow, input=input,
                               timezone=timezone, overlap=overlap, misfire=misfire, misfire_grace=misfire_grace,
                               paused=paused)

    def get_schedule(self, name):
        from .schedule import get_schedule
        return get_schedule(self._store, name)

    def list_schedules(self):
        """Every schedule by name, with its next fire time."""
        from .schedule import list_schedules
        return list_schedules(self._store)

    def pause_schedule(self, name):
        from .schedule import schedule_call
        schedule_call(self._store, "pgqrs_schedule_pause", name)

    def resume_schedule(self, name):
        """Resumes; the next tick is the first after now (the pause's are skipped)."""
        from .schedule import schedule_call
        schedule_call(self._store, "pgqrs_schedule_resume", name)

    def delete_schedule(self, name):
        from .schedule import schedule_call
        schedule_call(self._store, "pgqrs_schedule_delete", name)

    def set_retention(self, queue=None, **policy):
        """Stores the retention policy of `queue` (None: the default). Fields:
        archive_max_age_s, archive_max_rows, dlq_max_age_s, dlq_max_rows,
        run_max_age_s; 0 or absent = not set, -1 = keep."""
        from .schedule import set_retention
        set_retention(self._store, queue, **policy)

    def get_retention(self, queue=None, effective=False):
        """The policy of `queue` (None: the default) as a dict; effective=True:
        as it applies (0 = keep)."""
        from .schedule import get_retention
        return get_retention(self._store, queue, effective)

    def run_retention(self, batch_size=None, max_rows=None, tick_max_age=None):
        """Deletes what the policies say is due, in bounded batches; returns the
        counts (archived, dead_letters, runs, ticks, statements, complete)."""
        from .schedule import run_retention
        return run_retention(self._store, batch_size, max_rows, tick_max_age)
