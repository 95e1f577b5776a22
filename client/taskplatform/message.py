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

#: A client's job carries no callbacks, chain or chord (canvas is the platform's own).
EMBEDDED_NONE = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
EVENT_EXCHANGE = "celeryev"
SENT_ROUTING_KEY = "task.sent"


def dumps_arguments(value: Any) -> str:
    """Arguments in kombu's JSON (dates, decimals and UUIDs as kombu marks them): the
    encoding the workers decode."""
    from kombu.utils.json import dumps

    return dumps(value)


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
) -> dict[str, Any]:
    """kombu's envelope of one task message; `options` as the guard completed them
    (headers, argsrepr, kwargsrepr)."""
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
    return {
        "body": base64.b64encode(dumps_arguments(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            "correlation_id": task_id,
            "reply_to": REPLY_TO,
            "argsrepr": options["argsrepr"],
            "kwargsrepr": options["kwargsrepr"],
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }


def sent_event(envelope: dict[str, Any], queue: str) -> dict[str, Any]:
    """The `task-sent` event of a message, in kombu's envelope (Flower's queued jobs)."""
    headers = envelope["headers"]
    event = {
        "hostname": ORIGIN,
        "utcoffset": _utcoffset(),
        "pid": os.getpid(),
        "clock": next(_clock),
        "uuid": headers["id"],
        "root_id": headers["root_id"],
        "parent_id": headers["parent_id"],
        "name": headers["task"],
        "args": headers["argsrepr"],
        "kwargs": headers["kwargsrepr"],
        "retries": headers["retries"],
        "eta": headers["eta"],
        "expires": headers["expires"],
        "queue": queue,
        "exchange": "",
        "routing_key": queue,
        "timestamp": time.time(),
        "type": "task-sent",
    }
    return {
        "body": base64.b64encode(dumps(event).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"hostname": ORIGIN},
        "properties": {
            "delivery_mode": 1,
            "delivery_info": {"exchange": EVENT_EXCHANGE, "routing_key": SENT_ROUTING_KEY},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }


def event_channel(db: int) -> str:
    """kombu's fanout channel for the event exchange on Redis (prefixed by database)."""
    return f"/{db}.{EVENT_EXCHANGE}/{SENT_ROUTING_KEY}"


def _utcoffset() -> float:
    """Hours west of UTC, as Celery's events carry it."""
    if time.localtime().tm_isdst:
        return time.altzone / 3600
    return time.timezone / 3600
