"""Sending to the platform's Redis: one pipeline per publish, or per batch of a bulk one.

redis-py is imported at the first publish, not with the client: it costs ~90 ms, which a
web app that never publishes in a request (or a serverless cold start) should not pay.

No command is ever sent twice by itself: redis-py's own retries are off. A connection that
was refused wrote nothing, so it is tried once more after 0.2 s; any other failure may have
written the job, and the caller hears so (`BrokerUnavailableError`): publish again with the
same `job_key` to be safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from taskplatform import message, wire
from taskplatform.errors import BrokerUnavailableError, BulkPublishError, QueueFullError
from taskplatform.settings import check_redis_url, current, on_change

#: Messages per round trip in a bulk publish: large enough to amortise the trip, small
#: enough that one batch never holds Redis for long (about 1 ms of work each).
BATCH = 500
REFUSED_PAUSE = 0.2

_lock = threading.Lock()
_clients: dict[str, Any] = {}


@dataclass(frozen=True)
class Outgoing:
    """One message ready to send: where, what, and its publish-once window."""

    queue: str
    task_id: str
    payload: str
    window: int | None
    event: str | None


def reset() -> None:
    """Forget the connections (new settings, or a forked process)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


on_change(reset)


def redis_client(url: str) -> Any:
    """One client (and connection pool) per URL, with bounded timeouts and no retries."""
    client = _clients.get(url)
    if client is not None:
        return client
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    settings = current()
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(
                url,
                socket_timeout=settings.socket_timeout,
                socket_connect_timeout=settings.socket_connect_timeout,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=10,
            )
    return client


def outgoing(text: str, headers: dict[str, Any], queue: str) -> Outgoing:
    """A message (message.task_envelope's text and headers) ready for `send`."""
    event = message.sent_event(headers, queue) if current().sent_events else None
    return Outgoing(queue, headers["id"], text, headers.get(wire.ONCE_HEADER), event)


def send(messages: Sequence[Outgoing]) -> None:
    """Send one message, or a few, in one round trip (BrokerUnavailableError if not)."""
    try:
        refusals = _send_with_one_retry(messages)
    except Exception as exc:
        raise _unavailable(exc) from exc
    refused_by_redis = [error for error in refusals if error is not None]
    full = [e for e in refused_by_redis if str(e).startswith(wire.QUEUE_FULL)]
    if full:
        raise QueueFullError(f"nothing was queued: {str(full[0]).removeprefix(wire.QUEUE_FULL)}")
    if refused_by_redis:
        raise BrokerUnavailableError(
            f"Redis refused the job, nothing was queued: {refused_by_redis[0]}"
        )


def send_many(messages: Sequence[Outgoing]) -> None:
    """Send in batches of BATCH, each one round trip. A failure part way raises
    BulkPublishError naming what was queued, what may have been and what was not: Redis
    answers each message of a batch on its own (a full Redis refuses some and takes others),
    and a batch whose connection broke after it was written may have been queued."""
    queued: list[int] = []
    for start in range(0, len(messages), BATCH):
        batch = messages[start : start + BATCH]
        indexes = range(start, start + len(batch))
        try:
            refusals = _send_with_one_retry(batch)
        except Exception as exc:
            written = not refused(exc)
            raise BulkPublishError(
                f"bulk publish stopped at item {start} of {len(messages)}: {_unavailable(exc)}",
                queued=dict.fromkeys(queued),
                uncertain=list(indexes) if written else [],
                unsent=list(range(indexes.stop if written else start, len(messages))),
            ) from exc
        failed = [i for i, error in zip(indexes, refusals, strict=True) if error is not None]
        queued += [i for i in indexes if i not in failed]
        if failed:
            first = refusals[failed[0] - start]
            raise BulkPublishError(
                f"bulk publish: Redis refused {len(failed)} of items {start}-{indexes.stop - 1}"
                f" ({first}); the later ones were not sent",
                queued=dict.fromkeys(queued),
                uncertain=[],
                unsent=failed + list(range(indexes.stop, len(messages))),
            )


def _send_with_one_retry(messages: Sequence[Outgoing]) -> list[Exception | None]:
    settings = current()
    url = check_redis_url("REDIS_URL", settings.broker_url)
    for attempt in (0, 1):
        try:
            return _pipeline(redis_client(url), messages)
        except Exception as exc:
            if attempt or not refused(exc):
                raise
        time.sleep(REFUSED_PAUSE)
    raise AssertionError("unreachable")  # the loop returns or raises


def _pipeline(client: Any, messages: Sequence[Outgoing]) -> list[Exception | None]:
    """Send the messages; per message, the error Redis answered its put with (it was then
    not queued: a full Redis refuses the command whole), else None. Messages without a job
    key go in one LPUSH per queue; with one, each in its publish-once script. Wake tokens
    and events are best effort: a consumer also polls, and Flower also sees the job start."""
    db = client.connection_pool.connection_kwargs.get("db", 0)
    bounds = current().queue_max_depth
    pipe = client.pipeline(transaction=False)
    put_at: list[int] = []  # per message, the index of the reply to its put
    plain: dict[str, list[int]] = {}
    for index, item in enumerate(messages):
        if item.window:
            put_at.append(len(pipe))
            pipe.execute_command(
                *wire.put_once_command(
                    item.queue, item.task_id, item.payload, item.window, bounds.get(item.queue)
                )
            )
        else:
            put_at.append(-1)
            plain.setdefault(item.queue, []).append(index)
    for queue, indexes in plain.items():
        at = len(pipe)
        payloads = [messages[i].payload for i in indexes]
        for name, *args in wire.put_commands(queue, payloads, bounds.get(queue)):
            pipe.execute_command(name.upper(), *args)
        for i in indexes:
            put_at[i] = at
    events = [item.event for item in messages if item.event is not None]
    if events:
        pipe.execute_command(*wire.publish_command(message.event_channel(db), events))
    replies = pipe.execute(raise_on_error=False)
    return [replies[at] if isinstance(replies[at], Exception) else None for at in put_at]


def _unavailable(exc: BaseException) -> BrokerUnavailableError:
    reason = str(exc).strip() or type(exc).__name__
    if not refused(exc):
        reason += "; it may have been queued: publish again with the same job_key to be safe"
    return BrokerUnavailableError(f"Redis unreachable ({reason})")


def refused(exc: BaseException) -> bool:
    """Whether the connection itself failed, so nothing can have been written: refused,
    a Redis still loading, no free connection. A reset or a timeout after the write may
    have queued the job."""
    import redis.exceptions

    seen: set[int] = set()
    current_exc: BaseException | None = exc
    while current_exc is not None and id(current_exc) not in seen:
        seen.add(id(current_exc))
        if isinstance(current_exc, ConnectionRefusedError | redis.exceptions.BusyLoadingError):
            return True
        if isinstance(current_exc, redis.exceptions.MaxConnectionsError):
            return True
        if isinstance(current_exc, redis.exceptions.ConnectionError) and "connecting to" in str(
            current_exc
        ):
            return True
        current_exc = current_exc.__cause__ or current_exc.__context__
    return False
