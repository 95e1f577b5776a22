"""The worker's consumer: Celery's, with task events sent in batches, an undecodable message
dead-lettered before Celery drops it, and (where the broker dead-letters on its own) a job
past its delivery bound dead-lettered instead of run again.

Celery sends each loop turn's task events at once, which costs a round trip or more per
job; here they go together (`task-multi`, which Flower and `celery events` read as the
events it holds) at most every EVENTS_FLUSH_SECONDS.
"""

from __future__ import annotations

import logging
from time import monotonic
from typing import Any

from celery import bootsteps
from celery.worker.consumer import Consumer
from vine import promise

from config import brokers
from deadletters import capture, exchange

logger = logging.getLogger(__name__)

#: The longest a worker holds a task event before sending it, in seconds.
EVENTS_FLUSH_SECONDS = 0.1


class BatchedEvents:
    """Mixin for the worker's Consumer: one send of buffered task events per window,
    scheduled on the event loop. Once the consumer stops running (a shutdown draining its
    pool), events go as Celery sends them, on the loop's last turns, and whatever is
    buffered is sent before the consumer shuts down."""

    _events_flush_due = False
    _events_flush_at = 0.0

    def on_send_event_buffered(self) -> None:
        if not self.hub or self.blueprint.state != bootsteps.RUN:
            return super().on_send_event_buffered()
        now = monotonic()
        # A flush scheduled long ago that never ran (its timer was cleared on a reconnect)
        # is scheduled again.
        if self._events_flush_due and now < self._events_flush_at + 1.0:
            return None
        self._events_flush_due, self._events_flush_at = True, now + EVENTS_FLUSH_SECONDS
        self.hub.call_later(EVENTS_FLUSH_SECONDS, promise(self._flush_events_due))
        return None

    def _flush_events_due(self) -> None:
        self._events_flush_due = False
        self._flush_events()

    def shutdown(self) -> None:
        try:
            self._flush_events()
        except Exception:  # the broker may be gone: events are best effort
            logger.debug("task events not flushed at shutdown", exc_info=True)
        super().shutdown()


class WorkerConsumer(BatchedEvents, Consumer):
    """The worker's consumer (named by the app's `worker_consumer`): it dead-letters a
    message whose body does not decode before Celery logs and acks it, and sends task
    events in batches."""

    def on_decode_error(self, message, exc) -> None:
        capture.keep_undecodable(message, exc)
        super().on_decode_error(message, exc)

    def create_task_handler(self, *args: Any, **kwargs: Any):
        """On RabbitMQ, a job the quorum queue has delivered MAX_DELIVERIES times already
        (each time its worker died) is not run again but dead-lettered, as the Redis
        transport does (deadletters/exchange.py)."""
        handle = super().create_task_handler(*args, **kwargs)
        if not brokers.current().dead_letters_by_broker:
            return handle

        def on_task_received(message) -> None:
            if exchange.refused(message):
                return
            if exchange.past_bound(message):
                exchange.keep_past_bound(message)
                return
            handle(message)

        return on_task_received
