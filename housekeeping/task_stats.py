"""Per-task counters for the queue-health snapshot: jobs done, failed, and their runtime.

Workers count as jobs finish (task_prerun/task_postrun, so retries are not counted as
failures) and add their counts to one Redis hash at most once per FLUSH_SECONDS, from a
thread of each worker process, and when the process stops; the snapshot job takes the
hash atomically and stores it in Postgres. Writing per job cost a round trip per job
(a tenth of a solo worker's throughput); this way a busy worker writes once a second. A
worker killed outright loses at most its last second of counts: they are statistics, not
jobs. Loaded by every worker (the app's `imports`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_process_shutdown, worker_shutdown

from config import redis_client

logger = logging.getLogger(__name__)

STATS_KEY = "taskplatform:task-stats"
FLUSH_SECONDS = 1.0

_started: dict[str, float] = {}
_counts: Counter[str] = Counter()
_lock = threading.Lock()
_flusher_pid: int | None = None


def field(task_name: str, metric: str) -> str:
    return f"{task_name}\t{metric}"


def record(task_name: str, succeeded: bool, runtime_ms: int | None) -> None:
    """Count one finished job; the flusher thread writes the counts out."""
    with _lock:
        _counts[field(task_name, "done" if succeeded else "failed")] += 1
        if runtime_ms is not None:
            _counts[field(task_name, "runtime_ms")] += runtime_ms
    _ensure_flusher()


def flush() -> None:
    """Add what this process counted to the shared hash; kept for the next try on failure."""
    with _lock:
        taken = dict(_counts)
        _counts.clear()
    if not taken:
        return
    try:
        pipe = redis_client.client().pipeline(transaction=False)
        for key, amount in taken.items():
            pipe.hincrby(STATS_KEY, key, amount)
        pipe.execute()
    except Exception as exc:  # statistics must never fail a job or a worker
        logger.warning("task statistics not recorded yet (%s): kept for the next flush", exc)
        with _lock:
            _counts.update(taken)


def _ensure_flusher() -> None:
    """One flusher thread per process, started in the process that counts (a prefork
    child gets its own: threads do not survive a fork)."""
    global _flusher_pid
    if _flusher_pid == os.getpid():
        return
    with _lock:
        if _flusher_pid == os.getpid():
            return
        _flusher_pid = os.getpid()
    threading.Thread(target=_flush_forever, name="task-stats", daemon=True).start()


def _forget_after_fork() -> None:
    """A forked child starts with no counts (its parent flushes its own) and no flusher."""
    global _lock, _flusher_pid
    _lock = threading.Lock()
    _counts.clear()
    _started.clear()
    _flusher_pid = None


os.register_at_fork(after_in_child=_forget_after_fork)


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        flush()


@task_prerun.connect
def _start(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.monotonic()


@task_postrun.connect
def _finish(task_id: str | None = None, task: Any = None, state: str | None = None,
            **_: Any) -> None:  # fmt: skip
    began = _started.pop(task_id, None)
    if task is None or state not in ("SUCCESS", "FAILURE"):
        return
    runtime_ms = None if began is None else int((time.monotonic() - began) * 1000)
    record(task.name, state == "SUCCESS", runtime_ms)


@worker_process_shutdown.connect
@worker_shutdown.connect
def _flush_on_exit(**_: Any) -> None:
    flush()
