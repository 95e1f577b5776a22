"""The dead-letter page, as ops use it: over its JSON API and in headless Chromium, served by
gunicorn from the Procfile's command, on dead letters a real worker made."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from broker import epoch, keys
from devstack.servers import free_port
from tests import harness
from tests.browser import headless_chromium, screenshot
from tests.conftest import module_worker
from tests.probe_tasks import login

LOGIN = ("ops", f"pw-{uuid.uuid4().hex[:8]}")
FLOWER_URL = "http://flower.example.test"


def procfile_command(name: str) -> str:
    for line in (harness.ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} process in the Procfile")


def start_page(port: int, env: dict[str, str]) -> subprocess.Popen:
    """The Procfile's `deadletters` process, as honcho would run it."""
    return subprocess.Popen(
        ["bash", "-c", procfile_command("deadletters")], cwd=harness.ROOT,
        env={**os.environ, "PYTHONPATH": str(harness.ROOT), "PORT": str(port),
             "DEADLETTERS_ADDRESS": "127.0.0.1", "PATH": _path(), **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip


def _path() -> str:
    return f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"


@pytest.fixture(scope="module")
def page():
    # crm runs the probe jobs; maintenance runs the page's bulk replays
    with module_worker(["crm", "maintenance"], pool="prefork", concurrency=2):
        port = free_port()
        server = start_page(port, {"FLOWER_BASIC_AUTH": ":".join(LOGIN), "FLOWER_URL": FLOWER_URL})
        url = f"http://127.0.0.1:{port}"
        try:
            harness.wait_for(lambda: _status(f"{url}/healthcheck") == 200, 60)
            yield url
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)


@pytest.fixture
def failing(page, redis_client):
    """Make dead letters of crm.probe_login (failing while its flag is set)."""

    def make(n: int, user: str = "ana", password: str | None = None):
        k = f"login:{uuid.uuid4().hex}"
        redis_client.set(f"{k}:fail", "1")
        results = [login.delay(k, user, password=password or f"pw-{i}") for i in range(n)]
        return k, [harness.wait_for_letter(r.id) for r in results]

    return make


def _status(url: str, **kwargs) -> int:
    try:
        return httpx.get(url, timeout=5, **kwargs).status_code
    except httpx.HTTPError:
        return 0


def api(page: str, path: str, **params) -> dict:
    response = httpx.get(f"{page}{path}", params=params, auth=LOGIN, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def post(page: str, path: str, body: dict | None = None) -> httpx.Response:
    return httpx.post(f"{page}{path}", json=body or {}, auth=LOGIN, timeout=120)


def test_the_page_refuses_to_start_without_logins(services):
    for logins in ("", "admin", "ops:pw,admin:"):
        server = start_page(free_port(), {"FLOWER_BASIC_AUTH": logins})
        output, _ = server.communicate(timeout=60)
        assert server.returncode != 0
        assert "invalid setting FLOWER_BASIC_AUTH" in output, output


def test_every_page_and_api_needs_the_login(page):
    assert _status(f"{page}/") == 401
    assert _status(f"{page}/api/letters") == 401
    assert _status(f"{page}/api/letters", auth=(LOGIN[0], "wrong")) == 401
    assert _status(f"{page}/api/letters", auth=LOGIN) == 200
    assert _status(f"{page}/healthcheck") == 200  # probes need no login


def test_every_page_says_when_the_broker_lost_its_data(page, redis_client):
    # Given a loss of the broker's data no operator has acknowledged yet
    loss = f"test-{uuid.uuid4().hex[:8]}"
    redis_client.sadd(epoch.LOSSES, loss)
    redis_client.hset(epoch.LOSS_PREFIX + loss, mapping={
        "id": loss, "kind": "emptied", "detected_at": 1796600000.0, "waiting_before": 7,
        "in_flight_before": 0, "reprotected": 0})  # fmt: skip
    try:
        # Then the page opens with it, saying how many jobs may be gone and what to do
        html = httpx.get(f"{page}/", auth=LOGIN, timeout=10).text
        assert "the broker lost its data (emptied)" in html and "up to 7 job(s)" in html
        assert "--acknowledge-data-loss" in html
    finally:
        redis_client.srem(epoch.LOSSES, loss)
        redis_client.delete(epoch.LOSS_PREFIX + loss)
    # And once acknowledged, it is gone
    assert "broker lost its data" not in httpx.get(f"{page}/", auth=LOGIN, timeout=10).text


def test_list_filter_count_and_show_without_secrets(page, failing):
    canary = f"canary-{uuid.uuid4().hex}"
    _, letters = failing(2, user="lister", password=canary)
    listed = api(page, "/api/letters", task="crm.probe_login", reason="permanent")
    assert listed["total"] >= 2 and listed["stats"]["by_reason"]["permanent"] >= 2
    assert {x.id for x in letters} <= {item["id"] for item in listed["items"]}
    assert api(page, "/api/letters", task="crm.no_such_task")["total"] == 0
    shown = api(page, f"/api/letters/{letters[0].id}")
    assert shown["task_name"] == "crm.probe_login" and shown["attempts"] == 1
    assert "Traceback" in shown["traceback"]
    # The letter's page and the API show the job without its password
    html = httpx.get(f"{page}/letters/{letters[0].id}", auth=LOGIN, timeout=10).text
    assert canary not in html and canary not in str(shown) and "[REDACTED]" in html
    assert f"{FLOWER_URL}/task/{letters[0].task_id}" in html  # to the job in Flower
    # From a task id (as Flower shows it) to its letter
    jump = httpx.get(f"{page}/tasks/{letters[0].task_id}", auth=LOGIN, timeout=10)
    assert jump.status_code == 302 and jump.headers["location"].endswith(
        f"/letters/{letters[0].id}"
    )
    # Bad filters are named, not ignored
    bad = httpx.get(f"{page}/api/letters", params={"age": "soon"}, auth=LOGIN, timeout=10)
    assert bad.status_code == 400 and "age 'soon'" in bad.json()["error"]
    assert httpx.get(f"{page}/api/letters/999999999", auth=LOGIN).status_code == 404


def test_replay_one_that_fails_again_shows_its_lineage(page, failing, redis_client):
    k, (letter,) = failing(1, user="lineage")
    replayed = post(page, f"/api/letters/{letter.id}/replay")
    assert replayed.status_code == 200, replayed.text
    new_id = replayed.json()["replayed_as"]
    # the flag is still set: the replay fails again, as a letter that points back
    (again,) = [harness.wait_for_letter(new_id)]
    assert again.replay_of == letter.id
    shown = api(page, f"/api/letters/{again.id}")
    assert shown["lineage"]["ancestors"] == [letter.id]
    assert api(page, f"/api/letters/{letter.id}")["lineage"]["descendants"] == [again.id]
    # a second replay of the same letter is refused unless forced, with the reason
    refused = post(page, f"/api/letters/{letter.id}/replay")
    assert refused.status_code == 409 and "already replayed" in refused.json()["error"]

    # With the cause fixed, the forced replay succeeds and resolves the letter
    redis_client.delete(f"{k}:fail")
    assert post(page, f"/api/letters/{again.id}/replay", {"force": True}).status_code == 200
    harness.wait_for(lambda: api(page, f"/api/letters/{again.id}")["status"] == "resolved", 30)


def bulk_replay(page: str, filters: dict) -> dict:
    """Start a bulk replay and wait for the maintenance worker to report it."""
    started = post(page, "/api/replay", {"filters": filters})
    assert started.status_code == 202, started.text
    status = started.json()["status"]

    def done() -> dict | None:
        state = api(page, status)
        return state if state["state"] in ("done", "failed") else None

    state = harness.wait_for(done, 120, interval=0.5)
    assert state["state"] == "done", state
    return state["report"]


def test_replay_a_filtered_set_canary_first(page, failing, redis_client):
    filters = {"task": "crm.probe_login", "age": "1h"}
    # Without a narrowing filter (the status alone does not narrow), nothing is replayed
    assert post(page, "/api/replay", {"filters": {}}).status_code == 400
    assert post(page, "/api/replay", {"filters": {"status": "all"}}).status_code == 400
    # Earlier tests' letters of this task are settled: the set is this test's
    assert post(page, "/api/resolve", {"filters": filters, "note": "earlier"}).status_code == 200
    k, made = failing(3, user=f"bulk-{uuid.uuid4().hex[:6]}")
    # in the order a bulk replay takes them (the oldest failure first: the canary)
    a, b, c = sorted(made, key=lambda x: (x.failed_at, x.id))

    # One bulk replay at a time
    redis_client.set(keys.BULK_REPLAY_LOCK, "another-bulk")
    busy = post(page, "/api/replay", {"filters": filters})
    assert busy.status_code == 409 and "another-bulk" in busy.json()["error"]
    redis_client.delete(keys.BULK_REPLAY_LOCK)

    # When the cause is not fixed, the canary (the oldest) fails and nothing else is sent
    stopped = bulk_replay(page, filters)
    assert stopped["canary"] == "failed" and stopped["stopped"], stopped
    assert set(stopped["sent"]) == {str(a.id)}
    (a_again,) = harness.wait_for(lambda: harness.letters_where(replay_of=a.id), 30)

    # Once it is fixed, the next canary succeeds and the rest follow; the letter already
    # replayed is named, not replayed twice
    redis_client.delete(f"{k}:fail")
    done = bulk_replay(page, filters)
    assert done["canary"] == "succeeded", done
    assert {int(i) for i in done["sent"]} == {b.id, c.id, a_again.id}
    assert set(done["failed"]) == {str(a.id)} and "already replayed" in done["failed"][str(a.id)]

    # Every replay succeeded: all four are resolved, the first through its replay's replay
    def settled() -> bool:
        shown = [api(page, f"/api/letters/{x.id}")["status"] for x in (a, b, c, a_again)]
        return shown == ["resolved"] * 4

    harness.wait_for(settled, 30, interval=0.2)


def test_bad_requests_get_clear_errors(page, failing):
    _, (letter,) = failing(1, user="bad-requests")
    cases = [
        ("/api/replay", [1], 400, "JSON object"),
        ("/api/replay", {"filters": ["task"]}, 400, "filters"),
        (f"/api/letters/{letter.id}/replay", {"force": "false"}, 400, "true or false"),
        (f"/api/letters/{letter.id}/resolve", {"note": 5}, 400, "note"),
        (f"/api/letters/{letter.id}/resolve", {}, 400, "note"),
        ("/api/letters/99999999999999999999999/resolve", {"note": "x"}, 404, "no dead letter"),
    ]
    for path, body, status, said in cases:
        answer = httpx.post(f"{page}{path}", json=body, auth=LOGIN, timeout=10)
        assert answer.status_code == status and said in answer.json()["error"], (path, answer.text)
    wrong_method = httpx.delete(f"{page}/api/letters/{letter.id}", auth=LOGIN, timeout=10)
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()
    assert api(page, f"/api/letters/{letter.id}")["status"] == "open"  # nothing changed
    # No link can put words in the page, and no site can frame it
    shown = httpx.get(f"{page}/", params={"message": "log in at evil.example"}, auth=LOGIN)
    assert "evil.example" not in shown.text
    assert (
        shown.headers["X-Frame-Options"] == "DENY" and shown.headers["Cache-Control"] == "no-store"
    )


def test_forms_need_the_page_token_and_the_api_needs_json(page, failing):
    _, (letter,) = failing(1, user="csrf")
    # A form posted from elsewhere (the browser would send the login with it) is refused
    forged = httpx.post(f"{page}/letters/{letter.id}/resolve", data={"note": "x"},
                        auth=LOGIN, timeout=10)  # fmt: skip
    assert forged.status_code == 403
    html = httpx.get(f"{page}/letters/{letter.id}", auth=LOGIN, timeout=10).text
    token = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    other_site = httpx.post(f"{page}/letters/{letter.id}/resolve", timeout=10, auth=LOGIN,
                            data={"note": "x", "csrf": token},
                            headers={"Origin": "https://evil.example"})  # fmt: skip
    assert other_site.status_code == 403
    # The API takes JSON only: a cross-site form cannot send it
    form_api = httpx.post(f"{page}/api/letters/{letter.id}/resolve", data={"note": "x"},
                          auth=LOGIN, timeout=10)  # fmt: skip
    assert form_api.status_code == 415
    assert api(page, f"/api/letters/{letter.id}")["status"] == "open"
    # The page's own form, with its token, works
    ok = httpx.post(f"{page}/letters/{letter.id}/resolve", auth=LOGIN, timeout=10,
                    data={"note": "done by hand", "csrf": token})  # fmt: skip
    assert ok.status_code == 302
    resolved = api(page, f"/api/letters/{letter.id}")
    assert resolved["status"] == "resolved" and resolved["resolved_by"] == f"web:{LOGIN[0]}"
    # Someone decided it needs no replay: a replay is refused unless forced
    refused = post(page, f"/api/letters/{letter.id}/replay")
    assert refused.status_code == 409 and "is resolved" in refused.json()["error"]


def test_ops_filter_replay_and_resolve_in_headless_chromium(page, failing, redis_client):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    user = f"browser-{uuid.uuid4().hex[:6]}"
    k, letters = failing(2, user=user)
    first, second = letters
    with headless_chromium(LOGIN) as browser:
        # a page being replaced by the next one answers with stale or missing elements
        wait = WebDriverWait(browser, 30, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException))  # fmt: skip
        # Logged in, the list shows the letters and their counts by reason
        browser.get(f"{page}/letters")
        wait.until(lambda b: "crm.probe_login" in b.find_element(By.ID, "letters").text)
        assert "permanent" in browser.find_element(By.ID, "counts").text
        screenshot(browser, "deadletters-list.png")

        # Filter: task and reason
        form = browser.find_element(By.ID, "filters")
        form.find_element(By.NAME, "task").send_keys("crm.probe_login")
        Select(form.find_element(By.NAME, "reason")).select_by_value("permanent")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(lambda b: "task=crm.probe_login" in b.current_url)
        assert str(first.id) in browser.find_element(By.ID, "letters").text

        # A letter's page: the job, its error, no password; replay it (the cause is fixed)
        browser.get(f"{page}/letters/{first.id}")
        assert "[REDACTED]" in browser.find_element(By.ID, "arguments").text
        assert "login refused" in browser.find_element(By.ID, "facts").text
        screenshot(browser, "deadletters-letter.png")
        redis_client.delete(f"{k}:fail")
        browser.find_element(By.CSS_SELECTOR, "#replay button").click()
        wait.until(lambda b: "replayed as" in b.find_element(By.ID, "message").text)
        assert "/letters/" in browser.current_url
        harness.wait_for(lambda: api(page, f"/api/letters/{first.id}")["status"] == "resolved",
                         30)  # fmt: skip

        # Resolve the other with a note
        browser.get(f"{page}/letters/{second.id}")
        browser.find_element(By.CSS_SELECTOR, "#resolve input[name=note]").send_keys(
            "customer deleted the account"
        )
        browser.find_element(By.CSS_SELECTOR, "#resolve button").click()
        wait.until(lambda b: "resolved" in b.find_element(By.ID, "message").text)
        wait.until(lambda b: b.find_element(By.ID, "status").text == "resolved")
        assert "customer deleted the account" in browser.find_element(By.ID, "facts").text
        screenshot(browser, "deadletters-resolved.png")


def test_the_procfile_runs_the_page_with_gunicorn():
    command = shlex.split(procfile_command("deadletters"))
    assert command[0] == "gunicorn" and "webapp:create_app()" in command
