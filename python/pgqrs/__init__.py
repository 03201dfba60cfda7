"""pgqrs: a durable job queue on PostgreSQL and SQLite, as a pure-Python
(``ctypes``) binding of the C library ``libpgqrs``.

    import pgqrs

    with pgqrs.connect("sqlite:///tmp/app.db") as store:
        admin = store.admin()
        admin.install()
        admin.create_queue("tasks", exist_ok=True)
        with store.producer("tasks") as producer:
            producer.enqueue({"task": "send_email", "to": "ada@example.com"})
        with store.consumer("tasks") as consumer:
            for msg in consumer.dequeue(batch_size=10, vt=30):
                print(msg.id, msg.payload)
                consumer.archive(msg.id)

Workers (the C runtime calling Python handlers on its threads)::

    runtime = store.runtime(concurrency=4)

    @runtime.handler("tasks")
    def task(job):
        return {"done": job.payload["task"]}   # stored with the archived message

    runtime.run()                              # until SIGTERM/SIGINT

Durable workflows (handlers and steps in Python, run by the C engine)::

    @pgqrs.workflow(name="checkout")
    def checkout(run, order):
        return {"charge": run.step("charge", lambda run: {"id": "ch_1"})}

    store.define(checkout)
    run_id = store.trigger("checkout", {"order": 7})
    with store.workflow_worker("checkout") as w:
        w.run_once()

The library is found through ``PGQRS_LIBRARY``, next to this package
(``make python``), or ``ctypes.util.find_library("pgqrs")``.
"""

from ._lib import BINDING_VERSION as __version__
from ._lib import LibraryNotFound, library_path
from .admin import Admin
from .app_tx import AppTx
from .server import Server
from .errors import (AlreadyExists, Busy, DatabaseConnectionError, IllegalState, InvalidInput, Misuse, NonRetryable,
                     NotFound, NotOwned, NotSupported, OutOfMemory, PgqrsError, RunCancelled, RunSuspended, Status,
                     Timeout)
from .models import NO_LIMIT, Message, QueueInfo, QueueMetrics, WorkerHealth, WorkerInfo
from .queue import Consumer, Producer
from .runtime import Job, Retry, Runtime, RuntimeStats
from .schedule import ScheduleInfo, Scheduler, cron_next, cron_next_us
from .store import Store, connect, errstr, version
from .workflow import (EventInfo, RetryPolicy, Run, RunInfo, Step, StepInfo, Workflow, WorkflowInfo, WorkflowWorker,
                       step, workflow)

__all__ = [
    "connect", "version", "errstr", "library_path", "__version__",
    "Store", "Admin", "AppTx", "Server", "Producer", "Consumer", "Runtime", "Job", "Retry", "RuntimeStats",
    "Message", "QueueInfo", "QueueMetrics", "WorkerInfo", "WorkerHealth", "NO_LIMIT",
    "Status", "PgqrsError", "NotFound", "AlreadyExists", "InvalidInput", "Busy", "NotOwned", "IllegalState",
    "DatabaseConnectionError", "Timeout", "OutOfMemory", "NotSupported", "Misuse", "LibraryNotFound",
    "workflow", "step", "Workflow", "Step", "Run", "RetryPolicy", "WorkflowWorker", "RunInfo", "StepInfo",
    "WorkflowInfo", "EventInfo", "RunCancelled", "RunSuspended", "NonRetryable",
    "ScheduleInfo", "Scheduler", "cron_next", "cron_next_us",
]
# pgqrs.ConnectionError is DatabaseConnectionError; deliberately not in __all__, so
# `from pgqrs import *` does not shadow the builtin.
ConnectionError = DatabaseConnectionError
