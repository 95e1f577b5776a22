"""Bare Celery, as a team would start: the baseline the platform is measured against."""

import os
import time

import redis
from celery import Celery

app = Celery("bare", broker=os.environ["BENCH_BROKER_URL"])
# kombu's own Redis transport, named: the platform registers its transport for redis://
# in any process that imports config (the celery CLI does, through its plugins).
app.conf.update(task_ignore_result=True, broker_transport="kombu.transport.redis:Transport")
_latencies = redis.Redis.from_url(os.environ["BENCH_BROKER_URL"])


@app.task(name="bench.noop")
def noop(n: int) -> None:
    return None


@app.task(name="bench.probe_latency")
def probe_latency(sent_at: float) -> None:
    _latencies.rpush("bench:latency", time.time() - sent_at)
