"""email.send_quote: a priced quote mailed to the customer through a real SMTP server,
once per quote and recipient."""

from __future__ import annotations

import email
import email.policy
import uuid

from tasks.email import send_quote
from tests import harness
from tests.fakes import SmtpSink


def decoded_parts(data: str) -> dict[str, str]:
    """The text and HTML parts of a received message, decoded from their transfer encoding."""
    message = email.message_from_string(data, policy=email.policy.default)
    return {part.get_content_type(): part.get_content() for part in message.walk()
            if not part.is_multipart()}  # fmt: skip


def mailed_quote(mail: SmtpSink, *args: object) -> tuple[dict, dict, dict[str, str]]:
    """Send a quote through the worker (`send_quote`'s arguments) and take it off the SMTP
    server: the task's result, the message as received, and its decoded parts."""
    before = len(mail.messages)
    result = send_quote.delay(*args).get(timeout=30)
    assert result["status"] == "sent", result
    harness.wait_for(lambda: len(mail.messages) > before, 10)
    received = mail.messages[before]
    return result, received, decoded_parts(received["data"])


REQUEST = "5 CSRs for the night shift and 2 senior accountants, office based"


def test_a_quote_is_mailed_once_per_quote_and_recipient(worker_process):
    customer = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    with SmtpSink() as mail:
        worker_process(["email"], env={"SMTP_URL": mail.url})
        first = send_quote.delay(REQUEST, f"  {customer} ", "Ana").get(timeout=30)
        again = send_quote.delay(REQUEST, customer, "Ana").get(timeout=30)
        other = send_quote.delay(REQUEST, f"ben-{customer}").get(timeout=30)

        assert (first["status"], again["status"], other["status"]) == (
            "sent",
            "already_sent",
            "sent",
        )
        assert first["idempotency_key"] == again["idempotency_key"] != other["idempotency_key"]
        assert len(mail.messages) == 2
        received = mail.messages[0]
        assert received["to"] == [customer]
        body = decoded_parts(received["data"])
        text, html = body["text/plain"], body["text/html"]
        # Seeded midpoints: mid CSR 28,000 (night differential 2,800 a head), senior
        # accountant 62,500; the line and monthly totals are the quote's own figures.
        assert "Hi Ana," in text
        assert "5 customer service representatives (mid-level, night shift)" in text
        assert "Night-shift differential: PHP 14,000.00" in text
        assert "13th-month pay (accrued monthly): PHP 10,416.67" in text  # 125,000 / 12
        assert f"Monthly total: PHP {float(first['monthly_php']):,.2f}" in text
        assert "as of 1 December 2026" in text and "list rate" in text
        assert "2 accountants (senior)" in html and "PHP 14,000.00" in html
        assert "Subject: Your staffing quote: 2 accountants (senior) and 5 customer" in (
            received["data"].replace("\r\n ", " ").replace("\n ", " ")
        )


def test_a_quote_in_gbp_is_mailed_in_pounds_with_no_internal_warning(worker_process):
    customer = f"ola-{uuid.uuid4().hex[:8]}@example.com"
    with SmtpSink() as mail:
        worker_process(["email"], env={"SMTP_URL": mail.url})
        # When a web app asks for the quote in pounds
        _, _, body = mailed_quote(mail, "a senior accountant, office based", customer, "Ola", "GBP")
        text, html = body["text/plain"], body["text/html"]
        assert len(mail.messages) == 1
        # Then the totals are in GBP at the configured, dated rate (seeded senior accountant
        # 62,500: 103,750.833... PHP a month, / 75 = 1,383.34), and no dollars appear
        assert "Monthly total: PHP 103,750.83 (GBP 1,383.34)" in text
        assert "GBP amounts at PHP 75.00 per GBP (list rate, as of 1 December 2026)." in text
        assert "GBP 1,383.34" in html
        assert "USD" not in text and "USD" not in html
        # And nothing of the rule sets' paperwork reaches the customer
        for said in ("rule set", "may change", "checked"):
            assert said not in text.lower() and said not in html.lower()


def test_a_request_it_cannot_read_or_a_bad_address_is_a_dead_letter(worker_process):
    with SmtpSink() as mail:
        worker_process(["email"], env={"SMTP_URL": mail.url})
        unreadable = send_quote.delay("2 developers for 6 months", "ana@example.com")
        letter = harness.wait_for_letter(unreadable.id)
        assert (letter.reason, letter.attempts) == ("invalid_input", 1)
        assert "cannot read '6 months'" in letter.exception_message

        bad_address = send_quote.delay(REQUEST, "not-an-address")
        letter = harness.wait_for_letter(bad_address.id)
        assert (
            letter.reason == "invalid_input" and "not an email address" in letter.exception_message
        )

        no_such_currency = send_quote.delay(REQUEST, "ana@example.com", "Ana", "PHP")
        letter = harness.wait_for_letter(no_such_currency.id)
        assert (letter.reason, letter.attempts) == ("invalid_input", 1)
        assert "currency: must be one of ['usd', 'aud', 'gbp', 'eur']" in letter.exception_message
        assert mail.messages == []
