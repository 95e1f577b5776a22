"""Digests for ops: the dead-letter threshold alarm and the weekly summary email.

Both are mailed through the email task (deadletters/alerts.ops_mail), once per key."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from broker import keys
from config.settings import settings
from deadletters import alerts, repository
from housekeeping.queue_health import summary

logger = logging.getLogger(__name__)


def check_threshold(
    engine: Engine,
    client: redis.Redis,
    threshold: int | None = None,
    mail: alerts.OpsMail | None = None,
) -> dict[str, Any]:
    """Alert once when unresolved dead letters reach the threshold; re-arm when they drop.
    Each crossing mails once (its own idempotency key). Refused user input does not count."""
    threshold = threshold or settings.deadletter_alert_threshold
    with Session(engine) as db:
        unresolved = repository.count(db, repository.Filters(unresolved=True, paging=True))
    if unresolved < threshold:
        client.delete(keys.DIGEST_ABOVE_THRESHOLD)
        return {"unresolved": unresolved, "alerted": False}
    crossed_at = datetime.now(UTC).isoformat()
    if not client.set(keys.DIGEST_ABOVE_THRESHOLD, crossed_at, nx=True):
        return {"unresolved": unresolved, "alerted": False}
    report = alerts.alert_unresolved(
        timedelta(0), engine=engine, mail=mail, key=f"deadletter-threshold:{crossed_at}"
    )
    return {"unresolved": unresolved, "alerted": True, "sent_to": report.sent_to}


def weekly(engine: Engine, now: datetime | None = None) -> tuple[dict[str, Any], str]:
    """The weekly ops digest message and its idempotency key (one per ISO week)."""
    now = now or datetime.now(UTC)
    tasks = summary(engine, hours=7 * 24)
    slowest = sorted((t for t in tasks if t["avg_runtime_ms"] is not None),
                     key=lambda t: t["avg_runtime_ms"], reverse=True)[:5]  # fmt: skip
    with Session(engine) as db:
        letters = repository.stats(db, repository.Filters(since=now - timedelta(days=7)))
    year, week, _ = now.isocalendar()
    message = {
        "to": settings.ops_email or "",
        "template": "ops_digest",
        "context": {
            "week": f"{year}-W{week:02d}",
            "tasks": tasks,
            "slowest": slowest,
            "letters": letters,
            "environment": settings.app_env,
        },  # fmt: skip
    }
    return message, f"ops-digest:{year}-W{week:02d}"
