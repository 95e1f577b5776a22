"""The delivery bound and the dead-letter exchange on RabbitMQ, mapped onto the platform's
dead letters.

A quorum queue counts how often each message came back (`x-delivery-count`: its worker
died, or its connection dropped). The worker's consumer (deadletters/capture.py) ends a
job that comes back with MAX_DELIVERIES already spent, as the Redis transport does: a row
in Postgres with reason `worker_lost`, and FAILURE for whoever waits on its result.

What the broker itself gives up on (returned past BROKER_DELIVERY_LIMIT, a message the
worker rejected, or, under an operator's policy, one that expired) goes to
DEAD_LETTER_EXCHANGE (config/queues.py); every worker consumes the queue behind it, so it
ends as a row too.

A message is acknowledged only once its letter is durable (Postgres, the Redis spool or
the spool file); otherwise it stays unacknowledged on this connection and comes back to
another worker when this one goes. Loaded by every worker (the app's `imports`); on a
Redis broker it adds nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from typing import Any

from celery import bootsteps, current_app
from kombu import Consumer
from kombu.serialization import prepare_accept_content

from broker.intake import Refusal, check
from config import brokers
from config.queues import BROKER_DELIVERY_LIMIT, QUEUES, dead_letter_queue, queue_of_routing_key
from config.rabbitmq import BROKER_HEADERS
from config.settings import settings
from deadletters import intake, letters, spool

logger = logging.getLogger(__name__)

#: Where a letter counts as kept (deadletters/spool.py); "logged" is not durable. An expired
#: job needs none.
DURABLE = {"stored", "already stored", "spooled", "filed", "expired"}


def death(headers: dict) -> tuple[str, str | None]:
    """Why and from which queue the broker dead-lettered a message, this last time: a job
    with a countdown died once before, in a delay queue (`expired`); `x-death` lists the
    most recent first."""
    deaths = headers.get("x-death") or []
    last = deaths[0] if deaths else {}
    reason = headers.get("x-last-death-reason") or last.get("reason") or "unknown"
    queue = headers.get("x-last-death-queue") or last.get("queue")
    return str(reason), (str(queue) if queue else None)


def envelope(message: Any) -> bytes:
    """The message as the Redis transport would hold it, so the same intake checks and
    the same letter builders read it (deadletters/intake.py)."""
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    headers = {k: v for k, v in (message.headers or {}).items() if k not in BROKER_HEADERS}
    properties = {
        k: v
        for k, v in (message.properties or {}).items()
        if k in ("correlation_id", "reply_to", "priority", "delivery_mode")
    }
    delivery = message.delivery_info or {}
    properties.update(
        body_encoding="base64",
        delivery_tag=str(delivery.get("delivery_tag", "")),
        delivery_info={
            "exchange": delivery.get("exchange"),
            "routing_key": delivery.get("routing_key"),
        },
    )
    return json.dumps(
        {
            "body": base64.b64encode(body).decode(),
            "content-encoding": message.content_encoding or "utf-8",
            "content-type": message.content_type or "application/json",
            "headers": headers,
            "properties": properties,
        },
        default=str,
    ).encode()


def deliveries_before(message: Any) -> int:
    """How many times the broker delivered this message before (0 on a first delivery)."""
    try:
        return max(0, int((message.headers or {}).get("x-delivery-count") or 0))
    except (TypeError, ValueError):
        return 0


def past_bound(message: Any) -> bool:
    return deliveries_before(message) >= settings.max_deliveries


def queue_of(message: Any) -> str:
    return queue_of_routing_key((message.delivery_info or {}).get("routing_key")) or "?"


def refused(message: Any) -> bool:
    """Whether a message must not reach Celery's request: the same checks the Redis
    transport's intake makes (a body Celery would unpack into a crash, a missing id);
    refused, it becomes a dead letter and is acknowledged. Never raises."""
    try:
        checked = check(
            envelope(message),
            task_message=True,
            max_bytes=settings.intake_max_bytes,
            max_depth=settings.task_max_depth,
        )
        if not isinstance(checked, Refusal):
            return False
        body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
        where = intake.keep_refused(queue_of(message), body, checked)
    except Exception:
        logger.critical("could not check a message; handing it to Celery", exc_info=True)
        return False
    _settle(message, where)
    return True


def keep_past_bound(message: Any) -> None:
    """A job delivered MAX_DELIVERIES times, its worker lost each time: a dead letter and
    FAILURE for callers, then the message is acknowledged (or left for another worker if
    the letter could not be kept)."""
    try:
        where = intake.keep_lost(queue_of(message), envelope(message), deliveries_before(message))
    except Exception:
        logger.critical("DEAD LETTER CAPTURE FAILED for a job past the delivery bound;"
                        " left unacknowledged for another worker", exc_info=True)  # fmt: skip
        return
    _settle(message, where)


def keep(message: Any) -> str:
    """Write the letter for one dead-lettered message; say where it went."""
    headers = dict(message.headers or {})
    reason, queue = death(headers)
    queue = queue or queue_of(message)
    if reason == "delivery_limit":
        return intake.keep_lost(
            queue, envelope(message), BROKER_DELIVERY_LIMIT + 1, BROKER_DELIVERY_LIMIT
        )
    if reason == "expired" and queue in QUEUES:
        # Its `expires` passed while it waited (beat's entries carry one): on Redis a worker
        # revokes such a job; here the broker drops it. Not a failure: no letter.
        logger.info("%s[%s] expired in queue %r before any worker took it; not run",
                    headers.get("task"), headers.get("id"), queue)  # fmt: skip
        return "expired"
    # Rejected (an unknown task, a refused content type, Reject(requeue=False)) or, under an
    # operator's policy, expired or over a length limit. The worker that rejected it kept a
    # letter under the same task id already; this one only stands in if that one is gone.
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    task_id = headers.get("id") or letters.raw_id("rejected", body)
    error, text = _why(message, headers, queue, reason)
    letter = letters.from_raw(
        task_id=str(task_id),
        task_name=str(headers.get("task") or f"({reason})"),
        queue=queue,
        raw=body,
        headers={k: v for k, v in headers.items() if k not in BROKER_HEADERS},
        exception_type=error,
        exception_message=text,
        reason="rejected",  # the broker's reason is in the message above
        hostname=socket.gethostname(),
    )
    return spool.keep(letter)


def _why(message: Any, headers: dict, queue: str, reason: str) -> tuple[str, str]:
    """The error a rejected message's letter names: the same as the rejecting worker's
    (deadletters/capture.py), whichever of the two reaches the row first."""
    if reason == "rejected" and "task" not in headers:
        return "NotATask", f"NotATask: {message.content_type}"
    accepted = prepare_accept_content(current_app.conf.accept_content)
    if reason == "rejected" and message.content_type not in accepted:
        return "ContentDisallowed", f"ContentDisallowed: {message.content_type}"
    return "DeadLettered", f"RabbitMQ dead-lettered the message from queue {queue!r} ({reason})"


def on_message(message: Any) -> None:
    try:
        where = keep(message)
    except Exception:
        logger.critical("DEAD LETTER CAPTURE FAILED for a message RabbitMQ dead-lettered;"
                        " left unacknowledged for another worker", exc_info=True)  # fmt: skip
        return
    _settle(message, where)


def _settle(message: Any, where: str) -> None:
    if where in DURABLE:
        message.ack()
    else:
        logger.critical("a dead letter could not be kept durably (%s); its message is left"
                        " unacknowledged for another worker", where)  # fmt: skip


class DeadLetterExchange(bootsteps.ConsumerStep):
    """Consume the dead-letter queue beside the task queues (declaring it, its exchange and
    binding first: with at-least-once dead-lettering the broker keeps a message in its
    queue until this route exists)."""

    def get_consumers(self, channel: Any) -> list[Consumer]:
        if not brokers.current().dead_letters_by_broker:
            return []
        return [Consumer(channel, queues=[dead_letter_queue()], on_message=on_message,
                         prefetch_count=16)]  # fmt: skip


current_app.steps["consumer"].add(DeadLetterExchange)
