"""Delivery that loses nothing, proven by killing real `celery worker` processes.

The promise: a pool child's death or a SIGTERM brings the job back at once; a hard kill of
the whole worker brings it back within the heartbeat TTL plus one reaper pass; a job held
by a live worker (a long run, a long countdown) is never delivered twice; a job that kills
its worker every time ends as a failure after MAX_DELIVERIES instead of looping.
"""

import json
import os
import signal
import time
import uuid

import pytest

from config.delivery import DeliveryBoundExceeded
from tests import harness
from tests.probe_tasks import attempts, kill_own_worker, sleep

#: A short heartbeat TTL for the crash tests: a dead worker is noticed within seconds.
SHORT_HEARTBEAT = {"WORKER_HEARTBEAT_TTL": "2"}


def key() -> str:
    return f"attempts:{uuid.uuid4().hex}"


def started(k: str, count: int = 1, timeout: float = 20) -> list[dict]:
    return harness.wait_for(lambda: len(runs := attempts(k)) >= count and runs, timeout)


def test_a_pool_child_killed_mid_job_is_requeued_at_once_and_completes(worker_process):
    # Given a prefork worker with two children, running a 2 s job
    worker_process(["search"], pool="prefork", concurrency=2)
    k = key()
    result = sleep.delay(k, 2)
    (first,) = started(k)

    # When the child running it is SIGKILLed
    os.kill(first["pid"], signal.SIGKILL)
    killed_at = time.time()

    # Then the job runs again in another process at once, long before any heartbeat TTL
    assert result.get(timeout=20) == "slept"
    again = attempts(k)[1]
    assert again["pid"] != first["pid"]
    assert again["at"] - killed_at < 10
    assert len(attempts(f"{k}:done")) == 1


def test_a_whole_worker_killed_mid_job_is_completed_by_another_within_the_heartbeat_ttl(
    worker_process,
):
    # Given a worker running a 3 s job, and another idle worker, with a 2 s heartbeat TTL
    first_worker = worker_process(["search"], env=SHORT_HEARTBEAT)
    k = key()
    result = sleep.delay(k, 3)
    (first,) = started(k)
    worker_process(["search"], env=SHORT_HEARTBEAT)

    # When the whole first worker is SIGKILLed
    first_worker.signal(signal.SIGKILL)
    first_worker.process.wait(10)
    killed_at = time.time()

    # Then the other worker completes it exactly once, within TTL + a reaper pass (+ margin)
    assert result.get(timeout=60) == "slept"
    runs, done = attempts(k), attempts(f"{k}:done")
    assert len(runs) == 2 and len(done) == 1
    assert runs[1]["at"] - killed_at < 2 + 1 + 5
    assert done[0]["pid"] == runs[1]["pid"]


def test_a_long_job_held_by_a_live_worker_is_never_delivered_twice(worker_process):
    # Given two workers with a 2 s heartbeat TTL
    worker_process(["search"], env=SHORT_HEARTBEAT)
    worker_process(["search"], env=SHORT_HEARTBEAT)
    k = key()

    # When a job runs for 8 s, four times the TTL
    result = sleep.delay(k, 8)

    # Then it ran once: nothing redelivers a job whose worker is alive
    assert result.get(timeout=30) == "slept"
    harness.never(lambda: len(attempts(k)) > 1, 3)


def test_a_countdown_held_by_a_live_worker_runs_once(worker_process):
    # Given two workers with a 2 s heartbeat TTL
    worker_process(["search"], env=SHORT_HEARTBEAT)
    worker_process(["search"], env=SHORT_HEARTBEAT)
    k = key()

    # When a job is sent with a 6 s countdown (held in flight by a worker meanwhile)
    sent_at = time.time()
    result = sleep.apply_async((k, 0), countdown=6)

    # Then it runs once, after its countdown
    assert result.get(timeout=30) == "slept"
    harness.never(lambda: len(attempts(k)) > 1, 3)
    runs = attempts(k)
    assert len(runs) == 1
    assert runs[0]["at"] - sent_at >= 5.5


def test_a_job_that_kills_its_worker_every_time_fails_after_the_bound(worker_process):
    # Given MAX_DELIVERIES=3 and a job that SIGKILLs the process running it
    worker_process(["quote"], pool="prefork", concurrency=1, env={"MAX_DELIVERIES": "3"})
    k = key()
    result = kill_own_worker.delay(k)

    # Then it ran three times, and the fourth delivery failed it with reason worker_lost
    with pytest.raises(DeliveryBoundExceeded, match="delivered 3 times"):
        result.get(timeout=60)
    assert result.state == "FAILURE"
    assert len(attempts(k)) == 3
    assert DeliveryBoundExceeded.reason == "worker_lost"


def test_sigterm_mid_job_lets_the_job_finish(worker_process):
    # Given a worker running a 2 s job
    worker = worker_process(["search"], pool="prefork", concurrency=1)
    k = key()
    result = sleep.delay(k, 2)
    started(k)

    # When the worker's main process gets SIGTERM (warm shutdown)
    os.kill(worker.process.pid, signal.SIGTERM)

    # Then the job finishes before the worker exits
    assert worker.process.wait(30) == 0
    assert result.get(timeout=5) == "slept"
    assert len(attempts(k)) == 1
    assert len(attempts(f"{k}:done")) == 1


def test_sigterm_on_a_dyno_requeues_the_job_at_once_for_another_worker(worker_process):
    # Given a dyno-style worker: SIGTERM remapped to a cold shutdown with a 1 s soft wait
    dyno = {"REMAP_SIGTERM": "SIGQUIT", "WORKER_SOFT_SHUTDOWN_TIMEOUT": "1"}
    worker = worker_process(["search"], pool="prefork", concurrency=1, env=dyno)
    k = key()
    result = sleep.delay(k, 8)
    started(k)

    # When the platform sends SIGTERM to every process of the dyno
    worker.signal(signal.SIGTERM)
    worker.process.wait(20)
    stopped_at = time.time()

    # Then another worker gets the job at once (no waiting out a heartbeat TTL)
    worker_process(["search"])
    assert result.get(timeout=30) == "slept"
    runs = attempts(k)
    assert len(runs) == 2  # the first run was cut short and requeued
    assert runs[1]["at"] - stopped_at < 10
    assert len(attempts(f"{k}:done")) == 1


@pytest.mark.redis_broker  # RabbitMQ returns a dead connection's jobs itself, at once
def test_beat_returns_a_dead_workers_jobs_to_their_queue(worker_process, redis_client):
    # Given a worker holding a job, and beat running (no other worker)
    worker = worker_process(["search"], env=SHORT_HEARTBEAT)
    k = key()
    result = sleep.delay(k, 30)
    started(k)
    beat = harness.BeatProcess(env=SHORT_HEARTBEAT)
    beat.start()
    try:
        # When the worker is SIGKILLed
        worker.signal(signal.SIGKILL)
        worker.process.wait(10)

        # Then beat's reaper puts the job back in the search queue within TTL + a pass
        def waiting() -> bool:
            return any(result.id in item for item in redis_client.lrange("search", 0, -1))

        harness.wait_for(waiting, timeout=15)
    finally:
        beat.stop()
        for item in redis_client.lrange("search", 0, -1):  # leave no 30 s job behind
            redis_client.lrem("search", 0, item)


@pytest.mark.redis_broker
def test_jobs_kombus_transport_left_unacked_come_back_after_the_upgrade(
    worker_process, redis_client
):
    # Given a job a worker on kombu's own transport took and died holding, long ago
    k = key()
    result = sleep.delay(k, 0)
    (raw,) = [item for item in redis_client.lrange("search", 0, -1) if result.id in item]
    redis_client.lrem("search", 1, raw)
    message = json.loads(raw)
    tag = message["properties"]["delivery_tag"]
    redis_client.hset("unacked", tag, json.dumps([message, "search", "search"]))
    redis_client.zadd("unacked_index", {tag: time.time() - 3600})

    # When a worker of this platform starts
    worker_process(["search"])

    # Then the job comes back and runs, and kombu's records of it are gone
    assert result.get(timeout=30) == "slept"
    assert not redis_client.hexists("unacked", tag)
    assert redis_client.zscore("unacked_index", tag) is None


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_a_worker_stopped_right_after_its_jobs_puts_back_none_it_finished(
    worker_process, redis_client, pool
):
    # Given a worker whose acks ride with its next fetch (broker/transport.py)
    worker = worker_process(["search"], pool=pool, concurrency=2 if pool == "prefork" else 1)
    keys = [key() for _ in range(20)]
    results = [sleep.delay(k, 0) for k in keys]
    assert [r.get(timeout=30) for r in results] == ["slept"] * 20

    # When it is stopped at once, as a deploy does
    assert worker.stop() == 0

    # Then nothing it finished went back to the queue or is still held, and a new worker
    # finds nothing to run again
    assert harness.queue_depth("search") == 0
    held = [k for k in redis_client.scan_iter("taskplatform:broker:inflight:*")
            if redis_client.llen(k)]  # fmt: skip
    assert held == []  # (none on RabbitMQ, which holds unacknowledged jobs itself)
    worker_process(["search"])
    harness.never(lambda: any(len(attempts(k)) > 1 for k in keys), 2)
