"""How the app hands a task message to kombu: the message and its `task-sent` event (what
Flower shows of a queued job) leave in one round trip.

Celery publishes the message, then the event, each in a round trip of its own (and declares
the queue each time, which Redis does not need). kombu's
producer batches (`Producer.batch`) buffer both in one pipeline that the transport sends at
the end; the platform's transport adds the wake token (broker/transport.py). Transports
without batches (RabbitMQ) publish at once, as before.

A batch is sent once, without kombu's publish retry: a connection refused before anything
was written is retried once, as PUBLISH_RETRY_POLICY says; a timeout is not (the job may be
queued: the caller hears so, and publishes again with the same job_key to be safe).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis.exceptions
from celery.app.amqp import AMQP
from kombu.exceptions import BatchPublishError


class PlatformAMQP(AMQP):
    def _create_task_sender(self) -> Callable[..., Any]:
        send = super()._create_task_sender()
        policy = self.app.conf.task_publish_retry_policy or {}
        retries = int(policy.get("max_retries") or 0)
        pause = float(policy.get("interval_start") or 0)

        def send_task_message(producer: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("declare") is None and _is_redis(producer):
                # Redis needs no declared queue to take a message for the default exchange
                # (kombu routes it by name), and declaring costs a copy of the queue per
                # publish; RabbitMQ does need it, and keeps it.
                kwargs["declare"] = []
            for attempt in range(retries + 1):
                try:
                    with producer.batch():
                        return send(producer, *args, **kwargs)
                except BatchPublishError as exc:
                    if attempt == retries or not _refused(exc):
                        raise
                time.sleep(pause)
            raise AssertionError("unreachable")  # the loop returns or raises

        return send_task_message


def _is_redis(producer: Any) -> bool:
    return getattr(producer.connection.transport, "driver_type", "") == "redis"


def _refused(exc: BatchPublishError) -> bool:
    """Whether nothing can have been written: the connection itself failed."""
    cause = exc.__cause__
    return isinstance(cause, redis.exceptions.ConnectionError) and not isinstance(
        cause, redis.exceptions.TimeoutError
    )
