"""Producers and consumers: the registered workers that enqueue and dequeue.

Each is used by one thread at a time. ``close()`` (or leaving a ``with`` block)
frees the C handle: a producer's worker is marked stopped; a consumer releases
the messages it still holds, then stops. Closing the store closes them too.
"""

import ctypes
import datetime
import json

from . import _lib
from ._core import I64_MAX, I64_MIN, Handle, check, encode_name, lib, to_int, to_seconds, us_to_datetime, utf8
from .errors import InvalidInput, Status
from .models import Message


def dumps(value):
    """The JSON text for a payload (UTF-8, no NaN/Infinity: they are not JSON)."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise InvalidInput("payload is not JSON-serialisable: %s" % e, Status.EINVAL) from e


def _json_text(text):
    return utf8(text, "payload_json")


def _enqueue_options(delay, priority, unique_key):
    """A pgqrs_enqueue_options (the library checks the ranges: InvalidInput)."""
    o = _lib.EnqueueOptionsC()
    o.version = _lib.PGQRS_ENQUEUE_OPTIONS_VERSION
    if isinstance(delay, datetime.timedelta):
        delay_ms = delay // datetime.timedelta(milliseconds=1)
    elif isinstance(delay, (int, float)) and not isinstance(delay, bool):
        delay_ms = int(round(delay * 1000))
    else:
        raise InvalidInput("delay must be seconds or a timedelta, not %s" % type(delay).__name__, Status.EINVAL)
    o.delay_ms = to_int(delay_ms, "delay", I64_MIN, I64_MAX)
    o.priority = to_int(priority, "priority", -2**31, 2**31 - 1)
    o.unique_key = None if unique_key is None else utf8(unique_key, "unique_key")
    return o


def _msg_id(m):
    return to_int(m.id if isinstance(m, Message) else m, "message id", I64_MIN, I64_MAX)


def _batch_messages(batch):
    """Converts and frees a pgqrs_batch."""
    L = lib()
    try:
        return [Message._from_c(L.pgqrs_batch_at(batch, i).contents) for i in range(L.pgqrs_batch_count(batch))]
    finally:
        L.pgqrs_batch_free(batch)


class _Worker:
    _kind = "worker"
    _new = _free = _worker_id = None   # names of the C functions

    def __init__(self):
        raise TypeError("use store.%s(queue)" % self._kind)

    @classmethod
    def _open(cls, store, queue):
        L = lib()
        name = encode_name(queue)
        sp = store._ptr()
        out = ctypes.c_void_p()
        check(getattr(L, cls._new)(ctypes.byref(out), sp, name), sp)
        self = object.__new__(cls)
        self._store = store
        self._queue = queue
        self._h = Handle(out.value, getattr(L, cls._free), cls._kind)
        store._adopt(self._h)
        self._worker_id_value = getattr(L, cls._worker_id)(out.value)
        return self

    def _ptr(self):
        return self._h.get()

    def _call(self, fn, *args):
        """fn(handle, *args): a call without outputs."""
        p = self._ptr()
        check(getattr(lib(), fn)(p, *args), p)

    def _call_out(self, fn, out, *args):
        """fn(out, handle, *args): outputs come first (pgqrs.h, rule 2)."""
        p = self._ptr()
        check(getattr(lib(), fn)(out, p, *args), p)

    @property
    def queue(self):
        """The queue's name."""
        return self._queue

    @property
    def store(self):
        return self._store

    @property
    def worker_id(self):
        """The id of this handle's worker row."""
        return self._worker_id_value

    def worker(self):
        """This worker's current row (:class:`WorkerInfo`)."""
        return self._store.admin().get_worker(self._worker_id_value)

    def close(self):
        """Frees the handle (idempotent); see the module docstring."""
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
        except Exception:   # never raise from a finaliser (e.g. at interpreter shutdown)
            pass

    def __repr__(self):
        return "<pgqrs.%s queue=%r worker=%s%s>" % (type(self).__name__, self._queue, self._worker_id_value,
                                                  " closed" if self.closed else "")

    # lifecycle of the worker row: ready <-> suspended, ready/suspended -> stopped
    def heartbeat(self):
        self._call("pgqrs_%s_heartbeat" % self._kind)

    def suspend(self):
        """ready -> suspended (:class:`IllegalState` otherwise)."""
        self._call("pgqrs_%s_suspend" % self._kind)

    def resume(self):
        """suspended -> ready (:class:`IllegalState` otherwise)."""
        self._call("pgqrs_%s_resume" % self._kind)


class Producer(_Worker):
    """Enqueues JSON payloads on one queue (``store.producer(queue)``)."""
    _kind = "producer"
    _new, _free, _worker_id = "pgqrs_producer_new", "pgqrs_producer_free", "pgqrs_producer_worker_id"

    def enqueue(self, payload, *, delay=0, priority=0, unique_key=None):
        """Enqueues any JSON-serialisable value, visible after `delay` (seconds
        or a timedelta; 0 = now). Returns the message id. `priority`
        (-32768..32767, higher is claimed first, FIFO within one priority) and
        `unique_key` (1..512 bytes; when a live message of the queue holds it,
        nothing is written and that message's id is returned): see
        :meth:`enqueue_with`, which also says whether the message was created."""
        if priority == 0 and unique_key is None:
            return self.enqueue_json(dumps(payload), delay=delay)
        return self.enqueue_with(payload, delay=delay, priority=priority, unique_key=unique_key)[0]

    def enqueue_with(self, payload, *, delay=0, priority=0, unique_key=None):
        """Enqueues with options (``pgqrs_enqueue_with``); returns ``(id, created)``:
        created is False when `unique_key` was held by a live message (pending,
        delayed or in flight) of the queue, whose id is returned."""
        return self.enqueue_json_with(dumps(payload), delay=delay, priority=priority, unique_key=unique_key)

    def enqueue_json_with(self, payload_json, *, delay=0, priority=0, unique_key=None):
        """Like :meth:`enqueue_with` with pre-encoded JSON text."""
        text = _json_text(payload_json)
        opts = _enqueue_options(delay, priority, unique_key)
        mid, created = ctypes.c_int64(), ctypes.c_int()
        p = self._ptr()
        check(lib().pgqrs_enqueue_with(ctypes.byref(mid), ctypes.byref(created), p, text, ctypes.byref(opts)), p)
        return mid.value, bool(created.value)

    def enqueue_batch_with(self, payloads, *, delay=0, priority=0, unique_keys=None):
        """Enqueues JSON-serialisable values with options, all or none
        (``pgqrs_enqueue_batch_with``); returns ``[(id, created), ...]`` in input
        order. `priority` and `delay` are one value for all or a list (one per
        payload); `unique_keys` a list of keys or None entries. A key live before
        the call, or repeated in the batch after its first row, gives that
        message's id with created False. Turso over HTTP refuses keyed batches
        (:class:`NotSupported`)."""
        texts = [utf8(dumps(v), "payload") for v in payloads]
        n = len(texts)
        if n == 0:
            return []
        def per_row(v, what):
            if isinstance(v, (list, tuple)):
                if len(v) != n:
                    raise InvalidInput("%s has %d entries for %d payloads" % (what, len(v), n), Status.EINVAL)
                return list(v)
            return [v] * n
        keys = per_row(unique_keys, "unique_keys")
        pris, delays = per_row(priority, "priority"), per_row(delay, "delay")
        opts = (_lib.EnqueueOptionsC * n)(*[_enqueue_options(delays[i], pris[i], keys[i]) for i in range(n)])
        arr = (ctypes.c_char_p * n)(*texts)
        ids, created = (ctypes.c_int64 * n)(), (ctypes.c_int * n)()
        p = self._ptr()
        check(lib().pgqrs_enqueue_batch_with(ids, created, p, arr, n, opts), p)
        return [(ids[i], bool(created[i])) for i in range(n)]

    def enqueue_json(self, payload_json, *, delay=0):
        """Enqueues pre-encoded JSON text as is (validated by the library:
        :class:`InvalidInput` and nothing written if it is not JSON)."""
        text = _json_text(payload_json)
        d = to_seconds(delay, "delay")
        mid = ctypes.c_int64()
        p = self._ptr()
        check(lib().pgqrs_enqueue(ctypes.byref(mid), p, text, d), p)
        return mid.value

    def enqueue_batch(self, payloads, *, delay=0):
        """Enqueues JSON-serialisable values in one statement: all or none.
        Returns their ids in input order. At most the store's max_batch_size."""
        return self._enqueue_batch([utf8(dumps(v), "payload") for v in payloads], delay)

    def enqueue_batch_json(self, payloads_json, *, delay=0):
        """Like :meth:`enqueue_batch` with pre-encoded JSON texts."""
        return self._enqueue_batch([_json_text(t) for t in payloads_json], delay)

    def _enqueue_batch(self, texts, delay):
        d = to_seconds(delay, "delay")
        n = len(texts)
        if n == 0:
            return []
        arr = (ctypes.c_char_p * n)(*texts)
        ids = (ctypes.c_int64 * n)()
        p = self._ptr()
        check(lib().pgqrs_enqueue_batch(ids, p, arr, n, d), p)
        return list(ids)

    def shutdown(self):
        """Stops this producer's worker (the handle stays open until close())."""
        self._call("pgqrs_producer_shutdown")


class Consumer(_Worker):
    """Claims and settles messages of one queue (``store.consumer(queue)``)."""
    _kind = "consumer"
    _new, _free, _worker_id = "pgqrs_consumer_new", "pgqrs_consumer_free", "pgqrs_consumer_worker_id"

    def dequeue(self, batch_size=1, vt=None):
        """Claims up to `batch_size` visible messages, each hidden from other
        consumers for `vt` seconds (or a timedelta; None = the store default).
        Messages already delivered max_attempts times go to the dead-letter queue
        instead. Returns a list of :class:`Message` (empty when none is visible)."""
        n = to_int(batch_size, "batch_size")
        v = to_seconds(vt, "vt")
        out = ctypes.c_void_p()
        p = self._ptr()
        check(lib().pgqrs_dequeue(ctypes.byref(out), p, n, v), p)
        return _batch_messages(out)

    def dequeue_wait(self, batch_size=1, vt=None, *, timeout=5.0):
        """Like :meth:`dequeue`, but when nothing is visible waits up to `timeout`
        seconds (a float or timedelta) and returns as soon as a message can be
        claimed (an empty list after the timeout). PostgreSQL wakes it with
        LISTEN/NOTIFY; elsewhere it polls with capped, jittered backoff."""
        if isinstance(timeout, datetime.timedelta):
            timeout = timeout.total_seconds()
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise InvalidInput("timeout must be seconds >= 0", Status.EINVAL)
        n = to_int(batch_size, "batch_size")
        v = to_seconds(vt, "vt")
        out = ctypes.c_void_p()
        p = self._ptr()
        check(lib().pgqrs_dequeue_wait(ctypes.byref(out), p, n, v, round(timeout * 1000)), p)
        return _batch_messages(out)

    def run(self, handler, *, concurrency=None, batch_size=None, vt=None, until_empty=False, max_run=None,
            shutdown_timeout=None, non_retryable=None, handle_signals=True, scheduler=True):
        """Runs `handler(job)` for every message of this consumer's queue on the
        library's runtime (:class:`pgqrs.Runtime`; its own consumer worker, so this
        handle's held messages are not involved) until SIGTERM/SIGINT or, with
        `until_empty`, until nothing is pending. The return value is stored as the
        message's result; an exception retries per the queue's retry policy; a
        :class:`pgqrs.NonRetryable` (or a class in `non_retryable`) dead-letters.
        Like every runtime it also runs a scheduler (schedules and retention)
        unless `scheduler` is False. Returns the :class:`pgqrs.RuntimeStats`."""
        from .runtime import Runtime
        kw = {} if non_retryable is None else {"non_retryable": non_retryable}
        with Runtime(self._store, concurrency=concurrency, batch_size=batch_size, vt=vt, until_empty=until_empty,
                     max_run=max_run, shutdown_timeout=shutdown_timeout, scheduler=scheduler, **kw) as rt:
            rt.add(self._queue, handler)
            return rt.run(handle_signals=handle_signals)

    def archive_and_dequeue(self, messages, batch_size=1, vt=None):
        """Archives the held `messages` (ids or :class:`Message`) and claims the
        next batch, as :meth:`dequeue`, in one transaction: one commit instead of
        two. All or nothing: when one of them is not held (:class:`NotOwned`,
        :class:`NotFound`), nothing is archived or claimed. Without transactions
        (Turso) it is :meth:`archive_batch`, then :meth:`dequeue` when that fully
        succeeded. Returns the claimed messages."""
        ids = [_msg_id(m) for m in messages]
        n = len(ids)
        arr = (ctypes.c_int64 * max(n, 1))(*ids)
        out = ctypes.c_void_p()
        p = self._ptr()
        check(lib().pgqrs_archive_and_dequeue(ctypes.byref(out), None, p, arr if n else None, n, to_int(batch_size, "batch_size"), to_seconds(vt, "vt")), p)
        return _batch_messages(out)

    def extend_vt(self, message, vt):
        """Hides a held message for `vt` seconds from now; returns the new
        visibility time (datetime)."""
        out = ctypes.c_int64()
        self._call_out("pgqrs_extend_vt", ctypes.byref(out), _msg_id(message), to_seconds(vt, "vt"))
        return us_to_datetime(out.value)

    def archive(self, message):
        """Archives a held message (id or :class:`Message`). :class:`NotOwned` if
        another worker holds it, :class:`NotFound` if it is not live."""
        self._call("pgqrs_archive", _msg_id(message))

    def delete(self, message):
        """Deletes a held message."""
        self._call("pgqrs_delete", _msg_id(message))

    def release(self, message, *, delay=0):
        """Puts a held message back to pending, visible after `delay`. Counts as a
        delivery."""
        self._call("pgqrs_release", _msg_id(message), to_seconds(delay, "delay"))

    def _batch(self, fn, messages, *extra):
        ids = [_msg_id(m) for m in messages]
        n = len(ids)
        if n == 0:
            return []
        arr = (ctypes.c_int64 * n)(*ids)
        results = (ctypes.c_int * n)(*([1] * n))     # 1: not a status, "not filled in"
        p = self._ptr()
        st = getattr(lib(), fn)(results, p, arr, n, *extra)
        out = list(results)
        if st != Status.OK and (1 in out or st not in out):
            check(st, p)                           # the call itself failed
        return [Status(r) for r in out]

    def archive_batch(self, messages):
        """Archives held messages in one statement. Returns one :class:`Status`
        per id (OK, ENOTOWNED or ENOTFOUND); the others are applied regardless.
        Raises only when the call as a whole fails."""
        return self._batch("pgqrs_archive_batch", messages)

    def delete_batch(self, messages):
        """Like :meth:`archive_batch`, deleting."""
        return self._batch("pgqrs_delete_batch", messages)

    def release_batch(self, messages, *, delay=0):
        """Like :meth:`archive_batch`, releasing (visible after `delay`)."""
        return self._batch("pgqrs_release_batch", messages, to_seconds(delay, "delay"))

    def shutdown(self, *, release=False):
        """Stops this consumer's worker. While it holds messages that is
        :class:`IllegalState` unless `release`, which puts them back to pending."""
        self._call("pgqrs_consumer_shutdown", 1 if release else 0)
