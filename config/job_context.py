"""Which job a log line is about: its task id, name, queue, attempt and correlation id.

The correlation id travels in a message header, so only code that holds the message knows
it; most lines about a job are written elsewhere: Celery's own `received` (in the worker's
main process, before the job runs), `succeeded`, `failed` and `Retry in` (in the pool
child), a worker-lost failure in the main process, the dead-letter lines. So each worker
process remembers the jobs it has seen (`remember`, when a message becomes a request and
when a job starts), and the log filter (config/logs.py) finds the job a record is about:

1. fields given with the record (`extra=job_context.extra(...)`);
2. the job running in this thread (Celery's current task);
3. the task id Celery puts in its own records (the `id` of their arguments);
4. a task id in brackets in the message (`name[id]`, Celery's and ours);

and completes them from what this process remembers of that id.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from typing import Any

from config.queues import queue_of_routing_key
from taskplatform import correlation

FIELDS = ("task_id", "task_name", "queue", "attempt", "correlation_id")

#: How many jobs a process remembers (the oldest are forgotten first): about 2 MB.
LIMIT = 10_000

TASK_ID_IN_TEXT = re.compile(r"\[([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\]")

_known: OrderedDict[str, dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


def remember(
    task_id: str | None,
    task_name: str | None,
    queue: str | None,
    attempt: int | None,
    correlation_id: str | None,
) -> None:
    """Note a job this process handles, for the log lines written about it later."""
    if not task_id:
        return
    fields = {"task_id": task_id, "task_name": task_name, "queue": queue,
              "attempt": attempt, "correlation_id": correlation_id}  # fmt: skip
    with _lock:
        _known[task_id] = fields
        _known.move_to_end(task_id)
        while len(_known) > LIMIT:
            _known.popitem(last=False)


def recall(task_id: str) -> dict[str, Any] | None:
    with _lock:
        return _known.get(task_id)


def extra(
    task_id: str | None = None,
    task_name: str | None = None,
    queue: str | None = None,
    attempt: int | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """`extra=` for a log call about a job that is not the running one."""
    given = {"task_id": task_id, "task_name": task_name, "queue": queue, "attempt": attempt,
             "correlation_id": correlation_id}  # fmt: skip
    return {name: value for name, value in given.items() if value is not None}


def from_headers(headers: dict[str, Any], queue: str | None) -> dict[str, Any]:
    """The fields a Celery message's headers give."""
    return extra(
        task_id=headers.get("id"),
        task_name=headers.get("task"),
        queue=queue,
        attempt=int(headers.get("retries") or 0) + 1,
        correlation_id=headers.get(correlation.HEADER),
    )


def of_record(record: logging.LogRecord) -> dict[str, Any]:
    """The job fields of a log record (empty when it is about no job)."""
    found = {name: getattr(record, name) for name in FIELDS if getattr(record, name, None)}
    running = _running()
    task_id = found.get("task_id") or running.get("task_id") or _id_of(record)
    if not task_id:
        return found
    base = running if running.get("task_id") == task_id else recall(task_id) or {}
    fields = {name: value for name, value in base.items() if value is not None}
    return {**fields, **found, "task_id": task_id}


def _running() -> dict[str, Any]:
    """The job running in this thread, from Celery's task stack."""
    from celery import current_task

    task = current_task
    request = getattr(task, "request", None) if task else None
    if request is None or not getattr(request, "id", None):
        return {}
    return {
        "task_id": request.id,
        "task_name": task.name,
        "queue": queue_of_routing_key((request.delivery_info or {}).get("routing_key")),
        "attempt": (request.retries or 0) + 1,
        "correlation_id": (request.headers or {}).get(correlation.HEADER) or correlation.current(),
    }


def _id_of(record: logging.LogRecord) -> str | None:
    args = record.args
    if isinstance(args, dict) and isinstance(args.get("id"), str):
        return args["id"]
    data = getattr(record, "data", None)
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return data["id"]
    try:
        message = record.getMessage()
    except Exception:
        return None
    match = TASK_ID_IN_TEXT.search(message)
    return match.group(1) if match else None
