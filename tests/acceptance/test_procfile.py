"""The Procfile as every deploy target runs it: each process starts under honcho (as on a
dyno, where the process manager sets PORT) and answers; the release line migrates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
from celery import Celery

from devstack.servers import free_port
from tests import harness

LOGIN = ("ops", "procfile-test-password")
HONCHO = str(Path(sys.executable).parent / "honcho")
#: Every long-running process; `release` runs on its own, as a deploy runs it first.
PROCESSES = ["flower", "deadletters", "worker_quote", "worker", "beat", "metrics"]


def _status(url: str, auth: tuple[str, str] | None = None) -> int:
    try:
        return httpx.get(url, auth=auth, timeout=2).status_code
    except httpx.HTTPError:
        return 0


def test_the_release_line_runs_under_honcho(services):
    done = subprocess.run(
        [HONCHO, "-f", "Procfile", "run", "alembic", "-c", "migrations/alembic.ini",
         "upgrade", "head"],
        cwd=harness.ROOT, env={**os.environ, "PATH": f"{Path(sys.executable).parent}:"
                               f"{os.environ['PATH']}"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.timeout(240)
def test_every_procfile_process_starts_under_honcho_and_answers(services):
    base, metrics = free_port(), free_port()
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "PYTHONPATH": str(harness.ROOT),
            "FLOWER_BASIC_AUTH": ":".join(LOGIN),
            "FLOWER_ADDRESS": "127.0.0.1",
            "DEADLETTERS_ADDRESS": "127.0.0.1",
            "METRICS_PORT": str(metrics),
            "FLOWER_DB": str(Path(scratch) / "flower.db"),
            "WORKER_CONCURRENCY": "1",
        }
        # honcho gives the n-th process PORT = base + 100 n, as the platform's router would
        # give each its own: flower on base, the dead-letter page on base + 100
        honcho = subprocess.Popen(
            [HONCHO, "-f", "Procfile", "start", "-p", str(base), *PROCESSES],
            cwd=harness.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        probe = Celery(broker=os.environ.get("BROKER_URL") or os.environ["REDIS_URL"])
        try:
            harness.wait_for(lambda: _status(f"http://127.0.0.1:{base}/healthcheck") == 200, 90)
            assert _status(f"http://127.0.0.1:{base}/api/workers", LOGIN) == 200
            page = f"http://127.0.0.1:{base + 100}/"
            harness.wait_for(lambda: _status(f"{page}healthcheck") == 200, 60)
            assert _status(page) == 401 and _status(f"{page}api/letters", LOGIN) == 200

            def workers() -> set[str]:
                replies = probe.control.ping(timeout=1.0) or []
                return {name.split("@")[0] for reply in replies for name in reply}

            harness.wait_for(lambda: workers() >= {"quote", "main"}, 90)

            from config.beat import leader

            assert harness.wait_for(leader, 60)["pid"]
            harness.wait_for(lambda: _status(f"http://127.0.0.1:{metrics}/metrics") == 200, 60)
            scraped = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=10).text
            assert "taskplatform_queue_depth" in scraped
        finally:
            probe.close()
            os.killpg(honcho.pid, signal.SIGINT)
            try:
                honcho.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
                honcho.wait(10)
