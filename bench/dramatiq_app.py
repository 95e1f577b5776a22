"""Dramatiq with its defaults on the same Redis: the neighbour the platform is measured
against (`pip install -e '.[bench]'`)."""

import os
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

dramatiq.set_broker(RedisBroker(url=os.environ["BENCH_BROKER_URL"]))
_latencies = redis.Redis.from_url(os.environ["BENCH_BROKER_URL"])


@dramatiq.actor(queue_name="bench")
def noop(n: int) -> None:
    return None


@dramatiq.actor(queue_name="bench")
def probe_latency(sent_at: float) -> None:
    _latencies.rpush("bench:latency", time.time() - sent_at)
