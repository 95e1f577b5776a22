"""Queue `maintenance`: beat's housekeeping (beat_schedule.py says when and why)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from config import app, database, redis_client
from deadletters import alerts, replay, spool
from housekeeping import digest, purge, queue_health

logger = logging.getLogger(__name__)


@app.task(name="maintenance.drain_deadletter_spool", retry_preset="no_retry")
def drain_deadletter_spool() -> dict:
    """Move dead letters spooled while Postgres was away into Postgres."""
    return spool.drain().__dict__


@app.task(name="maintenance.check_deadletter_threshold", retry_preset="no_retry")
def check_deadletter_threshold() -> dict:
    alerts.settle_superseded(alerts.succeeded_in(app))  # a superseded letter is no alarm
    return digest.check_threshold(
        database.engine(), redis_client.client(), mail=alerts.ops_mail(app)
    )


@app.task(name="maintenance.send_deadletter_digest")
def send_deadletter_digest() -> dict:
    """Every unresolved dead letter, once a day (one mail per day, however often it runs)."""
    report = alerts.alert_unresolved(
        timedelta(0), succeeded=alerts.succeeded_in(app), mail=alerts.ops_mail(app),
        key=f"deadletter-digest:{datetime.now(UTC):%Y-%m-%d}",
    )  # fmt: skip
    return report.__dict__


@app.task(name="maintenance.snapshot_queue_health", retry_preset="no_retry")
def snapshot_queue_health() -> dict:
    return {"rows": queue_health.snapshot(database.engine(), redis_client.client())}


@app.task(name="maintenance.purge_expired")
def purge_expired() -> dict:
    return purge.purge_expired(database.engine(), redis_client.client())


@app.task(name="maintenance.send_ops_digest")
def send_ops_digest() -> dict:
    """Mail the week's summary to OPS_EMAIL (once per ISO week), or log it without one."""
    message, key = digest.weekly(database.engine())
    if not message["to"]:
        logger.info("weekly ops digest (no OPS_EMAIL set): %s", message["context"])
        return {"status": "logged", "idempotency_key": key}
    alerts.ops_mail(app)(message, key)
    return {"status": "queued", "idempotency_key": key}


@app.task(name=replay.BULK_TASK, bind=True, retry_preset="no_retry")
def replay_deadletters(self, ids: list[int], by: str, force: bool = False) -> dict:
    """A bulk replay the dead-letter page started: canary first, then the rest, paced."""
    return replay.run_bulk(app, redis_client.client(), ids, by, force, job=self.request.id)
