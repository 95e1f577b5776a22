"""crm: leads stored once per email and pushed to a CRM webhook served locally."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text

from config import database
from tasks.crm import capture_lead
from tests import harness
from tests.fakes import FakeCrm


def lead(email: str | None = None) -> dict:
    return {"email": email or f"Lead-{uuid.uuid4().hex[:8]}@Example.com", "name": "Carla  Reyes",
            "company": "Reyes Dental", "source": "Website"}  # fmt: skip


def stored(email: str):
    with database.engine().connect() as db:
        return db.execute(text("SELECT * FROM leads WHERE email = :e"), {"e": email}).first()


def test_503_twice_is_retried_then_the_push_succeeds_once(worker_process):
    with FakeCrm(statuses=[503, 503]) as crm:
        worker_process(["crm"], env={"CRM_WEBHOOK_URL": crm.url})
        given = lead()
        outcome = capture_lead.delay(given).get(timeout=30)

        assert outcome["pushed"] is True  # "created" is False: the first attempt created it
        assert [r["status"] for r in crm.requests] == [503, 503, 200]
        keys = {r["headers"]["Idempotency-Key"] for r in crm.requests}
        assert keys == {f"lead-{outcome['lead_id']}"}
        assert json.loads(crm.requests[-1]["body"])["email"] == given["email"].lower()
        row = stored(given["email"].lower())
        assert row.pushed_at is not None and row.name == "Carla Reyes"

        # The same lead again (a redelivery, or a second form post): upserted, not pushed
        again = capture_lead.delay(given).get(timeout=30)
        assert (again["lead_id"], again["created"]) == (outcome["lead_id"], False)
        assert len(crm.requests) == 3


def test_400_is_a_dead_letter_without_retry(worker_process):
    with FakeCrm(statuses=[400]) as crm:
        worker_process(["crm"], env={"CRM_WEBHOOK_URL": crm.url})
        result = capture_lead.delay(lead())
        letter = harness.wait_for_letter(result.id)
        assert (letter.reason, letter.queue) == ("permanent", "crm")
        # httpx's own error (Celery carries it as its base class when it cannot pickle it)
        assert letter.exception_type in ("HTTPStatusError", "HTTPError")
        assert "400 Bad Request" in letter.exception_message
        assert len(crm.requests) == 1


def test_429_retry_after_is_honoured(worker_process):
    with FakeCrm(statuses=[429], headers={"Retry-After": "2"}) as crm:
        worker_process(["crm"], env={"CRM_WEBHOOK_URL": crm.url})
        assert capture_lead.delay(lead()).get(timeout=30)["pushed"] is True
        first, second = crm.requests
        assert second["at"] - first["at"] >= 1.9


def test_an_invalid_lead_fails_at_once(worker_process):
    worker_process(["crm"])
    result = capture_lead.delay({"email": "nope", "name": "x", "company": "y", "source": "z"})
    letter = harness.wait_for_letter(result.id)
    assert letter.reason == "permanent" and "not an email address" in letter.exception_message
