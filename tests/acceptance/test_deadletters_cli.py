"""`celery -A config deadletters ...` as ops run it, on real dead letters made by a real
worker.

Most calls run Celery's own command line in this process (click's runner on `celery`'s
main command: the same parsing, app loading and exit codes, without two seconds of start-up
per call); the calls that need an environment of their own, and one of each kind of output,
run it from the shell as a new process."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from celery.bin.celery import celery as celery_main
from click.testing import CliRunner

from tests import harness
from tests.conftest import module_worker
from tests.fakes import FakeSentry, SmtpSink
from tests.probe_tasks import login


def cli(
    *args: str, env: dict[str, str] | None = None, shell: bool = False
) -> subprocess.CompletedProcess[str]:
    if not (env or shell):
        result = CliRunner().invoke(celery_main, ["-A", "config", "deadletters", *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "deadletters", *args],
        cwd=harness.ROOT,
        env={**harness.os.environ, "PYTHONPATH": str(harness.ROOT), **(env or {})},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def cli_json(*args: str) -> dict:
    completed = cli(*args, "--json")
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def crm_worker():
    with module_worker(["crm"], pool="prefork", concurrency=2) as worker:
        yield worker


@pytest.fixture
def failing_logins(crm_worker, redis_client):
    """Make `n` dead letters of crm.probe_login that keep failing while the flag is set."""

    def make(n: int, user: str = "ana") -> tuple[str, list]:
        k = f"login:{uuid.uuid4().hex}"
        redis_client.set(f"{k}:fail", "1")
        results = [login.delay(k, user, password=f"pw-{i}") for i in range(n)]
        return k, [harness.wait_for_letter(r.id) for r in results]

    return make


def test_list_filters_and_pages_newest_first(failing_logins):
    _, letters = failing_logins(3, user="lister")
    listed = cli_json("list", "--task", "crm.probe_login", "--reason", "permanent", "--limit", "2")
    assert listed["total"] >= 3
    ids = [item["id"] for item in listed["items"]]
    times = [item["failed_at"] for item in listed["items"]]
    assert len(ids) == 2 and times == sorted(times, reverse=True)
    page2 = cli_json("list", "--task", "crm.probe_login", "--limit", "2", "--page", "2")
    assert not set(ids) & {item["id"] for item in page2["items"]}
    none = cli_json("list", "--queue", "quote", "--task", "crm.probe_login")
    assert none["total"] == 0

    human = cli("list", "--unresolved", "--since", "1h", shell=True)
    assert human.returncode == 0
    assert "crm.probe_login" in human.stdout and "REASON" in human.stdout


def test_show_gives_the_whole_letter_with_its_traceback(failing_logins):
    _, (letter,) = failing_logins(1)
    shown = cli_json("show", str(letter.id))
    assert shown["task_id"] == letter.task_id and shown["queue"] == "crm"
    assert "PermanentError" in shown["traceback"]
    assert shown["kwargs"] == {"password": "[REDACTED]"}
    assert shown["replayable_arguments"] == "sealed"
    human = cli("show", str(letter.id))
    assert "Traceback" in human.stdout
    missing = cli("show", "999999999", shell=True)
    assert missing.returncode != 0 and "no dead letter 999999999" in missing.stderr


def test_replay_sends_to_the_original_queue_and_links_both_rows(failing_logins):
    # Given a dead letter whose cause is not fixed yet
    _, (letter,) = failing_logins(1)

    # When ops replay it
    replayed = cli_json("replay", str(letter.id), "--by", "ops-anna")
    new_task_id = replayed["sent"][str(letter.id)]

    # Then it fails again on the crm worker, as a new dead letter linked to the first
    again = harness.wait_for_letter(new_task_id)
    assert (again.queue, again.replay_of, again.reason) == ("crm", letter.id, "permanent")
    original = harness.letters_for(letter.task_id)[0]
    assert (original.replayed_as, original.replayed_by) == (new_task_id, "ops-anna")
    assert original.resolved_at is None

    # And replaying it again needs --force
    refused = cli("replay", str(letter.id))
    assert refused.returncode == 1 and "already replayed" in refused.stdout


def test_a_bulk_replay_whose_canary_fails_sends_nothing_more(failing_logins, redis_client):
    _, letters = failing_logins(3)
    ids = [str(letter.id) for letter in letters]
    completed = cli("replay", *ids, "--canary-timeout", "30", "--json")
    assert completed.returncode == 1
    report = json.loads(completed.stdout)
    assert list(report["sent"]) == [ids[0]] and report["canary"] == "failed"
    assert "2 left unsent" in report["stopped"]
    assert [harness.letters_for(x.task_id)[0].replayed_as is None for x in letters] == [
        False, True, True,
    ]  # fmt: skip


def test_a_bulk_replay_after_the_fix_sends_all_and_resolves_them(failing_logins, redis_client):
    k, letters = failing_logins(3)
    dry = cli_json("replay", *[str(x.id) for x in letters], "--dry-run")
    assert dry["count"] == 3 and len(dry["sample"]) == 3
    assert all(harness.letters_for(x.task_id)[0].replayed_as is None for x in letters)

    redis_client.delete(f"{k}:fail")
    report = cli_json("replay", *[str(x.id) for x in letters], "--rate", "20")
    assert report["canary"] == "succeeded" and len(report["sent"]) == 3
    for letter in letters:
        harness.wait_for(lambda x=letter: harness.letters_for(x.task_id)[0].resolved_at, 20)


def test_resolve_purge_and_stats(failing_logins):
    _, letters = failing_logins(2, user="resolver")
    ids = [str(x.id) for x in letters]
    resolved = cli_json("resolve", *ids, "--note", "customer deleted", "--by", "ops-ben")
    assert resolved == {"resolved": 2, "asked": 2}
    row = harness.letters_for(letters[0].task_id)[0]
    assert (row.resolved_by, row.resolution_note) == ("ops-ben", "customer deleted")
    again = cli("resolve", *ids, "--note", "again")
    assert again.returncode == 1

    stats = cli_json("stats")
    assert stats["by_task"]["crm.probe_login"] >= 2
    assert stats["by_reason"]["permanent"] >= 2
    assert stats["total"] >= stats["unresolved"] + 2

    kept = cli_json("purge", "--resolved", "--older-than", "1d")
    assert kept["deleted"] == 0
    purged = cli_json("purge", "--resolved", "--older-than", "0s")
    assert purged["deleted"] >= 2
    assert harness.letters_for(letters[0].task_id) == []
    assert cli("purge", "--older-than", "0s").returncode != 0  # --resolved is required


def test_replay_or_resolve_without_ids_or_filters_is_refused():
    for command in (["replay"], ["resolve", "--note", "x"]):
        completed = cli(*command)
        assert completed.returncode == 2 and "filters" in completed.stderr


def test_drain_and_alert(failing_logins, worker_process):
    failing_logins(1)
    drained = cli_json("drain")
    assert drained["left"] == 0

    with FakeSentry() as sentry, SmtpSink() as mail:
        # the alert mail takes the path every mail takes: the email task, once per key
        worker_process(["email"], env={"SMTP_URL": mail.url})
        env = {"SENTRY_DSN": sentry.dsn, "OPS_EMAIL": "ops@example.com"}
        completed = cli("alert", "--older-than", "0s", "--json", env=env)
        assert completed.returncode == 0, completed.stderr
        report = json.loads(completed.stdout)
        assert report["unresolved"] >= 1
        assert report["sent_to"] == ["log", "sentry", "ops@example.com"]
        assert "unresolved dead letter" in completed.stderr  # the log line
        harness.wait_for(lambda: sentry.events(), 10)
        assert "unresolved dead letter" in sentry.events()[0]
        harness.wait_for(lambda: mail.messages, 20)
        (message,) = mail.messages
        assert message["to"] == ["ops@example.com"] and "crm.probe_login" in message["data"]
        assert "unresolved dead letters" in message["data"]  # the subject

        # Run again within the alert's window (a minute): the mail is not sent twice
        previous = report
        for _ in range(3):  # a run that straddles a minute opens a new window
            rerun = cli("alert", "--older-than", "0s", "--json", env=env)
            assert rerun.returncode == 0, rerun.stderr
            again = json.loads(rerun.stdout)
            if again["mail_key"] == previous["mail_key"]:
                break
            previous = again
        assert again["mail_key"] == previous["mail_key"], (previous, again)
        assert again["mail_key"].startswith("deadletter-alert:")
        outcome = login.app.AsyncResult(again["mail_job"]).get(timeout=20)
        assert outcome["status"] == "already_sent"
        assert len(mail.messages) == (1 if previous is report else 2)
