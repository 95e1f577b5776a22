"""The doctor, the watchdog and the metrics exporter, against real services and workers."""

from __future__ import annotations

import contextlib
import html
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import kombu
import pytest
import yaml
from celery import Celery

from broker import epoch, keys
from config.queues import QUEUES
from config.settings import settings
from devstack.servers import RabbitMQServer, RedisServer, free_port
from pricing import rule_sets
from tests import harness
from tests.acceptance.test_deadletters_web import LOGIN, _status, start_page
from tests.fakes import LocalHttp
from tests.probe_tasks import ECHO, sleep

celery_cli = harness.celery_cli


@pytest.fixture
def good_redis(services):
    """A private Redis configured as production should be: AOF on, no eviction."""
    server = RedisServer(Path(tempfile.mkdtemp(prefix="doctor-redis-"))).start()
    yield server.url
    server.stop()


class OpenDashboard(LocalHttp):
    """Something answering 200 to anyone, like a Flower without auth."""


@pytest.mark.redis_broker  # its faults are made on the Redis that is also the broker
def test_doctor_finds_each_problem(services):
    # Given a Redis that keeps no append-only file and evicts, no worker, an open Flower and
    # a dyno without REMAP_SIGTERM
    bad = RedisServer(
        Path(tempfile.mkdtemp(prefix="doctor-redis-")),
        config={"appendonly": "no", "maxmemory-policy": "allkeys-lru"},
    ).start()
    try:
        with OpenDashboard() as flower:
            done = celery_cli(
                "doctor",
                env={
                    "REDIS_URL": bad.url,
                    "FLOWER_URL": flower.base_url,
                    "DYNO": "worker.1",
                    "REMAP_SIGTERM": "",
                },
            )
    finally:
        bad.stop()
    assert done.returncode == 1
    lines = done.stdout.strip().splitlines()
    assert any(line.startswith("redis: appendonly is off") for line in lines)
    assert any(line.startswith("redis: maxmemory-policy is allkeys-lru") for line in lines)
    assert "workers: none answered; every queue is unconsumed" in lines
    assert any(line.startswith("flower: ") and "answers without auth" in line for line in lines)
    assert any(line.startswith("dyno worker.1: REMAP_SIGTERM") for line in lines)
    assert not any(line.startswith("postgres") for line in lines)  # migrated, at head


def quote_rules_today() -> list[str]:
    """What the expiry policy says today of the shipped rule sets: the calendar moves, so a
    healthy deployment's doctor says exactly this (pricing/rule_sets.py; its states are
    unit-tested on fixed dates in tests/unit/test_pricing_rule_sets.py)."""
    return rule_sets.freshness(datetime.now(UTC).date()).problems()


def test_doctor_is_content_with_a_healthy_deployment_and_names_rules_to_check(good_redis):
    env = {"REDIS_URL": good_redis}
    with harness.WorkerProcess(list(QUEUES), env=env):
        done = celery_cli("doctor", env=env)
    # Nothing else is wrong; the quote rules' line, when today has one (on 2026-12-07: the
    # 2026 set's check ends in 24 days), is the only one, and it makes the doctor exit 1
    expected = quote_rules_today()
    assert (done.returncode, done.stdout.strip().splitlines()) == (
        1 if expected else 0,
        expected or ["ok: no problems found"],
    ), done.stdout


def test_doctor_names_an_unconsumed_queue_and_a_database_behind(good_redis):
    env = {"REDIS_URL": good_redis, "DATABASE_URL": harness.database_url(
        harness.os.environ["DATABASE_URL"], "postgres")}  # fmt: skip
    with harness.WorkerProcess(["quote", "email", "crm", "search"], env=env):
        done = celery_cli("doctor", env=env)
    assert done.returncode == 1
    assert "workers: no running worker consumes queue 'maintenance'" in done.stdout
    assert "postgres: no migrations applied (run the release line)" in done.stdout
    if settings.broker_kind == "rabbitmq":  # the broker sees no consumer on it either
        lines = done.stdout.splitlines()
        assert "rabbitmq: no consumer on queue 'maintenance'; its jobs wait" in lines
        assert not any(line.startswith("rabbitmq: no consumer on queue 'quote'") for line in lines)


@pytest.mark.rabbitmq_broker
def test_doctor_on_rabbitmq_checks_the_queues_not_redis_persistence(services):
    # Given a Redis without an append-only file (it holds no job on RabbitMQ), and a virtual
    # host where 'quote' was declared as a classic queue and nothing else is declared
    redis_without_aof = RedisServer(
        Path(tempfile.mkdtemp(prefix="doctor-redis-")), config={"appendonly": "no"}
    ).start()
    vhost = f"taskplatform_doctor_{uuid.uuid4().hex[:8]}"
    broker_url = harness.create_vhost(vhost)
    try:
        with kombu.Connection(broker_url, connect_timeout=5) as connection:
            kombu.Queue("quote", kombu.Exchange("quote", type="topic"), routing_key="quote")(
                connection.default_channel
            ).declare()
        done = celery_cli("doctor", env={"REDIS_URL": redis_without_aof.url,
                                         "BROKER_URL": broker_url})  # fmt: skip
    finally:
        harness.delete_vhost(vhost)
        redis_without_aof.stop()
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 1
    # Then the broker's refusal names the difference, and the missing queues are named
    quote = "rabbitmq: queue 'quote' is not declared as the platform declares it"
    wrong = [line for line in lines if line.startswith(quote)]
    assert len(wrong) == 1 and "PRECONDITION_FAILED - inequivalent arg" in wrong[0], lines
    for queue in ["email", "crm", "search", "maintenance", "taskplatform.dead"]:
        missing = f"rabbitmq: queue {queue!r} is not declared ("
        assert any(line.startswith(missing) for line in lines), lines
    # And nothing asks Redis for a persistence it does not need here
    assert not any(line.startswith("redis:") for line in lines), lines


def test_the_watchdog_restarts_a_worker_that_stopped_consuming(services, redis_client):
    # Given a worker that stops consuming its queue while answering pings (as after a bad
    # Redis reconnect), and a job waiting in that queue
    worker = harness.WorkerProcess(["quote"], env={"WATCHDOG_IDLE_SECONDS": "3"}).start()
    try:
        env = harness.os.environ
        app = Celery(broker=env.get("BROKER_URL") or env["REDIS_URL"])
        app.control.cancel_consumer("quote", destination=[worker.hostname], reply=True)
        app.close()
        # (the reply may come before the worker's loop has cancelled: wait for it)
        harness.wait_for(lambda: "Canceling queue quote" in worker.log(), 10)
        ECHO["quote"].delay("waiting")

        # Then the watchdog exits it non-zero, so the process manager restarts it
        assert worker.process.wait(30) == 3
        assert "watchdog: queues quote hold 1 waiting messages" in worker.log()
    finally:
        worker.__exit__(None, None, None)
        purge("quote")


def test_a_worker_that_froze_fails_its_liveness_probe(services, tmp_path):
    # Given a worker whose loop touches its alive file (every 10 s)
    alive = tmp_path / "worker.alive"
    alive.touch()  # left from an earlier life of the container: removed at start
    worker = harness.WorkerProcess(
        ["search"], env={"WATCHDOG_IDLE_SECONDS": "2", "WORKER_ALIVE_FILE": str(alive)}
    ).start()

    def probe() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "housekeeping.alive", "--max-age", "12", "--file", str(alive)],
            cwd=harness.ROOT, capture_output=True, text=True, timeout=30,
        )  # fmt: skip

    try:
        # Then the probe passes while it consumes
        assert probe().returncode == 0
        # When the worker freezes (SIGSTOP: it still holds its connection, does nothing)
        worker.signal(signal.SIGSTOP)
        # Then the probe fails within its max age, saying why
        failed = harness.wait_for(lambda: (p := probe()).returncode == 1 and p, 30)
        assert "last touched" in failed.stderr
        worker.signal(signal.SIGCONT)
        harness.wait_for(lambda: probe().returncode == 0, 30)
    finally:
        worker.signal(signal.SIGCONT)
        worker.__exit__(None, None, None)


def test_the_watchdog_leaves_a_busy_worker_alone(services):
    worker = harness.WorkerProcess(["search"], pool="prefork", concurrency=1,
                                   env={"WATCHDOG_IDLE_SECONDS": "2"}).start()  # fmt: skip
    try:
        busy = sleep.delay(f"k:{uuid.uuid4()}", 6)
        waiting = sleep.delay(f"k:{uuid.uuid4()}", 0)
        assert busy.get(timeout=30) == "slept" and waiting.get(timeout=30) == "slept"
        assert worker.process.poll() is None
    finally:
        worker.__exit__(None, None, None)


@contextlib.contextmanager
def exporter_scrape(env: dict[str, str] | None = None):
    """Start `python -m housekeeping.exporter` on a free port (with `env` on top of this
    run's); yield a scrape function."""
    port = free_port()
    exporter = subprocess.Popen(
        [sys.executable, "-m", "housekeeping.exporter"], cwd=harness.ROOT,
        env={**harness.os.environ, "PYTHONPATH": str(harness.ROOT), "METRICS_PORT": str(port),
             **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def scrape() -> str:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return ""

    try:
        harness.wait_for(scrape, 30)
        yield scrape, port
    finally:
        exporter.terminate()
        exporter.wait(10)


def sample(metrics: str, name: str) -> float | None:
    """The value of one sample (`name{labels}`), or None when absent."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def test_the_exporter_serves_the_quote_rules_state_the_alert_rules_read(services):
    found = rule_sets.freshness(datetime.now(UTC).date())
    with exporter_scrape() as (scrape, _):
        metrics = scrape()
    # Days to the checked horizon, and a 1 for today's state only
    assert sample(metrics, "taskplatform_quote_rules_days_left") == found.days_left
    for state in rule_sets.STATES:
        want = 1 if state == found.state else 0
        assert sample(metrics, f'taskplatform_quote_rules_state{{state="{state}"}}') == want
    # And the two alert rules read only these metrics
    alerts = yaml.safe_load((harness.ROOT / "deploy/prometheus/alerts.yml").read_text())
    rules = {r["alert"]: r for r in alerts["groups"][0]["rules"]}
    for name, severity in (("QuoteRulesExpiring", "warning"), ("QuoteRulesExpired", "critical")):
        assert rules[name]["labels"]["severity"] == severity
        named = set(re.findall(r"taskplatform_\w+", rules[name]["expr"]))
        assert named and all(f"# TYPE {metric} gauge" in metrics for metric in named), named


def test_the_overview_names_the_quote_rules_to_check_above_everything(services):
    # Given the Procfile's page (gunicorn), as an operator opens it
    port = free_port()
    server = start_page(port, {"FLOWER_BASIC_AUTH": ":".join(LOGIN)})
    url = f"http://127.0.0.1:{port}"
    try:
        harness.wait_for(lambda: _status(f"{url}/healthcheck") == 200, 60)
        data = httpx.get(f"{url}/api/overview", auth=LOGIN, timeout=30).json()
        page = httpx.get(f"{url}/overview", auth=LOGIN, timeout=30).text
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    # Then the JSON carries the policy's answer for today, and the red list on top its line
    found = rule_sets.freshness(datetime.now(UTC).date())
    assert data["quote_rules"] == found.as_dict() and "quote_rules" not in data["errors"]
    problems = page.split('id="problems"', 1)[-1].split("</ul>", 1)[0]
    for line in found.problems():
        assert f"<li>{html.escape(line)}</li>" in problems, problems


@pytest.mark.redis_broker  # foreign pushes into Redis lists; RabbitMQ has its own test below
def test_the_exporter_serves_the_metrics_flower_lacks(services, redis_client):
    # Given two waiting quote jobs, a spooled dead letter, an unresolved one, a message from
    # a foreign producer (no enqueued_at) waiting in crm, and nothing in search
    redis_client.delete("quote", "crm", "search", keys.SPOOL)
    ECHO["quote"].delay(1)
    ECHO["quote"].delay(2)
    redis_client.lpush("crm", b'{"foreign": true}')
    redis_client.rpush(keys.SPOOL, "{}")
    try:
        with exporter_scrape() as (scrape, port):
            metrics = scrape()
            assert 'taskplatform_queue_depth{queue="quote"} 2.0' in metrics
            assert 'taskplatform_queue_in_flight{queue="quote"} 0.0' in metrics
            assert "taskplatform_deadletter_spool_size 1.0" in metrics
            assert "taskplatform_postgres_up 1.0" in metrics
            age = sample(metrics, 'taskplatform_queue_oldest_age_seconds{queue="quote"}')
            assert age is not None and 0 <= age < 60
            # The foreign message's age counts from when it was first seen, never 0
            foreign = sample(metrics, 'taskplatform_queue_oldest_age_seconds{queue="crm"}')
            assert foreign is not None and foreign >= 1
            # An empty queue has no oldest job: no sample rather than a 0
            assert sample(metrics, 'taskplatform_queue_oldest_age_seconds{queue="search"}') is None
            # And it listens on loopback only (METRICS_ADDRESS unset)
            assert listening_addresses(port) == {"127.0.0.1"}
            # A broker that kept its data: no loss, nothing at risk
            assert "taskplatform_broker_data_losses 0.0" in metrics
            # When a loss is on record (two jobs waited, one of three held was written back)
            redis_client.sadd(epoch.LOSSES, "test-loss")
            redis_client.hset(epoch.LOSS_PREFIX + "test-loss", mapping={
                "detected_at": 1.0, "waiting_before": 2, "in_flight_before": 3,
                "reprotected": 1})  # fmt: skip
            metrics = scrape()
            assert "taskplatform_broker_data_losses 1.0" in metrics
            assert "taskplatform_broker_jobs_at_risk 4.0" in metrics
    finally:
        redis_client.delete("quote", "crm", keys.SPOOL, epoch.LOSSES,
                            epoch.LOSS_PREFIX + "test-loss")  # fmt: skip


@pytest.mark.rabbitmq_broker
def test_the_exporter_ages_the_oldest_job_of_an_unconsumed_rabbitmq_queue(services):
    # Given two jobs waiting in search, which no worker consumes: one, then another 2 s later
    purge("search")
    ECHO["search"].delay(1)
    time.sleep(2)
    ECHO["search"].delay(2)
    try:
        with exporter_scrape() as (scrape, _):
            # Then the oldest job's age counts from its own publish, not the newer one's
            name = 'taskplatform_queue_oldest_age_seconds{queue="search"}'
            first = sample(scrape(), name)
            assert first is not None and first >= 2
            # And it grows while nothing consumes the queue (OldestMessageTooOld can fire)
            time.sleep(1.5)
            metrics = scrape()
            later = sample(metrics, name)
            assert later is not None and later >= first + 1
            assert sample(metrics, 'taskplatform_queue_depth{queue="search"}') == 2
            assert sample(metrics, 'taskplatform_queue_consumers{queue="search"}') == 0
            # Without the management API nothing tells the jobs in flight: no sample, not 0
            assert sample(metrics, 'taskplatform_queue_in_flight{queue="search"}') is None
            # An empty queue has no oldest job
            purge("search")
            assert sample(scrape(), name) is None
    finally:
        purge("search")


class ManagedRabbitMQ(RabbitMQServer):
    """A node of its own (alarms must not touch the machine's) with the management API on a
    free port and statistics collected every second."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.api_port = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "plugins").write_text("[rabbitmq_management].\n")

    @property
    def api_url(self) -> str:
        return f"http://guest:guest@127.0.0.1:{self.api_port}/api/"

    def _env(self) -> dict[str, str]:
        api = f'-rabbitmq_management tcp_config [{{port,{self.api_port}}},{{ip,"127.0.0.1"}}]'
        every_second = "-rabbit collect_statistics_interval 1000"
        return {**super()._env(), "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": f"{api} {every_second}"}


@pytest.fixture(scope="module")
def managed_node(tmp_path_factory):
    """One node with the management API for the tests below (a node takes seconds to start)."""
    node = ManagedRabbitMQ(tmp_path_factory.mktemp("rabbitmq")).start()
    try:
        harness.wait_for(lambda: httpx.get(node.api_url + "overview", auth=("guest", "guest"),
                                           timeout=2).status_code == 200, 30)  # fmt: skip
        yield node
    finally:
        node.stop()


@pytest.mark.rabbitmq_broker
def test_jobs_in_flight_come_from_the_management_api(services, managed_node):
    node = managed_node
    env = {"BROKER_URL": node.url, "RABBITMQ_MANAGEMENT_URL": node.api_url}
    # Given a worker holding a job of search for a while
    with harness.WorkerProcess(["search"], env=env):
        harness.publish_in_a_new_process(
            env, 'from tests.probe_tasks import sleep\nsleep.delay("k:held", 8)'
        )
        # Then the exporter serves it in flight, from the management API
        with exporter_scrape(env) as (scrape, _):
            held = 'taskplatform_queue_in_flight{queue="search"}'
            harness.wait_for(lambda: sample(scrape(), held) == 1, 20)
            assert sample(scrape(), 'taskplatform_queue_consumers{queue="search"}') == 1


def alarm_shown(node: ManagedRabbitMQ) -> bool | None:
    """The node's memory alarm as its management API shows it (None: not collected yet)."""
    nodes = httpx.get(node.api_url + "nodes", auth=("guest", "guest"), timeout=2).json()
    return nodes[0].get("mem_alarm")


@pytest.mark.rabbitmq_broker
def test_doctor_names_a_memory_alarm_and_never_hangs_on_it(services, managed_node):
    # Given a node of its own whose memory alarm blocks every publisher
    node = managed_node
    env = {"BROKER_URL": node.url}
    try:
        node.memory_alarm(True)
        # Without the management API: a probe publish of its own, which the broker blocks
        started = time.monotonic()
        blind = celery_cli("doctor", env=env)
        assert time.monotonic() - started < 60
        assert blind.returncode == 1
        assert "rabbitmq: publishers are blocked (" in blind.stdout, blind.stdout
        assert "workers: not asked while RabbitMQ blocks publishers" in blind.stdout
        # With it: the node's alarm by name (once its statistics carry it: a fresh node's
        # come after a few seconds)
        harness.wait_for(lambda: alarm_shown(node) is True, 60)
        started = time.monotonic()
        seen = celery_cli("doctor", env={**env, "RABBITMQ_MANAGEMENT_URL": node.api_url})
        assert time.monotonic() - started < 60
        assert seen.returncode == 1
        assert "rabbitmq: memory alarm on taskplatform" in seen.stdout, seen.stdout
        # And once the alarm clears, neither line
        node.memory_alarm(False)
        harness.wait_for(lambda: alarm_shown(node) is False, 60)
        clear = celery_cli("doctor", env={**env, "RABBITMQ_MANAGEMENT_URL": node.api_url})
        assert "alarm" not in clear.stdout and "blocked" not in clear.stdout, clear.stdout
    finally:
        node.memory_alarm(False)


def purge(queue: str) -> None:
    with ECHO[queue].app.connection_for_write() as connection:
        ECHO[queue].app.amqp.queues[queue].bind(connection.default_channel).purge()


def test_the_exporter_serves_wait_and_runtime_histograms(worker_process, redis_client):
    # Given a worker that ran jobs: three at once, and one held back by a 1 s countdown
    worker_process(["quote"])
    for n in range(3):
        assert ECHO["quote"].delay(n).get(timeout=20)["value"] == n
    ECHO["quote"].apply_async((9,), countdown=1).get(timeout=20)

    # Then the exporter serves both histograms per queue and task
    name = 'queue="quote",task="quote.probe_echo"'
    with exporter_scrape() as (scrape, _):

        def counted() -> str:
            metrics = scrape()
            runs = sample(metrics, f"taskplatform_task_runtime_seconds_count{{{name}}}")
            return metrics if runs is not None and runs >= 4 else ""

        metrics = harness.wait_for(counted, 20)  # workers add their counts once a second
    waits = sample(metrics, f"taskplatform_queue_wait_seconds_count{{{name}}}")
    assert waits is not None and waits >= 4
    # a no-op runs in well under a second; the countdown is not counted as waiting
    under_1s = sample(metrics, f'taskplatform_task_runtime_seconds_bucket{{le="1.0",{name}}}')
    assert under_1s is not None and under_1s >= 4
    fast_waits = sample(metrics, f'taskplatform_queue_wait_seconds_bucket{{le="0.5",{name}}}')
    late_waits = sample(metrics, f'taskplatform_queue_wait_seconds_bucket{{le="2.5",{name}}}')
    if settings.broker_kind == "rabbitmq":
        # RabbitMQ's delay queues release a job up to about a second after its countdown
        assert fast_waits is not None and fast_waits >= 3 and late_waits >= 4
    else:
        assert fast_waits is not None and fast_waits >= 4


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a local TCP port listens on, from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, _remote, state = line.split()[1:4]
        address, local_port = local.split(":")
        if int(local_port, 16) == port and state == "0A":
            found.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
    return found
