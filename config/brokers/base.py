"""What every broker the platform runs on must do, named once.

A method per point where Redis and RabbitMQ differ: the transport's options, the publish
path, what a worker or beat starts, how a queue is measured, paused and checked. The Redis
implementation (config/brokers/redis.py) stands on the platform's own transport (broker/);
the RabbitMQ one (config/brokers/rabbitmq.py) on quorum queues and the broker's own
dead-lettering. Dramatiq's RedisBroker and RabbitmqBroker are the model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class QueueState:
    """One queue now. `depth`: jobs waiting (ready); `oldest_age_seconds`: how long the
    oldest of them has waited (None: none waits, or unknown); `pending` and `in_flight`: jobs
    by task name ("(not sampled)" where the broker gives a count only); `held`: jobs
    delivered to a worker and not yet acknowledged (None: unknown); `consumers`: consumers
    the broker sees on the queue (None: unknown); `source`: where the numbers come from."""

    depth: int
    oldest_age_seconds: float | None
    pending: Counter
    in_flight: Counter
    held: int | None = None
    consumers: int | None = None
    source: str = "redis"


NOT_SAMPLED = "(not sampled)"


@dataclass
class Job:
    """One publish on its way to the broker, as `send_task` was given it."""

    name: str
    args: Any
    kwargs: Any
    countdown: float | None
    eta: Any
    task_id: str | None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sending:
    """How often one task message may be sent again, and the pauses between (the call's or
    the app's publish retry policy, as Celery reads it)."""

    retries: int
    policy: dict[str, Any]

    def pause(self, attempt: int) -> float:
        """Seconds to wait before sending again after the `attempt`th try (from 0)."""
        start = float(self.policy.get("interval_start") or 0)
        step = float(self.policy.get("interval_step") or 0)
        most = self.policy.get("interval_max")
        pause = start + attempt * step
        return min(pause, float(most)) if most is not None else pause


class Broker:
    """The interface; each method says what the platform needs of a broker."""

    #: How the broker is named to people ("Redis", "RabbitMQ").
    name: str = ""

    def transport_options(self) -> dict[str, Any]:
        """kombu's `broker_transport_options`."""
        raise NotImplementedError

    def use_ssl(self) -> dict | bool:
        """Celery's `broker_use_ssl`, from the broker URL."""
        raise NotImplementedError

    def task_queues(self) -> list:
        """The queues as the broker declares them (config/queues.py)."""
        raise NotImplementedError

    def publish(self, app: Any, job: Job, send: Callable[[Job], Any]) -> Any:
        """Publish `job` with `send` (the app's guarded send), with what this broker needs
        around it; connection errors are left to the caller to name."""
        raise NotImplementedError

    def send_message(
        self, send: Callable[..., Any], producer: Any, sending: Sending, args: tuple, kwargs: dict
    ) -> Any:
        """Hand one task message (and its `task-sent` event) to kombu with Celery's `send`
        (config/amqp.py), sending again only when that is safe on this broker: a message
        that may already be queued is never sent twice."""
        raise NotImplementedError

    def before_send(self, app: Any) -> None:
        """Just before each send (a topology to make sure of)."""

    def refusal(self, name: str, exc: BaseException) -> BaseException | None:
        """What the caller hears when the broker refused a publish it took (a full queue),
        or None when `exc` is no such refusal."""
        return None

    def service_down(self, exc: BaseException) -> str:
        """Which service a publish that failed with `exc` could not reach."""
        return "Redis"

    def worker_init(self, app: Any) -> None:
        """In a worker, before its consumer starts."""

    def start_reaper(self, on_lost: str | None) -> Any:
        """Beat's reaper of jobs whose worker died, or None where the broker returns them
        itself."""
        return None

    @property
    def dead_letters_by_broker(self) -> bool:
        """Whether the broker dead-letters on its own (a worker then consumes its dead-letter
        queue, and bounds redeliveries itself: deadletters/exchange.py)."""
        return False

    def queue_states(self, client: Any, now: float) -> dict[str, QueueState]:
        """Every platform queue's state; `client` is the platform's Redis."""
        raise NotImplementedError

    def waiting(self, queues: list[str]) -> dict[str, int]:
        """Jobs waiting (ready) per queue, exact now."""
        raise NotImplementedError

    def paused(self) -> set[str]:
        """The queues paused now (`celery -A config queues pause`)."""
        return set()

    def pausing(self, queue: str) -> str | None:
        """Why `queue` cannot be paused on this broker, or None when it can."""
        return None

    def pause(self, queue: str) -> None:
        """Workers stop fetching from `queue` within a second; publishes go on."""
        raise RuntimeError(self.pausing(queue))

    def resume(self, queue: str) -> None:
        raise RuntimeError(self.pausing(queue))

    def doctor(self, app: Any) -> list[str]:
        """The broker's own problems, a line each (housekeeping/doctor.py)."""
        raise NotImplementedError
