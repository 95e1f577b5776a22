"""How many jobs the platform put into each RabbitMQ queue, second by second: the age of a
queue's oldest waiting job, which RabbitMQ does not tell for the platform's queues.

RabbitMQ (3.10 here) gives `head_message_timestamp` for classic queues only, and a client
cannot read a message in place: a get-and-requeue would spend one of the job's deliveries on
a quorum queue. But a quorum queue is first in, first out, so the R jobs ready in it are the
R newest it received, and the oldest of them entered with the R-th newest. Every publish
through the app (`.delay`, retries, beat, replays) adds one to its queue's count for the
second the job enters the queue (its ETA's second for a countdown, when the broker's delay
queues hand it over); `entered_at` walks back from now until it has counted the broker's R.

What it measures, then: when the oldest ready job entered its queue, to the second, if every
job in the queue came through the app. A job returned to its queue (its worker died) waits
at the front without a new publish: the walk reaches one publish further back, which may be
younger than that job. A publish while Redis was unreachable
is not counted, so the walk reaches one publish further back (older). Jobs waiting from before
the counts began (an upgrade, a Redis that lost its data), or from another producer, are
reported as waiting since the counts began: a lower bound. Counts are kept WINDOW seconds.
"""

from __future__ import annotations

import logging
import time

import redis

from broker import keys

logger = logging.getLogger(__name__)

#: How far back the counts reach: an older job reads as this old (a lower bound).
WINDOW = 24 * 3600
HOUR = 3600


def record(client: redis.Redis, queue: str, entered_at: float) -> None:
    """Count one job entering `queue` at `entered_at` (one round trip). Never raises: a
    publish that RabbitMQ confirmed must not fail for a statistic."""
    second = int(entered_at)
    hour = second // HOUR
    try:
        pipe = client.pipeline(transaction=False)
        pipe.set(keys.published_since(queue), second, nx=True)
        pipe.hincrby(keys.published_second(queue, hour), str(second), 1)
        pipe.expire(keys.published_second(queue, hour), WINDOW + 2 * HOUR)
        pipe.hincrby(keys.published_hours(queue), str(hour), 1)
        pipe.expire(keys.published_hours(queue), WINDOW + 2 * HOUR)
        pipe.execute()
    except Exception as exc:
        logger.warning("publish not counted for %s's oldest-job age: %s", queue, exc)


def entered_at(client: redis.Redis, queue: str, ready: int, now: float) -> float | None:
    """When the oldest of the `ready` jobs waiting in `queue` entered it (epoch seconds), or
    None when none waits. Past the counts: when the counts began (the job is older)."""
    if ready <= 0:
        return None
    now_second = int(now)
    horizon = now_second - WINDOW
    hours = {int(h): int(n) for h, n in client.hgetall(keys.published_hours(queue)).items()}
    stale = [str(h) for h in hours if h < horizon // HOUR]
    if stale:
        client.hdel(keys.published_hours(queue), *stale)
    counted = 0
    for hour in sorted((h for h in hours if horizon // HOUR <= h <= now_second // HOUR),
                       reverse=True):  # fmt: skip
        # The current hour may count countdowns still in the delay queues: read its seconds.
        if hour != now_second // HOUR and counted + hours[hour] < ready:
            counted += hours[hour]
            continue
        seconds = sorted(((int(s), int(n)) for s, n in
                          client.hgetall(keys.published_second(queue, hour)).items()
                          if horizon <= int(s) <= now_second), reverse=True)  # fmt: skip
        for second, n in seconds:
            counted += n
            if counted >= ready:
                return float(second)
    # Older than every count: it waits since before they began (at least a second, as a
    # job the counts cannot place must never read as just arrived).
    client.set(keys.published_since(queue), now_second, nx=True)
    began = int(client.get(keys.published_since(queue)) or now_second)
    return float(min(max(horizon, began), now_second - 1))


def age(client: redis.Redis, queue: str, ready: int, now: float | None = None) -> float | None:
    """Seconds the oldest of `ready` waiting jobs has waited (None: none waits)."""
    now = time.time() if now is None else now
    entered = entered_at(client, queue, ready, now)
    return None if entered is None else max(0.0, now - entered)
