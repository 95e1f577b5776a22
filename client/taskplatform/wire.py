"""The publish side of the platform's Redis protocol: the one definition of the keys and the
script a publish writes, used by the client and by the platform's transport alike
(broker/transport.py puts with them; broker/inflight.py reads the same keys).

A publish is an LPUSH of kombu's envelope onto the queue's list plus a wake token for the
queue's consumers (its list trimmed to WAKE_BOUND), in one round trip; with a job key, one
Lua call that queues the message only if its task id was not queued within the window.
"""

from __future__ import annotations

from taskplatform.lua import script

#: Every key of the platform's broker machinery starts with this (after any kombu prefix).
PREFIX = "taskplatform:broker:"
WAKE_PREFIX = PREFIX + "wake:"
ONCE_PREFIX = PREFIX + "once:"
#: A message header asking to be queued at most once per task id; its value is how many
#: seconds the broker remembers the id (a producer's `job_key`, taskplatform/guard.py).
ONCE_HEADER = "x_publish_once"
#: A message header marking a job the outbox queued (taskplatform/outbox): its worker marks
#: the job finished under OUTBOX_DONE_PREFIX + id, which the relay reads to close the row.
OUTBOX_HEADER = "x_outbox"
OUTBOX_DONE_PREFIX = "taskplatform:outbox:done:"
#: Each outbox relay's numbers, under its name (taskplatform/outbox/relay.py), read by the
#: platform's overview and exporter.
OUTBOX_RELAY_PREFIX = "taskplatform:outbox:relay:"
#: Where Celery's Redis result backend keeps a job's state and result (taskplatform/status.py).
RESULT_PREFIX = "celery-task-meta-"
#: The broker's epoch (broker/epoch.py): a hash with a random id and a counter every keeper,
#: and the outbox relay, increments at each look. A new id or a counter that went back means
#: Redis lost data.
EPOCH_KEY = PREFIX + "epoch"
#: Wake tokens kept per queue: enough for a burst; a consumer that finds the queue empty
#: waits for the next token, and a stale one only costs it an empty fetch.
WAKE_BOUND = 1000

#: Queue a message unless its task id was queued within the window (lua/put_once.lua):
#: sent with EVAL, never EVALSHA, so that a publish that timed out runs whole on resume.
PUT_ONCE = script("taskplatform", "put_once")

#: A bulk publish's `task-sent` events in one command (lua/publish_all.lua).
PUBLISH_ALL = script("taskplatform", "publish_all")

#: Messages for a queue with a QUEUE_MAX_DEPTH: all, or none past it (lua/put_bounded.lua).
PUT_BOUNDED = script("taskplatform", "put_bounded")
#: The error Redis answers a put past a queue's bound with.
QUEUE_FULL = "QUEUEFULL"

#: A look at the broker's epoch, by a keeper or the outbox relay (lua/epoch_tick.lua).
EPOCH_TICK = script("taskplatform", "epoch_tick")

#: After a counter went back, give the epoch a new id, once (lua/epoch_renew.lua).
EPOCH_RENEW = script("taskplatform", "epoch_renew")


def wake_key(queue: str) -> str:
    return WAKE_PREFIX + queue


def put_once_command(
    queue: str, task_id: str, payload: str, window: int, bound: int | None = None
) -> tuple:
    """A publish with a job key's window, to an unprefixed Redis: the publish-once script."""
    keys = (ONCE_PREFIX + task_id, queue, wake_key(queue))
    return ("eval", PUT_ONCE, 3, *keys, payload, int(window), WAKE_BOUND, bound or 0)


def publish_command(channel: str, events: list[str]) -> tuple:
    """Events for one channel: a PUBLISH for one, the PUBLISH_ALL script for more."""
    if len(events) == 1:
        return ("PUBLISH", channel, events[0])
    return ("EVAL", PUBLISH_ALL, 1, channel, *events)


def put_commands(queue: str, payloads: list[str], bound: int | None = None) -> list[tuple]:
    """Messages for one queue, to an unprefixed Redis, for a pipeline: one LPUSH of them all
    (the first is taken first), one of their wake tokens (one each, at most WAKE_BOUND), and
    the wake list's trim. Redis takes or refuses each command whole. With a bound
    (QUEUE_MAX_DEPTH), one PUT_BOUNDED call instead: all of them, or none past it."""
    if bound:
        return [("eval", PUT_BOUNDED, 2, queue, wake_key(queue), bound, WAKE_BOUND, *payloads)]
    tokens = ["1"] * min(len(payloads), WAKE_BOUND)
    return [
        ("lpush", queue, *payloads),
        ("lpush", wake_key(queue), *tokens),
        ("ltrim", wake_key(queue), 0, WAKE_BOUND - 1),
    ]
