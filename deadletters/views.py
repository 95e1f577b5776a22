"""How ops name and see dead letters: one shape for the CLI and the web page.

Durations and moments as ops type them (`30d`, `2h`, an ISO time), the filters they build,
and a letter as a summary row or in full, with everything shown passed through the
redaction rules once more (rows are redacted when captured; this holds for rows written by
older versions too).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from deadletters import repository
from deadletters.model import DeadLetter
from taskplatform.redaction import redact, redact_text

DURATION = re.compile(r"^(\d+)([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
FILTER_KEYS = ("task", "queue", "reason", "exception_type", "since", "until", "unresolved")


def parse_duration(value: str) -> timedelta:
    match = DURATION.match(value.strip())
    if not match:
        raise ValueError(f"{value!r}: use a number and s, m, h, d or w, as in 30d")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def parse_moment(value: str | None) -> datetime | None:
    """An ISO date or time (UTC when no zone is given), or a duration ago (`2h`)."""
    if value is None or not value.strip():
        return None
    if DURATION.match(value.strip()):
        return datetime.now(UTC) - parse_duration(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r}: use an ISO date or time, or a duration") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def filters_from(options: dict[str, Any]) -> repository.Filters:
    return repository.Filters(
        task=options.get("task") or None,
        queue=options.get("queue") or None,
        reason=options.get("reason") or None,
        exception_type=options.get("exception_type") or None,
        since=parse_moment(options.get("since")),
        until=parse_moment(options.get("until")),
        unresolved=bool(options.get("unresolved")),
    )


def has_filter(options: dict[str, Any]) -> bool:
    return any(options.get(key) for key in FILTER_KEYS)


def status(letter: DeadLetter) -> str:
    if letter.resolved_at:
        return "resolved"
    if letter.replayed_as:
        return "replayed"
    return "open"


def summary(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "task_id": letter.task_id,
        "task_name": letter.task_name,
        "queue": letter.queue,
        "reason": letter.reason,
        "exception_type": letter.exception_type,
        "exception_message": redact_text(letter.exception_message or "") or None,
        "attempts": letter.attempts,
        "failed_at": letter.failed_at.isoformat(),
        "status": status(letter),
    }


def detail(letter: DeadLetter) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        **summary(letter),
        "args": redact(letter.args),
        "kwargs": redact(letter.kwargs),
        "message": redact(letter.message),
        "replayable_arguments": "sealed"
        if letter.payload_sealed
        else ("as shown" if not letter.redacted else "none (redacted, not sealed)"),
        "traceback": redact_text(letter.traceback) if letter.traceback else None,
        "hostname": letter.hostname,
        "resolved_at": iso(letter.resolved_at),
        "resolved_by": letter.resolved_by,
        "resolution_note": letter.resolution_note,
        "replayed_as": letter.replayed_as,
        "replayed_at": iso(letter.replayed_at),
        "replayed_by": letter.replayed_by,
        "replay_of": letter.replay_of,
    }
