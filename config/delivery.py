"""The delivery counter: a bound on crash redeliveries.

Redis keeps no delivery count. With `acks_late` and `reject_on_worker_lost`, a job whose
process dies is delivered again, and a job that kills its worker every time would loop
forever. So each delivery of a (task id, retry number) increments a counter in Redis; past
`MAX_DELIVERIES` the job fails with reason `worker_lost` instead of running again.

Retries are new messages with a higher retry number, so they start a fresh count; the
counter is deleted when an attempt finishes (success, failure or retry), so only crashed
deliveries leave a key behind, and it expires after twice the visibility timeout: longer
than the longest gap between a crash and its redelivery.
"""

from __future__ import annotations

import logging

import redis

from config import redis_client
from config.settings import settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "taskplatform:deliveries"


class DeliveryBoundExceeded(Exception):
    """A job was delivered more than MAX_DELIVERIES times: its worker died each time.

    Takes only a message, so the result backend can rebuild it for the caller.
    """

    reason = "worker_lost"

    @classmethod
    def for_task(cls, task_name: str, task_id: str, deliveries: int) -> DeliveryBoundExceeded:
        return cls(
            f"{task_name}[{task_id}] was delivered {deliveries} times and its worker was lost"
            f" each time (MAX_DELIVERIES={settings.max_deliveries}); not running it again"
        )


def delivery_key(task_id: str, retries: int) -> str:
    return f"{KEY_PREFIX}:{task_id}:{retries}"


def count_delivery(task_id: str, retries: int) -> int | None:
    """Count this delivery; the running total, or None when Redis could not be asked.

    Not knowing is no reason to drop a job: the caller runs it (at-least-once).
    """
    key = delivery_key(task_id, retries)
    try:
        pipe = redis_client.client().pipeline()
        pipe.incr(key)
        pipe.expire(key, 2 * settings.redis_visibility_timeout)
        deliveries, _ = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("delivery counter unavailable for %s: %s", task_id, exc)
        return None
    return int(deliveries)


def forget_delivery(task_id: str, retries: int) -> None:
    """The attempt ended without a crash: its count is no longer needed."""
    try:
        redis_client.client().delete(delivery_key(task_id, retries))
    except redis.RedisError as exc:
        logger.warning("delivery counter not cleared for %s: %s", task_id, exc)


def deliveries(task_id: str, retries: int) -> int:
    """Deliveries counted so far for one attempt (0 when none is pending)."""
    value = redis_client.client().get(delivery_key(task_id, retries))
    return int(value) if value else 0
