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
from deadletters.letters import NOT_PAGING
from deadletters.model import DeadLetter
from taskplatform.redaction import redact, redact_text

DURATION = re.compile(r"^(\d+)([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
FILTER_KEYS = (
    "task", "queue", "reason", "exception_type", "cause", "since", "until", "unresolved"
)  # fmt: skip


#: What each reason means, in the page's plain words.
REASON_WORDS = {
    "exhausted": "gave up after its retries",
    "permanent": "failed in a way retrying cannot fix",
    "time_limit": "ran past its time limit",
    "worker_lost": "its worker died every time it ran it",
    "unknown_task": "no worker knows this task",
    "rejected": "the worker refused the message",
    "undecodable": "the message could not be read",
    "invalid_input": "the caller sent bad arguments",
}
#: What a replay would send, by `replayable_arguments`.
REPLAY_WORDS = {
    "sealed": "runs it again with its original arguments (kept encrypted, shown masked)",
    "as shown": "runs it again with the arguments shown",
    "none (redacted, not sealed)": "not possible with the original arguments: they were"
    " masked and no encryption key was set when it failed",
}


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
        fingerprint=options.get("cause") or None,
        since=parse_moment(options.get("since")),
        until=parse_moment(options.get("until")),
        unresolved=bool(options.get("unresolved")),
    )


def _moment(value: datetime | str | float) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def duration(seconds: float | None) -> str:
    """`45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`: as a person says how long."""
    if seconds is None:
        return "unknown"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 3600:
        return f"{minutes} min"
    if seconds < 86400:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{days} d {hours % 24} h" if hours % 24 else f"{days} d"


def ago(value: datetime | str | float | None, now: datetime | None = None) -> str:
    """How long ago a moment (a datetime, an ISO text or a Unix time) was: `3 min ago`."""
    if value is None or value == "":
        return ""
    seconds = ((now or datetime.now(UTC)) - _moment(value)).total_seconds()
    return "just now" if 0 <= seconds < 5 else (
        f"{duration(seconds)} ago" if seconds > 0 else f"in {duration(-seconds)}"
    )  # fmt: skip


def utc(value: datetime | str | float | None) -> str:
    """The moment in UTC to the second, for a hover: `2026-12-07 13:04:09 UTC`."""
    if value is None or value == "":
        return ""
    return _moment(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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
        "cause": letter.fingerprint,
        "attempts": letter.attempts,
        "failed_at": letter.failed_at.isoformat(),
        "status": status(letter),
    }


def cause(row: dict[str, Any]) -> dict[str, Any]:
    """A cause (repository.causes) as the CLI, the page and the API show it."""
    return {
        "cause": row["fingerprint"],
        "task_name": row["task_name"],
        "reason": row["reason"],
        "exception_type": row["exception_type"],
        "message": redact_text(row["cause"] or "") or None,
        "letters": row["letters"],
        "open": row["open"],
        "first_seen": row["first_seen"].isoformat(),
        "last_seen": row["last_seen"].isoformat(),
        "queues": row["queues"],
        "latest_id": row["latest_id"],
        "paging": row["reason"] not in NOT_PAGING,
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
