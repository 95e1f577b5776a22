"""Broker keys cannot be turned against the broker, and a broker that lost its data is seen.

On the real Redis of this run: whatever anyone with access to Redis writes into the
consumer registry, an in-flight list or kombu's old unacked hash, the reaper, a restore and
a clean stop still finish the rest, and what cannot go back is parked for a dead letter
with its bytes. A Redis that forgot what it held (emptied, or rolled back) is noticed at
the next look, recorded once for operators, and named by the doctor and the metrics.
"""

from __future__ import annotations

import logging
import time
import uuid

import pytest
import redis

from broker import epoch, inflight
from broker.keeper import Keeper
from deadletters.intake import keep_lost
from devstack.servers import RedisServer
from housekeeping.doctor import check_data_loss
from tests import harness

pytestmark = pytest.mark.redis_broker

POLICY = inflight.Policy(heartbeat_ttl=2.0, max_deliveries=3)


@pytest.fixture
def broker(services, tmp_path):
    """A Redis of the test's own (the run's Redis has live workers whose keepers would reap
    and settle what the test sets up), read as the transport reads it: bytes."""
    server = RedisServer(tmp_path / "redis", config={"appendonly": "no"}).start()
    client = redis.Redis(port=server.port)
    try:
        yield client, f"keys-{uuid.uuid4().hex[:8]}", inflight.Scripts(client)
    finally:
        client.close()
        server.stop()


def holding(client: redis.Redis, consumer: str, entries: list[bytes], beating: bool) -> None:
    """A registered consumer whose in-flight list holds `entries` (first entry first)."""
    client.sadd(inflight.REGISTRY, consumer)
    client.rpush(inflight.inflight_key(consumer), *entries)
    if beating:
        client.set(inflight.heartbeat_key(consumer), time.time(), px=2000)


def test_a_registry_member_that_is_not_utf8_does_not_stop_the_reaper(broker):
    # Given a dead consumer holding two jobs, and a member that is not UTF-8 in the registry
    client, queue, scripts = broker
    holding(client, "dead-1", [f"{queue}\n".encode() + b"job-1", f"{queue}\n".encode() + b"job-2"],
            beating=False)  # fmt: skip
    client.sadd(inflight.REGISTRY, b"\xff\xfegarbage")

    # When the reaper runs
    moved = inflight.reap(client, scripts, POLICY)

    # Then the dead consumer's jobs are back in their queue, and both members are gone
    assert moved == 2
    assert sorted(client.lrange(queue, 0, -1)) == [b"job-1", b"job-2"]
    assert client.smembers(inflight.REGISTRY) == set()


def test_a_garbage_entry_in_flight_does_not_orphan_the_rest_at_a_clean_stop(broker):
    # Given a consumer holding a job, an entry that names no list, and another job
    client, queue, scripts = broker
    good = [f"{queue}\n".encode() + b"job-1", f"{queue}\n".encode() + b"job-2"]
    holding(client, "live-1", [good[0], b"no separator at all", good[1]], beating=True)

    # When it stops cleanly
    back, parked = inflight.restore_all(client, scripts, "live-1")

    # Then both jobs are back, the garbage is parked for a dead letter, and the consumer is
    # deregistered only with nothing left in flight
    assert (back, parked) == (2, 1)
    assert sorted(client.lrange(queue, 0, -1)) == [b"job-1", b"job-2"]
    assert client.lrange(inflight.LOST, 0, -1) == [b"no separator at all"]
    assert client.llen(inflight.inflight_key("live-1")) == 0
    assert not client.sismember(inflight.REGISTRY, "live-1")


def test_an_entry_naming_a_key_that_is_no_list_is_parked_and_the_rest_is_reaped(broker):
    # Given a dead consumer holding an entry that names a hash, then a real job
    client, queue, scripts = broker
    client.hset(f"{queue}-hash", "field", "value")
    holding(client, "dead-2", [f"{queue}-hash\n".encode() + b"odd", f"{queue}\n".encode() + b"job"],
            beating=False)  # fmt: skip

    # When the reaper runs
    inflight.reap(client, scripts, POLICY)

    # Then the job is back, the odd entry parked whole, and the hash untouched
    assert client.lrange(queue, 0, -1) == [b"job"]
    assert client.lrange(inflight.LOST, 0, -1) == [f"{queue}-hash\n".encode() + b"odd"]
    assert client.hgetall(f"{queue}-hash") == {b"field": b"value"}
    client.delete(f"{queue}-hash")


def test_a_parked_garbage_entry_becomes_a_dead_letter_with_its_bytes(broker):
    # Given an entry without a list key parked as lost, and a keeper that dead-letters
    client, _queue, _scripts = broker
    garbage = b"\x00garbage " + uuid.uuid4().hex.encode()
    client.lpush(inflight.LOST, garbage)
    keeper = Keeper(client, f"keeper-{uuid.uuid4().hex[:6]}", POLICY, keep_lost)

    # When the keeper makes one round
    keeper.tick()

    # Then the bytes are a dead letter (undecodable), and nothing is left parked
    marker = garbage[9:].decode()
    (letter,) = harness.wait_for(
        lambda: [x for x in harness.letters_where(reason="undecodable")
                 if marker in x.message["raw"]], 10,
    )  # fmt: skip
    assert letter.queue is None
    assert client.llen(inflight.LOST) == 0


def test_a_stop_after_an_unrecoverable_error_counts_a_delivery_for_what_was_held(broker):
    # Given a consumer holding a job that has already come back twice
    client, queue, scripts = broker
    entry = f"{queue}\n".encode() + b"job-suspect"
    client.set(inflight.COUNT_PREFIX + inflight._sha1(b"job-suspect"), 1)
    holding(client, "crashed-1", [entry], beating=True)

    # When its worker stops on an unrecoverable error (counted), once and then again
    assert inflight.restore_all(client, scripts, "crashed-1", counted=True, policy=POLICY) == (1, 0)
    assert client.lrange(queue, 0, -1) == [b"job-suspect"]
    client.delete(queue)
    holding(client, "crashed-2", [entry], beating=True)
    assert inflight.restore_all(client, scripts, "crashed-2", counted=True, policy=POLICY) == (0, 1)

    # Then past MAX_DELIVERIES it is parked for a dead letter instead of ending the next worker
    assert client.lrange(inflight.LOST, 0, -1) == [entry]
    assert client.llen(queue) == 0


def test_garbage_in_kombus_unacked_hash_is_parked_once_and_logged_once(broker, caplog):
    # Given an entry of kombu's old unacked hash that is not [message, exchange, routing key]
    client, _queue, _scripts = broker
    client.hset(inflight.LEGACY_UNACKED, "tag-1", b"not json at all")
    client.zadd(inflight.LEGACY_INDEX, {"tag-1": time.time() - 3600})

    # When the keeper's sweep runs twice
    with caplog.at_level(logging.ERROR, logger="broker.inflight"):
        inflight.restore_legacy_unacked(client)
        inflight.restore_legacy_unacked(client)

    # Then it is parked for a dead letter, once, and said once
    assert client.lrange(inflight.LOST, 0, -1) == [b"unacked\nnot json at all"]
    assert not client.hexists(inflight.LEGACY_UNACKED, "tag-1")
    assert [r.message for r in caplog.records].count(
        "kombu's unacked entry b'tag-1' cannot be restored: parked in"
        f" {inflight.LOST} for a dead letter"
    ) == 1


@pytest.fixture
def fresh_watch(broker):
    """A watch with no memory of this run's Redis (as a new process would have)."""
    client, queue, _scripts = broker
    epoch._LAST.clear()
    yield epoch.Watch(client, [queue]), client, queue
    epoch._LAST.clear()


def test_a_redis_that_lost_everything_is_noticed_at_the_next_look(fresh_watch):
    # Given a process that looked at the broker while it held three waiting jobs
    watch, client, queue = fresh_watch
    client.rpush(queue, b"a", b"b", b"c")
    assert watch.tick() is None
    assert watch.tick() is None

    # When Redis comes back without its data
    client.delete(queue, epoch.EPOCH_KEY)
    loss = watch.tick()

    # Then the next look sees it, with what was there before
    assert loss is not None and loss.kind == "emptied"
    assert loss.before.waiting == 3 and loss.now.epoch != loss.before.epoch
    assert watch.tick() is None  # once


def test_a_redis_that_lost_its_latest_writes_is_noticed_and_renews_its_epoch(fresh_watch):
    # Given a process that looked twice
    watch, client, _queue = fresh_watch
    watch.tick()
    first = watch.tick()
    assert first is None
    seen = client.hget(epoch.EPOCH_KEY, "id")

    # When the counter goes back (a replica that missed the latest looks takes over)
    client.hset(epoch.EPOCH_KEY, "seq", 1)
    loss = watch.tick()

    # Then the loss is seen, and the epoch gets a new id, so every other process sees it too
    assert loss is not None and loss.kind == "rolled back"
    assert client.hget(epoch.EPOCH_KEY, "id") != seen
    assert loss.id == client.hget(epoch.EPOCH_KEY, "id").decode()


def test_a_loss_is_recorded_once_for_operators_until_acknowledged(fresh_watch):
    # Given a loss two processes noticed, one of which wrote back 2 held jobs
    watch, client, queue = fresh_watch
    client.rpush(queue, b"a", b"b")
    watch.tick()
    client.delete(queue, epoch.EPOCH_KEY)
    loss = watch.tick()
    epoch.record(client, loss, "worker-a", reprotected=2)
    epoch.record(client, loss, "worker-b", reprotected=0)

    # Then the doctor names it, with how many jobs may be gone, until someone acknowledges it
    (line,) = check_data_loss(client)
    assert "the broker lost its data (emptied)" in line and "up to 2 job(s)" in line
    assert "--acknowledge-data-loss" in line
    (record,) = epoch.unacknowledged(client)
    assert record["processes"] == "2" and record["detected_by"] == "worker-a"
    assert epoch.acknowledge(client) == 1
    assert check_data_loss(client) == []


def test_a_worker_notices_an_emptied_redis_and_runs_the_jobs_it_held(services, tmp_path):
    # Given a worker on a Redis of its own that keeps nothing on disk, holding countdown jobs
    server = RedisServer(tmp_path / "redis", config={"appendonly": "no"}).start()
    env = {"REDIS_URL": server.url, "WORKER_HEARTBEAT_TTL": "3"}
    private = redis.Redis(port=server.port, decode_responses=True)
    worker = harness.WorkerProcess(["search"], env=env).start()
    try:
        outcome = harness.publish_in_a_new_process(
            env, code="from tests.probe_tasks import sleep\n"
            "ids = [sleep.apply_async(('held-%d' % n, 0), countdown=6).id for n in range(3)]",
        )  # fmt: skip
        assert outcome.get("raised") is None, outcome
        harness.wait_for(lambda: worker.log().count("search.probe_sleep[") >= 3, 10)

        # When Redis restarts without its data
        server.stop()
        server = RedisServer(server.data_dir, port=server.port, config=server.config).start()

        # Then the worker says so within a heartbeat or two, the held jobs still run, and
        # the doctor reports the loss
        harness.wait_for(lambda: "THE BROKER LOST ITS DATA (emptied)" in worker.log(), 15)
        harness.wait_for(lambda: all(private.llen(f"held-{n}:done") for n in range(3)), 30)
        doctor = harness.celery_cli("doctor", env=env)
        assert doctor.returncode == 1
        assert "the broker lost its data (emptied)" in doctor.stdout, doctor.stdout
        assert worker.process.poll() is None
    finally:
        worker.stop()
        server.stop()
