"""A no-op on the platform's app: every guard, counter and signal of a real task.

BENCH_VARIANT takes guarantees away, one at a time, to measure what each costs (`make bench
BENCH_ARGS=--variants`): `no-events` (no task events: Flower sees nothing), `no-stats` (no
per-task statistics), `kombu-transport` (kombu's own Redis transport: no reliable fetch,
no intake, a visibility timeout instead of heartbeats).
"""

import os
import time

import redis

from config import app

VARIANT = set(filter(None, os.environ.get("BENCH_VARIANT", "").split(",")))
if "no-events" in VARIANT:
    app.conf.update(worker_send_task_events=False, task_send_sent_event=False)
if "kombu-transport" in VARIANT:
    app.conf.broker_transport = "kombu.transport.redis:Transport"
if "no-stats" in VARIANT:
    from celery.signals import task_postrun, task_prerun

    from housekeeping import task_stats

    task_prerun.disconnect(task_stats._start)
    task_postrun.disconnect(task_stats._finish)

_latencies = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.task(name="quote.bench_noop", ignore_result=True)
def noop(n: int) -> None:
    return None


@app.task(name="quote.bench_probe_latency", ignore_result=True)
def probe_latency(sent_at: float) -> None:
    _latencies.rpush("bench:latency", time.time() - sent_at)
