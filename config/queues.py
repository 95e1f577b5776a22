"""The queues as the broker declares them, and Celery's router.

The table and the routing rule (a task's queue is its name's prefix) are the client's
(taskplatform/queues.py): a web app routes exactly as the platform does. Here they become
kombu queues (quorum queues on RabbitMQ) and the app's `task_routes`.
"""

from __future__ import annotations

from typing import Any

from kombu import Exchange, Queue

from taskplatform.queues import CELERY_INTERNAL_QUEUE, QUEUES, UnroutableTaskError, queue_for

# Importers of the platform name the table and the rule from here, beside the declarations.
__all__ = ["CELERY_INTERNAL_QUEUE", "QUEUES", "UnroutableTaskError", "queue_for"]


#: RabbitMQ only: where a queue's broker sends a message it gives up on (past the delivery
#: limit); every worker drains it into the dead letters (deadletters/exchange.py).
DEAD_LETTER_EXCHANGE = "taskplatform.dead"
DEAD_LETTER_QUEUE = "taskplatform.dead"


#: RabbitMQ only: the broker's own backstop. The worker ends a job at MAX_DELIVERIES (at
#: most 100) from the delivery count the quorum queue keeps; the broker dead-letters what
#: still comes back past this. A constant, not a setting: queue arguments cannot change on
#: a live queue, so every process must declare the same ones.
BROKER_DELIVERY_LIMIT = 100


def task_queues(*, rabbitmq: bool) -> tuple[Queue, ...]:
    """The queues as the broker declares them.

    On RabbitMQ each is a quorum queue (replicated, durable, counting deliveries) with a
    delivery limit and a dead-letter exchange. Exchanges are topic ones there, as Celery's
    native delayed delivery (countdowns without holding the message in a worker) requires;
    each still routes by the queue's own name.
    """
    if not rabbitmq:
        return tuple(Queue(n, Exchange(n, type="direct"), routing_key=n) for n in QUEUES)
    return tuple(
        Queue(
            name,
            Exchange(name, type="topic"),
            routing_key=name,
            queue_arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": BROKER_DELIVERY_LIMIT,
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": name,
                # Dead-lettered only once the dead-letter queue has confirmed it, and kept
                # in its queue until then (which needs reject-publish overflow).
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        for name in QUEUES
    )


def dead_letter_queue() -> Queue:
    """The queue behind DEAD_LETTER_EXCHANGE (a fanout: every queue's give-ups)."""
    return Queue(
        DEAD_LETTER_QUEUE,
        Exchange(DEAD_LETTER_EXCHANGE, type="fanout"),
        routing_key="#",
        queue_arguments={"x-queue-type": "quorum"},
    )


def queue_of_routing_key(routing_key: str | None) -> str | None:
    """The queue a delivery came from: its routing key, less the delay prefix Celery's native
    delayed delivery puts before it on RabbitMQ (`0.0.1...1.quote`)."""
    return routing_key.rsplit(".", 1)[-1] if routing_key else routing_key


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any):
    """Celery router (`task_routes`): the queue follows the task name's prefix."""
    return {"queue": queue_for(name)}
