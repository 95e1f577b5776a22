"""The publish guard: what every job passes before it reaches the broker.

The client runs it before every publish (taskplatform/handles.py), and so does the
platform: every way a job enters a queue there (`.delay()`, `.apply_async()`,
`app.send_task()`, canvas signatures, `celery call`, beat, retries, dead-letter replays)
ends in `Celery.send_task`, which runs `prepare` (config/celery_app.py). A
`before_task_publish` handler could not refuse a message: Celery swallows handler
exceptions.

`prepare` refuses, before anything is sent: a serializer other than JSON, arguments (with
the caller's own headers) that are not JSON, exceed TASK_MAX_PAYLOAD_BYTES or nest deeper
than TASK_MAX_DEPTH, a delay past MAX_COUNTDOWN. It stamps the
headers the platform relies on (`enqueued_at`, the correlation id), replaces what Flower
and worker logs show of the arguments with a short redacted repr, and turns a caller's
`job_key` into a publish-once message.

Publish once: `task.apply_async(args, job_key=request_id)` derives the task id from the
task name and the key, and the broker queues a message for that id at most once within
JOB_KEY_WINDOW seconds (taskplatform/wire.py PUT_ONCE, one Lua call). A web app that got
`BrokerUnavailableError` (the job may or may not be queued) publishes again with the same
key and gets the same job, never a second one.
"""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from taskplatform import correlation
from taskplatform.errors import PayloadError
from taskplatform.message import dumps_arguments  # the JSON serializer's own encoding
from taskplatform.redaction import redact, redact_text
from taskplatform.settings import ClientSettings
from taskplatform.wire import ONCE_HEADER

#: What Flower and worker logs show of arguments: redacted and short.
ARGS_REPR_LIMIT = 512
#: The longest job key taken (a request id, an idempotency key from a client).
JOB_KEY_LIMIT = 256
#: Task ids derived from job keys live in their own namespace.
JOB_KEY_NAMESPACE = uuid.UUID("5b0b6a47-58a4-4f4e-9d36-4f2a3c1b7e21")
ENQUEUED_AT = "enqueued_at"
#: The send_task options that embed signatures in the message body.
EMBEDDED = ("link", "link_error", "chain", "chord")
#: Task-protocol headers Celery sets itself. A caller's `headers=` would override them
#: (`argsrepr` in clear, another `id`), so they are dropped from it; a replay sets its own.
PROTOCOL_HEADERS = frozenset(
    {
        "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries",
        "timelimit", "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin",
        "ignore_result", "replaced_task_nesting", "stamped_headers", "stamps",
    }
)  # fmt: skip


def prepare(
    name: str,
    args: Any,
    kwargs: Any,
    countdown: float | None,
    eta: Any,
    task_id: str | None,
    options: dict[str, Any],
    limits: ClientSettings,
) -> str | None:
    """Check one publish and complete its options in place; the task id to use.

    Raises PayloadError for what must not reach the broker."""
    check_serializer(name, options.get("serializer"))
    embedded = {key: options[key] for key in EMBEDDED if options.get(key)}
    # A retry or a replay carries the stored headers: never the publish-once mark, or the
    # broker would take it for the first publish again and drop it.
    given = options.get("headers") or {}
    if not isinstance(given, dict):
        raise PayloadError(f"{name}: headers must be a dict, got {type(given).__name__}")
    headers = {k: v for k, v in given.items() if k not in PROTOCOL_HEADERS and k != ONCE_HEADER}
    check_payload(name, args, kwargs, limits, embedded, headers)
    delay = check_delay(name, countdown, eta, limits)
    job_key = options.pop("job_key", None)
    headers[ENQUEUED_AT] = time.time()
    if correlation.current() and correlation.HEADER not in headers:
        headers[correlation.HEADER] = correlation.current()
    if job_key is not None:
        derived = job_task_id(name, job_key)
        if task_id not in (None, derived):
            raise PayloadError(
                f"{name}: job_key names the task id itself; it cannot go with task_id"
                " (or inside a chain, group or chord, which choose ids of their own)"
            )
        task_id = derived
        # Remembered while the job may still be waiting: the window, plus its delay.
        headers[ONCE_HEADER] = limits.job_key_window + math.ceil(max(delay or 0, 0))
    options["headers"] = headers
    options["argsrepr"] = _shown(options.get("argsrepr"), args or ())
    options["kwargsrepr"] = _shown(options.get("kwargsrepr"), kwargs or {})
    return task_id


def job_task_id(name: str, job_key: object) -> str:
    """The task id a job key stands for: the same task and key give the same id."""
    if not isinstance(job_key, str) or not job_key.strip():
        raise PayloadError(f"{name}: job_key must be a non-empty string, got {job_key!r}")
    if len(job_key) > JOB_KEY_LIMIT:
        raise PayloadError(f"{name}: job_key is {len(job_key)} characters, over {JOB_KEY_LIMIT}")
    return str(uuid.uuid5(JOB_KEY_NAMESPACE, f"{name}\n{job_key}"))


def check_serializer(name: str, serializer: str | None) -> None:
    """JSON only: a worker refuses anything else, so it must not be queued at all."""
    if serializer not in (None, "json"):
        raise PayloadError(
            f"{name}: serializer {serializer!r} refused; the platform sends JSON only"
        )


def check_payload(
    name: str,
    args: Any,
    kwargs: Any,
    limits: ClientSettings,
    embedded: dict | None = None,
    headers: dict | None = None,
) -> None:
    """Refuse arguments that are not JSON, exceed the cap or nest too deep, before anything is
    sent. The signatures a message carries (the rest of a chain, callbacks, a chord) and the
    caller's own headers count too: the worker decodes and hands on all of them."""
    from kombu.exceptions import EncodeError  # at the first publish: a web app's import stays light

    body = [args or (), kwargs or {}, embedded or {}]
    for part, what in ((body, "arguments"), (headers or {}, "headers")):
        # Checked first, without recursion: encoding, redacting and (in the worker) pickling
        # recurse, and a few hundred levels raise RecursionError in each.
        if part and nesting_exceeds(part, limits.max_depth):
            raise PayloadError(
                f"{name}: {what} nest deeper than {limits.max_depth} levels"
                " (TASK_MAX_DEPTH), or contain themselves"
            )
    size = 0
    for part, what in ((body, "arguments"), (headers, "headers")):
        if not part:
            continue
        try:
            encoded = dumps_arguments(part)
        except (EncodeError, TypeError, ValueError) as exc:
            raise PayloadError(f"{name}: {what} are not JSON-serialisable: {exc}") from None
        size += len(encoded.encode() if isinstance(encoded, str) else encoded)
    if size > limits.max_payload_bytes:
        raise PayloadError(
            f"{name}: arguments and headers are {size} bytes, over the cap of"
            f" {limits.max_payload_bytes} (TASK_MAX_PAYLOAD_BYTES); pass ids, not data"
        )


def check_delay(
    name: str, countdown: float | None, eta: Any, limits: ClientSettings
) -> float | None:
    """Refuse a countdown or ETA beyond MAX_COUNTDOWN (30 days by default).

    A delayed job waits in its worker's memory, held in flight and never redelivered while
    that worker lives; the cap only catches a unit mistake (milliseconds for seconds).
    """
    delay = countdown
    if eta is not None:
        eta_time = datetime.fromisoformat(eta) if isinstance(eta, str) else eta
        if eta_time.tzinfo is None:
            eta_time = eta_time.replace(tzinfo=UTC)
        delay = (eta_time - datetime.now(UTC)).total_seconds()
    if delay is not None and delay > limits.max_countdown:
        raise PayloadError(
            f"{name}: a delay of {delay:.0f} s exceeds MAX_COUNTDOWN"
            f" ({limits.max_countdown} s); schedule it with beat instead"
        )
    return delay


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether `value` holds containers (lists, tuples, dicts) more than `limit` deep. Walks
    iteratively and stops as soon as the limit is passed, so a value that contains itself
    counts as too deep instead of looping. (The worker's intake checks the same way.)"""
    if not isinstance(value, dict | list | tuple):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]  # only containers, with their depth
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        for child in current.values() if isinstance(current, dict) else current:
            if isinstance(child, dict | list | tuple):
                stack.append((child, depth + 1))
    return False


def short_repr(value: Any) -> str:
    """Redacted and truncated: what logs and Flower may show of a job's arguments. Only the
    head that can be shown is redacted: 256 KiB of arguments cost no more than 1 KiB."""
    if not value:
        return repr(value)  # no arguments (or no keyword arguments): nothing to redact
    budget = _Budget(ARGS_REPR_LIMIT)
    text = repr(redact(budget.head(value)))
    return _cut(text, cut=budget.cut)


class _Budget:
    """Takes the head of a value: containers lose their tail and strings are shortened once
    about `left` characters are taken; keys stay, so key-based masking still applies."""

    def __init__(self, left: int) -> None:
        self.left, self.cut = left, False

    def head(self, value: Any) -> Any:
        if isinstance(value, dict):
            return dict(self._items(value.items(), lambda kv: (kv[0], self.head(kv[1]))))
        if isinstance(value, list | tuple):
            return self._items(value, self.head)
        if isinstance(value, str):
            if len(value) > self.left:
                self.cut, value = True, value[: max(self.left, 0)]
            self.left -= len(value) + 4
            return value
        self.left -= len(str(value)) + 2
        return value

    def _items(self, items: Any, take: Any) -> list:
        taken = []
        for item in items:
            if self.left <= 0:
                self.cut = True
                break
            taken.append(take(item))
        return taken


def _shown(given: Any, value: Any) -> str:
    """A caller's own argsrepr is redacted too: it is shown exactly where the args would be."""
    return _cut(redact_text(str(given))) if given is not None else short_repr(value)


def _cut(text: str, cut: bool = False) -> str:
    """At most ARGS_REPR_LIMIT characters, ending in `...` when anything was left out."""
    if not cut and len(text) <= ARGS_REPR_LIMIT:
        return text
    return text[: ARGS_REPR_LIMIT - 3] + "..."
