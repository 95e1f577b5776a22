"""Per-task counters: jobs done, failed and their runtime (for the queue-health snapshot),
and histograms of task runtime and queue wait time (for Prometheus).

Workers count as jobs finish (task_prerun/task_postrun, so retries are not counted as
failures) and add their counts to Redis at most once per FLUSH_SECONDS, from a thread of
each worker process, and when the process stops. The snapshot job takes the counters hash
atomically and stores it in Postgres; the histograms hash only grows (Prometheus counters),
and the exporter serves it (housekeeping/exporter.py). The wait is from `enqueued_at` (or
the job's ETA, when later) to the start of the attempt. Writing per job cost a round trip per job
(a tenth of a solo worker's throughput); this way a busy worker writes once a second. A
worker killed outright loses at most its last second of counts: they are statistics, not
jobs. Loaded by every worker (the app's `imports`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_process_shutdown, worker_shutdown

from broker import keys
from config import redis_client
from config.queues import queue_of_routing_key

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0

#: Histogram buckets (upper bounds, seconds), as Prometheus names them (`le`).
RUNTIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
HISTOGRAMS = {"runtime": RUNTIME_BUCKETS, "wait": WAIT_BUCKETS}

_started: dict[str, float] = {}
_counts: Counter[str] = Counter()
_observed: Counter[str] = Counter()
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


def observe(metric: str, queue: str, task_name: str, seconds: float) -> None:
    """Add one observation to a histogram (`runtime` or `wait`) of a queue and task."""
    bounds = HISTOGRAMS[metric]
    bucket = next((f"{b:g}" for b in bounds if seconds <= b), "+Inf")
    prefix = f"{metric}\t{queue}\t{task_name}\t"
    with _lock:
        _observed[prefix + bucket] += 1
        _observed[prefix + "count"] += 1
        _observed[prefix + "sum_us"] += max(0, int(seconds * 1_000_000))
    _ensure_flusher()


def histograms(client: Any) -> dict[tuple[str, str, str], dict[str, int]]:
    """What the workers observed: {(metric, queue, task): {bucket or count or sum_us: n}}."""
    found: dict[tuple[str, str, str], dict[str, int]] = {}
    for key, value in client.hgetall(keys.TASK_HISTOGRAMS).items():
        parts = (key.decode() if isinstance(key, bytes) else key).split("\t")
        if len(parts) == 4:
            found.setdefault((parts[0], parts[1], parts[2]), {})[parts[3]] = int(value)
    return found


def flush() -> None:
    """Add what this process counted to the shared hash; kept for the next try on failure."""
    with _lock:
        taken, seen = dict(_counts), dict(_observed)
        _counts.clear()
        _observed.clear()
    if not taken and not seen:
        return
    try:
        # One MULTI: a scrape never sees a bucket counted before its total
        pipe = redis_client.client().pipeline(transaction=True)
        for key, amount in taken.items():
            pipe.hincrby(keys.TASK_STATS, key, amount)
        for key, amount in seen.items():
            pipe.hincrby(keys.TASK_HISTOGRAMS, key, amount)
        pipe.execute()
    except Exception as exc:  # statistics must never fail a job or a worker
        logger.warning("task statistics not recorded yet (%s): kept for the next flush", exc)
        with _lock:
            _counts.update(taken)
            _observed.update(seen)


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
    _observed.clear()
    _started.clear()
    _flusher_pid = None


os.register_at_fork(after_in_child=_forget_after_fork)


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        flush()


@task_prerun.connect
def _start(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if not task_id:
        return
    _started[task_id] = time.monotonic()
    request = getattr(task, "request", None)
    if request is None:
        return
    waited = wait_seconds(request.headers or {}, request.eta, time.time())
    if waited is not None:
        observe("wait", _queue_of(request), task.name, waited)


def wait_seconds(headers: dict[str, Any], eta: Any, now: float) -> float | None:
    """Seconds from when the job was due (published, or its ETA) to now."""
    try:
        due = float(headers["enqueued_at"])
    except (KeyError, TypeError, ValueError):
        return None
    if eta:
        with contextlib.suppress(ValueError):
            due = max(due, datetime.fromisoformat(str(eta)).timestamp())
    return max(0.0, now - due)


def _queue_of(request: Any) -> str:
    return queue_of_routing_key((request.delivery_info or {}).get("routing_key")) or "(unknown)"


@task_postrun.connect
def _finish(task_id: str | None = None, task: Any = None, state: str | None = None,
            **_: Any) -> None:  # fmt: skip
    began = _started.pop(task_id, None)
    if task is None or state not in ("SUCCESS", "FAILURE", "RETRY"):
        return
    runtime = None if began is None else time.monotonic() - began
    if runtime is not None:
        observe("runtime", _queue_of(task.request), task.name, runtime)
    if state == "RETRY":
        return
    record(task.name, state == "SUCCESS", None if runtime is None else int(runtime * 1000))


@worker_process_shutdown.connect
@worker_shutdown.connect
def _flush_on_exit(**_: Any) -> None:
    flush()
