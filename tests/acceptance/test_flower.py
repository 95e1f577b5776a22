"""Flower over HTTP and in headless Chromium: never open, showing every queue's workers and
a finished task, and no secret of a job on any page or API answer."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest

from devstack.servers import free_port
from tasks.status import job_status
from tests import harness
from tests.browser import headless_chromium, screenshot
from tests.conftest import module_worker
from tests.probe_tasks import ECHO, login

LOGIN = ("ops", f"pw-{uuid.uuid4().hex[:8]}")


def start_flower(
    env: dict[str, str], port: int, conf: bool = True, cwd: Path | None = None, args=()
):
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "flower",
         *(["--conf=config/flower.py"] if conf else []),
         "--address=127.0.0.1", f"--port={port}", *args],
        cwd=cwd or harness.ROOT,
        env={**harness.os.environ, "PYTHONPATH": str(harness.ROOT), **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("app_env", "conf", "own_conf_file", "login"),
    [
        ("development", True, False, ""),  # make run's environment, the platform's file
        ("development", False, False, ""),  # `celery -A config flower`: no --conf at all
        ("test", False, True, ""),  # Flower's default flowerconfig.py, which sets no auth
        ("test", True, False, "admin"),  # a user with no password
        ("test", True, False, "ops:pw,admin:"),  # one login of two with an empty password
        ("test", False, False, "--basic-auth=admin"),  # a weak login on the command line
    ],
)
def test_flower_refuses_to_start_without_auth_however_it_is_started(
    services, tmp_path, app_env, conf, own_conf_file, login
):
    if own_conf_file:
        (tmp_path / "flowerconfig.py").write_text("port = 5599\npersistent = False\n")
    args = [login] if login.startswith("--") else []
    env = {"APP_ENV": app_env, "FLOWER_BASIC_AUTH": "" if args else login}
    flower = start_flower(
        env, free_port(), conf=conf, cwd=tmp_path if own_conf_file else None, args=args
    )
    output, _ = flower.communicate(timeout=60)
    assert flower.returncode != 0
    assert "invalid setting FLOWER_BASIC_AUTH" in output  # the settings' check or the guard's
    assert "Visit me at" not in output


@pytest.fixture(scope="module")
def flower():
    """Flower with basic auth and persistent history, two worker dynos, one finished task."""
    port = free_port()
    env = {"FLOWER_BASIC_AUTH": ":".join(LOGIN),
           "FLOWER_DB": str(Path(tempfile.mkdtemp()) / "flower.db")}  # fmt: skip
    with module_worker(["quote"]) as quote, module_worker(["email", "crm", "search",
                                                          "maintenance"]) as main:  # fmt: skip
        process = start_flower(env, port)
        base = f"http://127.0.0.1:{port}"
        try:
            harness.wait_for(lambda: _status(f"{base}/healthcheck") == 200, 60)
            task_id = harness.wait_for(lambda: _finished_task_seen_by(base), 90, interval=0)
            yield {"url": base, "workers": (quote.hostname, main.hostname), "task": task_id}
        finally:
            process.terminate()
            process.wait(20)


def _finished_task_seen_by(base: str) -> str | None:
    """Run a task; its id once Flower shows it (Flower's event receiver connects a moment
    after its web server answers, and misses what finishes before)."""
    result = ECHO["quote"].delay("seen in flower")
    result.get(timeout=20)

    def shown() -> bool:
        tasks = httpx.get(f"{base}/api/tasks", auth=LOGIN, timeout=10).json()
        return (tasks.get(result.id) or {}).get("state") == "SUCCESS"

    try:
        harness.wait_for(shown, 5, interval=0.1)
    except TimeoutError:
        return None
    return result.id


def _status(url: str, auth=None) -> int:
    try:
        return httpx.get(url, auth=auth, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def test_flower_api_needs_the_login_and_lists_every_worker(flower):
    assert _status(f"{flower['url']}/api/workers") == 401
    assert _status(f"{flower['url']}/api/workers", auth=("ops", "wrong")) == 401
    workers = httpx.get(f"{flower['url']}/api/workers", params={"refresh": 1}, auth=LOGIN,
                        timeout=30).json()  # fmt: skip
    assert set(flower["workers"]) <= set(workers)

    tasks = httpx.get(f"{flower['url']}/api/tasks", auth=LOGIN, timeout=10).json()
    task = tasks[flower["task"]]
    assert task["state"] == "SUCCESS" and task["name"] == "quote.probe_echo"


def test_flower_in_headless_chromium(flower):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # Logging in: every request carries the basic-auth credentials
    with headless_chromium(LOGIN) as browser:
        browser.get(f"{flower['url']}/workers")
        wait = WebDriverWait(browser, 30)
        for hostname in flower["workers"]:
            wait.until(lambda b, h=hostname: h in b.find_element(By.TAG_NAME, "body").text)
        browser.get(f"{flower['url']}/task/{flower['task']}")
        wait.until(lambda b: "SUCCESS" in b.find_element(By.TAG_NAME, "body").text)
        assert "quote.probe_echo" in browser.find_element(By.TAG_NAME, "body").text
        browser.get(f"{flower['url']}/workers")
        wait.until(lambda b: flower["workers"][0] in b.find_element(By.TAG_NAME, "body").text)
        screenshot(browser, "flower-workers.png")


def _text(url: str) -> str:
    response = httpx.get(url, auth=LOGIN, timeout=10)
    assert response.status_code == 200, url
    return response.text


def test_no_secret_of_a_job_reaches_flower_or_the_result_backend(flower, redis_client):
    canary = f"canary-{uuid.uuid4().hex}"
    card = "4111 1111 1111 1111"
    k = f"login:{uuid.uuid4().hex}"
    # Given a job that fails with a password and a card number in its error message ...
    redis_client.set(f"{k}:fail", "1")
    failed = login.delay(k, f"ana {card}", password=canary)
    with pytest.raises(Exception, match="login refused for ana"):
        failed.get(timeout=30)
    # ... and one that returns a secret to its caller
    succeeded = ECHO["quote"].delay({"password": canary})
    assert succeeded.get(timeout=30)["value"] == {"password": canary}  # the caller reads it

    # Then the result backend holds the error masked, and job_status() still explains it
    stored = redis_client.get(f"celery-task-meta-{failed.id}")
    assert canary not in stored and card not in stored and "4111111111111111" not in stored
    assert "login refused for ana" in stored and "Traceback" in stored
    status = job_status(failed.id)
    assert status["status"] == "failed" and "password=[REDACTED]" in status["error"]["message"]

    # And Flower shows both jobs, with nothing of the secrets, on every page and API
    def seen() -> bool:
        tasks = httpx.get(f"{flower['url']}/api/tasks", auth=LOGIN, timeout=10).json()
        return all((tasks.get(r.id) or {}).get("state") in ("FAILURE", "SUCCESS")
                   for r in (failed, succeeded))  # fmt: skip

    harness.wait_for(seen, 30, interval=0.2)
    shown = "".join(
        _text(f"{flower['url']}{path}")
        for path in (
            "/api/tasks",
            f"/api/task/info/{failed.id}",
            f"/api/task/info/{succeeded.id}",
            f"/api/task/result/{failed.id}",
            f"/api/task/result/{succeeded.id}",
            f"/task/{failed.id}",
            f"/task/{succeeded.id}",
        )
    )
    assert canary not in shown
    assert card not in shown and "4111111111111111" not in shown
    assert "login refused for ana" in shown and "[REDACTED]" in shown
