"""Workers mark the outbox's jobs finished, for the relay to close their rows.

A job the outbox queued carries `wire.OUTBOX_HEADER`. When it succeeds, fails for good (a
dead letter, also after a hard time limit), is revoked or expires, or is refused as unknown
or rejected, its worker sets `wire.OUTBOX_DONE_PREFIX + id` in Redis for OUTBOX_MARK_DAYS;
the relay (taskplatform/outbox/relay.py) reads the marks of published rows and closes them.
A retry is not finished. A mark that cannot be written leaves the row open, which costs
nothing until the broker loses data: the relay then publishes it again, and the job's
once-only effects (tasks/once.py) keep its writes single.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import task_failure, task_postrun, task_rejected, task_revoked, task_unknown

from broker import keys
from config import redis_client
from taskplatform.wire import OUTBOX_HEADER

logger = logging.getLogger(__name__)

#: Long enough for any relay to read the mark (it looks every second while it runs).
MARK_SECONDS = 7 * 24 * 3600
FINISHED = ("SUCCESS", "FAILURE")


def mark_finished(job_id: str) -> None:
    try:
        redis_client.client().set(keys.OUTBOX_DONE_PREFIX + job_id, "1", ex=MARK_SECONDS)
    except Exception as exc:
        logger.warning("could not mark outbox job %s finished (%s)", job_id, exc)


@task_postrun.connect
def _finished(task_id: str | None = None, task: Any = None, state: str | None = None,
              **_: Any) -> None:  # fmt: skip
    if task_id is None or task is None or state not in FINISHED:
        return
    if (getattr(task.request, "headers", None) or {}).get(OUTBOX_HEADER):
        mark_finished(task_id)


@task_failure.connect
def _failed(task_id: str | None = None, **_: Any) -> None:
    """A failure for good is a dead letter: finished. Marked whoever queued the job (a
    hard time limit's failure is sent by the worker's main process, which does not have the
    job's headers); failures are few, and a mark nobody reads expires."""
    if task_id:
        mark_finished(task_id)


@task_revoked.connect
def _revoked(request: Any = None, **_: Any) -> None:
    """Revoked or expired (`publish(..., expires=...)`): it will not run, so it is finished."""
    job_id = getattr(request, "id", None)
    if job_id:
        mark_finished(job_id)


@task_unknown.connect
@task_rejected.connect
def _refused(id: str | None = None, message: Any = None, **_: Any) -> None:
    """No worker knows the task, or the worker refused the message: a dead letter too."""
    headers = getattr(message, "headers", None) or {}
    job_id = id or headers.get("id")
    if job_id and headers.get(OUTBOX_HEADER):
        mark_finished(job_id)
