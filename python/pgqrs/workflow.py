"""Durable workflows: Python handlers run by the C engine (``pgqrs_workflow_*``).

    @pgqrs.workflow(name="checkout")
    def checkout(run, order):                 # input JSON decoded; the return value is the output
        charge = charge_card(run, order)      # a @pgqrs.step: runs once per run, output stored
        run.sleep("cool-off", 0)              # durable sleep
        return {"charge": charge}

    @pgqrs.step
    def charge_card(run, order):
        return {"charge_id": "ch_42"}

    store.define(checkout)
    run_id = store.trigger("checkout", {"order": 7})
    with store.workflow_worker("checkout") as worker:
        worker.poll(max_runs=1, idle_timeout=5)
    print(store.run_wait(run_id, timeout=5).output)

How it maps onto the C API: the handler and each step are called through ctypes
callbacks (``pgqrs_workflow_fn``, ``pgqrs_step_fn``) on the thread that runs the
worker. Values cross as JSON text; text handed to the library is allocated with
``pgqrs_strdup``, text the library hands out (step outputs) is freed with
``pgqrs_free``. No Python exception ever escapes a callback: an exception in a
handler or step becomes a failed attempt (``pgqrs_run_fail`` with
``{"message", "type", "retryable"}``), retried per the retry policy unless it
is a :class:`NonRetryable`; :class:`RunCancelled` and :class:`RunSuspended`
(raised by ``run.step`` / ``run.sleep``) go back to the library as
``PGQRS_ECANCELLED`` / ``PGQRS_ESUSPENDED``. A ``KeyboardInterrupt`` or
``SystemExit`` inside a handler fails that attempt (retryable), stops the
worker, and is raised again from ``poll()`` / ``run_once()``.
"""

import ctypes
import dataclasses
import datetime
import itertools
import json
import math
import threading
import time
from typing import Any, Optional

from . import _lib
from ._core import (I64_MAX, I64_MIN, Handle, check, datetime_to_us, decode, encode_name, errmsg, fetch_list,
                    lib, to_int, us_to_datetime, utf8)
from .errors import InvalidInput, Misuse, NonRetryable, RunCancelled, RunSuspended, Status, Timeout, make_error

__all__ = ["RetryPolicy", "Workflow", "Step", "Run", "WorkflowWorker", "RunInfo", "StepInfo", "WorkflowInfo",
           "EventInfo", "workflow", "step"]

MAX_SIGNAL_BYTES = 1048576      # PGQRS_MAX_SIGNAL_BYTES: a message sent to a run, an event value

RUN_STATUSES = ("PENDING", "RUNNING", "SUCCESS", "ERROR", "CANCELLING", "CANCELLED")


# ---- JSON ---------------------------------------------------------------------------

def _dumps(value, what):
    """JSON text of a handler/step value; a value that cannot be encoded can never
    succeed, so it is a NonRetryable failure."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise NonRetryable("%s is not JSON-serialisable: %s" % (what, e)) from e


def _loads(text):
    return None if text is None else json.loads(text)


def _error_json(exc, retryable):
    doc = {"message": str(exc) or type(exc).__name__, "type": type(exc).__qualname__, "retryable": bool(retryable)}
    mod = type(exc).__module__
    if mod and mod != "builtins":
        doc["type"] = mod + "." + doc["type"]
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def _strdup(text):
    """A copy of text from pgqrs_strdup, for the library to free; None when out of memory."""
    return lib().pgqrs_strdup(text.encode("utf-8", "surrogatepass"))


# ---- retry policy -------------------------------------------------------------------

def _ms(value, what):
    if value is None:
        return 0
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
        raise InvalidInput("%s must be a non-negative number of seconds, not %r" % (what, value), Status.EINVAL)
    ms = int(round(value * 1000))
    if value > 0 and ms == 0:
        ms = 1                      # 0 would mean "the default"
    return to_int(ms, what, 0, I64_MAX)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """``pgqrs_retry_policy``. None means the library default: 3 attempts (the
    first included; 1 = never retry), 1 s initial delay, multiplier 2.0, 300 s cap,
    jitter 0.25 (the fraction of each delay randomised down; 0 = no jitter).
    Delays are seconds (int, float or timedelta)."""
    max_attempts: Optional[int] = None
    initial_delay: Any = None
    multiplier: Optional[float] = None
    max_delay: Any = None
    jitter: Optional[float] = None

    def _to_c(self):
        c = _lib.RetryPolicyC()
        if self.max_attempts is not None:
            c.max_attempts = to_int(self.max_attempts, "max_attempts", 1)
        c.initial_delay_ms = _ms(self.initial_delay, "initial_delay")
        c.max_delay_ms = _ms(self.max_delay, "max_delay")
        if self.multiplier is not None:
            if not self.multiplier >= 1.0:
                raise InvalidInput("multiplier must be at least 1.0", Status.EINVAL)
            c.multiplier = float(self.multiplier)
        if self.jitter is not None:
            if not 0.0 <= self.jitter <= 1.0:
                raise InvalidInput("jitter must be in 0..1", Status.EINVAL)
            c.jitter = float(self.jitter) if self.jitter > 0 else -1.0   # C: 0 = default, < 0 = none
        return c

    def delay(self, retry):
        """The delay in seconds before retry number `retry` (1 = the first),
        jittered per the policy (``pgqrs_retry_delay_ms``)."""
        c = self._to_c()
        return lib().pgqrs_retry_delay_ms(ctypes.byref(c), to_int(retry, "retry")) / 1000.0


# ---- data ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RunInfo:
    """A run (``struct pgqrs_run_info``). ``input``/``output``/``error`` are the
    decoded JSON values, ``*_json`` the text the library returned."""
    id: int
    workflow_id: int
    status: str                  # PENDING, RUNNING, SUCCESS, ERROR, CANCELLING, CANCELLED
    input: Any = dataclasses.field(compare=False)
    output: Any = dataclasses.field(compare=False)
    error: Any = dataclasses.field(compare=False)
    input_json: Optional[str]
    output_json: Optional[str]
    error_json: Optional[str]
    idempotency_key: Optional[str]
    attempts: int
    created_at_us: int
    started_at_us: int
    completed_at_us: int
    cancelled_at_us: int
    retry_at_us: int
    cancel_reason: Optional[str]
    updated_at_us: int

    @property
    def finished(self):
        return self.status in ("SUCCESS", "ERROR", "CANCELLED")

    created_at = property(lambda self: us_to_datetime(self.created_at_us))
    started_at = property(lambda self: us_to_datetime(self.started_at_us))
    completed_at = property(lambda self: us_to_datetime(self.completed_at_us))
    cancelled_at = property(lambda self: us_to_datetime(self.cancelled_at_us))
    retry_at = property(lambda self: us_to_datetime(self.retry_at_us))
    updated_at = property(lambda self: us_to_datetime(self.updated_at_us))

    @classmethod
    def _from_c(cls, r):
        i, o, e = decode(r.input), decode(r.output), decode(r.error)
        return cls(id=r.id, workflow_id=r.workflow_id, status=decode(r.status), input=_loads(i), output=_loads(o),
                   error=_loads(e), input_json=i, output_json=o, error_json=e,
                   idempotency_key=decode(r.idempotency_key), attempts=r.attempts, created_at_us=r.created_at_us,
                   started_at_us=r.started_at_us, completed_at_us=r.completed_at_us,
                   cancelled_at_us=r.cancelled_at_us, retry_at_us=r.retry_at_us,
                   cancel_reason=decode(r.cancel_reason), updated_at_us=r.updated_at_us)


@dataclasses.dataclass(frozen=True)
class StepInfo:
    """A step of a run (``struct pgqrs_step_info``)."""
    run_id: int
    step_id: str
    status: str                  # RUNNING, SUCCESS, ERROR
    output: Any = dataclasses.field(compare=False)
    error: Any = dataclasses.field(compare=False)
    output_json: Optional[str]
    error_json: Optional[str]
    attempts: int
    started_at_us: int
    completed_at_us: int
    retry_at_us: int

    started_at = property(lambda self: us_to_datetime(self.started_at_us))
    completed_at = property(lambda self: us_to_datetime(self.completed_at_us))
    retry_at = property(lambda self: us_to_datetime(self.retry_at_us))

    @classmethod
    def _from_c(cls, s):
        o, e = decode(s.output), decode(s.error)
        return cls(run_id=s.run_id, step_id=decode(s.step_id), status=decode(s.status), output=_loads(o),
                   error=_loads(e), output_json=o, error_json=e, attempts=s.attempts,
                   started_at_us=s.started_at_us, completed_at_us=s.completed_at_us, retry_at_us=s.retry_at_us)


@dataclasses.dataclass(frozen=True)
class WorkflowInfo:
    """A workflow in the database (``struct pgqrs_workflow_info``)."""
    id: int
    name: str
    queue_id: int
    retry_policy: Any = dataclasses.field(compare=False)   # dict: max_attempts, initial_delay_ms, ...
    created_at_us: int

    created_at = property(lambda self: us_to_datetime(self.created_at_us))

    @property
    def queue(self):
        return "workflow:" + self.name

    @classmethod
    def _from_c(cls, w):
        return cls(id=w.id, name=decode(w.name), queue_id=w.queue_id, retry_policy=_loads(decode(w.retry_policy)),
                   created_at_us=w.created_at_us)


@dataclasses.dataclass(frozen=True)
class EventInfo:
    """An event a run published (``struct pgqrs_event_info``)."""
    run_id: int
    key: str
    value: Any = dataclasses.field(compare=False)
    value_json: str
    updated_at_us: int

    updated_at = property(lambda self: us_to_datetime(self.updated_at_us))

    @classmethod
    def _from_c(cls, e):
        v = decode(e.value)
        return cls(run_id=e.run_id, key=decode(e.key), value=_loads(v), value_json=v, updated_at_us=e.updated_at_us)


def _timeout_ms(timeout, none_ms):
    """Seconds (int, float or timedelta; None: none_ms) as whole milliseconds."""
    if timeout is None:
        return none_ms
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0 or math.isnan(timeout):
        raise InvalidInput("timeout must be a non-negative number of seconds or None, not %r" % (timeout,),
                           Status.EINVAL)
    return to_int(int(math.ceil(timeout * 1000)), "timeout", 0, I64_MAX)


_MAX_WAIT_MS = 31536000 * 1000      # PGQRS_MAX_DELAY_SECONDS: the longest durable wait


def _take_text(ptr):
    """The library string at ptr (a c_void_p) decoded, then freed with pgqrs_free."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value).decode("utf-8", "replace")
    finally:
        lib().pgqrs_free(ptr.value)


# ---- definitions ----------------------------------------------------------------------

class Workflow:
    """A workflow definition: a handler ``fn(run, input)`` and its options. Made by
    the :func:`workflow` decorator; registered in a store by ``store.define(wf)``
    or ``wf.define(store)``. Calling it calls the plain function."""

    def __init__(self, fn, name=None, *, retry=None, max_deliveries=None, vt_seconds=None, step_lease=None):
        if not callable(fn):
            raise TypeError("a workflow handler must be callable")
        self.fn = fn
        self.name = name if name is not None else fn.__name__
        self.retry = retry
        self.max_deliveries = max_deliveries
        self.vt_seconds = vt_seconds
        self.step_lease = step_lease
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __repr__(self):
        return "<pgqrs.Workflow %r>" % self.name

    def _options(self):
        o = _lib.WorkflowOptionsC()
        o.version = _lib.PGQRS_WORKFLOW_OPTIONS_VERSION
        if self.retry is not None:
            if not isinstance(self.retry, RetryPolicy):
                raise TypeError("retry must be a pgqrs.RetryPolicy")
            o.retry = self.retry._to_c()
        if self.max_deliveries is not None:
            o.max_deliveries = to_int(self.max_deliveries, "max_deliveries", 1)
        if self.vt_seconds is not None:
            o.vt_seconds = to_int(self.vt_seconds, "vt_seconds", 1)
        if self.step_lease is not None:
            o.step_lease_ms = _ms(self.step_lease, "step_lease")
        return o

    def define(self, store):
        """Registers this workflow in `store` (see :meth:`Store.define`)."""
        return store.define(self)

    def trigger(self, store, input=None, *, idempotency_key=None):
        return store.trigger(self.name, input, idempotency_key=idempotency_key)


def workflow(fn=None, *, name=None, retry=None, max_deliveries=None, vt_seconds=None, step_lease=None):
    """Decorator: ``@pgqrs.workflow`` or ``@pgqrs.workflow(name=..., retry=RetryPolicy(...),
    max_deliveries=..., vt_seconds=..., step_lease=seconds)``. The handler is called
    as ``fn(run, input)`` with the run's input decoded from JSON (None when the run
    has none); its return value, JSON-encoded, is the run's output."""
    def wrap(f):
        return Workflow(f, name, retry=retry, max_deliveries=max_deliveries, vt_seconds=vt_seconds,
                        step_lease=step_lease)
    return wrap(fn) if fn is not None else wrap


class Step:
    """A durable step made by the :func:`step` decorator: ``s(run, *args, **kwargs)``
    inside a handler is ``run.step(s.name, s.fn, *args, retry=s.retry, **kwargs)``:
    the function runs at most once per run (per successful execution), and later
    executions of the run get its stored output. The step id is the function's name
    (or ``name=``); a step id is one step per run, so call the same step twice in a
    run with ``run.step("other-id", s, ...)``."""

    def __init__(self, fn, name=None, *, retry=None):
        if not callable(fn):
            raise TypeError("a step must be callable")
        self.fn = fn
        self.name = name if name is not None else fn.__name__
        self.retry = retry
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    def __call__(self, run, *args, **kwargs):
        if not isinstance(run, Run):
            raise TypeError("step %r must be called with the workflow's run as first argument "
                            "(call %s.fn(...) to run it outside a workflow)" % (self.name, self.name))
        return run.step(self.name, self.fn, *args, retry=self.retry, **kwargs)

    def __repr__(self):
        return "<pgqrs.Step %r>" % self.name


def step(fn=None, *, name=None, retry=None):
    """Decorator: ``@pgqrs.step`` or ``@pgqrs.step(name=..., retry=RetryPolicy(...))``.
    The function is called as ``fn(run, *args, **kwargs)`` and returns a
    JSON-serialisable value (the step's stored output)."""
    def wrap(f):
        return Step(f, name, retry=retry)
    return wrap(fn) if fn is not None else wrap


# ---- inside a handler ------------------------------------------------------------------

_RECORDED = "_pgqrs_recorded_status"    # attribute set on exceptions the library already recorded


class _StepCall:
    __slots__ = ("run", "fn", "args", "kwargs", "exc", "status")

    def __init__(self, run, fn, args, kwargs):
        self.run, self.fn, self.args, self.kwargs = run, fn, args, kwargs
        self.exc = None
        self.status = Status.OK


_step_calls = {}
_step_keys = itertools.count(1)
_local = threading.local()              # .worker: the WorkflowWorker executing on this thread


class Run:
    """The run being executed, passed to the handler; valid only during that call."""

    def __init__(self, ptr, store):
        self._p = ptr
        self._store = store
        self._stop = None               # ECANCELLED / ESUSPENDED once a step or sleep said so
        L = lib()
        self._id = L.pgqrs_run_id(ptr)
        self._attempt = L.pgqrs_run_attempt(ptr)

    @property
    def id(self):
        return self._id

    @property
    def attempt(self):
        """1 for the first attempt."""
        return self._attempt

    @property
    def store(self):
        return self._store

    def __repr__(self):
        return "<pgqrs.Run %d attempt %d>" % (self._id, self._attempt)

    def _ptr(self):
        if self._p is None:
            raise Misuse("the run is only valid inside its handler", Status.EMISUSE)
        return self._p

    def _raise_status(self, st):
        err = make_error(st, errmsg(self._p) or lib().pgqrs_errstr(st).decode())
        if st in (Status.ECANCELLED, Status.ESUSPENDED):
            self._stop = st
        setattr(err, _RECORDED, int(st))
        raise err

    def step(self, step_id, fn, *args, retry=None, **kwargs):
        """Runs ``fn(self, *args, **kwargs)`` once per run as step `step_id` (1 to 256
        bytes, unique within the run) and returns its output (a JSON value). If the
        step already succeeded in this run, the stored output is returned and fn is
        not called. `fn` may be a :class:`Step` (its retry policy applies unless
        `retry` is given). `retry`: a :class:`RetryPolicy` for this step (default:
        3 attempts). An exception in fn fails the step (the run is rescheduled
        when retries are left) and is raised again here: let it propagate.
        :class:`RunCancelled`: the run is being cancelled, fn was not called."""
        p = self._ptr()
        if isinstance(fn, Step):
            retry = fn.retry if retry is None else retry
            fn = fn.fn
        if not callable(fn):
            raise TypeError("step function must be callable")
        opts = None
        if retry is not None:
            if not isinstance(retry, RetryPolicy):
                raise TypeError("retry must be a pgqrs.RetryPolicy")
            opts = _lib.StepOptionsC()
            opts.version = _lib.PGQRS_STEP_OPTIONS_VERSION
            opts.retry = retry._to_c()
        sid = utf8(step_id, "step_id")
        call = _StepCall(self, fn, args, kwargs)
        key = next(_step_keys)
        _step_calls[key] = call
        out = ctypes.c_void_p()
        L = lib()
        try:
            st = L.pgqrs_run_step(ctypes.byref(out), p, sid, _STEP_TRAMPOLINE, key, ctypes.byref(opts) if opts else None)
        finally:
            _step_calls.pop(key, None)
        text = None
        if out.value:
            try:
                text = ctypes.string_at(out.value).decode("utf-8", "replace")
            finally:
                L.pgqrs_free(out.value)
        if st == Status.OK:
            return _loads(text)
        if call.exc is not None and st == call.status:
            setattr(call.exc, _RECORDED, int(st))
            raise call.exc
        self._raise_status(st)

    def sleep(self, step_id, seconds):
        """Durable sleep under `step_id`: the first call records the wake-up time and
        raises :class:`RunSuspended` (let it propagate: the run is rescheduled and
        holds no worker); when the run executes again after the deadline the same
        call returns None. `seconds`: int, float (whole seconds) or timedelta."""
        p = self._ptr()
        if isinstance(seconds, datetime.timedelta):
            seconds = seconds.total_seconds()
        if isinstance(seconds, float):
            seconds = int(math.ceil(seconds))
        st = lib().pgqrs_run_sleep(p, utf8(step_id, "step_id"), to_int(seconds, "seconds", I64_MIN, I64_MAX))
        if st != Status.OK:
            self._raise_status(st)

    def recv(self, step_id, topic, timeout=None):
        """Receives the oldest message sent to this run on `topic`
        (:meth:`Store.send`) and returns it (a JSON value). A durable wait: when
        none is there it raises :class:`RunSuspended` (let it propagate: the run
        is suspended and holds no worker until a message arrives or `timeout`
        seconds pass, counted from the first call; None: 365 days), then runs
        again and the same call returns. Recorded under `step_id`: each message
        is received exactly once, and a replay returns the same one.
        :class:`Timeout` when none came in time (recorded too)."""
        p = self._ptr()
        out = ctypes.c_void_p()
        st = lib().pgqrs_run_recv(ctypes.byref(out), p, utf8(step_id, "step_id"), utf8(topic, "topic"),
                                  _timeout_ms(timeout, _MAX_WAIT_MS))
        text = _take_text(out)
        if st != Status.OK:
            self._raise_status(st)
        return _loads(text)

    def set_event(self, key, value):
        """Publishes `value` (JSON-serialisable, at most 1 MiB as JSON) under `key`
        for this run; the last write wins. Anyone reads it with
        :meth:`Store.get_event`. A replay writes the same values again in order."""
        p = self._ptr()
        st = lib().pgqrs_run_set_event(p, utf8(key, "key"), utf8(_dumps_input(value, "event value"), "event value"))
        if st != Status.OK:
            self._raise_status(st)

    def start_child(self, step_id, workflow, input=None):
        """Starts a run of `workflow` (a name or a Workflow) with `input` as a child
        of this run, under `step_id`, and returns its id: idempotent, so a replay
        returns the same child. Cancelling this run cancels its children."""
        p = self._ptr()
        if isinstance(workflow, Workflow):
            workflow = workflow.name
        inb = None if input is None else utf8(_dumps_input(input), "input")
        cid = ctypes.c_int64()
        st = lib().pgqrs_run_start_child(ctypes.byref(cid), p, utf8(step_id, "step_id"),
                                         encode_name(workflow, "workflow name"), inb)
        if st != Status.OK:
            self._raise_status(st)
        return cid.value

    def await_child(self, step_id, child_run_id, timeout=None):
        """Waits durably (like :meth:`recv`) for child run `child_run_id` to end and
        returns its output. A child that ended ERROR or CANCELLED is this step's
        failure: :class:`pgqrs.Error`, recorded as the attempt's error, not
        retried. :class:`Timeout` when it did not end within `timeout` seconds."""
        p = self._ptr()
        out = ctypes.c_void_p()
        st = lib().pgqrs_run_await_child(ctypes.byref(out), p, utf8(step_id, "step_id"),
                                         _run_id(child_run_id), _timeout_ms(timeout, _MAX_WAIT_MS))
        text = _take_text(out)
        if st != Status.OK:
            self._raise_status(st)
        return _loads(text)

    # ---- failure recording (callbacks) ----
    def _record(self, exc):
        """Records exc as this attempt's failure; returns the status for the library."""
        if isinstance(exc, (RunCancelled, RunSuspended)):
            self._stop = exc.status
            return int(exc.status)
        recorded = getattr(exc, _RECORDED, None)
        if recorded is not None:        # from run.step/run.sleep: the library knows already
            return recorded
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            w = getattr(_local, "worker", None)
            if w is not None:
                w._pending = exc
                w.interrupt()
        retryable = not isinstance(exc, NonRetryable)
        lib().pgqrs_run_fail(self._p, _error_json(exc, retryable), 1 if retryable else 0)
        return int(Status.ERROR)


def _step_trampoline(run_ptr, output, user):
    try:
        call = _step_calls.get(user)
        if call is None:
            return int(Status.EMISUSE)
        try:
            value = call.fn(call.run, *call.args, **call.kwargs)
            text = _dumps(value, "the output of step function %s" % getattr(call.fn, "__name__", "?"))
            ptr = _strdup(text)
            if not ptr:
                return int(Status.ENOMEM)
            output[0] = ptr
            return int(Status.OK)
        except BaseException as e:      # noqa: B036 -- nothing may escape a ctypes callback
            call.exc = e
            call.status = call.run._record(e)
            return call.status
    except BaseException:               # noqa: B036
        return int(Status.ERROR)


_STEP_TRAMPOLINE = _lib.STEP_FN(_step_trampoline)


def _make_handler(store, wf):
    fn = wf.fn

    def handler(run_ptr, input_json, output, user):
        try:
            run = Run(run_ptr, store)
            try:
                value = fn(run, _loads(None if input_json is None else input_json.decode("utf-8")))
                if run._stop is not None:   # RunSuspended/RunCancelled was swallowed: honour it anyway
                    return int(run._stop)
                ptr = _strdup(_dumps(value, "the output of workflow %s" % wf.name))
                if not ptr:
                    return int(Status.ENOMEM)
                output[0] = ptr
                return int(Status.OK)
            except BaseException as e:  # noqa: B036 -- nothing may escape a ctypes callback
                return run._record(e)
            finally:
                run._p = None
        except BaseException:           # noqa: B036
            return int(Status.ERROR)

    return _lib.WORKFLOW_FN(handler)


# ---- the worker -----------------------------------------------------------------------

class WorkflowWorker:
    """Executes the runs of one workflow defined in its store (``store.workflow_worker(name)``).
    Used by one thread at a time; ``interrupt()`` may be called from any thread."""

    def __init__(self):
        raise TypeError("use store.workflow_worker(name)")

    @classmethod
    def _open(cls, store, name):
        L = lib()
        nb = encode_name(name, "workflow name")
        sp = store._ptr()
        out = ctypes.c_void_p()
        check(L.pgqrs_workflow_worker_new(ctypes.byref(out), sp, nb), sp)
        self = object.__new__(cls)
        self._store = store
        self._name = name
        self._h = Handle(out.value, L.pgqrs_workflow_worker_free, "workflow worker")
        store._adopt(self._h)
        self._worker_id = L.pgqrs_workflow_worker_id(out.value)
        self._interrupted = False
        self._pending = None
        return self

    @property
    def name(self):
        return self._name

    @property
    def worker_id(self):
        return self._worker_id

    @property
    def store(self):
        return self._store

    def _ptr(self):
        return self._h.get()

    def _enter(self):
        prev = getattr(_local, "worker", None)
        _local.worker = self
        return prev

    def _leave(self, prev):
        _local.worker = prev
        pending, self._pending = self._pending, None
        if pending is not None:
            raise pending

    def run_once(self):
        """Executes at most one due run; True when one was executed."""
        p = self._ptr()
        n = ctypes.c_int()
        prev = self._enter()
        try:
            st = lib().pgqrs_workflow_worker_run_once(ctypes.byref(n), p)
        finally:
            self._leave(prev)
        check(st, p)
        return n.value > 0

    def poll(self, max_runs=0, idle_timeout=None, poll_interval=None):
        """The worker loop: executes due runs until :meth:`interrupt`, `max_runs`
        runs (0 = no limit), or `idle_timeout` seconds with nothing to do (None =
        never). `poll_interval`: first wait when idle, seconds (default 0.05,
        doubling to 1 s). Returns the number of runs executed. Handler failures end
        or reschedule their run, never the loop. The C loop runs in slices of at
        most 0.25 s so Ctrl-C (KeyboardInterrupt) is honoured promptly."""
        p = self._ptr()
        max_runs = to_int(max_runs, "max_runs", 0)
        if idle_timeout is not None and (not isinstance(idle_timeout, (int, float)) or idle_timeout < 0):
            raise InvalidInput("idle_timeout must be a non-negative number of seconds", Status.EINVAL)
        opts = _lib.PollOptionsC()
        opts.version = _lib.PGQRS_POLL_OPTIONS_VERSION
        if poll_interval is not None:
            opts.poll_interval_ms = to_int(max(1, int(poll_interval * 1000)), "poll_interval")
        executed = 0
        idle_since = time.monotonic()
        L = lib()
        while not self._interrupted:
            slice_ms = 250
            if idle_timeout is not None:
                left = idle_timeout - (time.monotonic() - idle_since)
                if left <= 0:
                    break
                slice_ms = max(1, min(slice_ms, int(math.ceil(left * 1000))))
            opts.max_runs = max_runs - executed if max_runs else 0
            opts.idle_timeout_ms = slice_ms
            n = ctypes.c_int64()
            prev = self._enter()
            try:
                st = L.pgqrs_workflow_worker_poll(ctypes.byref(n), p, ctypes.byref(opts))
            finally:
                self._leave(prev)
            check(st, p)
            executed += n.value
            if n.value:
                idle_since = time.monotonic()
            if max_runs and executed >= max_runs:
                break
        return executed

    def interrupt(self):
        """Makes :meth:`poll` return after the run in progress (from any thread, or
        a signal handler). Final: the worker polls no more afterwards."""
        self._interrupted = True
        h = self._h
        p = h._ptr
        if p is not None:
            lib().pgqrs_workflow_worker_interrupt(p)

    def close(self):
        """Releases the run it holds, stops its worker row, frees (idempotent)."""
        h = getattr(self, "_h", None)
        if h is None or h.closed:
            return
        h.close()
        self._store._forget(h)

    @property
    def closed(self):
        return self._h.closed

    def __enter__(self):
        self._ptr()
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return "<pgqrs.WorkflowWorker %r%s>" % (self._name, " closed" if self.closed else "")


# ---- store-level operations (Store's methods call these) ---------------------------------

def define(store, wf=None, *, name=None, retry=None, max_deliveries=None, vt_seconds=None, step_lease=None):
    if isinstance(wf, Workflow):
        if any(v is not None for v in (name, retry, max_deliveries, vt_seconds, step_lease)):
            raise TypeError("define(workflow) takes no options: give them to @pgqrs.workflow")
    elif callable(wf):
        wf = Workflow(wf, name, retry=retry, max_deliveries=max_deliveries, vt_seconds=vt_seconds,
                      step_lease=step_lease)
    else:
        raise TypeError("define() needs a @pgqrs.workflow or a handler function")
    opts = wf._options()
    nb = encode_name(wf.name, "workflow name")
    cb = _make_handler(store, wf)
    sp = store._ptr()
    check(lib().pgqrs_workflow_define(sp, nb, cb, None, ctypes.byref(opts)), sp)
    store._wf_callbacks.append(cb)      # alive as long as the store: the library calls it
    return wf


def trigger(store, name, input=None, idempotency_key=None):
    if isinstance(name, Workflow):
        name = name.name
    nb = encode_name(name, "workflow name")
    inb = None if input is None else utf8(_dumps_input(input), "input")
    opts = _lib.TriggerOptionsC()
    opts.version = _lib.PGQRS_TRIGGER_OPTIONS_VERSION
    key = encode_name(idempotency_key, "idempotency_key", allow_none=True)
    opts.idempotency_key = key
    rid = ctypes.c_int64()
    created = ctypes.c_int()
    sp = store._ptr()
    check(lib().pgqrs_workflow_trigger(ctypes.byref(rid), ctypes.byref(created), sp, nb, inb, ctypes.byref(opts)), sp)
    return rid.value, bool(created.value)


def _dumps_input(value, what="input"):
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise InvalidInput("%s is not JSON-serialisable: %s" % (what, e), Status.EINVAL) from e


def _run_id(run_id):
    return to_int(run_id, "run id", I64_MIN, I64_MAX)


def _run_info(store, call):
    L = lib()
    out = _lib._P(_lib.RunInfoC)()
    sp = store._ptr()
    st = call(sp, ctypes.byref(out))
    if st != Status.OK:
        if st == Status.ETIMEOUT:
            raise Timeout(errmsg(sp) or "timed out", st)
        check(st, sp)
    try:
        return RunInfo._from_c(out.contents)
    finally:
        L.pgqrs_run_info_free(out)


def run_get(store, run_id):
    rid = _run_id(run_id)
    return _run_info(store, lambda sp, o: lib().pgqrs_run_get(o, sp, rid))


def run_wait(store, run_id, timeout=None):
    rid = _run_id(run_id)
    if timeout is None:
        ms = -1
    else:
        if isinstance(timeout, datetime.timedelta):
            timeout = timeout.total_seconds()
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise InvalidInput("timeout must be a non-negative number of seconds or None", Status.EINVAL)
        ms = int(math.ceil(timeout * 1000))
    return _run_info(store, lambda sp, o: lib().pgqrs_run_wait(o, sp, rid, ms))


def run_cancel(store, run_id, reason=None):
    sp = store._ptr()
    check(lib().pgqrs_run_cancel(sp, _run_id(run_id), None if reason is None else utf8(reason, "reason")), sp)


def list_runs(store, workflow=None, status=None, since=None, limit=None):
    f = _lib.RunFilterC()
    f.version = _lib.PGQRS_RUN_FILTER_VERSION
    if isinstance(workflow, Workflow):
        workflow = workflow.name
    wb = encode_name(workflow, "workflow name", allow_none=True)
    sb = None if status is None else utf8(str(status).upper(), "status")
    f.workflow = wb
    f.status = sb
    if since is not None:
        f.since_us = datetime_to_us(since)
    if limit is not None:
        f.limit = to_int(limit, "limit", 1)
    L = lib()
    sp = store._ptr()
    return fetch_list(lambda o: L.pgqrs_run_list(o, sp, ctypes.byref(f)), sp, L.pgqrs_runs_count,
                      L.pgqrs_runs_at, L.pgqrs_runs_free, RunInfo._from_c)


def list_steps(store, run_id):
    L = lib()
    sp = store._ptr()
    rid = _run_id(run_id)
    return fetch_list(lambda o: L.pgqrs_step_list(o, sp, rid), sp, L.pgqrs_steps_count,
                      L.pgqrs_steps_at, L.pgqrs_steps_free, StepInfo._from_c)


def list_workflows(store):
    L = lib()
    sp = store._ptr()
    return fetch_list(lambda o: L.pgqrs_workflow_list(o, sp), sp, L.pgqrs_workflows_count,
                      L.pgqrs_workflows_at, L.pgqrs_workflows_free, WorkflowInfo._from_c)



def delete_workflow(store, name, force=False):
    if isinstance(name, Workflow):
        name = name.name
    sp = store._ptr()
    check(lib().pgqrs_workflow_delete(sp, encode_name(name, "workflow name"), 1 if force else 0), sp)


def send(store, run_id, topic, message):
    sp = store._ptr()
    check(lib().pgqrs_run_send(sp, _run_id(run_id), utf8(topic, "topic"),
                               utf8(_dumps_input(message, "message"), "message")), sp)


def get_event(store, run_id, key, timeout=0):
    sp = store._ptr()
    out = ctypes.c_void_p()
    st = lib().pgqrs_event_get(ctypes.byref(out), sp, _run_id(run_id), utf8(key, "key"), _timeout_ms(timeout, -1))
    text = _take_text(out)
    if st == Status.ETIMEOUT:
        raise Timeout(errmsg(sp) or "timed out", st)
    check(st, sp)
    return _loads(text)


def list_events(store, run_id):
    L = lib()
    sp = store._ptr()
    rid = _run_id(run_id)
    return fetch_list(lambda o: L.pgqrs_event_list(o, sp, rid), sp, L.pgqrs_events_count,
                      L.pgqrs_events_at, L.pgqrs_events_free, EventInfo._from_c)
