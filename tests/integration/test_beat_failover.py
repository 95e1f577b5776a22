"""Beat as a leader and a hot standby, with real `celery beat` processes: how long the schedule
stops when the leader's process dies, with the lock numbers every deploy target runs
(deploy/README.md records the measurement), and a leader that follows a Redis Sentinel
failover instead of stopping.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from broker import keys
from config.settings import Settings
from devstack.servers import free_port
from tests import harness
from tests.integration.test_broker_urls import Server

#: Every target runs beat with the settings' lock numbers (deploy/ sets neither variable).
DEPLOYED = Settings()
LOCK_TIMEOUT = DEPLOYED.beat_lock_timeout
MAX_INTERVAL = DEPLOYED.beat_max_interval
#: Entries due every second, so the new leader's first sends show at once; the lock numbers
#: stay the deployed ones.
DEPLOYED_BEAT = {
    "BEAT_TEST_INTERVAL": "1",
    "BEAT_MAX_INTERVAL": str(MAX_INTERVAL),
    "BEAT_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
}


@pytest.fixture
def beats(services, redis_client):
    started: list[harness.BeatProcess] = []
    redis_client.delete("taskplatform:beat:leader", "taskplatform:redbeat:lock")

    def start(env: dict[str, str]) -> harness.BeatProcess:
        beat = harness.BeatProcess(env)
        started.append(beat)
        return beat.start()

    yield start
    for beat in started:
        beat.__exit__(None, None, None)


def leader_and_standby(beats, env: dict[str, str]) -> tuple[harness.BeatProcess, ...]:
    """Two beats: the first holds the lock, the second waits for it."""
    leader = beats(env)
    harness.wait_for(leader.leads, 30)
    standby = beats(env)
    harness.never(standby.leads, 2)
    return leader, standby


def test_the_standby_takes_over_a_killed_leader_within_the_lock_timeout(beats):
    # Given a leader and a hot standby with the deployed lock numbers
    leader, standby = leader_and_standby(beats, DEPLOYED_BEAT)

    # When the leader's process is killed (a node failure: no lock release)
    leader.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()

    # Then the standby holds the lock once it expired (BEAT_LOCK_TIMEOUT after the leader's last
    # extension), at its next try (every BEAT_MAX_INTERVAL), and sends
    bound = LOCK_TIMEOUT + 2 * MAX_INTERVAL + 15
    harness.wait_for(standby.leads, bound, interval=0.2)
    took_over = time.monotonic() - killed
    harness.wait_for(lambda: standby.sent() > 0, 15)
    print(f"\nbeat takeover after SIGKILL: {took_over:.1f} s "
          f"(BEAT_LOCK_TIMEOUT={LOCK_TIMEOUT}, BEAT_MAX_INTERVAL={MAX_INTERVAL:g})")  # fmt: skip
    # Not before the lock could expire: the lock, not luck, decided when
    assert took_over >= LOCK_TIMEOUT - MAX_INTERVAL - 1, took_over
    assert took_over < bound


def test_a_leader_that_stops_hands_over_within_one_interval(beats):
    # Given a leader and a standby (a rollout or a drain is about to stop the leader's pod)
    leader, standby = leader_and_standby(beats, DEPLOYED_BEAT)

    # When the leader stops as the kubelet stops it (SIGTERM)
    leader.process.send_signal(signal.SIGTERM)
    stopped = time.monotonic()

    # Then it releases the lock, and the standby takes it at its next try
    harness.wait_for(standby.leads, MAX_INTERVAL + 10, interval=0.2)
    took_over = time.monotonic() - stopped
    print(f"\nbeat takeover after SIGTERM: {took_over:.1f} s")
    assert took_over < MAX_INTERVAL + 5
    harness.wait_for(lambda: standby.sent() > 0, 15)


# -- Sentinel ------------------------------------------------------------------------------------

MASTER = "tp-beat-master"


@pytest.fixture
def sentinel_pair(tmp_path):
    """A master, its replica and one sentinel (quorum 1) that fails over after 1 s."""
    master_port, replica_port, sentinel_port = free_port(), free_port(), free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    master = Server(["--port", str(master_port), *common], master_port, tmp_path / "master.log")
    replica = Server(
        ["--port", str(replica_port), "--replicaof", "127.0.0.1", str(master_port), *common],
        replica_port, tmp_path / "replica.log",
    )  # fmt: skip
    config = tmp_path / "sentinel.conf"  # a sentinel rewrites its config file: one of its own
    config.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor {MASTER} 127.0.0.1 {master_port} 1\n"
        f"sentinel down-after-milliseconds {MASTER} 1000\n"
        f"sentinel failover-timeout {MASTER} 5000\n"
    )
    servers = [master, replica]
    try:
        for server in servers:
            assert server.wait_ready(), server.output()
        harness.wait_for(
            lambda: (
                redis.Redis(port=replica_port).info("replication")["master_link_status"] == "up"
            ),
            20,
        )
        sentinel = Server([str(config), "--sentinel"], sentinel_port, tmp_path / "sentinel.log")
        servers.append(sentinel)
        assert sentinel.wait_ready(), sentinel.output()
        yield {"master": master, "replica": replica, "sentinel": sentinel,
               "url": f"sentinel://127.0.0.1:{sentinel_port}/0"}  # fmt: skip
    finally:
        for server in servers:
            server.stop()


def test_the_leader_follows_a_sentinel_failover(beats, sentinel_pair):
    # Given a leader and a standby on a Sentinel-watched Redis; a lock long enough to outlast
    # the failover (1 s to call the master down, then the promotion)
    url = sentinel_pair["url"]
    env = {"REDIS_URL": url, "RESULT_BACKEND_URL": url, "REDIS_SENTINEL_MASTER": MASTER,
           "BEAT_MAX_INTERVAL": "1", "BEAT_LOCK_TIMEOUT": "20"}  # fmt: skip
    leader, standby = leader_and_standby(beats, env)
    old = redis.Redis(port=sentinel_pair["master"].port)
    harness.wait_for(lambda: old.llen("maintenance") >= 2, 20)

    # When the master dies and the sentinel promotes the replica
    sentinel_pair["master"].process.send_signal(signal.SIGKILL)
    new = redis.Redis(port=sentinel_pair["replica"].port)
    harness.wait_for(lambda: new.info("replication")["role"] == "master", 30)
    promoted = time.monotonic()

    # Then the same leader goes on sending, to the new master, and the standby stays a standby
    queued = new.llen("maintenance")
    harness.wait_for(lambda: new.llen("maintenance") >= queued + 3, 30)
    promoted_at = time.time() - (time.monotonic() - promoted)

    def ticked_since_promotion() -> dict | None:
        ticked = json.loads(new.get(keys.BEAT_LEADER) or "null")
        return ticked if ticked and ticked["ticked_at"] > promoted_at else None

    assert harness.wait_for(ticked_since_promotion, 10)["pid"] == leader.process.pid
    assert leader.process.poll() is None, leader.log()[-3000:]
    assert leader.log().count("beat: Acquired lock") == 1
    assert not standby.leads(), standby.log()[-3000:]


def test_the_platform_client_logs_in_to_a_sentinel_master_with_a_password(tmp_path):
    """The password in a sentinel:// URL is the master's (as kombu and beat's lock read it):
    the platform's own client (spool, beat's leader key, the reaper) logs in with it."""
    master_port, sentinel_port = free_port(), free_port()
    master = Server(
        ["--port", str(master_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path), "--requirepass", "s3cret"],
        master_port, tmp_path / "master.log",
    )  # fmt: skip
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor {MASTER} 127.0.0.1 {master_port} 1\n"
        f"sentinel auth-pass {MASTER} s3cret\n"
    )
    sentinel = Server([str(config), "--sentinel"], sentinel_port, tmp_path / "sentinel.log")
    try:
        assert master.wait_ready(), master.output()
        assert sentinel.wait_ready(), sentinel.output()
        env = {"REDIS_URL": f"sentinel://:s3cret@127.0.0.1:{sentinel_port}/0",
               "REDIS_SENTINEL_MASTER": MASTER}  # fmt: skip
        script = (
            "from config import redis_client; c = redis_client.client();"
            " c.set('tp-sentinel-auth', 'yes'); print(c.get('tp-sentinel-auth').decode())"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=harness.ROOT, capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": str(harness.ROOT), **env}, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0 and done.stdout.strip() == "yes", done.stderr[-2000:]
        authed = redis.Redis(port=master_port, password="s3cret")
        assert authed.get("tp-sentinel-auth") == b"yes"
    finally:
        sentinel.stop()
        master.stop()
