"""crm: leads stored once per email and pushed to a CRM webhook served locally, again only
when their details changed."""

from __future__ import annotations

import json
import uuid

import pytest
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
        (key,) = {r["headers"]["Idempotency-Key"] for r in crm.requests}  # one key, retried
        assert key.startswith(f"lead-{outcome['lead_id']}-")
        assert json.loads(crm.requests[-1]["body"])["email"] == given["email"].lower()
        row = stored(given["email"].lower())
        assert row.pushed_at is not None and row.name == "Carla Reyes"

        # The same lead again (a redelivery, or a second form post): upserted, not pushed
        again = capture_lead.delay(given).get(timeout=30)
        assert (again["lead_id"], again["created"], again["pushed"]) == (
            outcome["lead_id"], False, False
        )  # fmt: skip
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
    assert letter.reason == "invalid_input" and "not an email address" in letter.exception_message


def pushes(crm: FakeCrm) -> list[tuple[str, dict]]:
    """The accepted pushes: (Idempotency-Key, body)."""
    return [(r["headers"]["Idempotency-Key"], json.loads(r["body"]))
            for r in crm.requests if r["status"] == 200]  # fmt: skip


def test_a_returning_lead_is_pushed_again_only_when_its_details_changed(worker_process):
    with FakeCrm() as crm:
        worker_process(["crm"], env={"CRM_WEBHOOK_URL": crm.url})
        given = lead()
        # Given a lead captured and pushed under key A
        first = capture_lead.delay(given).get(timeout=30)
        assert first["pushed"] is True
        ((key_a, _),) = pushes(crm)

        # When the same details come again: stored, not pushed
        same = capture_lead.delay({**given, "name": " Carla Reyes "}).get(timeout=30)
        assert same["pushed"] is False and len(crm.requests) == 1

        # When the company changed: pushed again, under a new key, with the new details
        moved = capture_lead.delay({**given, "company": "Reyes Dental Group"}).get(timeout=30)
        assert moved["pushed"] is True
        (_, (key_b, body_b)) = pushes(crm)
        assert key_b != key_a and key_b.startswith(f"lead-{first['lead_id']}-")
        assert (body_b["id"], body_b["company"]) == (first["lead_id"], "Reyes Dental Group")

        # When it changes back: pushed under a third key, not dropped as a replay of key A
        back = capture_lead.delay(given).get(timeout=30)
        assert back["pushed"] is True
        (_, _, (key_c, body_c)) = pushes(crm)
        assert key_c not in (key_a, key_b) and body_c["company"] == "Reyes Dental"
        assert stored(given["email"].lower()).company == "Reyes Dental"


def test_a_lead_pushed_before_digests_is_pushed_once_more_then_not_again(worker_process):
    # Given a lead pushed before pushed_digest existed (under the key lead-{id})
    email = f"old-{uuid.uuid4().hex[:8]}@example.com"
    with database.engine().begin() as db:
        db.execute(
            text("INSERT INTO leads (email, name, company, source, pushed_at)"
                 " VALUES (:e, 'Carla Reyes', 'Reyes Dental', 'website', now())"),
            {"e": email},
        )  # fmt: skip
    with FakeCrm() as crm:
        worker_process(["crm"], env={"CRM_WEBHOOK_URL": crm.url})
        # When it comes back: its details are unknown to us, so it is pushed under a new key
        again = capture_lead.delay(lead(email)).get(timeout=30)
        assert again["pushed"] is True
        ((key, _),) = pushes(crm)
        assert key.startswith(f"lead-{again['lead_id']}-")
        # And after that only a change pushes it
        assert capture_lead.delay(lead(email)).get(timeout=30)["pushed"] is False
        assert len(crm.requests) == 1


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"name": "Carla\x00Reyes"}, "name holds a control character (U+0000)"),
        ({"company": "Reyes\x1bDental"}, "company holds a control character (U+001B)"),
        # the task's declaration (taskplatform/tasks.py), checked by the worker before the body
        ({"name": 42}, "lead.name: must be text, not a number"),
        ({"company": "x" * 5000}, "company is 5000 characters, longer than its limit of 200"),
    ],
)
def test_a_lead_postgres_would_refuse_or_cut_is_refused_naming_the_field(
    worker_process, change, said
):
    with FakeCrm() as crm:
        worker_process(["crm"], env={"CRM_WEBHOOK_URL": crm.url})
        given = {**lead(), **change}
        letter = harness.wait_for_letter(capture_lead.delay(given).id)
        assert letter.reason == "invalid_input"
        assert letter.exception_type in ("InvalidLead", "InvalidInput")
        assert said in letter.exception_message and letter.attempts == 1
        assert stored(given["email"].lower()) is None and crm.requests == []
