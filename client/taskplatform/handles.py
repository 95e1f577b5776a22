"""Task handles: what a web app calls instead of importing the platform's task functions.

`generate_quote.delay(request)` and `.apply_async(args, job_key=..., countdown=...)` behave
as Celery's do (and cross the same guard, taskplatform/guard.py); `.delay_many(items)`
sends many in a few round trips. Each returns a `Job`, which has the id to hand back to
the browser and reads its own status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from taskplatform import guard, message, producer
from taskplatform.errors import BulkPublishError, PayloadError
from taskplatform.queues import queue_for
from taskplatform.schemas import InvalidArguments, Signature
from taskplatform.settings import current


@dataclass(frozen=True)
class Job:
    """A queued job: its id (what the web app returns with its 202), and its task."""

    id: str
    task: str

    def status(self) -> dict[str, Any]:
        from taskplatform.status import job_status

        return job_status(self.id)


class TaskHandle:
    """The calling side of one task, named as the task's function."""

    def __init__(
        self, name: str, signature: Signature | None = None, ignore_result: bool = False
    ) -> None:
        self.name = name
        self.queue = queue_for(name)
        #: As the task's own option says: the worker then stores no state or result for it.
        self.ignore_result = ignore_result
        #: What the task takes: checked here before a publish, and by the worker.
        self.signature = signature

    def __repr__(self) -> str:
        return f"<task handle {self.name} (queue {self.queue})>"

    def delay(self, *args: Any, **kwargs: Any) -> Job:
        """Queue the job; returns at once (or raises within about 3 s: BrokerUnavailableError)."""
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        job_key: str | None = None,
        countdown: float | None = None,
        eta: datetime | str | None = None,
        expires: float | datetime | str | None = None,
        task_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> Job:
        """Celery's call, with `job_key` for publishing at most once per key."""
        item, job = self._prepared(args, kwargs, job_key, countdown, eta, expires, task_id, headers)
        producer.send([item])
        return job

    def delay_many(
        self, items: Iterable[Sequence[Any]], *, job_keys: Sequence[str] | None = None
    ) -> list[Job]:
        """Queue one job per item (a tuple of positional arguments, as Celery's starmap takes
        them), in order, a few hundred per round trip. Every item is checked before anything
        is sent: one bad item refuses the batch (PayloadError naming it). `job_keys`, one
        per item, makes each publish-once as in apply_async."""
        items = list(items)
        if job_keys is not None and len(job_keys) != len(items):
            raise PayloadError(
                f"{self.name}: {len(job_keys)} job keys for {len(items)} items; give one per item"
            )
        prepared = []
        for index, args in enumerate(items):
            if not isinstance(args, list | tuple):
                raise PayloadError(
                    f"{self.name}: item {index} is {type(args).__name__}, not a tuple of"
                    " positional arguments (wrap a single argument: (value,))"
                )
            key = job_keys[index] if job_keys is not None else None
            try:
                prepared.append(self._prepared(args, None, key, None, None, None, None, None))
            except InvalidArguments as exc:
                raise InvalidArguments(exc.field, exc.problem, item=index) from None
            except PayloadError as exc:
                raise PayloadError(f"item {index}: {exc}") from None
        try:
            producer.send_many([item for item, _job in prepared])
        except BulkPublishError as exc:
            exc.queued = {i: prepared[i][1] for i in exc.queued}
            raise
        return [job for _item, job in prepared]

    def _prepared(
        self,
        args: Sequence[Any] | None,
        kwargs: dict[str, Any] | None,
        job_key: str | None,
        countdown: float | None,
        eta: datetime | str | None,
        expires: float | datetime | str | None,
        task_id: str | None,
        headers: dict[str, Any] | None,
    ) -> tuple[producer.Outgoing, Job]:
        if args is not None and not isinstance(args, list | tuple):
            raise PayloadError(f"{self.name}: args must be a list or tuple")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise PayloadError(f"{self.name}: kwargs must be a dict")
        if self.signature is not None:
            self.signature.check(args, kwargs)
        options: dict[str, Any] = {"headers": headers or {}}
        if job_key is not None:
            options["job_key"] = job_key
        task_id = guard.prepare(
            self.name, args, kwargs, countdown, eta, task_id, options, current()
        )
        task_id = task_id or message.new_id()
        text, headers = message.task_envelope(
            self.name,
            task_id,
            self.queue,
            args,
            kwargs,
            options,
            eta=message.iso_after(countdown) if countdown else message.when(eta),
            expires=message.when(expires),
            ignore_result=self.ignore_result,
        )
        return producer.outgoing(text, headers, self.queue), Job(task_id, self.name)
