"""The outbox: queue a job in the same transaction as the web app's own writes.

    from taskplatform.outbox import publish
    from taskplatform.tasks import send_quote

    with Session(engine) as session, session.begin():
        session.add(order)
        job_id = publish(session, send_quote, (quote, "a@example.com"))

`.delay()` after a commit loses the job when the broker is away at that moment, and `.delay()`
before it queues a job for a row that a rollback then removes (or that the worker cannot
see yet). `publish` instead writes the message into the outbox table of the web app's own
database, in the caller's transaction: a rollback leaves nothing, a commit leaves a row,
and the relay (`taskplatform-outbox relay`, taskplatform/outbox/relay.py) queues it within
milliseconds of the commit, or when the broker is back.

The message is built and checked here, as `.delay()` checks it (the task's declared
arguments, the size cap, redaction): a refusal raises before anything is written, so the
web app answers 400 and rolls back. Each message is publish-once under its job id (from
`job_key`, else a new one), so a relay that dies between queuing and marking queues
nothing twice.

`db` is the caller's open transaction: a SQLAlchemy `Session` or `Connection`, a Django
connection (`django.db.connection`, inside `transaction.atomic()`), or a psycopg 3
connection. The tables come from `taskplatform-outbox migrate`, or the Django app
`taskplatform.outbox.django` (Postgres).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from taskplatform.handles import TaskHandle
from taskplatform.outbox.schema import INSERT
from taskplatform.wire import OUTBOX_HEADER

__all__ = ["publish"]

#: The same statement with SQLAlchemy's named placeholders.
_INSERT_NAMED = re.sub(r"%\((\w+)\)s", r":\1", INSERT)


def publish(
    db: Any,
    handle: TaskHandle,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    job_key: str | None = None,
    countdown: float | None = None,
    eta: datetime | str | None = None,
    expires: float | datetime | str | None = None,
    headers: dict[str, Any] | None = None,
) -> str:
    """Write the job into the outbox in `db`'s transaction; its id. The same `job_key`
    published twice is one job (and one row), as with `apply_async(job_key=...)`."""
    key = job_key if job_key is not None else str(uuid.uuid4())
    item, job = handle._prepared(
        args, kwargs, key, countdown, eta, expires, None, {**(headers or {}), OUTBOX_HEADER: 1}
    )
    row = {
        "job_id": job.id,
        "task": handle.name,
        "queue": item.queue,
        "message": item.payload,
        "event": item.event,
        "once_window": item.window,
    }
    _execute(db, row)
    return job.id


def _execute(db: Any, row: dict[str, Any]) -> None:
    """The insert, through whatever the caller's transaction is. Async connections are
    refused (their `execute` would return an unawaited coroutine and write nothing): from
    async code, `await session.run_sync(lambda s: publish(s, ...))`."""
    kind = _kind_of(db)
    if kind == "sqlalchemy":
        from sqlalchemy import text

        db.execute(text(_INSERT_NAMED), row)
    elif kind == "django":
        if db.get_autocommit() and not db.in_atomic_block:
            raise _outside_transaction("inside transaction.atomic()")
        with db.cursor() as cursor:
            cursor.execute(INSERT, row)
    else:
        if db.autocommit:
            raise _outside_transaction("on a connection with autocommit off")
        db.execute(INSERT, row)


def _kind_of(db: Any) -> str:
    """Which of the three sync connection kinds `db` is, by class (subclasses included),
    or TypeError naming what it takes."""
    module = type(db).__module__
    if module.startswith("sqlalchemy") or _is_instance(db, "sqlalchemy.orm", "Session"):
        if _is_instance(db, "sqlalchemy.orm", "Session") or _is_instance(
            db, "sqlalchemy.engine", "Connection"
        ):
            return "sqlalchemy"
    elif module.startswith("django") and hasattr(db, "in_atomic_block"):
        return "django"
    elif _is_instance(db, "psycopg", "Connection"):
        return "psycopg"
    raise TypeError(
        "publish takes a SQLAlchemy Session or Connection, a Django connection or a psycopg"
        f" 3 connection (not async ones: use run_sync), not {type(db).__module__}."
        f"{type(db).__name__}"
    )


def _is_instance(db: Any, module: str, name: str) -> bool:
    import sys

    loaded = sys.modules.get(module)  # a class the caller uses is already imported
    kind = getattr(loaded, name, None) if loaded is not None else None
    return isinstance(kind, type) and isinstance(db, kind)


def _outside_transaction(where: str) -> TypeError:
    return TypeError(
        f"publish writes the job in the caller's transaction: call it {where}; outside one"
        " the job would be queued even if the request then fails"
    )
