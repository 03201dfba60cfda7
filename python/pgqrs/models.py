"""Plain data returned by the library, copied out of the C structs (the C memory
is freed before these are handed out). Times are kept as the library's UTC
microseconds (``*_us``) and exposed as aware ``datetime`` properties."""

import dataclasses
import datetime
import json
from typing import Any, Optional

from ._core import decode, us_to_datetime


@dataclasses.dataclass(frozen=True)
class Message:
    """A message (``struct pgqrs_message``). ``payload`` is the parsed JSON value;
    ``payload_json`` the text the library returned (PostgreSQL normalises it).
    ``result`` / ``result_json``: what a runtime handler stored with an archived or
    dead-lettered message (its return value), else None."""
    id: int
    queue_id: int
    payload: Any = dataclasses.field(hash=False, compare=False)
    payload_json: str
    read_count: int
    enqueued_at_us: int
    vt_us: int
    dequeued_at_us: int
    producer_worker_id: Optional[int]
    consumer_worker_id: Optional[int]
    archived_at_us: int
    state: str                    # "live", "archived", "dead_letter" or "cancelled"; Admin.get_message:
                                  # "pending", "delayed", "in_flight" for live ones
    result: Any = dataclasses.field(default=None, hash=False, compare=False)
    result_json: Optional[str] = None
    priority: int = 0                 # higher is claimed first
    unique_key: Optional[str] = None
    progress: Any = dataclasses.field(default=None, hash=False, compare=False)   # its worker's last progress
    progress_json: Optional[str] = None
    cancel_requested_at_us: int = 0   # live messages: when a cancel was requested; else 0

    @property
    def enqueued_at(self) -> datetime.datetime:
        return us_to_datetime(self.enqueued_at_us)

    @property
    def vt(self) -> Optional[datetime.datetime]:
        """When a live message becomes visible again."""
        return us_to_datetime(self.vt_us)

    @property
    def dequeued_at(self) -> Optional[datetime.datetime]:
        """Last delivery; None if never delivered."""
        return us_to_datetime(self.dequeued_at_us)

    @property
    def archived_at(self) -> Optional[datetime.datetime]:
        """Archived or dead-lettered at; None for live messages."""
        return us_to_datetime(self.archived_at_us)

    @classmethod
    def _from_c(cls, m):
        raw = decode(m.payload)
        res = decode(m.result)
        prog = decode(m.progress)
        return cls(
            id=m.id, queue_id=m.queue_id,
            payload=None if raw is None else json.loads(raw), payload_json=raw,
            read_count=m.read_count, enqueued_at_us=m.enqueued_at_us, vt_us=m.vt_us,
            dequeued_at_us=m.dequeued_at_us,
            producer_worker_id=m.producer_worker_id or None,
            consumer_worker_id=m.consumer_worker_id or None,
            archived_at_us=m.archived_at_us, state=decode(m.state),
            result=None if res is None else json.loads(res), result_json=res,
            priority=m.priority, unique_key=decode(m.unique_key),
            progress=None if prog is None else json.loads(prog), progress_json=prog,
            cancel_requested_at_us=m.cancel_requested_at_us)


@dataclasses.dataclass(frozen=True)
class QueueInfo:
    """A queue (``struct pgqrs_queue_info``) with its retry policy: a retry waits
    ``retry_initial_delay_ms``, times ``retry_multiplier`` per retry after the
    first, at most ``retry_max_delay_ms``, shortened by a random fraction of at
    most ``retry_jitter`` (0: exact)."""
    id: int
    name: str
    max_attempts: int
    created_at_us: int
    retry_initial_delay_ms: int = 1000
    retry_multiplier: float = 2.0
    retry_max_delay_ms: int = 300000
    retry_jitter: float = 0.25
    # per-queue limits; None: no limit
    concurrency_limit: Optional[int] = None
    rate_limit: Optional[int] = None
    rate_period_ms: Optional[int] = None

    @property
    def created_at(self) -> datetime.datetime:
        return us_to_datetime(self.created_at_us)

    @classmethod
    def _from_c(cls, q):
        return cls(id=q.id, name=decode(q.name), max_attempts=q.max_attempts, created_at_us=q.created_at_us,
                   retry_initial_delay_ms=q.retry_initial_delay_ms, retry_multiplier=q.retry_multiplier,
                   retry_max_delay_ms=q.retry_max_delay_ms, retry_jitter=q.retry_jitter,
                   concurrency_limit=q.concurrency_limit or None, rate_limit=q.rate_limit or None,
                   rate_period_ms=q.rate_period_ms if q.rate_limit else None)


class _NoLimit:
    """pgqrs.NO_LIMIT: removes a queue limit in Admin.update_queue."""
    __slots__ = ()

    def __repr__(self):
        return "pgqrs.NO_LIMIT"


NO_LIMIT = _NoLimit()


@dataclasses.dataclass(frozen=True)
class QueueMetrics:
    """Counts of one queue (``struct pgqrs_queue_metrics``)."""
    queue_id: int
    name: str
    pending: int            # visible now
    in_flight: int          # held by a consumer, lease not expired
    delayed: int            # not yet visible, not held
    archived: int
    dead_lettered: int
    oldest_pending_age_us: int

    @property
    def oldest_pending_age(self) -> datetime.timedelta:
        return datetime.timedelta(microseconds=self.oldest_pending_age_us)

    @classmethod
    def _from_c(cls, m):
        return cls(queue_id=m.queue_id, name=decode(m.name), pending=m.pending, in_flight=m.in_flight,
                   delayed=m.delayed, archived=m.archived, dead_lettered=m.dead_lettered,
                   oldest_pending_age_us=m.oldest_pending_age_us)


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """A worker row (``struct pgqrs_worker_info``)."""
    id: int
    queue_id: Optional[int]
    hostname: str
    pid: int
    kind: str               # "producer", "consumer", "admin", "workflow"
    status: str             # "ready", "suspended", "stopped"
    started_at_us: int
    heartbeat_at_us: int
    stopped_at_us: int

    @property
    def started_at(self) -> datetime.datetime:
        return us_to_datetime(self.started_at_us)

    @property
    def heartbeat_at(self) -> Optional[datetime.datetime]:
        return us_to_datetime(self.heartbeat_at_us)

    @property
    def stopped_at(self) -> Optional[datetime.datetime]:
        """None while not stopped."""
        return us_to_datetime(self.stopped_at_us)

    @classmethod
    def _from_c(cls, w):
        return cls(id=w.id, queue_id=w.queue_id or None, hostname=decode(w.hostname), pid=w.pid,
                   kind=decode(w.kind), status=decode(w.status), started_at_us=w.started_at_us,
                   heartbeat_at_us=w.heartbeat_at_us, stopped_at_us=w.stopped_at_us)


@dataclasses.dataclass(frozen=True)
class WorkerHealth:
    """Worker counts (``struct pgqrs_worker_health``); ``stale``: not stopped and
    silent for longer than the threshold asked for."""
    total: int
    ready: int
    suspended: int
    stopped: int
    stale: int
