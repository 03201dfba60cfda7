"""Finding, loading and declaring libpgqrs.

The shared library is looked for, in order:

1. the path in the ``PGQRS_LIBRARY`` environment variable (an error if it is set
   but cannot be loaded: it is never silently ignored);
2. ``libpgqrs.so`` next to this package (``make python`` copies it there, and
   ``pip install ./python`` ships it when it is there);
3. ``ctypes.util.find_library("pgqrs")`` (e.g. after ``make install``).

The library is loaded on first use, not at import, so ``import pgqrs`` always
works; the first call that needs it raises :class:`LibraryNotFound` when it is
missing. Every function used is declared here with its argtypes and restype, and
the loaded library's ``pgqrs_version_number()`` is checked against the version
this binding was written for.
"""

import ctypes
import ctypes.util
import os
import sys
import threading

# The ctypes mirrors of the header's structs and its PGQRS_*_VERSION numbers,
# generated from include/pgqrs.h (codegen/pgqrs_gen.py); re-exported from here for
# the other modules. tests/python/test_layout.py checks them against the compiler.
from ._structs import (  # noqa: F401
    PGQRS_CAPABILITIES_VERSION, PGQRS_CONNECT_OPTIONS_VERSION, PGQRS_COUNTERS_VERSION, PGQRS_POLL_OPTIONS_VERSION,
    PGQRS_QUEUE_OPTIONS_VERSION, PGQRS_RUN_FILTER_VERSION, PGQRS_RUNTIME_OPTIONS_VERSION, PGQRS_RUNTIME_STATS_VERSION,
    PGQRS_STEP_OPTIONS_VERSION, PGQRS_TRIGGER_OPTIONS_VERSION, PGQRS_WORKER_HEALTH_VERSION,
    PGQRS_WORKFLOW_OPTIONS_VERSION,
    CapabilitiesC, ConnectOptionsC, CountersC, EventInfoC, MessageC, PollOptionsC, QueueInfoC, QueueMetricsC, QueueOptionsC,
    RetryPolicyC, RunFilterC, RunInfoC, RuntimeOptionsC, RuntimeStatsC, StepInfoC, StepOptionsC, TriggerOptionsC,
    WorkerHealthC, WorkerInfoC, WorkflowInfoC, WorkflowOptionsC,
    PGQRS_RETENTION_OPTIONS_VERSION, PGQRS_RETENTION_POLICY_VERSION, PGQRS_RETENTION_REPORT_VERSION,
    PGQRS_SCHEDULE_OPTIONS_VERSION, PGQRS_SCHEDULER_OPTIONS_VERSION, PGQRS_SCHEDULER_STATS_VERSION,
    RetentionOptionsC, RetentionPolicyC, RetentionReportC, ScheduleInfoC, ScheduleOptionsC, SchedulerOptionsC,
    SchedulerStatsC)
from ._structs import PGQRS_ENQUEUE_OPTIONS_VERSION, EnqueueOptionsC  # noqa: F401  (issue 17)
from ._structs import PGQRS_SERVER_OPTIONS_VERSION, ServerOptionsC  # noqa: F401  (issue 20)

# The pgqrs.h this binding mirrors (PGQRS_VERSION_NUMBER = major*1e6 + minor*1e3 + patch).
BINDING_VERSION_NUMBER = 2000
BINDING_VERSION = "0.2.0"

LIBRARY_ENV = "PGQRS_LIBRARY"
_HERE = os.path.dirname(os.path.abspath(__file__))
_SONAME = "libpgqrs.dylib" if sys.platform == "darwin" else "libpgqrs.so"


class LibraryNotFound(ImportError):
    """libpgqrs could not be found or loaded, or is an incompatible version."""


# ---- C types ------------------------------------------------------------------------
c_status = ctypes.c_int          # enum pgqrs_status
c_handle = ctypes.c_void_p       # every opaque handle (pgqrs_store *, pgqrs_batch *, ...)
c_i64 = ctypes.c_int64
c_i32 = ctypes.c_int32

# Callback types. Output pointers are void ** so the pointer from pgqrs_strdup is
# stored as is (a c_char_p would be copied into a Python bytes object).
WORKFLOW_FN = ctypes.CFUNCTYPE(c_status, c_handle, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p)
STEP_FN = ctypes.CFUNCTYPE(c_status, c_handle, ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p)
JOB_FN = ctypes.CFUNCTYPE(ctypes.c_int, c_handle, ctypes.c_void_p)              # pgqrs_job_fn
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)   # pgqrs_log_fn


_P = ctypes.POINTER
_pp = _P(c_handle)               # pgqrs_x **out
_VOID = None

# name: (restype, [argtypes])
_SIGNATURES = {
    "pgqrs_version": (ctypes.c_char_p, []),
    "pgqrs_version_number": (ctypes.c_int, []),
    "pgqrs_errstr": (ctypes.c_char_p, [c_status]),
    "pgqrs_errmsg": (ctypes.c_char_p, [c_handle]),
    # store
    "pgqrs_connect_options_init": (c_status, [_P(ConnectOptionsC), ctypes.c_uint]),
    "pgqrs_connect": (c_status, [_pp, ctypes.c_char_p, _P(ConnectOptionsC)]),
    "pgqrs_store_free": (_VOID, [c_handle]),
    "pgqrs_store_backend": (ctypes.c_char_p, [c_handle]),
    "pgqrs_store_capabilities": (c_status, [_P(CapabilitiesC), c_handle]),
    "pgqrs_store_set_time": (_VOID, [c_handle, c_i64]),
    "pgqrs_capabilities_init": (c_status, [_P(CapabilitiesC), ctypes.c_uint]),
    # logging and counters
    "pgqrs_store_set_log_callback": (_VOID, [c_handle, LOG_FN, ctypes.c_void_p, ctypes.c_int]),
    "pgqrs_counters_init": (c_status, [_P(CountersC), ctypes.c_uint]),
    "pgqrs_store_counters": (c_status, [_P(CountersC), c_handle]),
    # schema
    "pgqrs_schema_install": (c_status, [c_handle]),
    "pgqrs_schema_verify": (c_status, [c_handle]),
    # queues
    "pgqrs_queue_options_init": (c_status, [_P(QueueOptionsC), ctypes.c_uint]),
    "pgqrs_queue_create": (c_status, [_P(_P(QueueInfoC)), c_handle, ctypes.c_char_p, _P(QueueOptionsC)]),
    "pgqrs_queue_update": (c_status, [_P(_P(QueueInfoC)), c_handle, ctypes.c_char_p, _P(QueueOptionsC)]),
    "pgqrs_queue_get": (c_status, [_P(_P(QueueInfoC)), c_handle, ctypes.c_char_p]),
    "pgqrs_queue_info_free": (_VOID, [_P(QueueInfoC)]),
    "pgqrs_queue_list": (c_status, [_pp, c_handle]),
    "pgqrs_queues_count": (ctypes.c_size_t, [c_handle]),
    "pgqrs_queues_at": (_P(QueueInfoC), [c_handle, ctypes.c_size_t]),
    "pgqrs_queues_free": (_VOID, [c_handle]),
    "pgqrs_queue_delete": (c_status, [c_handle, ctypes.c_char_p, ctypes.c_int]),
    "pgqrs_queue_purge": (c_status, [_P(c_i64), c_handle, ctypes.c_char_p]),
    "pgqrs_archive_purge": (c_status, [_P(c_i64), c_handle, ctypes.c_char_p, c_i64]),
    "pgqrs_metrics_list": (c_status, [_pp, c_handle, ctypes.c_char_p]),
    "pgqrs_metrics_count": (ctypes.c_size_t, [c_handle]),
    "pgqrs_metrics_at": (_P(QueueMetricsC), [c_handle, ctypes.c_size_t]),
    "pgqrs_metrics_free": (_VOID, [c_handle]),
    # messages
    "pgqrs_batch_count": (ctypes.c_size_t, [c_handle]),
    "pgqrs_batch_at": (_P(MessageC), [c_handle, ctypes.c_size_t]),
    "pgqrs_batch_free": (_VOID, [c_handle]),
    # producer
    "pgqrs_producer_new": (c_status, [_pp, c_handle, ctypes.c_char_p]),
    "pgqrs_producer_free": (_VOID, [c_handle]),
    "pgqrs_producer_worker_id": (c_i64, [c_handle]),
    "pgqrs_enqueue": (c_status, [_P(c_i64), c_handle, ctypes.c_char_p, ctypes.c_int]),
    "pgqrs_enqueue_batch": (c_status, [_P(c_i64), c_handle, _P(ctypes.c_char_p), ctypes.c_size_t, ctypes.c_int]),
    "pgqrs_enqueue_with": (c_status, [_P(c_i64), _P(ctypes.c_int), c_handle, ctypes.c_char_p, _P(EnqueueOptionsC)]),
    "pgqrs_enqueue_batch_with": (c_status, [_P(c_i64), _P(ctypes.c_int), c_handle, _P(ctypes.c_char_p), ctypes.c_size_t,
                                            _P(EnqueueOptionsC)]),
    # consumer
    "pgqrs_consumer_new": (c_status, [_pp, c_handle, ctypes.c_char_p]),
    "pgqrs_consumer_free": (_VOID, [c_handle]),
    "pgqrs_consumer_worker_id": (c_i64, [c_handle]),
    "pgqrs_dequeue": (c_status, [_pp, c_handle, ctypes.c_int, ctypes.c_int]),
    "pgqrs_dequeue_wait": (c_status, [_pp, c_handle, ctypes.c_int, ctypes.c_int, c_i64]),
    "pgqrs_extend_vt": (c_status, [_P(c_i64), c_handle, c_i64, ctypes.c_int]),
    "pgqrs_archive": (c_status, [c_handle, c_i64]),
    "pgqrs_delete": (c_status, [c_handle, c_i64]),
    "pgqrs_release": (c_status, [c_handle, c_i64, ctypes.c_int]),
    "pgqrs_archive_batch": (c_status, [_P(c_status), c_handle, _P(c_i64), ctypes.c_size_t]),
    "pgqrs_delete_batch": (c_status, [_P(c_status), c_handle, _P(c_i64), ctypes.c_size_t]),
    "pgqrs_release_batch": (c_status, [_P(c_status), c_handle, _P(c_i64), ctypes.c_size_t, ctypes.c_int]),
    "pgqrs_archive_and_dequeue": (c_status, [_pp, _P(c_status), c_handle, _P(c_i64), ctypes.c_size_t, ctypes.c_int, ctypes.c_int]),
    # dead letters and inspection
    "pgqrs_dlq_list": (c_status, [_pp, c_handle, ctypes.c_char_p, c_i64, ctypes.c_int]),
    "pgqrs_dlq_count": (c_status, [_P(c_i64), c_handle, ctypes.c_char_p]),
    "pgqrs_dlq_replay": (c_status, [c_handle, ctypes.c_char_p, c_i64]),
    "pgqrs_dlq_replay_all": (c_status, [_P(c_i64), c_handle, ctypes.c_char_p]),
    "pgqrs_message_list": (c_status, [_pp, c_handle, ctypes.c_char_p, c_i64, ctypes.c_int]),
    "pgqrs_archive_list": (c_status, [_pp, c_handle, ctypes.c_char_p, c_i64, ctypes.c_int]),
    # job control: cancel, get by id, progress (issue 17)
    "pgqrs_message_cancel": (c_status, [_P(ctypes.c_int), c_handle, ctypes.c_char_p, c_i64]),
    "pgqrs_message_get": (c_status, [_pp, c_handle, c_i64]),
    "pgqrs_message_heartbeat": (c_status, [_P(c_i64), _P(ctypes.c_int), c_handle, c_i64, ctypes.c_int]),
    "pgqrs_archive_cancelled": (c_status, [c_handle, c_i64]),
    "pgqrs_message_set_progress": (c_status, [c_handle, c_i64, ctypes.c_char_p]),
    "pgqrs_job_cancel_requested": (ctypes.c_int, [c_handle]),
    "pgqrs_job_set_progress": (c_status, [c_handle, ctypes.c_char_p]),
    # workers
    "pgqrs_consumer_heartbeat": (c_status, [c_handle]),
    "pgqrs_consumer_suspend": (c_status, [c_handle]),
    "pgqrs_consumer_resume": (c_status, [c_handle]),
    "pgqrs_consumer_shutdown": (c_status, [c_handle, ctypes.c_int]),
    "pgqrs_producer_heartbeat": (c_status, [c_handle]),
    "pgqrs_producer_suspend": (c_status, [c_handle]),
    "pgqrs_producer_resume": (c_status, [c_handle]),
    "pgqrs_producer_shutdown": (c_status, [c_handle]),
    "pgqrs_worker_get": (c_status, [_P(_P(WorkerInfoC)), c_handle, c_i64]),
    "pgqrs_worker_info_free": (_VOID, [_P(WorkerInfoC)]),
    "pgqrs_worker_list": (c_status, [_pp, c_handle, ctypes.c_char_p]),
    "pgqrs_workers_count": (ctypes.c_size_t, [c_handle]),
    "pgqrs_workers_at": (_P(WorkerInfoC), [c_handle, ctypes.c_size_t]),
    "pgqrs_workers_free": (_VOID, [c_handle]),
    "pgqrs_worker_health_init": (c_status, [_P(WorkerHealthC), ctypes.c_uint]),
    "pgqrs_worker_health_get": (c_status, [_P(WorkerHealthC), c_handle, c_i64]),
    "pgqrs_worker_reclaim_zombies": (c_status, [_P(c_i64), c_handle, c_i64]),
    "pgqrs_worker_purge_stale": (c_status, [_P(c_i64), c_handle, c_i64]),
    # workflows
    "pgqrs_strdup": (ctypes.c_void_p, [ctypes.c_char_p]),
    "pgqrs_free": (_VOID, [ctypes.c_void_p]),
    "pgqrs_retry_delay_ms": (c_i64, [_P(RetryPolicyC), ctypes.c_int]),
    "pgqrs_workflow_options_init": (c_status, [_P(WorkflowOptionsC), ctypes.c_uint]),
    "pgqrs_trigger_options_init": (c_status, [_P(TriggerOptionsC), ctypes.c_uint]),
    "pgqrs_poll_options_init": (c_status, [_P(PollOptionsC), ctypes.c_uint]),
    "pgqrs_step_options_init": (c_status, [_P(StepOptionsC), ctypes.c_uint]),
    "pgqrs_run_filter_init": (c_status, [_P(RunFilterC), ctypes.c_uint]),
    "pgqrs_workflow_define": (c_status, [c_handle, ctypes.c_char_p, WORKFLOW_FN, ctypes.c_void_p,
                                         _P(WorkflowOptionsC)]),
    # pgqrs serve (server.py)
    "pgqrs_server_options_init": (c_status, [_P(ServerOptionsC), ctypes.c_uint]),
    "pgqrs_server_new": (c_status, [_pp, c_handle, _P(ServerOptionsC)]),
    "pgqrs_server_port": (ctypes.c_int, [c_handle]),
    "pgqrs_server_wait": (c_status, [c_handle]),
    "pgqrs_server_stop": (_VOID, [c_handle]),
    "pgqrs_server_free": (_VOID, [c_handle]),
    # transactional enqueue (app_tx.py)
    "pgqrs_tx_wrap_pg": (c_status, [_pp, c_handle, ctypes.c_void_p]),
    "pgqrs_tx_wrap_sqlite": (c_status, [_pp, c_handle, ctypes.c_void_p]),
    "pgqrs_tx_free": (_VOID, [c_handle]),
    "pgqrs_tx_enqueue": (c_status, [_P(c_i64), c_handle, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]),
    "pgqrs_tx_enqueue_batch": (c_status, [_P(c_i64), c_handle, ctypes.c_char_p, _P(ctypes.c_char_p), ctypes.c_size_t, ctypes.c_int]),
    "pgqrs_workflow_trigger_tx": (c_status, [_P(c_i64), _P(ctypes.c_int), c_handle, ctypes.c_char_p, ctypes.c_char_p, _P(TriggerOptionsC)]),
    "pgqrs_workflow_trigger": (c_status, [_P(c_i64), _P(ctypes.c_int), c_handle, ctypes.c_char_p, ctypes.c_char_p, _P(TriggerOptionsC)]),
    "pgqrs_workflow_worker_new": (c_status, [_pp, c_handle, ctypes.c_char_p]),
    "pgqrs_workflow_worker_free": (_VOID, [c_handle]),
    "pgqrs_workflow_worker_id": (c_i64, [c_handle]),
    "pgqrs_workflow_worker_interrupt": (_VOID, [c_handle]),
    "pgqrs_workflow_worker_poll": (c_status, [_P(c_i64), c_handle, _P(PollOptionsC)]),
    "pgqrs_workflow_worker_run_once": (c_status, [_P(ctypes.c_int), c_handle]),
    "pgqrs_run_step": (c_status, [_P(ctypes.c_void_p), c_handle, ctypes.c_char_p, STEP_FN, ctypes.c_void_p, _P(StepOptionsC)]),
    "pgqrs_run_sleep": (c_status, [c_handle, ctypes.c_char_p, c_i64]),
    "pgqrs_run_fail": (c_status, [c_handle, ctypes.c_char_p, ctypes.c_int]),
    "pgqrs_run_id": (c_i64, [c_handle]),
    "pgqrs_run_attempt": (c_i32, [c_handle]),
    "pgqrs_run_get": (c_status, [_P(_P(RunInfoC)), c_handle, c_i64]),
    "pgqrs_run_wait": (c_status, [_P(_P(RunInfoC)), c_handle, c_i64, c_i64]),
    "pgqrs_run_info_free": (_VOID, [_P(RunInfoC)]),
    "pgqrs_run_cancel": (c_status, [c_handle, c_i64, ctypes.c_char_p]),
    "pgqrs_run_list": (c_status, [_pp, c_handle, _P(RunFilterC)]),
    "pgqrs_runs_count": (ctypes.c_size_t, [c_handle]),
    "pgqrs_runs_at": (_P(RunInfoC), [c_handle, ctypes.c_size_t]),
    "pgqrs_runs_free": (_VOID, [c_handle]),
    "pgqrs_step_list": (c_status, [_pp, c_handle, c_i64]),
    "pgqrs_steps_count": (ctypes.c_size_t, [c_handle]),
    "pgqrs_steps_at": (_P(StepInfoC), [c_handle, ctypes.c_size_t]),
    "pgqrs_steps_free": (_VOID, [c_handle]),
    "pgqrs_workflow_list": (c_status, [_pp, c_handle]),
    "pgqrs_workflows_count": (ctypes.c_size_t, [c_handle]),
    "pgqrs_workflows_at": (_P(WorkflowInfoC), [c_handle, ctypes.c_size_t]),
    "pgqrs_workflows_free": (_VOID, [c_handle]),
    # workflows that talk
    "pgqrs_workflow_delete": (c_status, [c_handle, ctypes.c_char_p, ctypes.c_int]),
    "pgqrs_run_send": (c_status, [c_handle, c_i64, ctypes.c_char_p, ctypes.c_char_p]),
    "pgqrs_run_recv": (c_status, [_P(ctypes.c_void_p), c_handle, ctypes.c_char_p, ctypes.c_char_p, c_i64]),
    "pgqrs_run_set_event": (c_status, [c_handle, ctypes.c_char_p, ctypes.c_char_p]),
    "pgqrs_event_get": (c_status, [_P(ctypes.c_void_p), c_handle, c_i64, ctypes.c_char_p, c_i64]),
    "pgqrs_event_list": (c_status, [_pp, c_handle, c_i64]),
    "pgqrs_events_count": (ctypes.c_size_t, [c_handle]),
    "pgqrs_events_at": (_P(EventInfoC), [c_handle, ctypes.c_size_t]),
    "pgqrs_events_free": (_VOID, [c_handle]),
    "pgqrs_run_start_child": (c_status, [_P(c_i64), c_handle, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]),
    "pgqrs_run_await_child": (c_status, [_P(ctypes.c_void_p), c_handle, ctypes.c_char_p, c_i64, c_i64]),
    # the runtime
    "pgqrs_runtime_options_init": (c_status, [_P(RuntimeOptionsC), ctypes.c_uint]),
    "pgqrs_runtime_new": (c_status, [_pp, c_handle, _P(RuntimeOptionsC)]),
    "pgqrs_runtime_add_queue": (c_status, [c_handle, ctypes.c_char_p, JOB_FN, ctypes.c_void_p]),
    "pgqrs_runtime_run": (c_status, [c_handle]),
    "pgqrs_runtime_stop": (_VOID, [c_handle]),
    "pgqrs_runtime_free": (_VOID, [c_handle]),
    "pgqrs_runtime_stats_init": (c_status, [_P(RuntimeStatsC), ctypes.c_uint]),
    "pgqrs_runtime_stats_get": (c_status, [_P(RuntimeStatsC), c_handle]),
    "pgqrs_job_id": (c_i64, [c_handle]),
    "pgqrs_job_queue": (ctypes.c_char_p, [c_handle]),
    "pgqrs_job_payload": (ctypes.c_char_p, [c_handle]),
    "pgqrs_job_attempt": (c_i32, [c_handle]),
    "pgqrs_job_max_attempts": (c_i32, [c_handle]),
    "pgqrs_job_message": (_P(MessageC), [c_handle]),
    "pgqrs_job_set_result": (c_status, [c_handle, ctypes.c_char_p]),
    "pgqrs_job_set_retry_delay": (c_status, [c_handle, c_i64]),
    "pgqrs_runtime_scheduler": (c_handle, [c_handle]),
    # schedules, the scheduler, retention (schedule.py)
    "pgqrs_schedule_options_init": (c_status, [_P(ScheduleOptionsC), ctypes.c_uint]),
    "pgqrs_schedule_create": (c_status, [_P(_P(ScheduleInfoC)), c_handle, ctypes.c_char_p, _P(ScheduleOptionsC)]),
    "pgqrs_schedule_get": (c_status, [_P(_P(ScheduleInfoC)), c_handle, ctypes.c_char_p]),
    "pgqrs_schedule_info_free": (_VOID, [_P(ScheduleInfoC)]),
    "pgqrs_schedule_list": (c_status, [_pp, c_handle]),
    "pgqrs_schedules_count": (ctypes.c_size_t, [c_handle]),
    "pgqrs_schedules_at": (_P(ScheduleInfoC), [c_handle, ctypes.c_size_t]),
    "pgqrs_schedules_free": (_VOID, [c_handle]),
    "pgqrs_schedule_pause": (c_status, [c_handle, ctypes.c_char_p]),
    "pgqrs_schedule_resume": (c_status, [c_handle, ctypes.c_char_p]),
    "pgqrs_schedule_delete": (c_status, [c_handle, ctypes.c_char_p]),
    "pgqrs_cron_next": (c_status, [_P(c_i64), _P(ctypes.c_size_t), ctypes.c_char_p, ctypes.c_char_p, c_i64,
                                   ctypes.c_size_t]),
    "pgqrs_retention_policy_init": (c_status, [_P(RetentionPolicyC), ctypes.c_uint]),
    "pgqrs_retention_options_init": (c_status, [_P(RetentionOptionsC), ctypes.c_uint]),
    "pgqrs_retention_report_init": (c_status, [_P(RetentionReportC), ctypes.c_uint]),
    "pgqrs_retention_set": (c_status, [c_handle, ctypes.c_char_p, _P(RetentionPolicyC)]),
    "pgqrs_retention_get": (c_status, [_P(RetentionPolicyC), c_handle, ctypes.c_char_p, ctypes.c_int]),
    "pgqrs_retention_run": (c_status, [_P(RetentionReportC), c_handle, _P(RetentionOptionsC)]),
    "pgqrs_scheduler_options_init": (c_status, [_P(SchedulerOptionsC), ctypes.c_uint]),
    "pgqrs_scheduler_stats_init": (c_status, [_P(SchedulerStatsC), ctypes.c_uint]),
    "pgqrs_scheduler_new": (c_status, [_pp, c_handle, _P(SchedulerOptionsC)]),
    "pgqrs_scheduler_run_once": (c_status, [_P(c_i64), c_handle, c_i64]),
    "pgqrs_scheduler_run": (c_status, [c_handle]),
    "pgqrs_scheduler_stop": (_VOID, [c_handle]),
    "pgqrs_scheduler_free": (_VOID, [c_handle]),
    "pgqrs_scheduler_stats_get": (c_status, [_P(SchedulerStatsC), c_handle]),
}


def _candidates():
    """(description, path or name) pairs, in search order."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return [(LIBRARY_ENV, env)]
    out = []
    local = os.path.join(_HERE, _SONAME)
    if os.path.exists(local):
        out.append(("next to the package", local))
    found = ctypes.util.find_library("pgqrs")
    if found:
        out.append(("ctypes.util.find_library", found))
    return out


def _declare(cdll):
    for name, (restype, argtypes) in _SIGNATURES.items():
        try:
            fn = getattr(cdll, name)
        except AttributeError:
            raise LibraryNotFound("%s does not export %s (too old a libpgqrs?)" % (cdll._name, name)) from None
        fn.restype = restype
        fn.argtypes = argtypes


def _check_version(cdll):
    have = cdll.pgqrs_version_number()
    want = BINDING_VERSION_NUMBER
    # Same major; within 0.x the same minor too. A newer patch (or, from 1.0, a
    # newer minor: the API is only appended to) is accepted.
    same_line = have // 1000000 == want // 1000000 and (want >= 1000000 or have // 1000 == want // 1000)
    if not same_line or have < want:
        raise LibraryNotFound(
            "%s is libpgqrs %s (version number %d); this binding needs %s-compatible (%d)"
            % (cdll._name, cdll.pgqrs_version().decode(), have, BINDING_VERSION, want))


_lock = threading.Lock()
_cdll = None


def load():
    """The loaded, declared and version-checked library (loaded once)."""
    global _cdll
    if _cdll is not None:
        return _cdll
    with _lock:
        if _cdll is not None:
            return _cdll
        tried = []
        for how, path in _candidates():
            try:
                cdll = ctypes.CDLL(path)
            except OSError as e:
                tried.append("%s (%s): %s" % (path, how, e))
                continue
            _declare(cdll)
            _check_version(cdll)
            _cdll = cdll
            return cdll
        if not tried:
            tried.append("no %s set, no %s in %s, ctypes.util.find_library('pgqrs') found nothing"
                         % (LIBRARY_ENV, _SONAME, _HERE))
        raise LibraryNotFound("libpgqrs could not be loaded: " + "; ".join(tried)
                              + " (run `make python`, or set PGQRS_LIBRARY=/path/to/libpgqrs.so)")


def library_path():
    """The file the library was loaded from."""
    return load()._name
