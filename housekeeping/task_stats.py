"""Per-task counters for the queue-health snapshot: jobs done, failed, and their runtime.

Workers add to one Redis hash as jobs finish (task_prerun/task_postrun, so retries are not
counted as failures); the snapshot job takes the hash atomically and stores it in Postgres.
Loaded by every worker (the app's `imports`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.signals import task_postrun, task_prerun

from config import redis_client

logger = logging.getLogger(__name__)

STATS_KEY = "taskplatform:task-stats"
_started: dict[str, float] = {}


def field(task_name: str, metric: str) -> str:
    return f"{task_name}\t{metric}"


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
    try:
        pipe = redis_client.client().pipeline()
        pipe.hincrby(STATS_KEY, field(task.name, "done" if state == "SUCCESS" else "failed"), 1)
        if began is not None:
            runtime_ms = int((time.monotonic() - began) * 1000)
            pipe.hincrby(STATS_KEY, field(task.name, "runtime_ms"), runtime_ms)
        pipe.execute()
    except Exception as exc:  # statistics must never fail a job
        logger.warning("task statistics not recorded for %s: %s", task_id, exc)
