"""What one dead letter holds, built from the facts of a failure.

Plain data and functions: no Celery, no database. Everything shown is redacted here, once;
the real arguments survive only sealed (deadletters/payload.py).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from config.redaction import redact, redact_text
from deadletters import payload

#: How much of a traceback or raw message a row keeps.
TEXT_LIMIT = 64 * 1024

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

    def to_json(self) -> str:
        data = asdict(self)
        data["failed_at"] = self.failed_at.isoformat()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Letter:
        data = json.loads(text)
        data["failed_at"] = datetime.fromisoformat(data["failed_at"])
        return cls(**data)

    def row(self) -> dict[str, Any]:
        return asdict(self)


def _plain(value: Any) -> Any:
    """The JSON form of a value (tuples become lists), for comparing with its redaction."""
    return json.loads(json.dumps(value, default=str))


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
    if text is None:
        return None
    # Cut first, then redact: redaction time grows with the text, and a letter for a huge
    # item must be built in bounded time.
    if len(text) <= TEXT_LIMIT:
        return _storable(redact_text(text))
    return _storable(redact_text(text[:TEXT_LIMIT])) + "\n[truncated]"


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
    )


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
    )
