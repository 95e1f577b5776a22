"""The shared base task: retry policy, producer guards and job redaction, in one place.

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

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery import Task
from celery.utils.log import get_task_logger
from kombu.serialization import dumps

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
from config.redaction import redact
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

#: What Flower and worker logs show of arguments: redacted and short.
ARGS_REPR_LIMIT = 512


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


class PayloadError(ValueError):
    """The producer refused a job: arguments not JSON-serialisable, too large, or a delay
    longer than the platform can hold. Nothing reached the broker."""


class BrokerUnavailableError(kombu.exceptions.OperationalError):
    """The broker did not take the job within the publish timeouts. Nothing was queued."""


class PlatformTask(Task):
    """Base of every task: owns the retry policy and guards every publish."""

    retry_preset = "default"

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

    def apply_async(  # noqa: PLR0913 - Celery's signature
        self,
        args: Any = None,
        kwargs: Any = None,
        task_id: str | None = None,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        shadow: str | None = None,
        **options: Any,
    ) -> Any:
        """Publish, after refusing what must not reach Redis.

        Signal handlers cannot refuse a message (Celery swallows their exceptions), so the
        guard lives here: every `.delay()`, `.apply_async()` and retry passes through it.
        """
        check_payload(self.name, args, kwargs)
        check_delay(self.name, options)
        # When it was queued: the queue-health snapshot reports the oldest waiting message.
        headers = {**(options.get("headers") or {}), "enqueued_at": time.time()}
        if correlation.current() and correlation.HEADER not in headers:
            headers[correlation.HEADER] = correlation.current()
        options["headers"] = headers
        options.setdefault("argsrepr", short_repr(args or ()))
        options.setdefault("kwargsrepr", short_repr(kwargs or {}))
        try:
            return super().apply_async(
                args, kwargs, task_id, producer, link, link_error, shadow, **options
            )
        except UNREACHABLE_ERRORS as exc:
            if isinstance(exc, RuntimeError) and not _is_result_store_give_up(exc):
                raise
            raise BrokerUnavailableError(
                f"could not queue {self.name}: Redis unreachable ({_reason(exc)})"
            ) from exc


# What a publish raises when Redis is down: kombu wraps broker errors; the Redis result
# backend, which subscribes to the result channel before publishing, gives up with a
# RuntimeError once its (bounded) retry policy is spent.
UNREACHABLE_ERRORS = (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    RuntimeError,
)


def _is_result_store_give_up(exc: RuntimeError) -> bool:
    return "reconnect to the Celery result store" in str(exc)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RuntimeError):
        return "the result store did not answer"
    return str(exc).strip() or type(exc).__name__


def check_payload(task_name: str, args: Any, kwargs: Any) -> None:
    """Refuse arguments that are not JSON or exceed the cap, before anything is sent."""
    try:
        _content_type, _encoding, body = dumps([args or (), kwargs or {}], serializer="json")
    except (kombu.exceptions.EncodeError, TypeError, ValueError) as exc:
        raise PayloadError(f"{task_name}: arguments are not JSON-serialisable: {exc}") from None
    size = len(body.encode() if isinstance(body, str) else body)
    if size > settings.task_max_payload_bytes:
        raise PayloadError(
            f"{task_name}: arguments are {size} bytes, over the cap of"
            f" {settings.task_max_payload_bytes} (TASK_MAX_PAYLOAD_BYTES); pass ids, not data"
        )


def check_delay(task_name: str, options: dict[str, Any]) -> None:
    """Refuse a countdown or ETA beyond MAX_COUNTDOWN (30 days by default).

    A delayed job waits in its worker's memory, held in flight and never redelivered while
    that worker lives; the cap only catches a unit mistake (milliseconds for seconds).
    """
    delay: float | None = options.get("countdown")
    eta = options.get("eta")
    if eta is not None:
        eta_time = datetime.fromisoformat(eta) if isinstance(eta, str) else eta
        if eta_time.tzinfo is None:
            eta_time = eta_time.replace(tzinfo=UTC)
        delay = (eta_time - datetime.now(UTC)).total_seconds()
    if delay is not None and delay > settings.max_countdown:
        raise PayloadError(
            f"{task_name}: a delay of {delay:.0f} s exceeds MAX_COUNTDOWN"
            f" ({settings.max_countdown} s); schedule it with beat instead"
        )


def short_repr(value: Any) -> str:
    """Redacted and truncated: what logs and Flower may show of a job's arguments."""
    text = repr(redact(value))
    return text if len(text) <= ARGS_REPR_LIMIT else text[: ARGS_REPR_LIMIT - 3] + "..."
