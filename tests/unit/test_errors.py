"""Which failures are worth a retry: the classification the base task applies."""

import smtplib

import httpx
import psycopg
import pytest
import redis

from config.errors import (
    PermanentError,
    TransientError,
    is_transient,
    parse_retry_after,
    retry_after,
)


def http_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://example.invalid/")
    response = httpx.Response(status, request=request, headers=headers or {})
    return httpx.HTTPStatusError("status", request=request, response=response)


@pytest.mark.parametrize(
    "exc",
    [
        TransientError("later"),
        ConnectionRefusedError(),
        TimeoutError(),
        redis.exceptions.ConnectionError(),
        redis.exceptions.TimeoutError(),
        psycopg.OperationalError("server closed the connection"),
        smtplib.SMTPServerDisconnected(),
        smtplib.SMTPConnectError(421, b"busy"),
        smtplib.SMTPResponseException(451, b"try again"),
        httpx.ConnectTimeout("slow"),
        httpx.ConnectError("refused"),
        http_error(429),
        http_error(500),
        http_error(503),
    ],
)
def test_transient_failures(exc):
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        PermanentError("bad"),
        ValueError("bad"),
        KeyError("x"),
        http_error(400),
        http_error(404),
        http_error(422),
        smtplib.SMTPResponseException(550, b"no such user"),
        smtplib.SMTPRecipientsRefused({}),
    ],
)
def test_permanent_failures(exc):
    assert not is_transient(exc)


def test_retry_after_comes_from_the_error_or_the_http_header():
    assert retry_after(TransientError("x", retry_after=7)) == 7
    assert retry_after(http_error(429, {"Retry-After": "12"})) == 12
    assert retry_after(http_error(503)) is None
    assert retry_after(ConnectionError()) is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("-1", None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),
        (None, None),
    ],
)
def test_parse_retry_after(header, seconds):
    assert parse_retry_after(header) == seconds
