"""Typed exceptions, one per ``pgqrs_status``.

Every failure of a library call raises a subclass of :class:`PgqrsError` whose
``status`` is the C status code and whose message is ``pgqrs_errmsg()`` of the
handle the call was made on (never holding a password or token). Test the type
(or ``status``), never the message text.
"""

import enum


class Status(enum.IntEnum):
    """Mirror of ``enum pgqrs_status`` (the numbers are the C ones)."""
    OK = 0
    ERROR = -1
    ENOTFOUND = -2
    EEXISTS = -3
    EINVAL = -4
    EBUSY = -5
    ENOTOWNED = -6
    ESTATE = -7
    ECONN = -8
    ETIMEOUT = -9
    ENOMEM = -10
    ENOTSUPPORTED = -11
    EMISUSE = -12
    ECANCELLED = -13     # workflow run cancelled (workflow handlers only)
    ESUSPENDED = -14     # workflow run sleeps or waits for a retry (workflow handlers only)


class PgqrsError(Exception):
    """Base of every pgqrs error; also raised as is for ``PGQRS_ERROR`` (an
    unexpected failure) and for status codes newer than this binding."""

    status = Status.ERROR

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            try:
                self.status = Status(status)
            except ValueError:          # a code newer than this binding
                self.status = status

    def __str__(self):
        return self.message


class NotFound(PgqrsError, LookupError):
    """No such queue, message, worker or run (``PGQRS_ENOTFOUND``)."""
    status = Status.ENOTFOUND


class AlreadyExists(PgqrsError):
    """The name is taken (``PGQRS_EEXISTS``)."""
    status = Status.EEXISTS


class InvalidInput(PgqrsError, ValueError):
    """Bad input; nothing was changed (``PGQRS_EINVAL``)."""
    status = Status.EINVAL


class Busy(PgqrsError):
    """Still locked after bounded retries (``PGQRS_EBUSY``)."""
    status = Status.EBUSY


class NotOwned(PgqrsError):
    """The message is held by another worker (``PGQRS_ENOTOWNED``)."""
    status = Status.ENOTOWNED


class IllegalState(PgqrsError):
    """Illegal state transition (``PGQRS_ESTATE``)."""
    status = Status.ESTATE


class DatabaseConnectionError(PgqrsError):
    """Could not reach the database (``PGQRS_ECONN``). Also available as
    ``pgqrs.ConnectionError``, which does not shadow the builtin unless imported
    by name."""
    status = Status.ECONN


ConnectionError = DatabaseConnectionError   # noqa: A001 (pgqrs.ConnectionError, as in the issue)


class Timeout(PgqrsError):
    """``PGQRS_ETIMEOUT``."""
    status = Status.ETIMEOUT


class OutOfMemory(PgqrsError):
    """``PGQRS_ENOMEM``."""
    status = Status.ENOMEM


class NotSupported(PgqrsError):
    """Backend not built in, or the operation is not supported by it
    (``PGQRS_ENOTSUPPORTED``)."""
    status = Status.ENOTSUPPORTED


class Misuse(PgqrsError):
    """A NULL, freed or foreign handle or argument (``PGQRS_EMISUSE``); in Python
    mostly: using a handle after ``close()``."""
    status = Status.EMISUSE


class RunCancelled(PgqrsError):
    """Raised by ``run.step()`` / ``run.sleep()`` inside a workflow handler when the
    run is being cancelled (``PGQRS_ECANCELLED``): no further step starts. Let it
    propagate out of the handler; the run then ends CANCELLED."""
    status = Status.ECANCELLED


class RunSuspended(PgqrsError):
    """Raised by ``run.sleep()`` inside a workflow handler when the run goes to
    sleep (``PGQRS_ESUSPENDED``): the run is rescheduled for the wake-up time and
    holds no worker meanwhile. Let it propagate out of the handler."""
    status = Status.ESUSPENDED


class NonRetryable(Exception):
    """Raise it (or a subclass) from a workflow handler or step to fail the run
    for good: it ends in ERROR at once, whatever its retry policy says. Any other
    exception fails the attempt, which is retried per the policy."""


_BY_STATUS = {cls.status: cls for cls in (
    NotFound, AlreadyExists, InvalidInput, Busy, NotOwned, IllegalState,
    DatabaseConnectionError, Timeout, OutOfMemory, NotSupported, Misuse, RunCancelled, RunSuspended)}


def error_class(status):
    """The exception class for a ``pgqrs_status`` value."""
    return _BY_STATUS.get(status, PgqrsError)


def make_error(status, message):
    return error_class(status)(message, status)
