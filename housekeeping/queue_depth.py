"""How many jobs wait in each queue, on either broker.

Redis: the length of the queue's list. RabbitMQ: the ready messages a passive declare
reports (jobs delivered and not yet acknowledged are not counted, as on Redis, where they
sit in a worker's in-flight list).
"""

from __future__ import annotations

from collections.abc import Iterable

from config import redis_client
from config.settings import settings


def waiting(queues: Iterable[str]) -> dict[str, int]:
    queues = list(queues)
    if not settings.broker_is_rabbitmq:
        client = redis_client.client()
        return {queue: int(client.llen(queue)) for queue in queues}
    from config.celery_app import app

    depths: dict[str, int] = {}
    with app.connection_for_read() as connection:
        for queue in queues:
            try:
                found = connection.default_channel.queue_declare(queue, passive=True)
                depths[queue] = int(found.message_count)
            except connection.channel_errors:  # not declared yet: nothing waits in it
                connection.close()  # the broker closed the channel; start a fresh one
                depths[queue] = 0
    return depths
