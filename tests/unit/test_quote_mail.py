"""Composing the quote email: labelled figures from the quote itself, one key per quote and
recipient (no SMTP here: tests/integration/test_quote_mail.py sends it)."""

from datetime import date
from decimal import Decimal

import pytest

from mail.quotes import compose
from mail.render import render
from mail.send import InvalidMessage
from pricing.engine import PricingRates, price_quote
from pricing.requests import parse_request

SALARIES = {"customer service representative": Decimal(28000), "accountant": Decimal(62500)}


def priced(text: str, rate: str = "56.00") -> dict:
    rates = PricingRates(php_per_usd=Decimal(rate), usd_rate_as_of=date(2026, 12, 1))
    return price_quote(parse_request(text), lambda t, _: SALARIES[t], rates, date(2025, 6, 1))


def test_the_key_is_per_quote_and_recipient_and_ignores_the_cache_flag():
    quote = priced("5 CSRs, night shift")
    _, key = compose(quote, "ana@example.com")
    assert compose({**quote, "cached": True}, " Ana@Example.com ")[1] == key
    assert compose(quote, "ben@example.com")[1] != key
    assert compose(priced("5 CSRs, night shift", rate="57.00"), "ana@example.com")[1] != key
    assert len(key) < 255


def test_the_mail_shows_each_line_its_conditions_and_the_dated_rate():
    message, _ = compose(priced("a CSR at 20 hours a week, night shift"), "ana@example.com")
    rendered = render(message["template"], message["context"])
    subject = "Your staffing quote: 1 mid customer service representative,"
    assert rendered.subject.startswith(subject)
    assert "1 mid customer service representative (night shift, 20 hours a week)" in rendered.text
    assert "A month, for the one person:" in rendered.text
    # 14,000 salary, 1,400 differential; total 25,396.67 worked in test_pricing_conditions
    assert "Night-shift differential: PHP 1,400.00" in rendered.text
    assert "Monthly total: PHP 25,396.67" in rendered.text
    assert "PHP 56.00 per USD (list rate, as of 2026-12-01)" in rendered.text
    assert "rule set" not in rendered.text  # priced inside the rules' period: no notice


@pytest.mark.parametrize(
    ("to", "name", "said"),
    [
        (["ana@example.com"], None, "one address, not list"),
        ("ana at example.com", None, "not an email address"),
        ("ana@example.com", 7, "name must be text"),
    ],
)
def test_a_bad_recipient_or_name_is_refused(to, name, said):
    with pytest.raises(InvalidMessage, match=said):
        compose(priced("1 CSR"), to, name)
