"""`make run` as a new user runs it: the platform comes up, every worker answers, and Ctrl-C
stops everything. Once on this run's services, once on embedded servers (EMBEDDED=1)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx
import pytest
from celery import Celery

from devstack.servers import free_port, port_answers
from tests import harness

EXPECTED_WORKERS = {"quote", "main"}


class MakeRun:
    """`make run` in its own process group, its output collected as it comes."""

    def __init__(self, *make_args: str, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"VENV={sys.prefix}", *make_args],
            cwd=harness.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def banner(self, name: str, timeout: float = 120) -> str:
        pattern = re.compile(rf"^{name}:\s+(.*)$", re.M)
        match = harness.wait_for(lambda: pattern.search(self.output()), timeout)
        return match.group(1).strip()

    def interrupt(self) -> int:
        """Ctrl-C, as a user would, to the whole process group."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
            return True
        except ProcessLookupError:
            return False


def run_env() -> dict[str, str]:
    env = dict(os.environ)
    env["APP_ENV"] = "development"
    env.pop("FLOWER_BASIC_AUTH", None)
    return env


def assert_platform_up(run: MakeRun, flower_port: int) -> str:
    broker = run.banner("broker")
    assert run.banner("flower") == f"http://127.0.0.1:{flower_port}/"
    user, password = run.banner("login").split(" / ")

    # Flower answers its healthcheck, and with the printed login lists both worker dynos
    harness.wait_for(lambda: _get(f"http://127.0.0.1:{flower_port}/healthcheck") == 200, 90)
    # Every worker answers a ping over the broker the banner named
    probe = Celery(broker=broker)
    try:
        names = harness.wait_for(lambda: _ping_names(probe) >= EXPECTED_WORKERS and True, 90)
        assert names
    finally:
        probe.close()
    listed = httpx.get(
        f"http://127.0.0.1:{flower_port}/api/workers", params={"refresh": 1},
        auth=(user, password), timeout=30,
    )  # fmt: skip
    assert listed.status_code == 200
    assert {name.split("@")[0] for name in listed.json()} >= EXPECTED_WORKERS

    # The dead-letter page answers at the address the banner gives, behind the same login
    page = run.banner("deadletters")
    assert page == f"http://127.0.0.1:{flower_port + 100}/"
    harness.wait_for(lambda: _get(f"{page}healthcheck") == 200, 60)
    assert httpx.get(page, timeout=10).status_code == 401
    assert httpx.get(f"{page}api/letters", auth=(user, password), timeout=10).status_code == 200
    return broker


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0


def _ping_names(app: Celery) -> set[str]:
    replies = app.control.ping(timeout=1.0) or []
    return {name.split("@")[0] for reply in replies for name in reply}


@pytest.mark.timeout(300)
def test_make_run_on_the_given_services(services):
    flower_port = free_port()
    with tempfile.TemporaryDirectory() as local_dir:
        run = MakeRun(f"FLOWER_PORT={flower_port}", f"LOCAL_DIR={local_dir}", env=run_env())
        try:
            broker = assert_platform_up(run, flower_port)
            assert broker == os.environ["REDIS_URL"]
            assert run.banner("database") == os.environ["DATABASE_URL"].replace(
                "postgresql://", "postgresql+psycopg://"
            )
        finally:
            run.interrupt()
        assert not run.group_alive(), run.output()


@pytest.mark.timeout(300)
def test_make_run_embedded_starts_and_stops_its_own_servers(services):
    flower_port = free_port()
    with tempfile.TemporaryDirectory() as local_dir:
        os.chmod(local_dir, 0o755)  # Postgres runs as an unprivileged user when we are root
        run = MakeRun(
            "EMBEDDED=1", f"FLOWER_PORT={flower_port}", f"LOCAL_DIR={local_dir}", env=run_env()
        )
        try:
            broker = assert_platform_up(run, flower_port)
            database = run.banner("database")
            assert broker != os.environ["REDIS_URL"]
            assert "embedded Redis" in run.output() and "embedded Postgres" in run.output()
            assert (Path(local_dir) / "redis" / "appendonlydir").exists()
            assert (Path(local_dir) / "postgres" / "pgdata" / "PG_VERSION").exists()
        finally:
            run.interrupt()
        assert not run.group_alive(), run.output()
        # Ctrl-C stopped the embedded servers too
        assert not port_answers(int(broker.rsplit(":", 1)[1].split("/")[0]))
        assert not port_answers(int(re.search(r":(\d+)/", database).group(1)))
