"""The one failure policy: after an attempt raised, retry in N seconds or fail with a reason.

`decide(exception, retries, max_retries)` is a pure function over plain values: no Celery,
no I/O (randomness is a parameter), unit-tested as a table (tests/unit/test_failure_policy.py).
The base task applies it to every attempt (tasks/base.py) and leaves a final decision on the
attempt's request; dead-letter capture records that decision (`attached`) and never guesses
it again. Domain code raises `TransientError` / `PermanentError` (config/errors.py) or lets
a client library's exception escape: the library exceptions are classified here, and only here.

Transient (worth another attempt): `TransientError`; connection errors and timeouts from
sockets, redis, Postgres (psycopg, SQLAlchemy), SMTP and httpx; HTTP 429 and 5xx; SMTP 4xx
replies and recipients refused for now. Permanent: `PermanentError`, HTTP 4xx, SMTP 5xx, a
feature the SMTP server lacks (SMTPUTF8), a Postgres program limit ("statement too
complex"), and anything unrecognised.
"""

from __future__ import annotations

import random
import smtplib
import socket
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psycopg
import redis.exceptions
import sqlalchemy.exc

from config.errors import InvalidInput, PermanentError, TransientError
from config.settings import settings


@dataclass(frozen=True)
class Retry:
    """Try again in `countdown` seconds."""

    countdown: float


@dataclass(frozen=True)
class Fail:
    """Give up: a dead letter with this reason (deadletters/letters.py REASONS)."""

    reason: str


Decision = Retry | Fail

#: The reason for refused user input (`InvalidInput`): its own, so that it never pages.
INVALID_INPUT = "invalid_input"


@dataclass(frozen=True)
class Kind:
    """What an exception says about the next attempt."""

    transient: bool
    retry_after: float | None = None


# Connection errors and timeouts from the clients we use. Builtin ConnectionError and
# TimeoutError cover sockets and smtplib's connection failures; gaierror a DNS hiccup.
_TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
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
#: SQLSTATE class 54, "program limit exceeded" (statement too complex, too many columns):
#: an OperationalError that the same statement will hit again.
_PROGRAM_LIMIT = "54"


def classify(exc: BaseException) -> Kind:
    """Whether `exc` is worth another attempt, and after how long the other side asked."""
    if isinstance(exc, PermanentError):
        return Kind(False)
    if isinstance(exc, TransientError):
        return Kind(True, exc.retry_after)
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        retry_after = parse_retry_after(exc.response.headers.get("Retry-After"))
        return Kind(status == 429 or status >= 500, retry_after)
    smtp = _smtp_kind(exc)
    if smtp is not None:
        return smtp
    if _sqlstate(exc).startswith(_PROGRAM_LIMIT):
        return Kind(False)
    return Kind(isinstance(exc, _TRANSIENT))


def _smtp_kind(exc: BaseException) -> Kind | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return Kind(bool(codes) and not all(code >= 500 for code in codes))
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
        return Kind(True)
    if isinstance(exc, smtplib.SMTPResponseException):
        return Kind(400 <= exc.smtp_code < 500)
    if isinstance(exc, smtplib.SMTPException):
        # SMTPNotSupportedError (no SMTPUTF8 for a non-ASCII address) and the like: the
        # same server refuses the same mail again. (smtplib's errors are OSErrors.)
        return Kind(False)
    return None


def _sqlstate(exc: BaseException) -> str:
    original = getattr(exc, "orig", exc)  # SQLAlchemy wraps the driver's error
    return getattr(original, "sqlstate", None) or ""


def parse_retry_after(value: str | None) -> float | None:
    """The delta-seconds form of Retry-After; an HTTP date or garbage counts as not given."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def backoff(retries: int, factor: int, cap: int, draw: Callable[[int], int]) -> int:
    """Exponential backoff with full jitter: a whole number of seconds in
    [0, min(cap, factor * 2**retries)], so a burst of failures does not retry in lockstep."""
    return draw(min(cap, factor * 2**retries) + 1)


def decide(
    exc: BaseException,
    retries: int,
    max_retries: int,
    *,
    factor: int | None = None,
    cap: int | None = None,
    max_countdown: int | None = None,
    draw: Callable[[int], int] = random.randrange,
) -> Decision:
    """After attempt `retries + 1` raised `exc`: retry when it is transient and retries are
    left (after the other side's Retry-After when it gave one, capped at MAX_COUNTDOWN),
    else fail with the reason a dead letter records."""
    event = reason_for_event(exc)
    if event is not None:
        return Fail(event)
    if isinstance(exc, InvalidInput):
        return Fail(INVALID_INPUT)
    kind = classify(exc)
    if not kind.transient:
        return Fail("permanent")
    if retries >= max_retries:
        return Fail("exhausted")
    if kind.retry_after is not None:
        limit = settings.max_countdown if max_countdown is None else max_countdown
        return Retry(min(kind.retry_after, limit))
    factor = settings.retry_backoff if factor is None else factor
    cap = settings.retry_backoff_max if cap is None else cap
    return Retry(backoff(retries, factor, cap, draw))


def reason_for_event(exc: BaseException) -> str | None:
    """The reason when the failure is an event rather than an error of the job: a time
    limit, a lost worker, a rejected message. Matched by name: this module imports no
    Celery (billiard's WorkerLostError, Celery's time limits and Reject)."""
    for kind in type(exc).__mro__:
        reason = _EVENTS.get(kind.__name__)
        if reason is not None:
            return reason
    return None


_EVENTS = {
    "SoftTimeLimitExceeded": "time_limit",
    "TimeLimitExceeded": "time_limit",
    "WorkerLostError": "worker_lost",
    "DeliveryBoundExceeded": "worker_lost",
    "Reject": "rejected",
}


def reason_for(exc: BaseException) -> str:
    """The reason for a failure the base task did not decide on (its worker's main process
    recorded it: a hard time limit, a lost worker; or a task outside the platform)."""
    if isinstance(exc, InvalidInput):
        return reason_for_event(exc) or INVALID_INPUT
    return reason_for_event(exc) or ("exhausted" if classify(exc).transient else "permanent")


#: Where the base task leaves its decision: on the attempt's own request, which Celery's
#: failure signal still holds when dead-letter capture runs, and drops with the attempt.
REQUEST_ATTRIBUTE = "failure_decision"


def attach(request: object, decision: Fail) -> None:
    setattr(request, REQUEST_ATTRIBUTE, decision)


def attached(request: object, task_id: str) -> Fail | None:
    """The decision the attempt of `task_id` was given, if `request` is that attempt's."""
    if request is None or getattr(request, "id", None) != task_id:
        return None
    return getattr(request, REQUEST_ATTRIBUTE, None)
