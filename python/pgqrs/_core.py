"""Internal helpers shared by the modules: status checking, argument conversion,
time conversion and the owner of one C handle."""

import ctypes
import datetime
import threading

from . import _lib
from .errors import InvalidInput, Misuse, Status, make_error

UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
_US = datetime.timedelta(microseconds=1)

INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1
I64_MIN, I64_MAX = -(2 ** 63), 2 ** 63 - 1


def lib():
    return _lib.load()


def errmsg(handle):
    """pgqrs_errmsg(handle) as str (handle None: the thread's last pre-handle failure)."""
    m = lib().pgqrs_errmsg(handle)
    return m.decode("utf-8", "replace") if m else ""


def check(status, handle):
    """Raises the typed exception for a non-zero status, with the message of
    `handle` (the handle the call was made on; read on the same thread)."""
    if status != Status.OK:
        msg = errmsg(handle)
        if not msg:
            s = lib().pgqrs_errstr(status)
            msg = s.decode("utf-8", "replace") if s else "pgqrs error %d" % status
        raise make_error(status, msg)


def utf8(text, what):
    """A str as NUL-free UTF-8 bytes for a `const char *` (InvalidInput otherwise:
    ctypes would cut at a NUL, and lone surrogates have no UTF-8)."""
    if not isinstance(text, str):
        raise InvalidInput("%s must be a str, not %s" % (what, type(text).__name__), Status.EINVAL)
    if "\0" in text:
        raise InvalidInput("%s contains a NUL character" % what, Status.EINVAL)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidInput("%s is not valid UTF-8: %s" % (what, e), Status.EINVAL) from None


def encode_name(name, what="queue name", allow_none=False):
    if name is None and allow_none:
        return None
    return utf8(name, what)


def to_int(value, what, lo=INT_MIN, hi=INT_MAX):
    """An int argument; range-checked so ctypes never truncates it silently."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("%s must be an int, not %s" % (what, type(value).__name__), Status.EINVAL)
    if not lo <= value <= hi:
        raise InvalidInput("%s out of range: %d" % (what, value), Status.EINVAL)
    return value


def to_seconds(value, what, lo=INT_MIN, hi=INT_MAX):
    """Whole seconds from an int, an integral float or a datetime.timedelta."""
    if value is None:
        return 0
    if isinstance(value, datetime.timedelta):
        if value % datetime.timedelta(seconds=1):
            raise InvalidInput("%s must be whole seconds: %r" % (what, value), Status.EINVAL)
        value = value // datetime.timedelta(seconds=1)
    elif isinstance(value, float):
        if not value.is_integer():
            raise InvalidInput("%s must be whole seconds: %r" % (what, value), Status.EINVAL)
        value = int(value)
    return to_int(value, what, lo, hi)


def us_to_datetime(us):
    """UTC microseconds since the epoch -> aware datetime; 0 -> None."""
    if not us:
        return None
    return EPOCH + datetime.timedelta(microseconds=us)


def datetime_to_us(dt):
    """Aware datetime (naive is taken as UTC) -> microseconds since the epoch."""
    if not isinstance(dt, datetime.datetime):
        raise InvalidInput("expected a datetime, not %s" % type(dt).__name__, Status.EINVAL)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - EPOCH) // _US


def decode(b):
    return None if b is None else b.decode("utf-8", "replace")


class Handle:
    """Owns one C handle and frees it exactly once, with the function it was
    given (kept here so freeing never needs module globals, e.g. at interpreter
    shutdown)."""

    __slots__ = ("_ptr", "_free", "_lock", "what")

    def __init__(self, ptr, free, what):
        self._ptr = ptr
        self._free = free
        self._lock = threading.Lock()
        self.what = what

    @property
    def closed(self):
        return self._ptr is None

    def get(self):
        p = self._ptr
        if p is None:
            raise Misuse("%s is closed" % self.what, Status.EMISUSE)
        return p

    def close(self):
        with self._lock:
            p, self._ptr = self._ptr, None
        if p is not None:
            self._free(p)


def fetch_list(call, handle, count, at, free, convert):
    """Runs call(byref(out)) (checked against handle), converts every element of
    the returned list and frees the list whatever happens."""
    out = ctypes.c_void_p()
    check(call(ctypes.byref(out)), handle)
    try:
        return [convert(at(out, i).contents) for i in range(count(out))]
    finally:
        free(out)
