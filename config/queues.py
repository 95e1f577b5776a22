"""Queues and routing, in one table.

The queue is the domain is the module: task `email.send_email` (in tasks/email.py) goes to
queue `email`. Routing follows the prefix of the task's explicit name, so no task repeats
`queue=`, and a renamed module does not strand messages already in flight.
"""

from __future__ import annotations

from typing import Any

from kombu import Exchange, Queue

#: Every queue a worker may consume, and what it is for.
QUEUES: dict[str, str] = {
    "quote": "pricing quotes for offshore staffing",
    "email": "outgoing mail",
    "crm": "lead capture and CRM pushes",
    "search": "candidate search and reindexing",
    "maintenance": "beat's housekeeping: spool drains, digests, purges, snapshots",
}

#: Celery's own tasks (chord unlock, backend cleanup) run with the housekeeping.
CELERY_INTERNAL_QUEUE = "maintenance"

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


class UnroutableTaskError(LookupError):
    """A task name whose prefix is not a declared queue: it would reach no worker."""


def queue_for(task_name: str) -> str:
    """The queue a task name routes to, or UnroutableTaskError."""
    prefix = task_name.split(".", 1)[0]
    if prefix == "celery":
        return CELERY_INTERNAL_QUEUE
    if prefix in QUEUES and "." in task_name:
        return prefix
    raise UnroutableTaskError(
        f"task {task_name!r} routes nowhere: its name must start with one of"
        f" {', '.join(QUEUES)} followed by a dot"
    )


def queue_of_routing_key(routing_key: str | None) -> str | None:
    """The queue a delivery came from: its routing key, less the delay prefix Celery's native
    delayed delivery puts before it on RabbitMQ (`0.0.1...1.quote`)."""
    return routing_key.rsplit(".", 1)[-1] if routing_key else routing_key


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any):
    """Celery router (`task_routes`): the queue follows the task name's prefix."""
    return {"queue": queue_for(name)}
