"""The one failure policy, as a table of plain values: no worker, no Redis, no Postgres."""

import smtplib

import httpx
import psycopg
import pytest
import redis
import sqlalchemy.exc

from config.errors import InvalidInput, PermanentError, TransientError
from config.failure_policy import Fail, Retry, backoff, classify, decide, parse_retry_after


def http_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://example.invalid/")
    response = httpx.Response(status, request=request, headers=headers or {})
    return httpx.HTTPStatusError("status", request=request, response=response)


class StatementTooComplex(psycopg.OperationalError):
    sqlstate = "54001"


class SoftTimeLimitExceeded(Exception):  # matched by name, as Celery's is
    pass


class WorkerLostError(Exception):
    pass


TRANSIENT = [
    TransientError("later"),
    ConnectionRefusedError(),
    TimeoutError(),
    redis.exceptions.ConnectionError(),
    redis.exceptions.TimeoutError(),
    psycopg.OperationalError("server closed the connection"),
    sqlalchemy.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("gone")),
    smtplib.SMTPServerDisconnected(),
    smtplib.SMTPConnectError(421, b"busy"),
    smtplib.SMTPResponseException(451, b"try again"),
    smtplib.SMTPRecipientsRefused({"a@example.com": (450, b"mailbox busy")}),
    httpx.ConnectTimeout("slow"),
    httpx.ConnectError("refused"),
    http_error(429),
    http_error(500),
    http_error(503),
]

PERMANENT = [
    PermanentError("bad"),
    ValueError("bad"),
    KeyError("x"),
    http_error(400),
    http_error(404),
    http_error(422),
    smtplib.SMTPResponseException(550, b"no such user"),
    smtplib.SMTPRecipientsRefused({}),
    smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")}),
    # an SMTP server without SMTPUTF8 refuses a non-ASCII address every time
    smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server"),
    # "statement too complex" (SQLSTATE 54001) is an OperationalError that never passes
    StatementTooComplex("stack depth limit exceeded"),
    sqlalchemy.exc.OperationalError("SELECT", {}, StatementTooComplex("too complex")),
]


@pytest.mark.parametrize("exc", TRANSIENT, ids=repr)
def test_transient_failures(exc):
    assert classify(exc).transient


@pytest.mark.parametrize("exc", PERMANENT, ids=repr)
def test_permanent_failures(exc):
    assert not classify(exc).transient


def never_random(limit: int) -> int:
    return limit - 1  # the top of the jitter range


@pytest.mark.parametrize(
    ("exc", "retries", "max_retries", "decision"),
    [
        (TimeoutError(), 0, 5, Retry(2)),  # factor 2 x 2**0, jitter at its top
        (TimeoutError(), 3, 5, Retry(16)),
        (TimeoutError(), 5, 5, Fail("exhausted")),
        (TimeoutError(), 0, 0, Fail("exhausted")),  # the no_retry preset
        (ValueError("bad"), 0, 5, Fail("permanent")),
        (InvalidInput("count is 10000"), 0, 5, Fail("invalid_input")),
        (http_error(404), 0, 5, Fail("permanent")),
        (http_error(429, {"Retry-After": "12"}), 0, 5, Retry(12)),
        (http_error(503, {"Retry-After": "999999999"}), 0, 5, Retry(2592000)),  # MAX_COUNTDOWN
        (TransientError("x", retry_after=7), 4, 5, Retry(7)),
        (TransientError("x", retry_after=7), 5, 5, Fail("exhausted")),
        (SoftTimeLimitExceeded(), 0, 5, Fail("time_limit")),
        (WorkerLostError(), 0, 5, Fail("worker_lost")),
    ],
    ids=repr,
)
def test_decide(exc, retries, max_retries, decision):
    assert decide(exc, retries, max_retries, factor=2, cap=300, draw=never_random) == decision


def test_backoff_is_jittered_below_the_cap():
    assert backoff(10, 2, 300, never_random) == 300
    assert backoff(10, 2, 300, lambda limit: 0) == 0
    draws = []
    backoff(2, 2, 300, lambda limit: draws.append(limit) or 0)
    assert draws == [9]  # [0, 8] inclusive


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("5", 5.0), (" 2.5 ", 2.5), ("-1", None), ("Wed, 21 Oct 2026 07:28:00 GMT", None),
     (None, None)],
)  # fmt: skip
def test_parse_retry_after(header, seconds):
    assert parse_retry_after(header) == seconds
