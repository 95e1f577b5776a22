"""The shared base task: the retry policy, in one place.

Every task of the app is a `PlatformTask` (the app sets `task_cls`). Domain code raises
`TransientError` or `PermanentError`; this class decides what happens next:

* transient (connection errors and timeouts from redis, psycopg, smtplib, httpx; HTTP 429
  and 5xx; SMTP 4xx) retries with exponential backoff and full jitter, up to the preset's
  `max_retries`, then fails with the original exception;
* permanent (anything else, HTTP 4xx, SMTP 5xx) fails at once;
* a `retry_after` carried by the exception (or an HTTP Retry-After) replaces the computed
  backoff for that attempt.

A task that needs another policy names a preset (`@app.task(name=..., retry_preset="patient")`);
setting the retry options themselves on a task is refused, so the numbers live here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Task
from celery.utils.log import get_task_logger

from config import correlation
from config.correlation import correlation_id
from config.errors import (
    STATUS_EXCEPTIONS,
    TRANSIENT_EXCEPTIONS,
    PermanentError,
    TransientError,
    is_transient,
    retry_after,
)
from config.publish import BrokerUnavailableError, PayloadError
from config.settings import settings

__all__ = [
    "PRESETS",
    "BrokerUnavailableError",
    "PayloadError",
    "PermanentError",
    "PlatformTask",
    "RetryPreset",
    "TransientError",
    "correlation_id",
]

logger = get_task_logger(__name__)


@dataclass(frozen=True)
class RetryPreset:
    """How many times a task retries; backoff shape and cap come from the settings."""

    max_retries: int
    why: str


PRESETS: dict[str, RetryPreset] = {
    "default": RetryPreset(
        settings.retry_max_retries, "most work: a few attempts over a few minutes"
    ),
    "patient": RetryPreset(
        settings.retry_max_retries * 3, "side effects that must happen: mail, CRM pushes"
    ),
    "no_retry": RetryPreset(0, "work whose moment has passed if the first attempt fails"),
}

#: Options this class owns; a task names a preset instead of setting them.
OWNED_OPTIONS = (
    "autoretry_for",
    "dont_autoretry_for",
    "retry_kwargs",
    "retry_backoff",
    "retry_backoff_max",
    "retry_jitter",
    "max_retries",
    "default_retry_delay",
)


class PlatformTask(Task):
    """Base of every task: owns the retry policy. Every publish is guarded by the app
    (config/publish.py), whichever way it is made."""

    retry_preset = "default"
    # What `inspect active/reserved/scheduled` and Flower show of a job: redacted reprs.
    Request = "config.task_events:RedactedRequest"

    autoretry_for = TRANSIENT_EXCEPTIONS + STATUS_EXCEPTIONS
    dont_autoretry_for = (PermanentError,)
    retry_backoff = settings.retry_backoff
    retry_backoff_max = settings.retry_backoff_max
    retry_jitter = True  # full jitter: a burst of failures does not retry in lockstep
    max_retries = PRESETS["default"].max_retries

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if not name or name.startswith("celery."):
            return  # abstract bases and Celery's own tasks keep their options
        overridden = [option for option in OWNED_OPTIONS if option in cls.__dict__]
        if overridden:
            raise TypeError(
                f"task {name}: {', '.join(overridden)} belong to tasks/base.py;"
                f" name a retry_preset ({', '.join(PRESETS)}) instead"
            )
        if cls.retry_preset not in PRESETS:
            raise TypeError(
                f"task {name}: unknown retry_preset {cls.retry_preset!r};"
                f" choose one of {', '.join(PRESETS)}"
            )
        cls.max_retries = PRESETS[cls.retry_preset].max_retries

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run one delivery with the job's correlation id set for its log lines."""
        request = self.request
        if request.id is None or request.is_eager:
            return super().__call__(*args, **kwargs)  # called as a plain function
        token = correlation.set_current((request.headers or {}).get(correlation.HEADER))
        try:
            return super().__call__(*args, **kwargs)
        finally:
            correlation.reset(token)

    def retry(  # noqa: PLR0913 - Celery's signature
        self,
        args: Any = None,
        kwargs: Any = None,
        exc: BaseException | None = None,
        throw: bool = True,
        eta: datetime | None = None,
        countdown: float | None = None,
        max_retries: int | None = None,
        **options: Any,
    ) -> Any:
        """Celery's autoretry lands here with the computed backoff; we refine the decision.

        A status-coded error that turns out permanent (HTTP 404, SMTP 550) is re-raised so
        the task fails at once; a `retry_after` replaces the backoff, capped at MAX_COUNTDOWN.
        """
        if exc is not None and not is_transient(exc):
            raise exc
        wait = retry_after(exc) if exc is not None else None
        if wait is not None:
            countdown, eta = min(wait, settings.max_countdown), None
        return super().retry(args, kwargs, exc, throw, eta, countdown, max_retries, **options)
