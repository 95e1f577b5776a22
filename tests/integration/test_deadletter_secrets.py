"""A secret in a job's arguments and in its error reaches no dead-letter row, no log line and
no Sentry event, yet a replay runs the job with the real value."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid

from tests import harness
from tests.fakes import FakeSentry
from tests.probe_tasks import login


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "deadletters", *args],
        cwd=harness.ROOT, env={**harness.os.environ, "PYTHONPATH": str(harness.ROOT)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


CARD = "4111 1111 1111 1111"


def test_a_secret_canary_is_redacted_everywhere_yet_replayed_for_real(worker_process, redis_client):
    canary = f"canary-{uuid.uuid4().hex}"
    k = f"login:{uuid.uuid4().hex}"
    with FakeSentry() as sentry:
        # Given a worker reporting to Sentry, and a job that fails with the secret in its
        # arguments and in its error message
        worker = worker_process(["crm"], pool="prefork", env={"SENTRY_DSN": sentry.dsn})
        redis_client.set(f"{k}:fail", "1")
        result = login.delay(k, f"ana {CARD}", password=canary)
        letter = harness.wait_for_letter(result.id)
        harness.wait_for(lambda: sentry.events(), 20)
        # the prefork main process logs the failure after the child stored the letter
        harness.wait_for(lambda: "login refused for ana" in worker.log(), 20)

        # Then the secret and the card number are in no row, no log line, no Sentry event
        # and not in the result backend
        row = {c.name: getattr(letter, c.name) for c in letter.__table__.columns}
        assert canary not in json.dumps(row, default=str)
        stored = redis_client.get(f"celery-task-meta-{result.id}")
        assert "login refused for ana" in stored
        for shown in (json.dumps(row, default=str), worker.log(), "".join(sentry.bodies), stored):
            assert canary not in shown
            assert CARD not in shown and CARD.replace(" ", "") not in shown
        assert letter.kwargs == {"password": "[REDACTED]"}
        assert "password=[REDACTED]" in letter.exception_message
        assert canary not in worker.log()
        assert "login refused for ana" in worker.log()
        assert len(sentry.events()) == 1
        assert canary not in "".join(sentry.bodies)
        assert "login refused for ana" in sentry.events()[0]

        # When the cause is fixed and ops replay it from the shell
        redis_client.delete(f"{k}:fail")
        replayed = run_cli("replay", str(letter.id))
        assert replayed.returncode == 0, replayed.stderr

        # Then the job ran with the real password, and the dead letter is resolved
        digest = harness.wait_for(lambda: redis_client.get(f"{k}:password_sha"), 20)
        assert digest == hashlib.sha256(canary.encode()).hexdigest()
        harness.wait_for(lambda: harness.letters_for(result.id)[0].resolved_at, 20)
        assert canary not in replayed.stdout + replayed.stderr
