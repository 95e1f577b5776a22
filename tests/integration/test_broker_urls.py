"""Broker URLs: the platform's transport over plain Redis, TLS Redis and Redis Sentinel.

Every test runs real processes: a throwaway redis-server (TLS only, or a master plus a
sentinel) on free ports, a `celery -A config worker` subprocess and a producer subprocess
(settings are read once per process, so each URL needs processes of its own), and Flower.

What these tests pin (they define the target; see the transport notes in broker/):
* `rediss://...?ssl_cert_reqs=required&ssl_ca_certs=...` reaches a TLS-only Redis (the
  plaintext port is off: `--port 0`), through the platform's transport class, and the
  connection keeps its scheme (`rediss://` in logs, and for Flower);
* a bare `rediss://` never falls back to plaintext;
* `sentinel://` finds the master through the sentinel, through the platform's transport.
  NEEDS SETTINGS: REDIS_URL / RESULT_BACKEND_URL must accept `sentinel://`, and a
  REDIS_SENTINEL_MASTER setting must reach `broker_transport_options["master_name"]` and
  `result_backend_transport_options["master_name"]` (Flower reads the former too);
* Flower's `/api/queues/length` and `/broker` answer for redis://, rediss:// and sentinel://.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from devstack import binaries
from devstack.servers import free_port, port_answers, stop_process
from tests import harness

LOGIN = ("ops", f"pw-{uuid.uuid4().hex[:8]}")
MASTER_NAME = "tp-test-master"

# The producer: reports how its broker connection was built, then (roundtrip) sends a
# probe task to the `search` queue and waits for its result, or (publish N) purges
# `search` and leaves N messages in it for Flower to count.
PRODUCER = r"""
import json, sys
import redis
from config import app
from tests.probe_tasks import ECHO

conn = app.connection_for_write()
conn.ensure_connection(max_retries=2)
channel = conn.default_channel
client = channel.client
report = {
    "uri_scheme": conn.as_uri().split("://", 1)[0],
    "transport_mro": [f"{k.__module__}.{k.__qualname__}" for k in type(conn.transport).__mro__],
    "channel_mro": [f"{k.__module__}.{k.__qualname__}" for k in type(channel).__mro__],
    "ssl_connection": issubclass(client.connection_pool.connection_class, redis.SSLConnection),
    "server_port": int(client.info("server")["tcp_port"]),
}
if sys.argv[1] == "roundtrip":
    result = ECHO["search"].delay(sys.argv[2])
    report["result"] = result.get(timeout=30)
    report["task_id"] = result.id
else:
    channel.queue_purge("search")
    for n in range(int(sys.argv[2])):
        ECHO["search"].delay(f"waiting {n}")
conn.release()
print("REPORT " + json.dumps(report), flush=True)
"""


# -- servers ------------------------------------------------------------------------------


def _make_certificates(folder: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1, written to `folder`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    valid = {"not_valid_before": now - datetime.timedelta(minutes=5),
             "not_valid_after": now + datetime.timedelta(days=1)}  # fmt: skip
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "taskplatform test CA")])
    builder = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(valid["not_valid_before"]).not_valid_after(valid["not_valid_after"])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )  # fmt: skip
    ca = builder.sign(ca_key, hashes.SHA256())
    key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    alt_names = x509.SubjectAlternativeName(
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    )
    cert = (
        x509.CertificateBuilder().subject_name(server_name).issuer_name(ca_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(valid["not_valid_before"]).not_valid_after(valid["not_valid_after"])
        .add_extension(alt_names, critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(pem))
    paths["cert"].write_bytes(cert.public_bytes(pem))
    paths["key"].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class Server:
    """One redis-server (or sentinel) process of ours, stopped by PID."""

    def __init__(self, args: list[str], port: int, log: Path) -> None:
        self.port = port
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [binaries.redis_server(), *args], stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def wait_ready(self) -> bool:
        """True once the port answers; False if the process exited first."""
        harness.wait_for(lambda: port_answers(self.port) or self.process.poll() is not None, 20)
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    """A TLS-only redis-server (no plaintext port) and a rediss:// URL that trusts its CA."""
    folder = tmp_path_factory.mktemp("tls-redis")
    certs = _make_certificates(folder)
    port = free_port()
    server = Server(
        ["--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(certs["cert"]), "--tls-key-file", str(certs["key"]),
         "--tls-ca-cert-file", str(certs["ca"]), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(folder)],
        port, folder / "redis.log",
    )  # fmt: skip
    try:
        if not server.wait_ready():
            output = server.output()
            if "tls" in output.lower():
                pytest.skip(f"this redis-server has no TLS support: {output.strip()[-200:]}")
            raise RuntimeError(f"TLS redis-server did not start:\n{output}")
        query = f"ssl_cert_reqs=required&ssl_ca_certs={quote(str(certs['ca']), safe='/')}"
        yield {"port": port, "ca": certs["ca"], "url": f"rediss://127.0.0.1:{port}/0?{query}",
               "bare_url": f"rediss://127.0.0.1:{port}/0"}  # fmt: skip
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sentinel_redis(tmp_path_factory):
    """A Redis master and one sentinel watching it, on free ports."""
    folder = tmp_path_factory.mktemp("sentinel-redis")
    master_port, sentinel_port = free_port(), free_port()
    master = Server(
        ["--port", str(master_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        master_port, folder / "master.log",
    )  # fmt: skip
    config = folder / "sentinel.conf"  # a sentinel rewrites its config file: one of its own
    config.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {folder}\n"
        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 1\n"
        f"sentinel down-after-milliseconds {MASTER_NAME} 5000\n"
    )
    sentinel = None
    try:
        if not master.wait_ready():
            raise RuntimeError(f"redis-server did not start:\n{master.output()}")
        sentinel = Server([str(config), "--sentinel"], sentinel_port, folder / "sentinel.log")
        if not sentinel.wait_ready():
            raise RuntimeError(f"redis sentinel did not start:\n{sentinel.output()}")
        url = f"sentinel://127.0.0.1:{sentinel_port}/0"
        yield {"master_port": master_port, "sentinel_port": sentinel_port, "url": url}
    finally:
        if sentinel is not None:
            sentinel.stop()
        master.stop()


def _tls_env(tls_redis) -> dict[str, str]:
    return {"REDIS_URL": tls_redis["url"], "RESULT_BACKEND_URL": tls_redis["url"]}


def _sentinel_env(sentinel_redis) -> dict[str, str]:
    # REDIS_SENTINEL_MASTER is the setting this test asks for (see the module docstring).
    return {"REDIS_URL": sentinel_redis["url"], "RESULT_BACKEND_URL": sentinel_redis["url"],
            "REDIS_SENTINEL_MASTER": MASTER_NAME}  # fmt: skip


# -- processes ----------------------------------------------------------------------------


def _child_env(env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(harness.ROOT), **env}


def run_producer(env: dict[str, str], *args: str, timeout: float = 90) -> dict:
    """Run the producer in a fresh process on `env`; its report, or fail with its output."""
    done = subprocess.run(
        [sys.executable, "-c", PRODUCER, *args], cwd=harness.ROOT, env=_child_env(env),
        capture_output=True, text=True, timeout=timeout, start_new_session=True,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith("REPORT "):
            return json.loads(line.removeprefix("REPORT "))
    pytest.fail(f"producer exited with {done.returncode}:\n{done.stdout}\n{done.stderr[-4000:]}")


@contextlib.contextmanager
def worker_on(env: dict[str, str]):
    with harness.WorkerProcess(["search"], env=env) as worker:
        yield worker


@contextlib.contextmanager
def flower_on(env: dict[str, str], folder: Path):
    """`celery -A config flower` as tests/acceptance/test_flower.py starts it."""
    port = free_port()
    log = folder / f"flower-{port}.log"
    flower_env = {"FLOWER_BASIC_AUTH": ":".join(LOGIN), "FLOWER_DB": str(folder / "flower.db"),
                  **env}  # fmt: skip
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "flower", "--conf=config/flower.py",
             "--address=127.0.0.1", f"--port={port}"],
            cwd=harness.ROOT, env=_child_env(flower_env), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        harness.wait_for(
            lambda: _status(f"{base}/healthcheck") == 200 or process.poll() is not None, 60
        )
        if process.poll() is not None:
            raise RuntimeError(f"flower exited with {process.returncode}:\n{log.read_text()}")
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def _status(url: str, auth=None) -> int:
    try:
        return httpx.get(url, auth=auth, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def _assert_platform_transport(report: dict, scheme: str) -> None:
    assert "broker.transport.Transport" in report["transport_mro"], report["transport_mro"]
    # The connection keeps its URL scheme: logs and Flower read the broker kind from it.
    assert report["uri_scheme"] == scheme, report


# -- TLS ----------------------------------------------------------------------------------


def test_task_round_trips_over_tls_only_redis(services, tls_redis):
    env = _tls_env(tls_redis)
    with worker_on(env) as worker:
        token = f"over-tls-{uuid.uuid4().hex[:8]}"
        report = run_producer(env, "roundtrip", token)
        log = worker.log()
    # Only TLS can work: the server has no plaintext port.
    assert report["result"]["value"] == token
    assert report["result"]["hostname"] == worker.hostname
    assert report["ssl_connection"] is True
    _assert_platform_transport(report, "rediss")
    assert "Connected to rediss://" in log, log[-3000:]


def test_bare_rediss_url_never_speaks_plaintext(services, tls_redis):
    """`rediss://host:port/0` without ssl_* parameters: refused at start-up (one line naming
    REDIS_URL), or spoken to over TLS; never plaintext to a TLS port."""
    env = {**_tls_env(tls_redis), "REDIS_URL": tls_redis["bare_url"]}
    probe = (
        "import redis\n"
        "from config import app\n"
        "conn = app.connection_for_write()\n"
        "pool = conn.default_channel.client.connection_pool\n"
        "print('SSL', issubclass(pool.connection_class, redis.SSLConnection), conn.ssl)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=harness.ROOT, env=_child_env(env),
        capture_output=True, text=True, timeout=60, start_new_session=True,
    )  # fmt: skip
    output = done.stdout + done.stderr
    refused = done.returncode != 0 and "invalid setting REDIS_URL" in output
    assert refused or "SSL True" in done.stdout, output[-3000:]


# -- Sentinel -----------------------------------------------------------------------------


def test_task_round_trips_through_sentinel(services, sentinel_redis):
    env = _sentinel_env(sentinel_redis)
    with worker_on(env) as worker:
        token = f"via-sentinel-{uuid.uuid4().hex[:8]}"
        report = run_producer(env, "roundtrip", token)
        log = worker.log()
    assert report["result"]["value"] == token
    assert report["result"]["hostname"] == worker.hostname
    # The broker connection is to the master the sentinel named, not to the sentinel.
    assert report["server_port"] == sentinel_redis["master_port"]
    assert "kombu.transport.redis.SentinelChannel" in report["channel_mro"], report
    _assert_platform_transport(report, "sentinel")
    assert "Connected to sentinel://" in log, log[-3000:]


# -- Flower -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["redis", "rediss", "sentinel"])
def test_flower_reports_queue_lengths(services, kind, request, tmp_path):
    if kind == "redis":
        env = {"REDIS_URL": os.environ["REDIS_URL"]}  # this run's database on the shared Redis
    elif kind == "rediss":
        env = _tls_env(request.getfixturevalue("tls_redis"))
    else:
        env = _sentinel_env(request.getfixturevalue("sentinel_redis"))
    run_producer(env, "publish", "2")  # no worker consumes `search` here: 2 stay queued
    with flower_on(env, tmp_path) as base:
        answer = httpx.get(f"{base}/api/queues/length", auth=LOGIN, timeout=30)
        assert answer.status_code == 200, answer.text
        lengths = {q["name"]: q["messages"] for q in answer.json()["active_queues"]}
        assert lengths.get("search") == 2, lengths
        page = httpx.get(f"{base}/broker", auth=LOGIN, timeout=30)
        assert page.status_code == 200, page.text[:500]
    run_producer(env, "publish", "0")  # leave the queue empty
