"""Correlation ids: one id follows a piece of work from the web request into its jobs, their
retries, replays and child jobs, and into every log line about them.

A web app wraps its `.delay()` calls: `with correlation_id(request_id): task.delay(...)`.
The base task puts the id in a message header; a worker running the job makes it current
again, so whatever the job queues (a retry, a child task) carries it on, and a replay keeps
the stored headers.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

HEADER = "x_correlation_id"

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(HEADER, default=None)


def current() -> str | None:
    return _current.get()


@contextmanager
def correlation_id(value: str | None) -> Iterator[str | None]:
    """Make `value` the correlation id of everything queued inside the block."""
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


def set_current(value: str | None) -> contextvars.Token:
    return _current.set(value)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)
