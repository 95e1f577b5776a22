"""How many jobs wait in each queue, on either broker.

Redis: the length of the queue's list. RabbitMQ: the ready messages a passive declare
reports (jobs delivered and not yet acknowledged are not counted, as on Redis, where they
sit in a worker's in-flight list).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from config import redis_client
from config.settings import settings


class Declared(NamedTuple):
    """What a passive declare tells of a RabbitMQ queue, exact at that moment (the
    management API's counts lag by its statistics interval)."""

    ready: int
    consumers: int


def waiting(queues: Iterable[str]) -> dict[str, int]:
    queues = list(queues)
    if not settings.broker_is_rabbitmq:
        client = redis_client.client()
        return {queue: int(client.llen(queue)) for queue in queues}
    return {queue: found.ready if found else 0 for queue, found in declared(queues).items()}


def declared(queues: Iterable[str]) -> dict[str, Declared | None]:
    """RabbitMQ: per queue its ready messages and consumers; None for a queue not declared
    yet. A passive declare reads the queue without touching a message."""
    from config.celery_app import app

    found: dict[str, Declared | None] = {}
    with app.connection_for_read() as connection:
        for queue in queues:
            try:
                ok = connection.default_channel.queue_declare(queue, passive=True)
                found[queue] = Declared(int(ok.message_count), int(ok.consumer_count))
            except connection.channel_errors:  # not declared yet: nothing waits in it
                connection.close()  # the broker closed the channel; start a fresh one
                found[queue] = None
    return found
