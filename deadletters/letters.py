"""What one dead letter holds, built from the facts of a failure.

Plain data and functions: no Celery, no database. Everything shown is redacted here, once;
the real arguments survive only sealed (deadletters/payload.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from config import job_context
from deadletters import payload
from taskplatform import correlation
from taskplatform.redaction import redact, redact_text

#: Why a job ended here.
REASONS = (
    "exhausted",  # a transient error outlasted its retries
    "permanent",  # an error that retrying cannot fix
    "time_limit",  # the soft or hard time limit
    "worker_lost",  # its worker died on every delivery (MAX_DELIVERIES)
    "unknown_task",  # no worker knows the task name
    "rejected",  # refused by the worker: disallowed content type, Reject(requeue=False)
    "undecodable",  # the message or its body could not be decoded
    "invalid_input",  # the arguments were wrong (user input): counted, never paging
)

#: Reasons that are no failure of the platform: shown and counted, but no alert.
NOT_PAGING = ("invalid_input",)

#: Who resolved a letter whose job succeeded on another delivery (a duplicate delivery).
SUPERSEDED = "superseded"

#: Reasons whose message can never be replayed: it was never a valid job.
UNREPLAYABLE = ("rejected", "undecodable")


@dataclass
class Letter:
    task_id: str
    task_name: str
    queue: str | None
    args: Any
    kwargs: Any
    message: dict
    payload_sealed: str | None
    redacted: bool
    exception_type: str | None
    exception_message: str | None
    traceback: str | None
    attempts: int
    reason: str
    hostname: str | None
    replay_of: int | None = None
    failed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: Which failure this is: one row per failure, however often it is captured or drained.
    #: Empty in letters spooled before it existed: the task id stands in.
    failure_key: str = ""
    #: The job succeeded on another delivery: the row is stored resolved, with no alert.
    superseded: bool = False

    def to_json(self) -> str:
        data = asdict(self)
        data["failed_at"] = self.failed_at.isoformat()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Letter:
        data = json.loads(text)
        data["failed_at"] = datetime.fromisoformat(data["failed_at"])
        return cls(**data)

    def minimal_copy(self, note: str) -> Letter:
        """What is sure to be storable of this letter (Postgres refused the full one): who
        failed, where, why, and a note; the original goes to quarantine."""
        return minimal(
            task_id=self.task_id, task_name=self.task_name, queue=self.queue,
            reason=self.reason, exception_type=self.exception_type, note=note,
            hostname=self.hostname, failed_at=self.failed_at,
            failure_key=self.failure_key or self.task_id,
        )  # fmt: skip

    def row(self) -> dict[str, Any]:
        row = {**asdict(self), "failure_key": self.failure_key or self.task_id}
        if row.pop("superseded"):
            row.update(
                resolved_at=self.failed_at,
                resolved_by=SUPERSEDED,
                resolution_note="the job succeeded on another delivery",
            )
        return row


def failure_key(*parts: object) -> str:
    """A digest naming one failure: a job's id, attempt and publish time (a reused task id
    published again is another failure; a redelivery of the same message is not), or an
    item's raw bytes."""
    digest = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode(errors="replace"))
        digest.update(b"\n")
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """The JSON form of a value (tuples become lists), for comparing with its redaction.
    A container that holds itself (seen in a request's headers with Sentry's Celery
    integration on RabbitMQ) keeps a marker where it repeats: the letter is still built."""
    return json.loads(json.dumps(_acyclic(value, ()), default=str))


def _acyclic(value: Any, parents: tuple[int, ...]) -> Any:
    if not isinstance(value, dict | list | tuple):
        return value
    if id(value) in parents:
        return "[circular]"
    inside = (*parents, id(value))
    if isinstance(value, dict):
        return {key: _acyclic(item, inside) for key, item in value.items()}
    return [_acyclic(item, inside) for item in value]


def _storable(value: Any) -> Any:
    """`value` with NUL characters and lone surrogates written out: Postgres text and jsonb
    refuse them, and one refused letter must not hold up the spool. The sealed copy keeps
    the real values."""
    if isinstance(value, str):
        text = value.replace("\x00", "\\x00")
        try:
            text.encode()
        except UnicodeEncodeError:
            text = text.encode(errors="backslashreplace").decode()
        return text
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    return value


def _clip(text: str | None) -> str | None:
    """Redacted and storable; past SCAN_LIMIT characters cut, with how many were cut noted
    (redaction cuts before it scans, so a letter for a huge item is built in bounded time)."""
    return None if text is None else _storable(redact_text(text))


def _replay_of(headers: dict) -> int | None:
    value = (headers or {}).get("replay_of")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def from_job(
    *,
    task_id: str,
    task_name: str,
    queue: str | None,
    args: Any,
    kwargs: Any,
    embed: dict,
    headers: dict,
    properties: dict,
    exception_type: str | None,
    exception_message: str | None,
    traceback: str | None,
    attempts: int,
    reason: str,
    hostname: str | None,
) -> Letter:
    """A dead letter for a job whose arguments are known (decoded)."""
    real = _plain(
        {
            "args": list(args or ()),
            "kwargs": dict(kwargs or {}),
            "embed": embed or {},
            "headers": headers or {},
        }
    )
    shown = _storable(redact(real))
    return Letter(
        task_id=_storable(task_id),
        task_name=_storable(task_name),
        queue=queue,
        args=shown["args"],
        kwargs=shown["kwargs"],
        message={
            "headers": shown["headers"],
            "properties": _storable(redact(_plain(properties or {}))),
            "embed": shown["embed"],
        },
        payload_sealed=payload.seal(real),
        redacted=shown != real,
        exception_type=exception_type,
        exception_message=_clip(exception_message),
        traceback=_clip(traceback),
        attempts=attempts,
        reason=reason,
        hostname=hostname,
        replay_of=_replay_of(headers),
        failure_key=failure_key(task_id, attempts, (headers or {}).get("enqueued_at")),
    )


def raw_id(reason: str, raw: bytes | str) -> str:
    """The id of a letter for bytes that carry no task id: from their content, so the copy
    RabbitMQ dead-letters after the worker refused it lands on the same row."""
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    return f"{reason}-{hashlib.sha256(data).hexdigest()[:32]}"


def from_raw(
    *,
    task_id: str,
    task_name: str,
    queue: str | None,
    raw: bytes | str,
    headers: dict | None,
    exception_type: str,
    exception_message: str,
    reason: str,
    hostname: str | None,
) -> Letter:
    """A dead letter for bytes that never became a job: kept (sealed when a key is set, as
    redacted text always) but never replayable."""
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    return Letter(
        task_id=_storable(task_id),
        task_name=_storable(task_name),
        queue=queue,
        args=[],
        kwargs={},
        message={
            "headers": _storable(redact(_plain(headers or {}))),
            "raw": _clip(data.decode("utf-8", errors="replace")),
            "raw_size": len(data),
        },
        payload_sealed=payload.seal({"raw": base64.b64encode(data).decode()}),
        redacted=True,
        exception_type=exception_type,
        exception_message=_clip(exception_message),
        traceback=None,
        attempts=1,
        reason=reason,
        hostname=hostname,
        replay_of=_replay_of(headers or {}),
        failure_key=failure_key(task_id, data),
    )


def minimal(
    *,
    task_id: Any,
    task_name: Any,
    queue: Any,
    reason: Any,
    exception_type: Any,
    note: str,
    hostname: Any = None,
    failed_at: datetime | None = None,
    failure_key: Any = None,
) -> Letter:
    """A letter of plain short fields only, for when the full one cannot be built or stored:
    a failure is never left without a row."""

    def short(value: Any, default: str | None = None) -> str | None:
        return _storable(str(value))[:255] if value not in (None, "") else default

    task_id_text = short(task_id, "(unknown)")
    return Letter(
        task_id=task_id_text,
        task_name=short(task_name, "(unknown)"),
        queue=short(queue),
        args=[],
        kwargs={},
        message={"minimal": True},
        payload_sealed=None,
        redacted=True,
        exception_type=short(exception_type),
        exception_message=_clip(note),
        traceback=None,
        attempts=1,
        reason=reason if reason in REASONS else "undecodable",
        hostname=short(hostname),
        failed_at=failed_at or datetime.now(UTC),
        failure_key=short(failure_key) or failure_key_of_minimal(task_id_text, note),
    )


def failure_key_of_minimal(task_id: str, note: str) -> str:
    """(Its own function: inside `minimal`, a parameter of the same name hides `failure_key`.)"""
    return failure_key(task_id, "minimal", note)


def log_fields(letter: Letter) -> dict[str, Any]:
    """`extra=` for a log line about a letter: the job it was, with its correlation id."""
    headers = (letter.message or {}).get("headers") or {}
    return job_context.extra(
        task_id=letter.task_id,
        task_name=letter.task_name,
        queue=letter.queue,
        attempt=letter.attempts or None,
        correlation_id=headers.get(correlation.HEADER) if isinstance(headers, dict) else None,
    )
