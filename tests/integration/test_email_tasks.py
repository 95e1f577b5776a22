"""email: real mail through a real SMTP server (aiosmtpd), sent once per idempotency key."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import text

from config import database
from tasks.email import send_candidate_matches, send_email
from tests import harness
from tests.fakes import SmtpSink


def message(to: str = "ana@example.com") -> dict:
    return {"to": to, "subject": "Your quote is ready", "body": "See the attachment.",
            "name": "Ana"}  # fmt: skip


def test_a_redelivered_job_sends_once(worker_process):
    with SmtpSink() as mail:
        worker_process(["email"], env={"SMTP_URL": mail.url})
        key = f"quote-ready:{uuid.uuid4()}"

        first = send_email.delay(message(), key).get(timeout=20)
        again = send_email.delay(message(), key).get(timeout=20)  # the same job, delivered again

        assert first["status"] == "sent" and again["status"] == "already_sent"
        (received,) = mail.messages
        assert received["to"] == ["ana@example.com"]
        assert "Subject: Your quote is ready" in received["data"]
        assert "Hi Ana," in received["data"] and "text/html" in received["data"]


def test_smtp_4xx_is_retried_and_5xx_is_a_dead_letter(worker_process):
    with SmtpSink(replies=["451 4.3.0 try again later"]) as mail:
        worker_process(["email"], env={"SMTP_URL": mail.url})
        assert send_email.delay(message(), f"k:{uuid.uuid4()}").get(timeout=20)["status"] == "sent"
        assert len(mail.messages) == 1

        mail.replies = ["550 5.1.1 no such user"]
        result = send_email.delay(message("nobody@example.com"), f"k:{uuid.uuid4()}")
        letter = harness.wait_for_letter(result.id)
        # smtplib's own error (the sink refuses at DATA), decided permanent by the policy
        assert letter.reason == "permanent" and letter.exception_type.startswith("SMTP")
        assert "550" in letter.exception_message and letter.attempts == 1
        assert len(mail.messages) == 1


def test_candidate_matches_are_mailed_to_the_lead(worker_process):
    with database.engine().begin() as db:
        lead_id = db.execute(
            text("INSERT INTO leads (email, name, company, source) VALUES"
                 " (:e, 'Ben Ong', 'Ong Logistics', 'web') RETURNING id"),
            {"e": f"ben-{uuid.uuid4().hex[:6]}@example.com"},
        ).scalar()  # fmt: skip
        ids = db.execute(text("SELECT id FROM candidates ORDER BY id LIMIT 3")).scalars().all()
    with SmtpSink() as mail:
        worker_process(["email"], env={"SMTP_URL": mail.url})
        result = send_candidate_matches.delay(lead_id, list(ids)).get(timeout=20)
        again = send_candidate_matches.delay(lead_id, list(reversed(ids))).get(timeout=20)
        assert (result["status"], again["status"]) == ("sent", "already_sent")
        (received,) = mail.messages
        assert "3 candidates for Ong Logistics" in received["data"]


@pytest.mark.parametrize(
    ("bad", "error", "reason"),
    [({"to": "not-an-address", "subject": "s", "body": "b"}, "not an email address",
      "invalid_input"),
     ({"to": "a@example.com"}, "needs 'template'", "invalid_input"),
     # a template the platform lacks is its own fault (a deploy that lost it): it pages
     ({"to": "a@example.com", "template": "nope", "context": {}}, "no mail template",
      "permanent"),
     ({"to": ["a@example.com", 42], "subject": "s", "body": "b"},
      "message.to[1]: must be text, not a number", "invalid_input")],
)  # fmt: skip
def test_an_invalid_message_fails_at_once(worker_process, bad, error, reason):
    with SmtpSink() as mail:
        worker_process(["email"], env={"SMTP_URL": mail.url})
        result = send_email.delay(bad, f"k:{uuid.uuid4()}")
        letter = harness.wait_for_letter(result.id)
        assert letter.reason == reason and error in letter.exception_message
        assert mail.messages == []


@pytest.mark.parametrize(
    ("extra", "named"),
    [({"to": "josé@example.com"}, "josé@example.com"),
     ({"to": "用户@example.com"}, "用户@example.com"),
     ({"reply_to": "répondre@example.com"}, "répondre@example.com")],
)  # fmt: skip
def test_a_non_ascii_address_without_smtputf8_is_a_dead_letter_at_once(
    worker_process, extra, named
):
    # Given a mail server that does not advertise SMTPUTF8
    with SmtpSink(smtputf8=False) as mail:
        worker_process(["email"], env={"SMTP_URL": mail.url})
        # When a message with an address it cannot take is sent
        started = time.monotonic()
        result = send_email.delay({**message(), **extra}, f"k:{uuid.uuid4()}")
        letter = harness.wait_for_letter(result.id)
        # Then the job fails on its first attempt, naming the address and the missing extension
        assert (letter.reason, letter.attempts) == ("permanent", 1)
        assert letter.exception_type == "NeedsSmtpUtf8"
        assert named in letter.exception_message and "SMTPUTF8" in letter.exception_message
        assert time.monotonic() - started < 10 and mail.messages == []


def test_a_non_ascii_reply_to_reaches_an_smtputf8_server_intact(worker_process):
    # Given a mail server that advertises SMTPUTF8
    with SmtpSink() as mail:
        worker_process(["email"], env={"SMTP_URL": mail.url})
        # When a message carries a Reply-To that is not ASCII
        key = f"k:{uuid.uuid4()}"
        send_email.delay({**message(), "reply_to": "répondre@example.com"}, key).get(timeout=20)
        # Then the header arrives as written, not as an encoded word
        (received,) = mail.messages
        assert "Reply-To: répondre@example.com" in received["data"]


def test_addresses_with_spaces_around_them_are_trimmed_and_sent(worker_process):
    with SmtpSink() as mail:
        worker_process(["email"], env={"SMTP_URL": mail.url})
        given = {**message(" Ana@Example.com "), "reply_to": " desk@example.com\n"}
        assert send_email.delay(given, f"k:{uuid.uuid4()}").get(timeout=20)["status"] == "sent"
        (received,) = mail.messages
        assert received["to"] == ["ana@example.com"]
        assert "Reply-To: desk@example.com\r\n" in received["data"]
