"""The broker seam: one interface (config/brokers/base.py), a Redis and a RabbitMQ
implementation. Wherever the two brokers differ (transport options, the publish path, what
a worker or beat starts, dead-lettering, measuring, pausing and checking a queue), the
platform asks `current()`; no module outside this package asks which broker the platform
runs on (config/amqp.py looks at the transport of the producer connection it is handed).

    redis      the platform's own Redis transport (broker/), beat's reaper
    rabbitmq   quorum queues, publisher confirms, the broker's dead-lettering
    rabbitmq_api  its management HTTP API, read-only
"""

from __future__ import annotations

from functools import cache

from config.brokers.base import NOT_SAMPLED, Broker, Job, QueueState

__all__ = ["NOT_SAMPLED", "Broker", "Job", "QueueState", "current"]


@cache
def current() -> Broker:
    """The broker BROKER_URL names (Redis unless it is an amqp:// URL), chosen once."""
    from config.settings import settings

    if settings.broker_kind == "rabbitmq":
        from config.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker()
    from config.brokers.redis import RedisBroker

    return RedisBroker()
