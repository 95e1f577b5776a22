"""Every cron entry of the platform, in one table: what runs, when, where and why.

Times are UTC. Each entry has an expiry, so a run that beat could not send on time (beat
down, broker away) is dropped rather than run late on top of the next one. Queue is
`maintenance` unless the job belongs to a domain (routing follows the task name).
Beat runs with one leader (config/beat.py); `celery -A config schedule` lists the entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celery.schedules import crontab, schedule


@dataclass(frozen=True)
class Entry:
    task: str
    cron: crontab
    expires: int  # seconds after the due time a run is still worth doing
    why: str


ENTRIES: dict[str, Entry] = {
    "maintenance-drain-deadletter-spool-minutely": Entry(
        "maintenance.drain_deadletter_spool", crontab(), 55,
        "move dead letters spooled while Postgres was away into Postgres",
    ),
    "maintenance-deadletter-threshold-minutely": Entry(
        "maintenance.check_deadletter_threshold", crontab(), 55,
        "alert as soon as unresolved dead letters cross DEADLETTER_ALERT_THRESHOLD",
    ),
    "maintenance-deadletter-digest-daily": Entry(
        "maintenance.send_deadletter_digest", crontab(minute=0, hour=8), 3600,
        "a daily reminder of every unresolved dead letter",
    ),
    "maintenance-queue-health-minutely": Entry(
        "maintenance.snapshot_queue_health", crontab(), 55,
        "depth, oldest message age, in-flight, done, failed and runtime per queue and task",
    ),
    "maintenance-purge-expired-nightly": Entry(
        "maintenance.purge_expired", crontab(minute=0, hour=2), 3 * 3600,
        "drop sent-mail records, resolved dead letters, snapshots and cache past retention",
    ),
    "maintenance-ops-digest-weekly": Entry(
        "maintenance.send_ops_digest", crontab(minute=0, hour=8, day_of_week="mon"), 6 * 3600,
        "a Monday summary for ops: jobs done and failed, slowest tasks, dead letters",
    ),
    "search-reindex-candidates-nightly": Entry(
        "search.reindex_candidates", crontab(minute=30, hour=3), 3 * 3600,
        "rebuild candidate search vectors so ranking reflects every edit",
    ),
}  # fmt: skip


def beat_schedule(test_interval: float | None = None) -> dict[str, dict[str, Any]]:
    """Celery's `beat_schedule`. With `test_interval`, every entry runs that often instead
    (for tests only; the settings refuse it in production)."""
    return {
        name: {
            "task": entry.task,
            "schedule": schedule(test_interval) if test_interval else entry.cron,
            "options": {
                "expires": min(entry.expires, test_interval) if test_interval else entry.expires
            },  # fmt: skip
        }
        for name, entry in ENTRIES.items()
    }
