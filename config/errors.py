"""The platform's two kinds of failure, and how vendor exceptions map onto them.

Domain code raises `TransientError` (try again later) or `PermanentError` (trying again
cannot help) and knows nothing of Celery. The base task (tasks/base.py) retries the first
with backoff and fails the second at once. Vendor exceptions that escape domain code are
classified here, so the policy has one home.
"""

from __future__ import annotations

import smtplib

import httpx
import psycopg
import redis.exceptions
import sqlalchemy.exc


class TransientError(Exception):
    """Worth retrying: a timeout, a dropped connection, a 429 or 5xx.

    `retry_after` (seconds), when the other side said how long to wait, replaces the
    computed backoff for that attempt.
    """

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Retrying cannot help: invalid input, a 4xx other than 429, an unknown record."""


# Connection errors and timeouts from the clients we use. Builtin ConnectionError and
# TimeoutError cover sockets and smtplib's connection failures.
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    TransientError,
    ConnectionError,
    TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    psycopg.OperationalError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.TimeoutError,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)

# Exceptions whose kind depends on a status code: the base task retries them only when
# `is_transient` says so.
STATUS_EXCEPTIONS: tuple[type[BaseException], ...] = (
    httpx.HTTPStatusError,
    smtplib.SMTPResponseException,
)


def is_transient_http_status(status: int) -> bool:
    """429 and 5xx are the other side's trouble, worth a retry; other 4xx are ours."""
    return status == 429 or status >= 500


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is worth another attempt."""
    if isinstance(exc, PermanentError):
        return False
    if isinstance(exc, httpx.HTTPStatusError):
        return is_transient_http_status(exc.response.status_code)
    if isinstance(exc, smtplib.SMTPConnectError):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, TRANSIENT_EXCEPTIONS)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the other side asked us to wait, if it said (TransientError or Retry-After)."""
    if isinstance(exc, TransientError):
        return exc.retry_after
    if isinstance(exc, httpx.HTTPStatusError):
        return parse_retry_after(exc.response.headers.get("Retry-After"))
    return None


def parse_retry_after(value: str | None) -> float | None:
    """The delta-seconds form of Retry-After; an HTTP date or garbage counts as not given."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
