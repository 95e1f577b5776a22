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
    def for_task(cls, task_name: str, task_id: str, deliveries: int) -> DeliveryBoundExceeded:
        return cls(
            f"{task_name}[{task_id}] was delivered {deliveries} times and its worker was lost"
            f" each time (MAX_DELIVERIES={settings.max_deliveries}); not running it again"
        )
