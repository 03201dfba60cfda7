"""Transactional enqueue: messages and workflow runs enqueued on the application's
own database connection, inside the application's own transaction
(``pgqrs_tx_*`` in pgqrs.h). They exist if and only if the application commits.

    import psycopg2
    conn = psycopg2.connect(...)            # the application's connection
    with store.app_tx(conn) as tx:
        with conn:                           # psycopg2: commit on success, else rollback
            with conn.cursor() as cur:
                cur.execute("INSERT INTO orders (id) VALUES (%s)", (7,))
            tx.enqueue("emails", {"order": 7})

Supported connections: a psycopg2 connection (or psycopg 3: anything with a
``pgconn_ptr``, or a ``pgconn`` that has one) on a PostgreSQL store. The library
runs its statements in a savepoint and never begins, commits or rolls back; a
transaction must be open on the connection (psycopg2 opens one at the first
``execute``), else :class:`IllegalState`. The psycopg2 connection must use the same
libpq as libpgqrs: the ``psycopg2-binary`` wheel ships a libpq of its own, whose
``PGconn`` must not be handed to another libpq, and is refused (:class:`NotSupported`).

Python's own ``sqlite3`` connections are not supported: the module has no public
way to reach its ``sqlite3 *`` (reading it from CPython's private object layout
breaks between Python versions), it may be linked against a different SQLite
library than libpgqrs, and it begins and commits transactions implicitly behind
the caller's back (``isolation_level``). Use the C API (``pgqrs_tx_wrap_sqlite``)
from C, or the store's own API from Python.
"""

import ctypes
import os

from . import _lib
from ._core import Handle, check, encode_name, lib, to_seconds, utf8
from .errors import InvalidInput, NotSupported, Status
from .queue import dumps


def _pgconn_ptr(conn):
    """The PGconn pointer of a psycopg2 / psycopg 3 connection."""
    if type(conn).__module__.split(".")[0] in ("psycopg2", "psycopg") and getattr(conn, "closed", False):
        raise InvalidInput("the connection is closed", Status.EINVAL)
    ptr = getattr(conn, "pgconn_ptr", None)
    if ptr is None and getattr(conn, "pgconn", None) is not None:
        ptr = getattr(conn.pgconn, "pgconn_ptr", None)
    if ptr is None:
        raise NotSupported("%s is not a supported connection: pass a psycopg2 connection (Python's sqlite3 "
                           "connections are not supported, see pgqrs.app_tx)" % type(conn).__name__,
                           Status.ENOTSUPPORTED)
    mod = type(conn).__module__.split(".")[0]
    if mod == "psycopg2":
        import psycopg2
        libs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(psycopg2.__file__))), "psycopg2_binary.libs")
        if os.path.isdir(libs):
            raise NotSupported("psycopg2-binary bundles its own libpq, whose connections cannot be used by "
                               "libpgqrs's libpq: install psycopg2 built against the system libpq "
                               "(Debian python3-psycopg2)", Status.ENOTSUPPORTED)
    if not ptr:
        raise InvalidInput("the connection is closed", Status.EINVAL)
    return ptr


class AppTx:
    """The application's connection wrapped for pgqrs (``store.app_tx(conn)``).
    Used by one thread at a time, like the connection. ``close()`` frees the
    wrapper, never the connection."""

    def __init__(self):
        raise TypeError("use store.app_tx(conn)")

    @classmethod
    def _open(cls, store, conn):
        ptr = _pgconn_ptr(conn)
        sp = store._ptr()
        out = ctypes.c_void_p()
        check(lib().pgqrs_tx_wrap_pg(ctypes.byref(out), sp, ctypes.c_void_p(ptr)), sp)
        self = object.__new__(cls)
        self._store = store
        self._conn = conn   # keeps the connection alive as long as the wrapper
        self._h = Handle(out.value, lib().pgqrs_tx_free, "app transaction")
        store._adopt(self._h)
        return self

    def _ptr(self):
        return self._h.get()

    def enqueue(self, queue, payload, *, delay=0):
        """Enqueues any JSON-serialisable value in the connection's open
        transaction; returns the id. Consumers see it once the application commits."""
        return self.enqueue_json(queue, dumps(payload), delay=delay)

    def enqueue_json(self, queue, payload_json, *, delay=0):
        text = utf8(payload_json, "payload_json")
        mid = ctypes.c_int64()
        p = self._ptr()
        check(lib().pgqrs_tx_enqueue(ctypes.byref(mid), p, encode_name(queue), text, to_seconds(delay, "delay")), p)
        return mid.value

    def enqueue_batch(self, queue, payloads, *, delay=0):
        """Enqueues JSON-serialisable values in one statement: all or none; ids in input order."""
        texts = [utf8(dumps(v), "payload") for v in payloads]
        n = len(texts)
        if n == 0:
            return []
        arr = (ctypes.c_char_p * n)(*texts)
        ids = (ctypes.c_int64 * n)()
        p = self._ptr()
        check(lib().pgqrs_tx_enqueue_batch(ids, p, encode_name(queue), arr, n, to_seconds(delay, "delay")), p)
        return list(ids)

    def trigger(self, workflow, input=None, *, idempotency_key=None):
        """Triggers a run of `workflow` in the connection's open transaction;
        returns ``(run_id, created)``."""
        from .workflow import Workflow, _dumps_input
        if isinstance(workflow, Workflow):
            workflow = workflow.name
        opts = _lib.TriggerOptionsC()
        opts.version = _lib.PGQRS_TRIGGER_OPTIONS_VERSION
        opts.idempotency_key = encode_name(idempotency_key, "idempotency_key", allow_none=True)
        inb = None if input is None else utf8(_dumps_input(input), "input")
        rid, created = ctypes.c_int64(), ctypes.c_int()
        p = self._ptr()
        check(lib().pgqrs_workflow_trigger_tx(ctypes.byref(rid), ctypes.byref(created), p,
                                              encode_name(workflow, "workflow name"), inb, ctypes.byref(opts)), p)
        return rid.value, bool(created.value)

    def close(self):
        self._store._forget(self._h)
        self._h.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
