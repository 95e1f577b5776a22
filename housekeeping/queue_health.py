"""Queue-health snapshots: what waits, what runs, what finished, per queue and task.

Flower shows none of this: per queue its depth, the age of its oldest waiting job, its jobs
in flight and its dead letters (the broker measures them, config/brokers/: Redis reads its
lists in place, RabbitMQ counts by passive declares, its management API and the platform's
publish counts), and per task the jobs done and failed with their runtime since the last
snapshot.

One snapshot is a set of rows with one `taken_at`: per queue a row with task `(queue)` for
the totals, and a row per task seen.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

import redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from broker import keys
from config import brokers
from config.brokers import QueueState
from config.queues import QUEUES
from deadletters import repository

logger = logging.getLogger(__name__)

QUEUE_ROW = "(queue)"

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


def _take_stats(client: redis.Redis) -> dict[str, Counter]:
    """Read and reset the per-task counters in one step (RENAME is atomic)."""
    taken = keys.task_stats_taken(uuid.uuid4().hex)
    try:
        client.rename(keys.TASK_STATS, taken)
    except redis.ResponseError:  # no counters since the last snapshot
        return {}
    stats: dict[str, Counter] = defaultdict(Counter)
    for key, value in client.hgetall(taken).items():
        task_name, _, metric = key.decode().partition("\t")
        stats[task_name][metric] += int(value)
    client.delete(taken)
    return stats


def queue_states(client: redis.Redis, now: float | None = None) -> dict[str, QueueState]:
    """Every platform queue's state on either broker (the exporter, the snapshots and the
    overview page read this one function; config/brokers/ measures); `client` is the
    platform's Redis."""
    return brokers.current().queue_states(client, time.time() if now is None else now)


def measure(client: redis.Redis, now: float | None = None) -> list[dict[str, Any]]:
    """The rows of one snapshot (taking the per-task counters from Redis); a queue's jobs in
    flight are None where the broker cannot tell them."""
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
                     "in_flight": state.held,
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


PER_MINUTE_SQL = """
SELECT queue, floor(extract(epoch FROM now() - taken_at) / 60)::int AS minutes_ago,
       sum(done) AS done, sum(failed) AS failed
FROM queue_health
WHERE taken_at > now() - make_interval(mins => :minutes) AND task_name <> '(queue)'
GROUP BY 1, 2
"""


def per_minute(engine: Engine, minutes: int) -> dict[str, list[dict[str, int]]]:
    """Per queue, jobs done and failed in each of the last `minutes` minutes, oldest first
    (the per-minute queue-health snapshots: beat takes one a minute)."""
    series = {q: [{"done": 0, "failed": 0} for _ in range(minutes)] for q in QUEUES}
    with engine.connect() as db:
        for queue, ago, done, failed in db.execute(text(PER_MINUTE_SQL), {"minutes": minutes}):
            if queue in series and 0 <= ago < minutes:
                series[queue][minutes - 1 - ago] = {"done": int(done), "failed": int(failed)}
    return series


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
