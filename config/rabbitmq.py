"""RabbitMQ's topology, declared by every process before its first publish.

A countdown on RabbitMQ goes through Celery's native delayed delivery: the message waits in
the broker's delay queues, then the delivery exchange routes it to its queue through a
binding. A binding that does not exist yet drops the message without a word (the publish
was confirmed), so a process may not count on a worker of that queue having declared it:
each declares every platform queue, the dead-letter queue, the delay levels and their
bindings once (all idempotent), before anything it sends can depend on them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import time
from datetime import UTC, datetime
from typing import Any

from kombu.transport.native_delayed_delivery import (
    bind_queue_to_native_delayed_delivery_exchange,
    declare_native_delayed_delivery_exchanges_and_queues,
)

from config import publish_log, redis_client
from config.publish import BrokerUnavailableError
from config.queues import QUEUES, UnroutableTaskError, dead_letter_queue, queue_for
from taskplatform.wire import ONCE_HEADER, ONCE_PREFIX  # the publish-once marks' keys

logger = logging.getLogger(__name__)

#: Seconds a publish waits for the broker's confirm (and for the socket): a RabbitMQ under a
#: memory or disk alarm, or a quorum queue without its majority, must not hang `.delay()`.
CONFIRM_TIMEOUT = 3.0

#: RabbitMQ's own headers, never carried into a new publish (a retry, a replay).
BROKER_HEADERS = frozenset({
    "x-death", "x-delivery-count", "x-acquired-count", "x-first-death-exchange",
    "x-first-death-queue", "x-first-death-reason", "x-last-death-exchange",
    "x-last-death-queue", "x-last-death-reason",
})  # fmt: skip

#: How long a process refuses publishes at once after RabbitMQ said it blocks them (a memory
#: or disk alarm). RabbitMQ tells only a connection that has published, and the blocked one
#: is aborted, so nothing says when the alarm ends: after this, one publish tries again.
BLOCKED_HOLD = 5.0
_blocked_until = 0.0


class BrokerBlockedError(BrokerUnavailableError):
    """RabbitMQ blocks publishers (a memory or disk alarm): the job was not queued, so
    publishing again later, with or without the same job_key, queues it once."""


def on_blocked(reason: str) -> None:
    """py-amqp's `connection.blocked` callback (the transport option `on_blocked`)."""
    global _blocked_until
    _blocked_until = time.monotonic() + BLOCKED_HOLD
    logger.warning("RabbitMQ blocks publishing: %s", reason)


def on_unblocked() -> None:
    global _blocked_until
    _blocked_until = 0.0
    logger.warning("RabbitMQ accepts publishing again")


def blocked() -> bool:
    return time.monotonic() < _blocked_until


def refuse_while_blocked(name: str) -> None:
    """Raise at once, writing nothing, while RabbitMQ is known to block publishers."""
    if blocked():
        raise BrokerBlockedError(
            f"could not queue {name}: RabbitMQ blocks publishers (a memory or disk alarm);"
            " nothing was queued: publish again later"
        )


def abort(connection: Any) -> None:
    """Drop a blocked connection with a TCP reset, not a close handshake: RabbitMQ has not
    read what a blocked connection sent, and a reset makes it discard it (seen here), so
    the publish that timed out is certainly not queued; a graceful close would wait for
    the alarm to end and then deliver it. Never raises."""
    amqp_connection = getattr(connection, "connection", None)
    sock = getattr(getattr(amqp_connection, "transport", None), "sock", None)
    with contextlib.suppress(Exception):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
    with contextlib.suppress(Exception):
        connection.collect()


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


def _aware(eta: Any) -> datetime:
    """An ETA as Celery takes it (ISO text or datetime; naive is UTC), as an aware datetime."""
    when = datetime.fromisoformat(eta) if isinstance(eta, str) else eta
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def whole_seconds(countdown: float | None, eta: Any, now: datetime | None = None):
    """Celery's native delayed delivery takes whole seconds and refuses a delay under one
    (kombu's calculate_routing_key): a retry_after of 0.5, or an eta a moment away, would
    raise instead of queueing. Round such a delay up to one second; keep the rest."""
    if eta is not None:
        left = (_aware(eta) - (now or datetime.now(UTC))).total_seconds()
        if left < 1:
            return (1 if left > 0 else None), None
        return countdown, eta
    if countdown is not None and 0 < countdown < 1:
        return 1, None
    return countdown, eta


def prepare_publish(options: dict[str, Any]) -> None:
    """Bound the confirm wait, and drop the broker's headers a retry or replay carries."""
    options.setdefault("confirm_timeout", CONFIRM_TIMEOUT)
    options.setdefault("timeout", CONFIRM_TIMEOUT)
    headers = options.get("headers")
    if headers:
        options["headers"] = {k: v for k, v in headers.items() if k not in BROKER_HEADERS}


def count_published(name: str, options: dict[str, Any], countdown: Any, eta: Any) -> None:
    """Count a confirmed publish for its queue's oldest-job age (config/publish_log.py), at
    the second it enters the queue: now, or when the delay queues hand a countdown over.
    Never raises: the job is queued, and an error here would tell the caller it was not."""
    try:
        _count_published(name, options, countdown, eta)
    except Exception as exc:
        logger.warning("publish of %s not counted for its queue's oldest-job age: %s", name, exc)


def _count_published(name: str, options: dict[str, Any], countdown: Any, eta: Any) -> None:
    queue = options.get("queue")
    queue = getattr(queue, "name", queue)
    if queue is None:
        try:
            queue = queue_for(name)
        except UnroutableTaskError:
            return
    if queue not in QUEUES:
        return
    now = time.time()
    entered = now + float(countdown or 0)
    if eta is not None:
        entered = _aware(eta).timestamp()
    publish_log.record(redis_client.client(), queue, max(now, entered))


def claim_once(task_id: str, options: dict[str, Any]) -> bool:
    """A job key's publish-once mark, in Redis as on the Redis broker (there it is set in
    the same script as the push): False when the job was queued already in its window."""
    window = (options.get("headers") or {}).get(ONCE_HEADER)
    if not window:
        return True
    return bool(redis_client.client().set(ONCE_PREFIX + task_id, "1", nx=True, ex=int(window)))


def release_once(task_id: str, options: dict[str, Any]) -> None:
    """A publish that failed gives its mark back: publishing again must not be taken for a
    repeat (a timed-out publish may then queue twice: at least once, never lost)."""
    if (options.get("headers") or {}).get(ONCE_HEADER):
        # Best effort: with Redis away too, the caller hears of the failure either way.
        with contextlib.suppress(Exception):
            redis_client.client().delete(ONCE_PREFIX + task_id)


def nacked(exc: BaseException) -> bool:
    """Whether RabbitMQ refused the publish (a basic.nack): on a queue at its `max-length`
    (a policy; the queues overflow with reject-publish) it queued nothing. Found through the
    causes: the message and its event go as one batch (config/amqp.py)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ == "MessageNacked":
            return True
        current = current.__cause__ or current.__context__
    return False
