"""The store: a database and its connection pool (``pgqrs_store``)."""

import ctypes
import threading

from . import _lib
from . import workflow as _wf               # the module (pgqrs.workflow is the decorator once the package is loaded)
from ._core import I64_MAX, I64_MIN, Handle, check, datetime_to_us, decode, encode_name, lib, to_int
from .errors import Status

_CONNECT_OPTIONS = ("pool_size", "busy_timeout_ms", "max_batch_size", "default_vt_seconds",
                    "connect_timeout_s", "heartbeat_interval_s", "zombie_after_s", "pool_wait_ms",
                    "relaxed_durability")


def connect(dsn, *, schema=None, **options):
    """Opens a store. The backend comes from the DSN:

    - ``postgres://user:pass@host:port/db?schema=name`` (also ``postgresql://``)
    - ``sqlite:///absolute/path.db``, ``sqlite://relative/path.db``, ``sqlite::memory:``

    Keyword options mirror ``pgqrs_connect_options`` (0 = the library default):
    ``schema``, ``pool_size``, ``busy_timeout_ms``, ``max_batch_size``,
    ``default_vt_seconds``, ``connect_timeout_s``, ``heartbeat_interval_s``
    (-1 = off), ``zombie_after_s``, ``pool_wait_ms``, ``relaxed_durability`` (1: commits are not
    flushed one by one; see pgqrs.h).

    Does not install the schema (``store.admin().install()``). Raises
    :class:`InvalidInput` for a malformed DSN, :class:`DatabaseConnectionError`
    when the database cannot be reached (the message never holds the password).
    """
    L = lib()
    dsn_b = encode_name(dsn, "dsn")
    opts = _lib.ConnectOptionsC()
    check(L.pgqrs_connect_options_init(ctypes.byref(opts), _lib.PGQRS_CONNECT_OPTIONS_VERSION), None)
    for key, value in options.items():
        if key not in _CONNECT_OPTIONS:
            raise TypeError("connect() got an unexpected keyword argument %r" % key)
        setattr(opts, key, to_int(value, key))
    schema_b = encode_name(schema, "schema", allow_none=True)
    opts.schema = schema_b                  # schema_b stays referenced for the call
    out = ctypes.c_void_p()
    st = L.pgqrs_connect(ctypes.byref(out), dsn_b, ctypes.byref(opts))
    check(st, None)
    return Store._wrap(out.value)


class Store:
    """A database and its connection pool. May be shared between threads; close
    it (or use ``with``) after its producers and consumers, which ``close()``
    closes first anyway."""

    def __init__(self):
        raise TypeError("use pgqrs.connect(dsn)")

    @classmethod
    def _wrap(cls, ptr):
        self = object.__new__(cls)
        L = lib()
        self._h = Handle(ptr, L.pgqrs_store_free, "store")
        self._children = {}                 # id(Handle) -> Handle of producers/consumers/workflow workers
        self._wf_callbacks = []             # ctypes callbacks of defined workflows: alive as long as the store
        self._log_callbacks = []            # and of log callbacks
        self._children_lock = threading.Lock()
        self._backend = decode(L.pgqrs_store_backend(ptr))
        self._capabilities = None
        return self

    # ---- handle plumbing ----------------------------------------------------------
    def _ptr(self):
        return self._h.get()

    def _adopt(self, handle):
        with self._children_lock:
            self._children[id(handle)] = handle

    def _forget(self, handle):
        with self._children_lock:
            self._children.pop(id(handle), None)

    def close(self):
        """Closes every producer, consumer and workflow worker still open on this
        store, then the store. Idempotent."""
        h = getattr(self, "_h", None)
        if h is None or h.closed:
            return
        with self._children_lock:
            children = list(self._children.values())
            self._children.clear()
        for c in children:
            c.close()
        h.close()

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
        except Exception:   # never raise from a finaliser (e.g. at interpreter shutdown)
            pass

    def __repr__(self):
        return "<pgqrs.Store %s%s>" % (self._backend, " closed" if self.closed else "")

    # ---- properties ---------------------------------------------------------------
    @property
    def backend(self):
        """``"postgres"`` or ``"sqlite"``."""
        return self._backend

    @property
    def capabilities(self):
        """What this backend guarantees: a dict with ``skip_locked``,
        ``multi_process``, ``transactions``, ``database_clock``,
        ``app_transactions`` (:meth:`app_tx` works) (bools) and
        ``concurrency_model`` (``"multi-process"`` or ``"single-process"``)."""
        if self._capabilities is None:
            caps = _lib.CapabilitiesC()
            caps.version = _lib.PGQRS_CAPABILITIES_VERSION
            p = self._ptr()
            check(lib().pgqrs_store_capabilities(ctypes.byref(caps), p), p)
            self._capabilities = {
                "skip_locked": bool(caps.skip_locked),
                "multi_process": bool(caps.multi_process),
                "transactions": bool(caps.transactions),
                "database_clock": bool(caps.database_clock),
                "concurrency_model": decode(caps.concurrency_model),
                "app_transactions": bool(caps.app_transactions),
            }
        return dict(self._capabilities)

    @property
    def concurrency_model(self):
        """``"multi-process"`` (PostgreSQL) or ``"single-process"`` (SQLite)."""
        return self.capabilities["concurrency_model"]

    # ---- logging and counters ---------------------------------------------------
    def set_log_callback(self, fn, level="info"):
        """Sends the library's log events at or above `level` ("debug", "info",
        "warn", "error" or a number) to ``fn(level, event, message)`` (level: the
        number, 10/20/30/40), called on the thread that caused the event (the
        heartbeat or a runtime thread too). None: silence. Events are listed in
        docs/operations.md; they never hold a password, token or payload."""
        levels = {"debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40, "off": 100}
        lv = levels[level] if isinstance(level, str) else to_int(level, "level")
        p = self._ptr()
        if fn is None:
            lib().pgqrs_store_set_log_callback(p, _lib.LOG_FN(), None, 100)
            return

        def call(lvl, event, message, _user):
            try:
                fn(lvl, decode(event), decode(message))
            except BaseException:   # noqa: B036 -- nothing may escape a ctypes callback
                pass
        cb = _lib.LOG_FN(call)
        self._log_callbacks.append(cb)      # alive as long as the store: the library calls it
        lib().pgqrs_store_set_log_callback(p, cb, None, lv)

    def counters(self):
        """This store's counters since connect (``pgqrs_store_counters``): a dict of
        ``enqueued``, ``dequeued``, ``archived``, ``deleted``, ``released``,
        ``replayed``, ``retried``, ``dead_lettered``, and ``errors``: {Status: count}
        of failed calls by status."""
        c = _lib.CountersC()
        check(lib().pgqrs_counters_init(ctypes.byref(c), _lib.PGQRS_COUNTERS_VERSION), None)
        p = self._ptr()
        check(lib().pgqrs_store_counters(ctypes.byref(c), p), p)
        out = {k: getattr(c, k) for k in ("enqueued", "dequeued", "archived", "deleted", "released", "replayed",
                                         "retried", "dead_lettered")}
        out["errors"] = {Status(-i): c.errors[i] for i in range(1, 16) if c.errors[i] and -i in Status._value2member_map_}
        return out

    def runtime(self, **options):
        """A :class:`pgqrs.Runtime` on this store (options as there)."""
        from .runtime import Runtime
        return Runtime(self, **options)

    # ---- testing aid --------------------------------------------------------------
    def set_time(self, when):
        """Testing aid (``pgqrs_store_set_time``): from now on every time the
        library reads or writes is `when` (an aware datetime; naive is UTC), so
        tests move time instead of sleeping. ``None`` restores the real clock."""
        self.set_time_us(0 if when is None else datetime_to_us(when))

    def set_time_us(self, now_us):
        """Like :meth:`set_time`, in UTC microseconds since the epoch (0: real clock)."""
        lib().pgqrs_store_set_time(self._ptr(), to_int(now_us, "now_us", I64_MIN, I64_MAX))

    # ---- factories ----------------------------------------------------------------
    def scheduler(self, **options):
        """A :class:`pgqrs.Scheduler` on this store (closed with the store). Options:
        max_schedules, max_ticks, poll_interval_ms, retention_interval (seconds,
        -1 = never), retention_batch_size; 0 = the library defaults."""
        from .schedule import Scheduler
        return Scheduler(self, **options)

    def admin(self):
        """Schema, queue, dead-letter and worker administration (no worker row)."""
        from .admin import Admin
        self._ptr()
        return Admin(self)

    def producer(self, queue):
        """Registers a producer worker on `queue` (:class:`NotFound` if missing)."""
        from .queue import Producer
        return Producer._open(self, queue)

    def consumer(self, queue):
        """Registers a consumer worker on `queue` (:class:`NotFound` if missing)."""
        from .queue import Consumer
        return Consumer._open(self, queue)

    # ---- workflows (see pgqrs.workflow) ---------------------------------------------
    def define(self, workflow, *, name=None, retry=None, max_deliveries=None, vt_seconds=None, step_lease=None):
        """Registers a workflow: creates it (and its queue ``workflow:NAME``) in the
        database if needed and remembers its handler in this store for
        :meth:`workflow_worker`. `workflow`: a :func:`pgqrs.workflow`, or a handler
        function ``fn(run, input)`` with the options given here. Defining the same
        name again is idempotent (the latest handler and retry policy win).
        Returns the :class:`pgqrs.Workflow`."""
        return _wf.define(self, workflow, name=name, retry=retry, max_deliveries=max_deliveries,
                          vt_seconds=vt_seconds, step_lease=step_lease)

    def trigger(self, workflow, input=None, *, idempotency_key=None):
        """Creates a PENDING run of `workflow` (a name or a Workflow) with `input`
        (any JSON-serialisable value; None: no input) and enqueues it, atomically;
        returns the run id. The workflow must exist (:class:`NotFound`), not
        necessarily be defined in this process. A second trigger with the same
        `idempotency_key` returns the first run's id."""
        return _wf.trigger(self, workflow, input, idempotency_key)[0]

    def trigger_ex(self, workflow, input=None, *, idempotency_key=None):
        """Like :meth:`trigger`; returns ``(run_id, created)``, created False when
        the idempotency key returned an existing run."""
        return _wf.trigger(self, workflow, input, idempotency_key)

    def serve(self, *, listen=None, token=None, read_only=False, log_requests=False):
        """Starts the dashboard server (``pgqrs serve``: pages, JSON API, /metrics)
        on this store: a :class:`pgqrs.Server`. `listen` "HOST:PORT" (default
        "127.0.0.1:8080"; port 0: any free one); a non-loopback address needs a
        `token` of 16 bytes or more (:class:`InvalidInput`)."""
        from .server import Server
        return Server._start(self, listen, token, read_only, log_requests)

    def app_tx(self, conn):
        """The application's own connection (psycopg2) wrapped for enqueueing inside
        its open transaction: a :class:`pgqrs.AppTx` (see :mod:`pgqrs.app_tx`)."""
        from .app_tx import AppTx
        return AppTx._open(self, conn)

    def workflow_worker(self, workflow):
        """A :class:`pgqrs.WorkflowWorker` executing runs of `workflow`, which must be
        defined in this store (:class:`NotFound` otherwise)."""
        return _wf.WorkflowWorker._open(self, workflow if isinstance(workflow, str) else workflow.name)

    def run_get(self, run_id):
        """The run (:class:`pgqrs.RunInfo`); :class:`NotFound` if there is none."""
        return _wf.run_get(self, run_id)

    def run_wait(self, run_id, timeout=None):
        """Waits until the run is SUCCESS, ERROR or CANCELLED (woken by LISTEN/NOTIFY
        on PostgreSQL, else polling 10 ms doubling to 250 ms) and returns it; at most `timeout` seconds (None: no limit), else
        :class:`Timeout`."""
        return _wf.run_wait(self, run_id, timeout)

    def run_cancel(self, run_id, reason=None):
        """A PENDING run becomes CANCELLED at once; a RUNNING one CANCELLING, and its
        worker ends it CANCELLED at the next step boundary. :class:`IllegalState`
        when it already finished or is cancelling, :class:`NotFound`."""
        _wf.run_cancel(self, run_id, reason)

    def list_runs(self, workflow=None, status=None, since=None, limit=None):
        """Runs newest first, filtered by workflow name, status (any case), creation
        time (`since`: a datetime) and `limit` (default 100, at most 10000)."""
        return _wf.list_runs(self, workflow, status, since, limit)

    def list_steps(self, run_id):
        """The run's steps (:class:`pgqrs.StepInfo`) by start time; [] for an unknown run."""
        return _wf.list_steps(self, run_id)

    def list_workflows(self):
        """Every workflow in the database (:class:`pgqrs.WorkflowInfo`), by name."""
        return _wf.list_workflows(self)

    def delete_workflow(self, workflow, force=False):
        """Deletes `workflow` (a name or a Workflow) with its runs, their steps,
        messages and events, and its queue. :class:`IllegalState` while runs are
        PENDING, RUNNING or CANCELLING unless `force`; :class:`NotFound`."""
        _wf.delete_workflow(self, workflow, force)

    def send(self, run_id, topic, message):
        """Sends `message` (JSON-serialisable, at most 1 MiB as JSON) to run
        `run_id` on `topic`; its ``run.recv(step, topic)`` receives it exactly once,
        and a run suspended waiting for it is woken. :class:`NotFound` for no such
        run, :class:`IllegalState` for a finished or cancelling one (nothing is
        written), :class:`InvalidInput` for a bad topic or an oversize message."""
        _wf.send(self, run_id, topic, message)

    def get_event(self, run_id, key, timeout=0):
        """The value of event `key` of run `run_id`, waiting up to `timeout`
        seconds for it to be set (0: no wait; None: no limit); woken by
        LISTEN/NOTIFY on PostgreSQL. :class:`NotFound` when not set (and not
        waiting, or the run ended), :class:`Timeout` when not set in time."""
        return _wf.get_event(self, run_id, key, timeout)

    def list_events(self, run_id):
        """Every event of the run (:class:`pgqrs.EventInfo`), by key."""
        return _wf.list_events(self, run_id)


def version():
    """The loaded library's version string, e.g. ``"0.1.0"``."""
    return lib().pgqrs_version().decode()


def errstr(status):
    """The library's short description of a status code."""
    return decode(lib().pgqrs_errstr(int(Status(status))))
