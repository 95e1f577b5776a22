"""RabbitMQ's topology, declared by every process before its first publish.

A countdown on RabbitMQ goes through Celery's native delayed delivery: the message waits in
the broker's delay queues, then the delivery exchange routes it to its queue through a
binding. A binding that does not exist yet drops the message without a word (the publish
was confirmed), so a process may not count on a worker of that queue having declared it:
each declares every platform queue, the dead-letter queue, the delay levels and their
bindings once (all idempotent), before anything it sends can depend on them.
"""

from __future__ import annotations

import os
from typing import Any

from kombu.transport.native_delayed_delivery import (
    bind_queue_to_native_delayed_delivery_exchange,
    declare_native_delayed_delivery_exchanges_and_queues,
)

from config.queues import dead_letter_queue

#: The process that declared the topology (a forked child declares again: cheap, and its
#: connection is its own).
_declared_in: int | None = None


def declare_topology(connection: Any, queues: list[Any]) -> None:
    channel = connection.default_channel
    for queue in [*queues, dead_letter_queue()]:
        queue.bind(channel).declare()
    declare_native_delayed_delivery_exchanges_and_queues(connection, "quorum")
    for queue in queues:
        bind_queue_to_native_delayed_delivery_exchange(connection, queue)


def ensure_topology(app: Any) -> None:
    """Declare once per process; raises the broker's error when it cannot be reached."""
    global _declared_in
    if _declared_in == os.getpid():
        return
    with app.connection_for_write() as connection:
        declare_topology(connection, list(app.amqp.queues.values()))
    _declared_in = os.getpid()
