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
from taskplatform.settings import ClientSettings


class BrokerUnavailableError(errors.BrokerUnavailableError, kombu.exceptions.OperationalError):
    """The client's error, and a kombu `OperationalError` as Celery's callers expect: the
    broker did not confirm the job within the publish timeouts. A connection that was
    refused queued nothing; one that timed out may have queued it: publish again with the
    same `job_key` to be safe."""


@cache
def limits() -> ClientSettings:
    """The guard's limits, from the platform's settings (frozen, so read once)."""
    return ClientSettings(
        max_payload_bytes=settings.task_max_payload_bytes,
        max_depth=settings.task_max_depth,
        max_countdown=settings.max_countdown,
        job_key_window=settings.job_key_window,
    )


def prepare(*call: Any) -> str | None:
    """`guard.prepare(name, args, kwargs, countdown, eta, task_id, options)` with the
    platform's limits; the task id to use (PayloadError if refused)."""
    return guard.prepare(*call, limits())
