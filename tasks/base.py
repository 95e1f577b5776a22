"""The shared base task: it applies the one failure policy to every attempt.

Every task of the app is a `PlatformTask` (the app sets `task_cls`). Domain code raises
`TransientError` or `PermanentError`, or lets a client library's exception escape; when an
attempt raises, this class asks `config.failure_policy.decide` what happens next and does
it: a retry after the decided countdown (exponential backoff with full jitter, or the other
side's Retry-After), or a failure whose reason dead-letter capture records as given. When
retries run out, the job fails with the original exception. Celery's own autoretry is not
used: it would be a second place that decides.

A task that needs another policy names a preset (`@app.task(name=..., retry_preset="patient")`);
setting the retry options themselves on a task is refused, so the numbers live here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from celery import Task
from celery.exceptions import Ignore, Retry
from celery.utils.log import get_task_logger

from config import failure_policy, flow_control, job_context
from config.errors import InvalidInput, PermanentError, TransientError
from config.publish import BrokerUnavailableError
from config.queues import queue_of_routing_key
from config.settings import settings
from taskplatform import correlation
from taskplatform.correlation import correlation_id
from taskplatform.errors import PayloadError
from taskplatform.schemas import InvalidArguments
from taskplatform.tasks import BY_NAME as DECLARED

__all__ = [
    "PRESETS",
    "BrokerUnavailableError",
    "PayloadError",
    "PermanentError",
    "PlatformTask",
    "RetryPreset",
    "TransientError",
    "correlation_id",
]

logger = get_task_logger(__name__)


@dataclass(frozen=True)
class RetryPreset:
    """How many times a task retries; backoff shape and cap come from the settings."""

    max_retries: int
    why: str


PRESETS: dict[str, RetryPreset] = {
    "default": RetryPreset(
        settings.retry_max_retries, "most work: a few attempts over a few minutes"
    ),
    "patient": RetryPreset(
        settings.retry_max_retries * 3, "side effects that must happen: mail, CRM pushes"
    ),
    "no_retry": RetryPreset(0, "work whose moment has passed if the first attempt fails"),
}

#: Options this class owns; a task names a preset instead of setting them.
OWNED_OPTIONS = (
    "autoretry_for",
    "dont_autoretry_for",
    "retry_kwargs",
    "retry_backoff",
    "retry_backoff_max",
    "retry_jitter",
    "max_retries",
    "default_retry_delay",
)


def check_arguments(name: str, args: tuple, kwargs: dict) -> None:
    """The task's declaration (taskplatform/tasks.py), checked again in the worker: a job
    from an older client or another producer is refused as user input, before it runs."""
    handle = DECLARED.get(name)
    if handle is None or handle.signature is None:
        return
    try:
        handle.signature.check(args, kwargs)
    except InvalidArguments as exc:
        raise InvalidInput(f"arguments refused: {exc}") from None


class PlatformTask(Task):
    """Base of every task: owns the retry policy. Every publish is guarded by the app
    (config/publish.py), whichever way it is made."""

    retry_preset = "default"
    #: The dependency the task calls (`@app.task(..., dependency="crm")`): its flow control
    #: (rate, concurrency, Retry-After pauses, circuit breaker; config/flow_control.py).
    dependency: str | None = None
    #: The task's calls go through `flow_control.before_call(dependency)` (an httpx hook),
    #: which applies the rate at the moment of each call; the attempt is admitted without it.
    rate_at_call = False
    # What `inspect active/reserved/scheduled` and Flower show of a job: redacted reprs.
    Request = "config.task_events:RedactedRequest"

    max_retries = PRESETS["default"].max_retries

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if not name or name.startswith("celery."):
            return  # abstract bases and Celery's own tasks keep their options
        overridden = [option for option in OWNED_OPTIONS if option in cls.__dict__]
        if overridden:
            raise TypeError(
                f"task {name}: {', '.join(overridden)} belong to tasks/base.py;"
                f" name a retry_preset ({', '.join(PRESETS)}) instead"
            )
        if cls.retry_preset not in PRESETS:
            raise TypeError(
                f"task {name}: unknown retry_preset {cls.retry_preset!r};"
                f" choose one of {', '.join(PRESETS)}"
            )
        cls.max_retries = PRESETS[cls.retry_preset].max_retries

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run one attempt with the job's correlation id set for its log lines, and apply
        the failure policy to whatever it raises."""
        request = self.request
        if request.id is None or request.is_eager:
            return super().__call__(*args, **kwargs)  # called as a plain function
        cid = (request.headers or {}).get(correlation.HEADER)
        token = correlation.set_current(cid)
        # for the lines Celery writes about this attempt after it ends
        queue = queue_of_routing_key((request.delivery_info or {}).get("routing_key"))
        job_context.remember(request.id, self.name, queue, (request.retries or 0) + 1, cid)
        admitted = False
        try:
            check_arguments(self.name, args, kwargs)
            if self.dependency:
                self._admit(request, args, kwargs)
                admitted = True
            result = super().__call__(*args, **kwargs)
        except (Retry, Ignore):
            raise  # Celery's own flow: a retry already decided, a job to drop
        except flow_control.WaitForDependency as told:
            try:
                self._defer(request, args, kwargs, told.wait, slot_owned=told.why == "rate")
            except Ignore:
                raise
            except Exception as exc:  # the deferral could not be queued: as any failure
                self._fail(request, exc)
        except Exception as exc:
            if admitted:
                self._after_failure(request, args, kwargs, exc)
            self._fail(request, exc)
        else:
            if admitted:
                self._flow("outcome", request.id, "ok")
            return result
        finally:
            if admitted:
                self._flow("release", request.id)
            correlation.reset(token)

    def _fail(self, request: Any, exc: Exception) -> NoReturn:
        """Apply the failure policy to what this attempt raised: a retry after the decided
        countdown, or the decision left on the request for dead-letter capture."""
        decision = failure_policy.decide(exc, request.retries or 0, self.max_retries or 0)
        if isinstance(decision, failure_policy.Retry):
            raise self.retry(exc=exc, countdown=decision.countdown) from exc
        failure_policy.attach(request, decision)
        raise exc

    def _flow(self, step: str, *args: Any) -> None:
        """Record an outcome or release a lease; a Redis hiccup here must not turn the
        attempt's own result into a failure (a lease left behind expires with the time
        limit, a missed outcome only delays the breaker)."""
        try:
            getattr(flow_control.gate(), step)(self.dependency, *args)
        except Exception as exc:
            logger.warning("flow control: could not %s for %s (%s)", step, self.dependency, exc)

    def _admit(self, request: Any, args: tuple, kwargs: dict) -> None:
        """Wait (deferred, not retried) while the dependency's limits, pause or breaker say
        so; return when this attempt may call it."""
        headers = request.headers if isinstance(request.headers, dict) else {}
        slot = headers.get(flow_control.SLOT_HEADER) == self.dependency
        lease = float(self.time_limit or settings.task_time_limit) + 30
        wait, why = flow_control.gate().admit(
            self.dependency, request.id, lease, slot, without_rate=self.rate_at_call
        )
        if wait > 0:
            self._defer(request, args, kwargs, wait, slot_owned=why == "rate")
        if not self.rate_at_call:
            headers.pop(flow_control.SLOT_HEADER, None)  # used: a later retry owns no slot

    def _after_failure(self, request: Any, args: tuple, kwargs: dict, exc: Exception) -> None:
        """A transient failure (a time limit too: a hung dependency) counts toward the
        breaker; a 429 or 503 with Retry-After pauses the dependency for every worker, and
        this job waits like the others, without spending a retry, up to SLOWED_LIMIT times
        (then its retries count, so a dependency that never stops asking ends it)."""
        kind = failure_policy.classify(exc)
        if failure_policy.reason_for_event(exc) == "time_limit":
            self._flow("outcome", request.id, "failed")
            return
        if not kind.transient or failure_policy.reason_for_event(exc) is not None:
            self._flow("outcome", request.id, "ok")  # it answered
            return
        headers = request.headers if isinstance(request.headers, dict) else {}
        slowed = int(headers.get(flow_control.SLOWED_HEADER) or 0)
        wait = min(kind.retry_after or 0, settings.max_countdown)
        if wait <= 0 or slowed >= flow_control.SLOWED_LIMIT:
            self._flow("outcome", request.id, "failed")
            return  # the failure policy retries it, spending a retry
        self._flow("outcome", request.id, "slowed", wait)
        self._flow("release", request.id)
        logger.info("%s asked to slow down for %.1f s (%s): %s waits without a retry",
                    self.dependency, wait, type(exc).__name__, request.id)  # fmt: skip
        self._defer(request, args, kwargs, wait, slot_owned=False, slowed=slowed + 1)

    def _defer(
        self,
        request: Any,
        args: tuple,
        kwargs: dict,
        wait: float,
        slot_owned: bool,
        slowed: int | None = None,
    ) -> None:
        """Publish this job again under its own id and retry count, `wait` seconds ahead,
        with every option Celery's own retry keeps (chain, links, chord, queue, limits), and
        end this attempt (Ignore: acked, nothing stored)."""
        headers = dict(request.headers or {})
        headers.pop(flow_control.SLOT_HEADER, None)
        if slot_owned:
            headers[flow_control.SLOT_HEADER] = self.dependency
        if slowed is not None:
            headers[flow_control.SLOWED_HEADER] = slowed
        again = self.signature_from_request(
            request, args, kwargs, countdown=max(wait, 0.001), retries=request.retries or 0,
            headers=headers,
        )  # fmt: skip
        again.apply_async()
        raise Ignore()
