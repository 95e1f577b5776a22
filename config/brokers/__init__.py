"""The broker seam: one interface (config/brokers/base.py), a Redis and a RabbitMQ
implementation. Wherever the two brokers differ (transport options, the publish path, what
a worker or beat starts, dead-lettering, measuring, pausing and checking a queue), the
platform asks `current()`; no module outside this package asks which broker the platform
runs on. A message is sent the way the transport of its connection needs
(`of_connection`): a Celery app may publish over a connection to a URL other than BROKER_URL.

    redis      the platform's own Redis transport (broker/), beat's reaper
    rabbitmq   quorum queues, publisher confirms, the broker's dead-lettering
    rabbitmq_api  its management HTTP API, read-only
"""

from __future__ import annotations

from functools import cache
from typing import Any

from config.brokers.base import NOT_SAMPLED, Broker, Job, QueueState

__all__ = ["NOT_SAMPLED", "Broker", "Job", "QueueState", "current", "of_connection"]


def current() -> Broker:
    """The broker BROKER_URL names (Redis unless it is an amqp:// URL), chosen once."""
    from config.settings import settings

    return _of_kind("rabbitmq" if settings.broker_kind == "rabbitmq" else "redis")


def of_connection(connection: Any) -> Broker:
    """The implementation for the transport a kombu connection is on: Redis for the
    platform's Redis transport, RabbitMQ's (a single publish, sent again only when nothing
    can have been written) for every other."""
    driver = getattr(connection.transport, "driver_type", "")
    return _of_kind("redis" if driver == "redis" else "rabbitmq")


@cache
def _of_kind(kind: str) -> Broker:
    if kind == "rabbitmq":
        from config.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker()
    from config.brokers.redis import RedisBroker

    return RedisBroker()
