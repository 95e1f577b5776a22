"""Task messages as the platform's workers read them: Celery's task protocol 2 inside
kombu's Redis envelope, and the `task-sent` event Flower shows for a queued job.

Built here directly (no Celery in a web app), field for field as `app.send_task` builds
them (tests/integration/test_client.py compares the two byte for byte, apart from ids,
clocks and timestamps). Time limits are left to the worker (`[null, null]`): Celery's
Request then applies the task's own, which the worker's TASK_TIME_LIMIT and
TASK_SOFT_TIME_LIMIT set (the platform's messages carry the same numbers explicitly).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

#: Who sent it, as Celery names a producer that is not a worker.
ORIGIN = f"gen{os.getpid()}@{socket.gethostname()}"
#: One reply-to per process, as Celery's app has (no worker replies to it on Redis).
REPLY_TO = str(uuid.uuid4())
#: The events' Lamport clock (Flower orders events by it).
_clock = itertools.count(1)


def new_id() -> str:
    """A random (version 4) UUID as text, as `str(uuid.uuid4())` writes it, in half the
    time: a bulk publish takes three per job (its id and two delivery tags)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


#: A client's job carries no callbacks, chain or chord (canvas is the platform's own).
EMBEDDED_NONE = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
EVENT_EXCHANGE = "celeryev"
SENT_ROUTING_KEY = "task.sent"


def dumps_arguments(value: Any) -> str:
    """Arguments in kombu's JSON (dates, decimals and UUIDs as kombu marks them): the
    encoding the workers decode. One encoder, kept: kombu's `dumps` builds a new one per
    call, which costs more than encoding a small job's arguments."""
    global _arguments_encoder
    if _arguments_encoder is None:
        from kombu.utils.json import JSONEncoder  # at the first publish: imports stay light

        _arguments_encoder = JSONEncoder().encode
    return _arguments_encoder(value)


_arguments_encoder: Any = None


#: Envelopes and events hold plain JSON values only, for which the standard encoder writes
#: exactly what kombu's does (its subclass only adds types), at a fraction of the cost.
dumps = json.JSONEncoder().encode


def iso_after(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def when(value: Any) -> str | None:
    """An ETA or expiry as the message carries it: ISO 8601, naive times taken as UTC."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return iso_after(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def task_envelope(
    name: str,
    task_id: str,
    queue: str,
    args: Any,
    kwargs: Any,
    options: dict[str, Any],
    eta: str | None = None,
    expires: str | None = None,
    ignore_result: bool = False,
) -> tuple[str, dict[str, Any]]:
    """kombu's envelope of one task message, as text, and its headers; `options` as the
    guard completed them (headers, argsrepr, kwargsrepr)."""
    body = [list(args or ()), dict(kwargs or {}), EMBEDDED_NONE]
    headers = {
        "lang": "py",
        "task": name,
        "id": task_id,
        "shadow": None,
        "eta": eta,
        "expires": expires,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": task_id,
        "parent_id": None,
        "argsrepr": options["argsrepr"],
        "kwargsrepr": options["kwargsrepr"],
        "origin": ORIGIN,
        "ignore_result": ignore_result,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
        **options.get("headers", {}),
    }
    # The text is what dumps() writes for the envelope's dict (tests/unit/test_client_message.py
    # holds them equal), put together from its parts: encoding the fixed parts once per
    # process makes a bulk publish's messages several microseconds cheaper each.
    text = "".join(
        (
            '{"body": "',
            base64.b64encode(dumps_arguments(body).encode()).decode(),
            '", "content-encoding": "utf-8", "content-type": "application/json", "headers": ',
            dumps_arguments(headers),  # a caller's headers may hold what kombu encodes
            ', "properties": {"correlation_id": ',
            _string(task_id),
            _REPLY_TO_FIELD,
            _string(options["argsrepr"]),
            ', "kwargsrepr": ',
            _string(options["kwargsrepr"]),
            ', "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": ',
            _string(queue),
            '}, "priority": 0, "body_encoding": "base64", "delivery_tag": "',
            new_id(),
            '"}}',
        )
    )
    return text, headers


def sent_event(headers: dict[str, Any], queue: str) -> str:
    """The `task-sent` event of a message, in kombu's envelope, as text (Flower's queued
    jobs). Written as dumps() writes the event's dict, from its parts, as above."""
    queue_text = _string(queue)
    event = "".join(
        (
            _EVENT_HEAD,
            repr(_utcoffset()),
            ', "pid": ',
            str(os.getpid()),
            ', "clock": ',
            str(next(_clock)),
            ', "uuid": ',
            _string(headers["id"]),
            ', "root_id": ',
            _string(headers["root_id"]),
            ', "parent_id": ',
            _nullable(headers["parent_id"]),
            ', "name": ',
            _string(headers["task"]),
            ', "args": ',
            _string(headers["argsrepr"]),
            ', "kwargs": ',
            _string(headers["kwargsrepr"]),
            ', "retries": ',
            str(headers["retries"]),
            ', "eta": ',
            _nullable(headers["eta"]),
            ', "expires": ',
            _nullable(headers["expires"]),
            ', "queue": ',
            queue_text,
            ', "exchange": "", "routing_key": ',
            queue_text,
            ', "timestamp": ',
            repr(time.time()),
            ', "type": "task-sent"}',
        )
    )
    return "".join(
        (
            '{"body": "',
            base64.b64encode(event.encode()).decode(),
            _EVENT_MIDDLE,
            new_id(),
            '"}}',
        )
    )


def _nullable(value: str | None) -> str:
    return "null" if value is None else _string(value)


_string = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
_EVENT_HEAD = f'{{"hostname": {_string(ORIGIN)}, "utcoffset": '
_REPLY_TO_FIELD = f', "reply_to": {_string(REPLY_TO)}, "argsrepr": '
_EVENT_MIDDLE = (
    '", "content-encoding": "utf-8", "content-type": "application/json", "headers": '
    + dumps({"hostname": ORIGIN})
    + ', "properties": {"delivery_mode": 1, "delivery_info": '
    + dumps({"exchange": EVENT_EXCHANGE, "routing_key": SENT_ROUTING_KEY})
    + ', "priority": 0, "body_encoding": "base64", "delivery_tag": "'
)


def event_channel(db: int) -> str:
    """kombu's fanout channel for the event exchange on Redis (prefixed by database)."""
    return f"/{db}.{EVENT_EXCHANGE}/{SENT_ROUTING_KEY}"


def _utcoffset() -> float:
    """Hours west of UTC, as Celery's events carry it (looked up once a minute: a bulk
    publish would otherwise ask the C library for the local time per job)."""
    global _offset
    now = time.monotonic()
    if now >= _offset[0]:
        west = time.altzone if time.localtime().tm_isdst else time.timezone
        _offset = (now + 60, west / 3600)
    return _offset[1]


_offset: tuple[float, float] = (0.0, 0.0)
