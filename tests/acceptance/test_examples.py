"""The two example web apps (examples/), each in a virtualenv holding only the client and its
framework, served as they would be (uvicorn; Django's server), against real workers of
every web queue: what a web app's developer gets from the platform."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from devstack import servers
from tests import harness
from tests.fakes import FakeCrm, SmtpSink
from tests.integration.test_logs_and_sentry import json_lines

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SERVE = {
    "fastapi": lambda venv, port: [str(venv / "bin" / "uvicorn"), "main:app",
                                   "--host", "127.0.0.1", "--port", str(port)],
    "django": lambda venv, port: [str(venv / "bin" / "python"), "manage.py", "runserver",
                                  "--noreload", f"127.0.0.1:{port}"],
}  # fmt: skip
QUOTE = {"roles": [{"title": "qa tester", "count": 2}]}
pytestmark = pytest.mark.redis_broker  # the client publishes to Redis


@pytest.fixture(scope="module")
def workers():
    """Workers of every web queue, with a mail server and a CRM of their own."""
    with SmtpSink() as mail, FakeCrm() as crm:
        env = {"SMTP_URL": mail.url, "CRM_WEBHOOK_URL": crm.url}
        with harness.WorkerProcess(["quote", "email", "crm", "search"], env=env) as worker:
            yield worker


@pytest.fixture(scope="module", params=sorted(SERVE))
def example(request, tmp_path_factory):
    """One example app's virtualenv (the client and the framework, nothing else)."""
    name = request.param
    venv = tmp_path_factory.mktemp(f"{name}-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    client = f"{ROOT / 'client'}[outbox]" if name == "django" else ROOT / "client"
    subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", "-c", ROOT / "constraints.txt",
         client, "-r", EXAMPLES / name / "requirements.txt"],
        check=True, capture_output=True, timeout=900,
    )  # fmt: skip
    return name, venv


class Served:
    """The example app served on a free port with `redis_url` as its only setting."""

    def __init__(
        self, example: tuple[str, Path], redis_url: str, env: dict[str, str] | None = None
    ) -> None:
        name, venv = example
        self.port = servers.free_port()
        self.process = subprocess.Popen(
            SERVE[name](venv, self.port), cwd=EXAMPLES / name,
            env={"PATH": os.environ["PATH"], "REDIS_URL": redis_url, **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        harness.wait_for(lambda: servers.port_answers(self.port) or self.process.poll(), 30)
        assert self.process.poll() is None, self.process.stdout.read().decode()
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.close()
        servers.stop_process(self.process)

    def queue(self, task: str, *args, request_id: str | None = None, **kwargs) -> httpx.Response:
        headers = {"X-Request-ID": request_id} if request_id else {}
        return self.http.post(f"/jobs/{task}", json={"args": args, "kwargs": kwargs},
                              headers=headers)  # fmt: skip

    def finished(self, job_id: str, timeout: float = 60) -> dict:
        def done() -> dict | None:
            status = self.http.get(f"/jobs/{job_id}").json()
            return status if status["status"] in ("succeeded", "failed") else None

        return harness.wait_for(done, timeout, interval=0.2)


def test_an_example_app_queues_to_every_queue_and_reads_the_results(example, workers):
    with Served(example, os.environ["REDIS_URL"]) as app:
        # Given one job for each web queue, under the caller's request id
        request_id = f"req-{example[0]}-{uuid.uuid4().hex[:6]}"
        lead = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "name": "Ana Cruz",
                "company": "Acme", "source": "web"}  # fmt: skip
        sent = {
            "quote": app.queue("generate_quote", QUOTE, request_id=request_id),
            "email": app.queue("send_email", {"to": "ana@example.com", "subject": "Hi",
                                              "body": "Hello"}, f"k-{uuid.uuid4()}"),
            "crm": app.queue("capture_lead", lead),
            "search": app.queue("search_candidates", {"q": "accountant", "per_page": 5}),
        }  # fmt: skip

        # Then each is accepted (202) and ends succeeded, read back through the app
        for queue, answer in sent.items():
            assert answer.status_code == 202, (queue, answer.text)
            status = app.finished(answer.json()["job_id"])
            assert status["status"] == "succeeded", (queue, status)
        quote = app.finished(sent["quote"].json()["job_id"])
        assert quote["result"]["lines"][0]["title"] == "qa tester"

        # ... and the worker's lines about the quote carry the request id
        job_id = sent["quote"].json()["job_id"]
        lines = harness.wait_for(
            lambda: [x for x in json_lines(workers.log()) if x.get("task_id") == job_id], 10
        )
        assert all(line["correlation_id"] == request_id for line in lines), lines


def test_an_example_app_answers_400_for_bad_input_and_sends_nothing(example, workers):
    with Served(example, os.environ["REDIS_URL"]) as app:
        before = harness.queue_depth("quote")
        too_many = {"roles": [{"title": "qa tester", "count": 10_000}]}
        answer = app.queue("generate_quote", too_many)
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == "request.roles[0].count"
        unknown = app.queue("search_candidates", {"per_page": 1000})
        assert (unknown.status_code, unknown.json()["field"]) == (400, "query.per_page")
        assert harness.queue_depth("quote") <= before


def test_an_example_app_queues_in_bulk_and_reads_many_statuses(example, workers):
    with Served(example, os.environ["REDIS_URL"]) as app:
        items = [[{"roles": [{"title": "qa tester", "count": n}]}] for n in range(1, 51)]
        answer = app.http.post("/jobs/generate_quote/bulk", json={"items": items})
        assert answer.status_code == 202, answer.text
        ids = answer.json()["job_ids"]
        assert len(set(ids)) == 50

        def all_done() -> dict | None:
            statuses = app.http.get("/jobs", params={"ids": ",".join(ids)}).json()
            return statuses if all(s["status"] == "succeeded" for s in statuses.values()) else None

        statuses = harness.wait_for(all_done, 90, interval=0.5)
        counts = [statuses[i]["result"]["lines"][0]["count"] for i in ids]
        assert counts == list(range(1, 51))


def test_an_example_app_answers_503_within_the_bound_when_redis_is_down(example):
    down = f"redis://127.0.0.1:{servers.free_port()}/0"
    with Served(example, down) as app:
        started = time.monotonic()
        answer = app.queue("generate_quote", QUOTE)
        assert answer.status_code == 503, answer.text
        assert time.monotonic() - started < 3
        assert "Redis" in json.loads(answer.text)["error"]
        status = app.http.get(f"/jobs/{uuid.uuid4()}")
        assert status.status_code == 503


def test_the_django_app_queues_through_its_outbox_in_the_requests_transaction(example, workers):
    """Its own Postgres database, migrated by `manage.py migrate`; the relay is the client's
    `taskplatform-outbox relay` from the app's virtualenv."""
    name, venv = example
    if name != "django":
        pytest.skip("the outbox example is the Django app's")
    admin = harness.database_url(os.environ["DATABASE_URL"], "postgres").replace("+psycopg", "")
    database = f"example_outbox_{uuid.uuid4().hex[:8]}"
    harness.create_database(admin, database)
    url = harness.database_url(os.environ["DATABASE_URL"], database).replace("+psycopg", "")
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": url, "REDIS_URL": os.environ["REDIS_URL"]}
    relay = None
    try:
        migrated = subprocess.run(
            [venv / "bin" / "python", "manage.py", "migrate", "taskplatform_outbox"],
            cwd=EXAMPLES / name, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert migrated.returncode == 0, migrated.stderr
        with Served(example, os.environ["REDIS_URL"], {"DATABASE_URL": url}) as app:
            undone = app.http.post(
                "/outbox/generate_quote", json={"args": [QUOTE], "rollback": True}
            )
            done = app.http.post("/outbox/generate_quote", json={"args": [QUOTE]})
            bad = app.http.post(
                "/outbox/generate_quote", json={"args": [{"roles": [{"title": "qa", "count": 0}]}]}
            )
            assert (undone.status_code, done.status_code, bad.status_code) == (202, 202, 400)
            with psycopg.connect(url, autocommit=True) as db:
                rows = [r[0] for r in db.execute("SELECT job_id FROM taskplatform_outbox")]
            assert rows == [done.json()["job_id"]]
            relay = subprocess.Popen(
                [venv / "bin" / "taskplatform-outbox", "relay"], cwd=EXAMPLES / name,
                env={**env, "OUTBOX_DATABASE_URL": url}, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            status = app.finished(done.json()["job_id"])
            assert status["status"] == "succeeded"
            assert app.http.get(f"/jobs/{undone.json()['job_id']}").json()["status"] == "pending"
    finally:
        if relay is not None:
            servers.stop_process(relay)
        harness.drop_database(admin, database)
