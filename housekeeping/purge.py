"""Nightly purge: data past its retention goes, so nothing grows without bound.

Sent-mail records after EMAIL_RECORD_RETENTION_DAYS, resolved dead letters after
DEADLETTER_RETENTION_DAYS, queue-health snapshots after QUEUE_HEALTH_RETENTION_DAYS, the
once-only records of the platform's own tasks (tasks/once.py) after ONCE_RETENTION_DAYS, and
in Redis any cached quote or job result that somehow has no expiry (each is written with
one).
"""

from __future__ import annotations

from datetime import timedelta

import redis
from sqlalchemy import Engine, text

from broker import keys
from config import database
from config.settings import settings
from deadletters import repository
from housekeeping import queue_health
from mail import send
from taskplatform.outbox.schema import ONCE

QUEUE_HEALTH_RETENTION_DAYS = 30
#: Far longer than any redelivery: a job comes back within minutes, or a day for a countdown.
ONCE_RETENTION_DAYS = 30


def purge_expired(engine: Engine, client: redis.Redis) -> dict[str, int]:
    """Delete what is past retention; how many of each kind went."""
    done: dict[str, int] = {}
    done["sent_emails"] = send.purge_records(engine, settings.email_record_retention_days)
    done["queue_health"] = queue_health.purge(engine, QUEUE_HEALTH_RETENTION_DAYS)
    with database.session(engine) as db:
        done["dead_letters"] = repository.purge_resolved(
            db, timedelta(days=settings.deadletter_retention_days)
        )
    with engine.begin() as db:
        done["once_records"] = db.execute(
            text(f"DELETE FROM {ONCE} WHERE done_at < now() - make_interval(days => :days)"),
            {"days": ONCE_RETENTION_DAYS},
        ).rowcount
    done["cached_quotes"] = _drop_unexpiring(client, keys.QUOTE_PREFIX, delete=True)
    done["results"] = _drop_unexpiring(client, keys.RESULT_PREFIX, delete=False)
    return done


def _drop_unexpiring(client: redis.Redis, prefix: str, delete: bool) -> int:
    """Keys under `prefix` with no TTL: deleted, or given the result expiry."""
    count = 0
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        if client.ttl(key) == -1:
            if delete:
                client.delete(key)
            else:
                client.expire(key, settings.result_expires)
            count += 1
    return count
