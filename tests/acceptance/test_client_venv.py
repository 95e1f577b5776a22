"""A web app as it really is: its own folder with its own `config` and `tasks` packages, and
a virtualenv holding only the client (`pip install ./client`), queueing a quote that the
platform's worker (a real `celery worker` process) prices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: What the platform needs and a web app must not get with the client.
PLATFORM_ONLY = {
    "celery", "flower", "flask", "gunicorn", "sqlalchemy", "psycopg", "alembic", "jinja2",
    "honcho", "selenium", "pytest", "sentry-sdk", "pydantic-settings", "prometheus-client",
    "celery-redbeat", "httpx", "cryptography",
}  # fmt: skip

WEB_APP = """
import json, sys, time

started = time.perf_counter()
import taskplatform
from taskplatform.tasks import generate_quote
import_ms = (time.perf_counter() - started) * 1000

import config, tasks  # the web app's own packages, which the client must not shadow
assert config.app == "the web app's own", config.__file__
assert tasks.cleanup() == "its own tasks", tasks.__file__

job = generate_quote.delay({"roles": [{"title": "qa tester", "count": 2}]})
status = {"status": "pending"}
deadline = time.monotonic() + 60
while status["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
    time.sleep(0.2)
    status = taskplatform.job_status(job.id)
try:
    generate_quote.delay({"roles": [{"title": "qa tester", "count": 10000}]})
except taskplatform.InvalidArguments as exc:  # the web app's 400
    refused = exc.field
print(json.dumps({"import_ms": import_ms, "status": status, "refused": refused,
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] in
                                    ("celery", "broker", "deadletters", "pricing"))}))
"""


@pytest.fixture(scope="module")
def client_only_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("webapp-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", "-c", ROOT / "constraints.txt",
         ROOT / "client"],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return venv


def test_the_client_installs_alone_and_a_web_app_queues_through_it(
    client_only_venv, worker_process, tmp_path
):
    # Given the client alone in the web app's virtualenv
    listed = subprocess.run(
        [client_only_venv / "bin" / "pip", "list", "--format=json"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    installed = {package["name"].lower() for package in json.loads(listed)}
    assert "taskplatform-client" in installed
    assert not installed & PLATFORM_ONLY, installed & PLATFORM_ONLY

    # ... and a web app with its own config/ and tasks/, configured with REDIS_URL alone
    app_dir = tmp_path / "webapp"
    (app_dir / "config").mkdir(parents=True)
    (app_dir / "config" / "__init__.py").write_text('app = "the web app\'s own"\n')
    (app_dir / "tasks").mkdir()
    (app_dir / "tasks" / "__init__.py").write_text('def cleanup():\n    return "its own tasks"\n')
    (app_dir / "main.py").write_text(textwrap.dedent(WEB_APP))
    worker_process(["quote"])

    # When it queues a quote and polls its status, in production mode
    env = {
        "PATH": os.environ["PATH"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "APP_ENV": "production",
    }
    completed = subprocess.run(
        [client_only_venv / "bin" / "python", "main.py"], cwd=app_dir, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    out = json.loads(completed.stdout.strip().splitlines()[-1])

    # Then the platform's worker priced it, bad input was refused before anything was sent,
    # and nothing of the platform was loaded
    assert out["status"]["status"] == "succeeded", out["status"]
    assert out["status"]["result"]["lines"][0]["title"] == "qa tester"
    assert out["refused"] == "request.roles[0].count"
    assert out["modules"] == []
    assert out["import_ms"] < 500  # about 30 ms; catches a heavy import creeping in
