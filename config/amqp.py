"""How the app hands a task message to kombu: the message and its `task-sent` event (what
Flower shows of a queued job) leave in one round trip.

Celery publishes the message, then the event, each in a round trip of its own (and declares
the queue each time, which Redis does not need for the default exchange). kombu's producer
batches (`Producer.batch`) buffer both in one pipeline that the transport sends at the end;
the platform's transport adds the wake token (broker/transport.py). Transports without
batches (RabbitMQ) publish at once, as before.

How a message is sent, and when it may be sent again, is the broker's (`send_message` in
config/brokers/): on Redis a batch is sent once, without kombu's publish retry, and again (as
the call's or the app's retry policy says) only when the connection itself could not be made,
so nothing can have been written; any other failure may have queued the job, and the caller
hears so (config/celery_app.py): publish again with the same job_key to be safe. A publish
made inside a batch the caller holds is sent with the caller's batch. On RabbitMQ the same
rule holds for the single publish, and a publish blocked by an alarm is aborted unread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kombu
from celery.app.amqp import AMQP
from kombu.connection import ConnectionPool, PooledConnection
from kombu.utils.imports import symbol_by_name

from broker.transport import ALIASES
from config import brokers
from config.brokers.base import Sending


class _PlatformTransport:
    """Picks the platform's transport for the Redis URL schemes, kombu's for the rest."""

    def get_transport_cls(self):  # noqa: ANN201 - kombu's signature
        name = self.transport_cls
        if isinstance(name, str) and name in ALIASES:
            return symbol_by_name(ALIASES[name])  # amqp:// and the rest: kombu's own
        return super().get_transport_cls()


class PlatformConnection(_PlatformTransport, kombu.Connection):
    """The connections the platform's app makes (its workers, beat, Flower, the ops
    commands, and every publish through it) use the platform's transport for redis://,
    rediss:// and sentinel://, and so do the connections of their pools. Only those: a
    kombu connection or another Celery app in the same process (a web app's own, say)
    keeps kombu's transport, since nothing global is changed. The URL scheme stays the
    transport's name, so kombu's rediss handling, `as_uri()` (Flower's broker page, the
    logs) and a switch to another URL keep working."""

    def Pool(self, limit=None, **kwargs):  # noqa: N802, ANN201 - kombu's name and signature
        return PlatformConnectionPool(self, limit=limit, **kwargs)


class PooledPlatformConnection(_PlatformTransport, PooledConnection):
    """What a pool of the app's hands out (kombu's pool makes plain PooledConnections)."""


class PlatformConnectionPool(ConnectionPool):
    def new(self) -> PooledPlatformConnection:
        return PooledPlatformConnection(self, **dict(self.connection._info(resolve=False)))


class PlatformAMQP(AMQP):
    #: The app's connections, on the platform's transport for Redis.
    Connection = PlatformConnection

    def _create_task_sender(self) -> Callable[..., Any]:
        send = super()._create_task_sender()
        default_retry = bool(self.app.conf.task_publish_retry)
        default_policy = dict(self.app.conf.task_publish_retry_policy or {})

        def send_task_message(producer: Any, *args: Any, **kwargs: Any) -> Any:
            retry = default_retry if kwargs.get("retry") is None else bool(kwargs["retry"])
            policy = {**default_policy, **(kwargs.get("retry_policy") or {})}
            retries = int(policy.get("max_retries") or 0) if retry else 0
            # Inside a batch a publish only buffers: kombu's retry wrapper around it (built
            # per publish, for the message and for its event) guards nothing, and on
            # RabbitMQ it resends after an ambiguous failure. Retried by the broker's
            # send_message, when safe.
            kwargs["retry"] = False
            broker = brokers.of_connection(producer.connection)
            return broker.send_message(send, producer, Sending(retries, policy), args, kwargs)

        return send_task_message
