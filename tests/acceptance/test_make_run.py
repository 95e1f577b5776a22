"""`make run` as a new user runs it, in a terminal: the platform comes up, every worker
answers, and Ctrl-C stops everything: exit 0, no process of the run left (whatever session
or group it started in), a job running at the time finished, nothing killed. Once on this
run's services, once on embedded servers (EMBEDDED=1)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from celery import Celery

from devstack.servers import free_port, port_answers
from pricing import rule_sets
from tests import harness

EXPECTED_WORKERS = {"quote", "main"}
#: An environment variable every process of the run inherits: how the test finds them all.
MARKER = "MAKE_RUN_TEST_MARKER"


def _controlling_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class MakeRun:
    """`make run` in a terminal of its own (a pseudo-terminal), its output collected as it
    comes; every process it starts carries this run's marker in its environment."""

    def __init__(self, *make_args: str, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.marker = uuid.uuid4().hex
        self.terminal, tty = pty.openpty()
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"VENV={sys.prefix}", *make_args],
            cwd=harness.ROOT, env={**env, MARKER: self.marker}, stdin=tty, stdout=tty,
            stderr=tty, start_new_session=True, preexec_fn=_controlling_terminal,
        )  # fmt: skip
        os.close(tty)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(self.terminal, 4096)
            except OSError:  # the terminal closed: every process holding it has ended
                break
            if not chunk:
                break
            pending += chunk
            *done, pending = pending.split(b"\n")
            self.lines.extend(line.decode(errors="replace").rstrip("\r") for line in done)
        if pending:
            self.lines.append(pending.decode(errors="replace").rstrip("\r"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def banner(self, name: str, timeout: float = 120) -> str:
        pattern = re.compile(rf"^{name}:\s+(.*)$", re.M)
        match = harness.wait_for(lambda: pattern.search(self.output()), timeout)
        return match.group(1).strip()

    def interrupt(self) -> int:
        """Ctrl-C, typed into the terminal: the terminal sends SIGINT to its foreground
        process group. make's exit code once the run stopped."""
        os.write(self.terminal, b"\x03")
        try:
            return self.process.wait(90)
        finally:
            self.kill_leftovers()

    def survivors(self) -> list[str]:
        """Every process still running with this run's marker: `pid command`."""
        found = []
        needle = f"{MARKER}={self.marker}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                    found.append(f"{entry.name} {command.decode(errors='replace')}")
            except OSError:  # ended while we looked
                continue
        return found

    def kill_leftovers(self) -> None:
        """Leave nothing running for the next test, whatever the assertions say."""
        leftovers = self.survivors()
        for line in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGKILL)
        self.leftovers = leftovers
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class SlowCrm:
    """A CRM webhook that holds the call for one lead `hold` seconds, and answers the rest
    (the demo's) at once; it records when that call came and whether it was answered."""

    def __init__(self, email: str, hold: float) -> None:
        self.called = threading.Event()
        self.answered = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if email.encode() in body:
                    owner.called.set()
                    time.sleep(hold)
                self.send_response(200)
                self.end_headers()
                if email.encode() in body:
                    owner.answered.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/leads"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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

    # The overview and dead-letter pages answer at the address the banner gives, behind the
    # same login, and see both worker groups and beat
    page = run.banner("overview").split()[0]
    assert page == f"http://127.0.0.1:{flower_port + 100}/"
    harness.wait_for(lambda: _get(f"{page}healthcheck") == 200, 60)
    assert httpx.get(page, timeout=10).status_code == 401
    assert httpx.get(f"{page}api/letters", auth=(user, password), timeout=10).status_code == 200

    def whole() -> dict | None:
        seen = httpx.get(f"{page}api/overview", auth=(user, password), timeout=30).json()
        running = {w["hostname"].split("@")[0] for w in seen["workers"] or []
                   if w["state"] == "running"}  # fmt: skip
        return seen if running >= EXPECTED_WORKERS and seen["beat"] else None

    seen = harness.wait_for(whole, 60, interval=1)
    assert seen["errors"] == {} and seen["unconsumed"] == [], seen
    return broker


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0


def _ping_names(app: Celery) -> set[str]:
    replies = app.control.ping(timeout=1.0) or []
    return {name.split("@")[0] for reply in replies for name in reply}


def assert_stopped_cleanly(run: MakeRun, code: int) -> None:
    assert code == 0, run.output()
    assert run.leftovers == [], run.output()
    assert "killed after" not in run.output() and "SIGKILL" not in run.output(), run.output()
    assert "Error" not in "\n".join(x for x in run.lines if x.startswith("make:")), run.output()


@pytest.mark.timeout(300)
def test_make_run_on_the_given_services(services):
    from tasks.crm import capture_lead
    from tasks.status import job_status

    flower_port = free_port()
    email = f"held-{uuid.uuid4().hex[:8]}@example.com"
    crm = SlowCrm(email, hold=8)  # longer than honcho's 5 s, shorter than the soft shutdown
    env = {**run_env(), "CRM_WEBHOOK_URL": crm.url, "CRM_WEBHOOK_TIMEOUT": "30"}
    try:
        with tempfile.TemporaryDirectory() as local_dir:
            run = MakeRun(f"FLOWER_PORT={flower_port}", f"LOCAL_DIR={local_dir}", env=env)
            try:
                broker = assert_platform_up(run, flower_port)
                assert broker == os.environ["REDIS_URL"]
                assert run.banner("database") == os.environ["DATABASE_URL"].replace(
                    "postgresql://", "postgresql+psycopg://"
                )
                # Given a job running when Ctrl-C comes
                lead = {"email": email, "name": "Held Lead", "company": "Held Co", "source": "test"}
                job = capture_lead.delay(lead)
                assert crm.called.wait(60), job_status(job.id)
            finally:
                code = run.interrupt()

            # Then the run ends with 0, nothing killed and nothing left running, the job
            # having finished within the workers' soft shutdown
            assert_stopped_cleanly(run, code)
            assert crm.answered.is_set()
            assert job_status(job.id)["status"] == "succeeded", job_status(job.id)
            # and what the run keeps is in LOCAL_DIR, Flower's history included
            kept = {p.name for p in Path(local_dir).iterdir()}
            assert any(name.startswith("flower.db") for name in kept), kept
            assert "activate" in kept, kept
    finally:
        crm.close()


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
            # The runbook's commands work from another shell, on this run's servers
            doctor = subprocess.run(
                ["bash", "-c", f". {local_dir}/activate && celery -A config doctor"],
                cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=120,
                env={k: v for k, v in os.environ.items()
                     if k not in ("REDIS_URL", "DATABASE_URL", "BROKER_URL")},
            )  # fmt: skip
            # Nothing is wrong but what the calendar asks of the quote rules' owner, if anything
            rules = rule_sets.freshness(datetime.now(UTC).date()).problems()
            lines = doctor.stdout.strip().splitlines()
            assert (doctor.returncode, lines) == (
                (1, rules) if rules else (0, ["ok: no problems found"])
            ), doctor
        finally:
            code = run.interrupt()
        # Ctrl-C stopped everything, the embedded servers too
        assert_stopped_cleanly(run, code)
        assert not port_answers(int(broker.rsplit(":", 1)[1].split("/")[0]))
        assert not port_answers(int(re.search(r":(\d+)/", database).group(1)))
