"""Queue-health snapshots: what waits, what runs, what finished, per queue and task.

Flower shows none of this for Redis: queue depth, the age of the oldest waiting message (from
the `enqueued_at` header the base task sets at publish), in-flight jobs (held by workers,
broker/inflight.py) per queue, dead letters per queue, and per task the jobs done and failed
with their runtime since the last snapshot. On RabbitMQ the per-queue numbers come from the
broker itself and the platform's publish counts (`_rabbitmq_states`; docs/operations.md).

One snapshot is a set of rows with one `taken_at`: per queue a row with task `(queue)` for
the totals, and a row per task seen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from broker import inflight
from config import publish_log
from config.queues import QUEUES
from config.settings import settings
from deadletters import repository
from housekeeping import queue_depth, rabbitmq_api
from housekeeping.task_stats import STATS_KEY

logger = logging.getLogger(__name__)

QUEUE_ROW = "(queue)"
NOT_SAMPLED = "(not sampled)"
#: At most this many waiting messages per queue are read to attribute them to tasks.
SAMPLE = 5_000

SUMMARY_SQL = """
WITH latest AS (SELECT max(taken_at) AS at FROM queue_health)
SELECT task_name,
       coalesce(sum(pending) FILTER (WHERE taken_at = latest.at), 0) AS pending,
       coalesce(sum(in_flight) FILTER (WHERE taken_at = latest.at), 0) AS in_flight,
       sum(done) AS done,
       sum(failed) AS failed,
       round(sum(runtime_ms)::numeric / nullif(sum(done + failed), 0), 1) AS avg_runtime_ms
FROM queue_health, latest
WHERE taken_at > now() - make_interval(hours => :hours) AND task_name <> '(queue)'
GROUP BY task_name
ORDER BY task_name
"""


def _headers(raw: bytes | str) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError:
        return {}
    return message.get("headers") or {} if isinstance(message, dict) else {}


def _take_stats(client: redis.Redis) -> dict[str, Counter]:
    """Read and reset the per-task counters in one step (RENAME is atomic)."""
    taken = f"{STATS_KEY}:taken:{uuid.uuid4().hex}"
    try:
        client.rename(STATS_KEY, taken)
    except redis.ResponseError:  # no counters since the last snapshot
        return {}
    stats: dict[str, Counter] = defaultdict(Counter)
    for key, value in client.hgetall(taken).items():
        task_name, _, metric = key.decode().partition("\t")
        stats[task_name][metric] += int(value)
    client.delete(taken)
    return stats


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


FIRST_SEEN_PREFIX = "taskplatform:first-seen:"
FIRST_SEEN_TTL = 7 * 24 * 3600


def oldest_age(client: redis.Redis, raw: bytes, now: float) -> float:
    """Seconds the oldest message has waited: from its `enqueued_at`; for a message without
    one (a foreign producer, a broken header), from when this platform first saw it at the
    head of its queue, and at least one second: a waiting job never reads as 0 s old."""
    try:
        return max(0.0, now - float(_headers(raw)["enqueued_at"]))
    except (KeyError, TypeError, ValueError):
        pass
    key = FIRST_SEEN_PREFIX + hashlib.sha1(raw).hexdigest()  # noqa: S324 - a name, not a hash
    client.set(key, now, nx=True, ex=FIRST_SEEN_TTL)
    first_seen = float(client.get(key) or now)
    return max(1.0, now - first_seen)


def queue_states(client: redis.Redis, now: float | None = None) -> dict[str, QueueState]:
    """Every platform queue's state on either broker (the exporter, the snapshots and the
    overview page read this one function); `client` is the platform's Redis."""
    now = time.time() if now is None else now
    if settings.broker_is_rabbitmq:
        return _rabbitmq_states(client, now)
    in_flight: dict[str, Counter] = defaultdict(Counter)
    for queue, raw in inflight.held_messages(client):
        in_flight[queue][_headers(raw).get("task", "(unknown)")] += 1
    states = {}
    for queue in QUEUES:
        depth = client.llen(queue)
        pending = Counter(_headers(raw).get("task", "(unknown)")
                          for raw in client.lrange(queue, -SAMPLE, -1))  # fmt: skip
        if depth > sum(pending.values()):
            pending[NOT_SAMPLED] += depth - sum(pending.values())
        oldest = client.lindex(queue, -1)
        age = oldest_age(client, oldest, now) if oldest is not None else None
        held = sum(in_flight[queue].values())
        # Consumers: the Redis transport registers consumers, not the queues they read.
        states[queue] = QueueState(depth, age, pending, in_flight[queue], held, None, "redis")
    return states


def _rabbitmq_states(client: redis.Redis, now: float) -> dict[str, QueueState]:
    """Ready jobs and consumers from a passive declare (exact, now); jobs in flight from
    the management API when one is configured (None otherwise: AMQP does not tell them);
    the oldest job's age from the broker's head timestamp where it gives one (classic
    queues), else from the platform's publish counts (config/publish_log.py). RabbitMQ lets
    a client count a queue, not read its messages in place: nothing here touches one."""
    found = queue_depth.declared(QUEUES)
    stats: dict[str, dict[str, Any]] = {}
    source = "rabbitmq amqp"
    if rabbitmq_api.configured():
        try:
            stats = rabbitmq_api.queues()
            source = "rabbitmq amqp+management"
        except rabbitmq_api.ManagementApiError as exc:
            logger.warning("queue states without jobs in flight: %s", exc)
    states = {}
    for queue in QUEUES:
        ready, consumers = found[queue] or (0, 0)
        held = stats.get(queue, {}).get("messages_unacknowledged")
        head = stats.get(queue, {}).get("head_message_timestamp")
        if not ready:
            age = None
        elif head:
            age = max(0.0, now - float(head))
        else:
            age = publish_log.age(client, queue, ready, now)
        states[queue] = QueueState(
            ready, age, Counter({NOT_SAMPLED: ready}) if ready else Counter(),
            Counter({NOT_SAMPLED: held}) if held else Counter(),
            None if held is None else int(held), consumers, source,
        )  # fmt: skip
    return states


def measure(client: redis.Redis, now: float | None = None) -> list[dict[str, Any]]:
    """The rows of one snapshot, from Redis alone (taking the per-task counters)."""
    states = queue_states(client, now)
    stats = _take_stats(client)
    rows: list[dict[str, Any]] = []
    for queue, state in states.items():
        tasks = (
            set(state.pending)
            | set(state.in_flight)
            | {name for name in stats if name.split(".", 1)[0] == queue}
        )
        rows.append({"queue": queue, "task_name": QUEUE_ROW, "pending": state.depth,
                     "in_flight": sum(state.in_flight.values()),
                     "oldest_age_seconds": state.oldest_age_seconds,
                     "done": 0, "failed": 0, "runtime_ms": 0})  # fmt: skip
        for task_name in sorted(tasks):
            counters = stats.get(task_name, Counter())
            rows.append({"queue": queue, "task_name": task_name,
                         "pending": state.pending[task_name],
                         "in_flight": state.in_flight[task_name], "oldest_age_seconds": None,
                         "done": counters["done"], "failed": counters["failed"],
                         "runtime_ms": counters["runtime_ms"]})  # fmt: skip
    return rows


def snapshot(engine: Engine, client: redis.Redis) -> int:
    """Measure and store one snapshot; the number of rows written."""
    rows = measure(client)
    with engine.begin() as db:
        dead = repository.unresolved_by_queue(Session(bind=db))
        taken_at = db.execute(text("SELECT now()")).scalar()
        for row in rows:
            row["dead_letters"] = dead.get(row["queue"], 0) if row["task_name"] == QUEUE_ROW else 0
            row["taken_at"] = taken_at
        db.execute(
            text(
                "INSERT INTO queue_health (taken_at, queue, task_name, pending, in_flight,"
                " oldest_age_seconds, done, failed, runtime_ms, dead_letters) VALUES"
                " (:taken_at, :queue, :task_name, :pending, :in_flight, :oldest_age_seconds,"
                " :done, :failed, :runtime_ms, :dead_letters)"
            ),
            rows,
        )
    return len(rows)


def summary(engine: Engine, hours: int = 24) -> list[dict[str, Any]]:
    """Per task: pending and in flight now; done, failed and average runtime over `hours`."""
    with engine.connect() as db:
        return [dict(row) for row in db.execute(text(SUMMARY_SQL), {"hours": hours}).mappings()]


def purge(engine: Engine, older_than_days: int) -> int:
    """Delete snapshots older than the retention; how many."""
    with engine.begin() as db:
        return db.execute(
            text("DELETE FROM queue_health WHERE taken_at < now() - make_interval(days => :d)"),
            {"d": older_than_days},
        ).rowcount


def finished(engine: Engine, minutes: int) -> list[tuple[str, int, int]]:
    """(queue, jobs done, jobs failed) over the last `minutes`, from the snapshots."""
    with engine.connect() as db:
        rows = db.execute(
            text(
                "SELECT queue, sum(done), sum(failed) FROM queue_health"
                " WHERE taken_at > now() - make_interval(mins => :m) GROUP BY queue"
            ),
            {"m": minutes},
        ).all()
    return [(queue, int(ok or 0), int(bad or 0)) for queue, ok, bad in rows]
