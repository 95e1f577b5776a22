"""The platform's side of the publish guard (taskplatform/guard.py, the client's, which
every publish crosses): the limits from the platform's settings, and the error its callers
catch.

`PlatformCelery.send_task` (config/celery_app.py) calls `prepare` for every publish made in
the platform's processes, so tasks calling tasks, beat, retries and replays pass exactly
the checks a web app's client does.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import kombu.exceptions

from config.settings import settings
from taskplatform import errors, guard
from taskplatform.errors import QueueFullError
from taskplatform.settings import ClientSettings, parse_depths


class BrokerUnavailableError(errors.BrokerUnavailableError, kombu.exceptions.OperationalError):
    """The client's error, and a kombu `OperationalError` as Celery's callers expect: the
    broker did not confirm the job within the publish timeouts. A connection that was
    refused queued nothing; one that timed out may have queued it: publish again with the
    same `job_key` to be safe."""


@cache
def limits() -> ClientSettings:
    """The guard's limits, from the platform's settings (frozen, so read once)."""
    return ClientSettings(
        queue_max_depth=parse_depths(settings.queue_max_depth),
        max_payload_bytes=settings.task_max_payload_bytes,
        max_depth=settings.task_max_depth,
        max_countdown=settings.max_countdown,
        job_key_window=settings.job_key_window,
    )


def prepare(*call: Any) -> str | None:
    """`guard.prepare(name, args, kwargs, countdown, eta, task_id, options)` with the
    platform's limits; the task id to use (PayloadError if refused)."""
    return guard.prepare(*call, limits())


def refuse_when_full(name: str, options: dict[str, Any], client_factory: Any) -> None:
    """QueueFullError when the job's queue holds QUEUE_MAX_DEPTH jobs, for a publish made
    outside a running job (a web request, beat, `celery call`): retries, deferrals and jobs
    a job queues are work already taken on, and go through. The depth is read, then the job
    sent: publishers racing at the bound may pass it by one each (the client's check, one
    script, is exact)."""
    from celery import current_task

    from config.queues import queue_for

    bounds = limits().queue_max_depth
    if not bounds or (current_task and current_task.request.id):
        return
    try:
        queue = options.get("queue") or queue_for(name)
    except LookupError:
        return  # unroutable: the router refuses it with its own error
    queue = getattr(queue, "name", queue)
    bound = bounds.get(queue)
    if bound and client_factory().llen(queue) >= bound:
        raise QueueFullError(
            f"nothing was queued: {queue} holds {bound} jobs or more (QUEUE_MAX_DEPTH)"
        )
