"""The overview and dead-letter triage, as an on-call engineer uses them: in headless
Chromium (screenshots kept in test-artifacts/), against the Procfile's page, real workers and
dead letters they made; on Redis, and on RabbitMQ in `make test-rabbitmq`."""

from __future__ import annotations

import os
import re
import signal
import uuid

import httpx
import pytest

from broker import keys
from config import database
from config.queues import QUEUES
from config.redis_client import client as platform_redis
from devstack.servers import free_port
from housekeeping import queue_health, task_stats
from tasks.search import search_candidates
from tests import harness
from tests.acceptance.test_deadletters_web import LOGIN, _status, start_page
from tests.browser import headless_chromium, screenshot
from tests.conftest import ON_RABBITMQ, module_worker
from tests.probe_tasks import login

BROKER = "rabbitmq" if ON_RABBITMQ else "redis"
#: A Unix time as the page once showed it (`enqueued_at: 1796605212.48`).
EPOCH = re.compile(r"\b1[78]\d{8}(\.\d+)?\b")


@pytest.fixture(scope="module")
def page():
    with module_worker(["crm", "maintenance", "search"], pool="prefork", concurrency=2) as worker:
        port = free_port()
        server = start_page(port, {"FLOWER_BASIC_AUTH": ":".join(LOGIN)})
        url = f"http://127.0.0.1:{port}"
        try:
            harness.wait_for(lambda: _status(f"{url}/healthcheck") == 200, 60)
            yield url, worker
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)


def fail(redis_client, user: str, n: int) -> tuple[str, list]:
    """`n` dead letters of one cause (crm.probe_login refusing `user`)."""
    key = f"login:{uuid.uuid4().hex}"
    redis_client.set(f"{key}:fail", "1")
    results = [login.delay(key, user, password=f"pw-{i}") for i in range(n)]
    return key, [harness.wait_for_letter(r.id) for r in results]


def overview(url: str) -> dict:
    answer = httpx.get(f"{url}/api/overview", auth=LOGIN, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_overview_shows_queues_workers_and_causes(page, redis_client):
    url, worker = page
    # Workers of earlier tests that were killed read as running for up to 30 s: forget them
    # (a live worker writes its line again within 10 s)
    redis_client.delete(keys.WORKERS)
    user = f"ov-{uuid.uuid4().hex[:6]}"
    fail(redis_client, user, 2)
    # The worker reports itself within a heartbeat
    found = harness.wait_for(lambda: next(
        (w for w in overview(url)["workers"] or [] if w["hostname"] == worker.hostname), None),
        30)  # fmt: skip
    assert found["state"] == "running" and found["queues"] == ["crm", "maintenance", "search"]
    # Beat's per-minute snapshot (taken here by hand) feeds the chart: the failures show
    failed = task_stats.field("crm.probe_login", "failed")
    harness.wait_for(lambda: int(redis_client.hget(keys.TASK_STATS, failed) or 0) >= 2, 10)
    queue_health.snapshot(database.engine(), platform_redis())
    data = overview(url)
    assert data["throughput"]["crm"][-1]["failed"] >= 2, data["throughput"]["crm"][-3:]
    assert data["errors"] == {}, data["errors"]
    assert data["broker"] == ("RabbitMQ" if ON_RABBITMQ else "Redis")
    assert [q["queue"] for q in data["queues"]] == list(QUEUES)
    # Queues nobody consumes are named (only crm, maintenance and search have a worker)
    assert "quote" in data["unconsumed"] and "crm" not in data["unconsumed"]
    consumers = {q["queue"]: q["consumers"] for q in data["queues"]}
    assert consumers["crm"] >= 1 and consumers["quote"] == 0, consumers
    assert any(user in (c["message"] or "") for c in data["dead_letters"]["top"])
    assert set(data["throughput"]) == set(QUEUES)
    assert all(len(series) == 60 for series in data["throughput"].values())

    with headless_chromium(LOGIN) as browser:
        from selenium.webdriver.common.by import By

        browser.get(f"{url}/")
        queues = browser.find_element(By.ID, "queues").text
        assert all(queue in queues for queue in QUEUES)
        assert "no running worker consumes queue quote" in browser.find_element(
            By.ID, "problems").text  # fmt: skip
        assert worker.hostname in browser.find_element(By.ID, "workers").text
        assert user in browser.find_element(By.ID, "top-causes").text
        screenshot(browser, f"overview-{BROKER}.png")
        browser.set_window_size(800, 900)
        browser.get(f"{url}/")
        assert _fits(browser, "queues")
        screenshot(browser, f"overview-{BROKER}-800px.png")


def test_triage_a_cause_resolve_it_whole_and_replay_another(page, redis_client):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = page
    noisy, quiet = f"noisy-{uuid.uuid4().hex[:6]}", f"quiet-{uuid.uuid4().hex[:6]}"
    _, noisy_letters = fail(redis_client, noisy, 3)
    quiet_key, quiet_letters = fail(redis_client, quiet, 2)
    # Refused input: two letters that differ only in a number are one cause
    refused = [search_candidates.delay({"q": "payroll", "per_page": n}) for n in (1000, 500)]
    refused_letters = [harness.wait_for_letter(r.id) for r in refused]
    assert {x.reason for x in refused_letters} == {"invalid_input"}
    assert refused_letters[0].fingerprint == refused_letters[1].fingerprint
    with headless_chromium(LOGIN) as browser:
        wait = WebDriverWait(browser, 60, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException))  # fmt: skip

        # One row per cause, with its count; refused input apart
        browser.get(f"{url}/causes")
        rows = browser.find_element(By.ID, "causes").text
        assert any(noisy in line and line.startswith("3 ") for line in rows.splitlines()), rows
        apart = browser.find_element(By.ID, "refused").text
        assert "search.search_candidates" in apart and "#" in apart, apart
        assert "search.search_candidates" not in rows
        screenshot(browser, f"causes-{BROKER}.png")

        # A cause's page: what it is, how many, and its actions before its letters
        browser.find_element(By.PARTIAL_LINK_TEXT, noisy).click()
        wait.until(lambda b: b.find_element(By.ID, "open-count").text == "3")
        actions = browser.find_element(By.ID, "bulk-actions")
        assert actions.location["y"] < browser.find_element(By.ID, "letters").location["y"]
        assert {str(x.id) for x in noisy_letters} <= set(
            browser.find_element(By.ID, "letters").text.split())  # fmt: skip
        screenshot(browser, f"cause-{BROKER}.png")
        # Resolve the whole cause with a note
        actions.find_element(By.NAME, "note").send_keys("customer deleted the account")
        actions.find_element(By.CSS_SELECTOR, "#resolve-matching button").click()
        wait.until(lambda b: "3 resolved" in b.find_element(By.ID, "message").text)
        assert browser.find_element(By.ID, "open-count").text == "0"

        # The other cause: fixed, then replayed whole (one first, then the rest)
        redis_client.delete(f"{quiet_key}:fail")
        browser.get(f"{url}/causes/{quiet_letters[0].fingerprint}")
        browser.find_element(By.CSS_SELECTOR, "#replay-matching button").click()
        wait.until(lambda b: "/bulk/" in b.current_url)
        # the bulk page refreshes itself until the maintenance worker reports
        wait.until(lambda b: b.find_element(By.ID, "state").text.startswith("done"))
        assert browser.find_element(By.ID, "report").text.count("succeeded") == 1
        screenshot(browser, f"bulk-{BROKER}.png")

        def settled() -> bool:
            states = [httpx.get(f"{url}/api/letters/{x.id}", auth=LOGIN).json()["status"]
                      for x in quiet_letters]  # fmt: skip
            return states == ["resolved", "resolved"]

        harness.wait_for(settled, 90, interval=0.5)

        # A letter's page: its actions on the first screen, the traceback folded, times in
        # words (UTC on hover), no Unix times, plain words on replay
        letter = noisy_letters[0]
        browser.get(f"{url}/letters/{letter.id}")
        replay = browser.find_element(By.CSS_SELECTOR, "#replay button")
        assert replay.location["y"] < 300
        assert not browser.find_element(By.ID, "traceback").is_displayed()
        moment = browser.find_element(By.CSS_SELECTOR, "#facts time")
        assert re.fullmatch(r"just now|\d+ s ago", moment.text), moment.text
        assert moment.get_attribute("title").endswith("UTC")
        shown = browser.find_element(By.TAG_NAME, "main").text
        assert not EPOCH.search(shown), EPOCH.search(shown)
        assert "sealed" not in shown and "original arguments" in shown
        browser.find_element(By.CSS_SELECTOR, "#headers-box summary").click()
        headers = browser.find_element(By.ID, "headers").text
        assert "enqueued_at" in headers and "UTC" in headers and not EPOCH.search(headers)
        screenshot(browser, f"letter-{BROKER}.png")

        # The unfiltered list offers no bulk action it would refuse; at 800 px it all fits
        browser.set_window_size(800, 900)
        browser.get(f"{url}/letters?status=all")
        assert not browser.find_elements(By.ID, "replay-matching")
        assert _fits(browser, "letters")
        screenshot(browser, f"letters-{BROKER}-800px.png")


def _fits(browser, table_id: str) -> bool:
    """Whether the table's last column ends inside the window (nothing cut off)."""
    return browser.execute_script(
        "const t = document.getElementById(arguments[0]);"
        "const cells = t.querySelectorAll('tr:first-child > *');"
        "const last = cells[cells.length - 1].getBoundingClientRect();"
        "return last.right <= document.documentElement.clientWidth && last.width > 20;",
        table_id,
    )
