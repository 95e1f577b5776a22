"""The delivery bound: what a job that kills its worker every time ends with.

Redis keeps no delivery count, so the broker transport counts one each time a job comes
back because its worker died (a pool child killed, a whole worker gone past its heartbeat);
past MAX_DELIVERIES the job is not run again but dead-lettered with reason `worker_lost`,
and its callers see this exception. Counting happens only on that rare path.
"""

from __future__ import annotations

from config.settings import settings


class DeliveryBoundExceeded(Exception):
    """A job was delivered MAX_DELIVERIES times and its worker was lost each time.

    Takes only a message, so the result backend can rebuild it for the caller.
    """

    reason = "worker_lost"

    @classmethod
    def for_task(
        cls, task_name: str, task_id: str, deliveries: int, broker_limit: int | None = None
    ) -> DeliveryBoundExceeded:
        """The error for a job past the platform's bound, or (`broker_limit`) past the
        broker's own backstop: RabbitMQ's delivery limit, which counts every return of the
        message (a lost worker, a dropped connection, a requeue), not only lost workers."""
        if broker_limit is not None:
            return cls(
                f"{task_name}[{task_id}] came back to its queue more than {broker_limit} times"
                f" and RabbitMQ gave up on it (its delivery limit, x-delivery-limit="
                f"{broker_limit}; MAX_DELIVERIES={settings.max_deliveries} did not end it first)"
            )
        return cls(
            f"{task_name}[{task_id}] was delivered {deliveries} times and its worker was lost"
            f" each time (MAX_DELIVERIES={settings.max_deliveries}); not running it again"
        )
