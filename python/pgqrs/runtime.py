"""Workers: the library's runtime (``pgqrs_runtime_*``) running Python handlers.

    runtime = pgqrs.Runtime(store, concurrency=4)

    @runtime.handler("emails")
    def send(job):
        deliver(job.payload["to"])
        return {"sent": True}          # stored with the archived message

    runtime.run()                      # until SIGTERM / SIGINT (or until_empty=True)

or, for one queue, ``store.consumer("emails").run(send, concurrency=4)``.

A handler gets a :class:`Job`. Its return value (any JSON-serialisable value;
None: none) is the result stored with the archived message. An exception retries
the message per the queue's retry policy (``admin.create_queue(...,
retry_delay=...)``; dead-lettered after its last attempt); :class:`Retry` retries
it after a delay of its own; an exception of a class in ``non_retryable`` (by
default :class:`pgqrs.NonRetryable`) dead-letters it at once, with
``{"error": CLASS, "message": TEXT}`` as its result.

The C runtime's threads call the handlers: claims, settles, lease extension and
waiting happen in C without the GIL, and every handler call takes it. So at most
one handler runs Python code at a time; ``concurrency`` overlaps what releases
the GIL (I/O, ``time.sleep``, most C extensions), not pure-Python CPU work. Use
processes (several ``run()``s) for that; PostgreSQL and SQLite files are safe to
share between them.
"""

import ctypes
import datetime
import json
import logging
import signal
import threading

from . import _lib
from ._core import Handle, check, decode, encode_name, lib, to_int
from .errors import InvalidInput, NonRetryable, Status, Timeout
from .models import Message

_log = logging.getLogger("pgqrs.runtime")

DONE, RETRY, FAIL = 0, 1, 2          # pgqrs_job_outcome

# Callbacks of runtimes whose handlers were abandoned at a shutdown deadline: a C
# thread may still call into them, so they are never freed.
_ORPHANED = []


class Retry(Exception):
    """Raise it from a handler to retry the message after `delay` (seconds or a
    timedelta; None: the queue's retry policy, as any other exception)."""

    def __init__(self, delay=None, message="retry"):
        super().__init__(message)
        self.delay = delay


def _delay_ms(delay):
    if isinstance(delay, datetime.timedelta):
        return delay // datetime.timedelta(milliseconds=1)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)):
        raise InvalidInput("Retry(delay) must be seconds or a timedelta", Status.EINVAL)
    return max(0, round(delay * 1000))


class Job:
    """The message a handler is running: valid while the handler runs."""

    __slots__ = ("_h", "id", "queue", "attempt", "max_attempts", "payload_json", "_payload", "_message")

    def __init__(self, h):
        L = lib()
        self._h = h
        self.id = L.pgqrs_job_id(h)
        self.queue = decode(L.pgqrs_job_queue(h))
        self.attempt = L.pgqrs_job_attempt(h)              # 1 = the first delivery
        self.max_attempts = L.pgqrs_job_max_attempts(h)
        self.payload_json = decode(L.pgqrs_job_payload(h))
        self._payload = self._message = None

    @property
    def payload(self):
        """The payload, decoded from JSON."""
        if self._payload is None and self.payload_json is not None:
            self._payload = json.loads(self.payload_json)
        return self._payload

    @property
    def message(self):
        """The whole :class:`Message` as claimed (enqueued_at, ...)."""
        if self._message is None:
            self._message = Message._from_c(lib().pgqrs_job_message(self._h).contents)
        return self._message

    @property
    def cancel_requested(self):
        """True once a cancel of this job was requested (seen at a lease
        extension): stop soon; the message is archived as cancelled whatever the
        handler returns."""
        return bool(lib().pgqrs_job_cancel_requested(self._h))

    def set_progress(self, value):
        """Stores `value` (JSON-serialisable, at most 8192 bytes as JSON) as the
        message's progress (readable with Admin.get_message)."""
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        check(lib().pgqrs_job_set_progress(self._h, text.encode("utf-8")), self._h)

    @property
    def last_attempt(self):
        """True when a retry would dead-letter it instead."""
        return self.attempt >= self.max_attempts

    def __repr__(self):
        return "<pgqrs.Job %d of %r attempt %d/%d>" % (self.id, self.queue, self.attempt, self.max_attempts)


def _set_result(h, value):
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    check(lib().pgqrs_job_set_result(h, text.encode("utf-8")), h)


def _make_callback(fn, non_retryable):
    def call(h, _user):
        try:
            job = Job(h)
            try:
                value = fn(job)
            except Retry as r:
                if r.delay is not None:
                    check(lib().pgqrs_job_set_retry_delay(h, _delay_ms(r.delay)), h)
                return RETRY
            except non_retryable as e:
                _set_result(h, {"error": type(e).__name__, "message": str(e)})
                return FAIL
            except Exception:
                _log.warning("handler of %r failed on message %d (attempt %d of %d): retried per the queue's "
                             "policy", job.queue, job.id, job.attempt, job.max_attempts, exc_info=True)
                return RETRY
            if value is not None:
                _set_result(h, value)
            return DONE
        except BaseException:              # noqa: B036 -- nothing may escape a ctypes callback
            _log.warning("handler wrapper failed: retried", exc_info=True)
            return RETRY
    return _lib.JOB_FN(call)


class RuntimeStats(dict):
    """The runtime's counters: ``claimed``, ``done``, ``retried``,
    ``dead_lettered``, ``lost``, ``overrun``, ``given_back``, ``running``,
    ``held``, ``cancelled`` (``pgqrs_runtime_stats``). Also readable as attributes."""

    __getattr__ = dict.__getitem__


_STATS = ("claimed", "done", "retried", "dead_lettered", "lost", "overrun", "given_back", "running", "held", "cancelled")


class Runtime:
    """A worker over one or more queues (``pgqrs_runtime``). Options mirror
    ``pgqrs_runtime_options``; None = the library default:

    - `concurrency`: handler threads (default 1); see the module doc on the GIL
    - `batch_size`: most messages one claim takes (default 10)
    - `vt`: lease of each held message in seconds (default: the store's, 30),
      extended every third of it while the message waits or runs
    - `idle_min`, `idle_max`: seconds between looks at an empty queue when polling
      (10 ms doubling to 1 s; PostgreSQL wakes on NOTIFY instead)
    - `shutdown_timeout`: seconds running handlers may take after a stop (30;
      then :meth:`run` raises :class:`pgqrs.Timeout`)
    - `max_run`: seconds after which a running handler's message is let go
    - `until_empty`: :meth:`run` returns once nothing is pending or running
    - `non_retryable`: exception classes that dead-letter at once
    - `scheduler`: while :meth:`run` runs, a C thread fires every due schedule
      and applies retention (``docs/schedules.md``); False: not here (default
      True). `scheduler_poll_interval` (seconds, default 1) is its longest sleep
      between rounds, `retention_interval` (seconds, default 60; -1: never) how
      often it applies retention; :meth:`scheduler_stats` reads its counters.
    """

    def __init__(self, store, *, concurrency=None, batch_size=None, vt=None, idle_min=None, idle_max=None,
                 shutdown_timeout=None, max_run=None, until_empty=False, non_retryable=(NonRetryable,),
                 scheduler=True, scheduler_poll_interval=None, retention_interval=None):
        L = lib()
        o = _lib.RuntimeOptionsC()
        check(L.pgqrs_runtime_options_init(ctypes.byref(o), _lib.PGQRS_RUNTIME_OPTIONS_VERSION), None)
        o.concurrency = 0 if concurrency is None else to_int(concurrency, "concurrency")
        o.batch_size = 0 if batch_size is None else to_int(batch_size, "batch_size")
        o.vt_seconds = 0 if vt is None else to_int(vt, "vt")
        o.idle_min_ms = 0 if idle_min is None else max(1, round(idle_min * 1000))
        o.idle_max_ms = 0 if idle_max is None else max(1, round(idle_max * 1000))
        o.shutdown_ms = 0 if shutdown_timeout is None else max(1, round(shutdown_timeout * 1000))
        o.max_run_ms = 0 if max_run is None else max(1, round(max_run * 1000))
        o.until_empty = 1 if until_empty else 0
        o.no_scheduler = 0 if scheduler else 1
        o.scheduler.poll_interval_ms = 0 if scheduler_poll_interval is None else max(1, round(
            scheduler_poll_interval * 1000))
        o.scheduler.retention_interval_s = 0 if retention_interval is None else to_int(retention_interval,
                                                                                       "retention_interval")
        self._non_retryable = tuple(non_retryable) if isinstance(non_retryable, (list, tuple)) else (non_retryable,)
        self._store = store
        sp = store._ptr()
        out = ctypes.c_void_p()
        check(L.pgqrs_runtime_new(ctypes.byref(out), sp, ctypes.byref(o)), sp)
        self._h = Handle(out.value, L.pgqrs_runtime_free, "runtime")
        store._adopt(self._h)
        self._callbacks = []
        self._status = Status.OK

    def _ptr(self):
        return self._h.get()

    def add(self, queue, fn):
        """Runs `fn(job)` for the messages of `queue` (:class:`NotFound` if
        missing). Before :meth:`run`."""
        cb = _make_callback(fn, self._non_retryable)
        p = self._ptr()
        check(lib().pgqrs_runtime_add_queue(p, encode_name(queue), cb, None), p)
        self._callbacks.append(cb)        # alive as long as the runtime: the library calls it
        return fn

    def handler(self, queue):
        """Decorator: ``@runtime.handler("emails")`` adds the function for `queue`."""
        def deco(fn):
            return self.add(queue, fn)
        return deco

    def run(self, *, handle_signals=True):
        """Runs until :meth:`stop` (or until_empty), then returns the
        :class:`RuntimeStats`. On the main thread with `handle_signals`, SIGTERM and
        SIGINT stop it (a drain: nothing new is claimed, what was claimed and not
        started goes back, running handlers finish); the C loop then runs on a
        helper thread so Python can deliver the signals. Raises
        :class:`pgqrs.Timeout` when the shutdown timeout passed with handlers
        still running (their messages were released)."""
        p = self._ptr()
        if handle_signals and threading.current_thread() is threading.main_thread():
            old = {}
            for sig in (signal.SIGTERM, signal.SIGINT):
                old[sig] = signal.signal(sig, lambda *_: self.stop())
            try:
                t = threading.Thread(target=self._run_c, args=(p,), name="pgqrs-runtime", daemon=True)
                t.start()
                while t.is_alive():
                    t.join(0.1)
            finally:
                for sig, h in old.items():
                    signal.signal(sig, h)
        else:
            self._run_c(p)
        if self._status == Status.ETIMEOUT:
            _ORPHANED.extend(self._callbacks)   # abandoned handlers may still return into them
        check(self._status, p)
        return self.stats()

    def _run_c(self, p):
        self._status = lib().pgqrs_runtime_run(p)

    def stop(self):
        """Asks :meth:`run` to drain and return. Safe from any thread or a signal
        handler. Idempotent."""
        if not self._h.closed:
            lib().pgqrs_runtime_stop(self._h.get())

    def stats(self):
        """A snapshot of the counters (:class:`RuntimeStats`), from any thread."""
        st = _lib.RuntimeStatsC()
        st.version = _lib.PGQRS_RUNTIME_STATS_VERSION
        p = self._ptr()
        check(lib().pgqrs_runtime_stats_get(ctypes.byref(st), p), p)
        return RuntimeStats({k: getattr(st, k) for k in _STATS})

    def scheduler_stats(self):
        """The counters of the runtime's scheduler (``rounds``, ``fired``,
        ``skipped_overlap``, ``missed``, ``lost``, ``errors``, ``retention_runs``,
        ``purged``; ``pgqrs_scheduler_stats``), from any thread; None when it has
        none (``scheduler=False``)."""
        L = lib()
        sch = L.pgqrs_runtime_scheduler(self._ptr())
        if not sch:
            return None
        st = _lib.SchedulerStatsC()
        st.version = _lib.PGQRS_SCHEDULER_STATS_VERSION
        check(L.pgqrs_scheduler_stats_get(ctypes.byref(st), sch), sch)
        return {f: getattr(st, f) for f, _ in _lib.SchedulerStatsC._fields_ if f != "version"}

    def close(self):
        """Frees the runtime (its consumers stop). Not while :meth:`run` runs."""
        h = getattr(self, "_h", None)
        if h is None or h.closed:
            return
        h.close()
        self._store._forget(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:   # never raise from a finaliser
            pass


__all__ = ["Runtime", "Job", "Retry", "RuntimeStats", "Timeout"]
