"""Composing the quote email: labelled figures from the quote itself, one key per quote and
recipient (no SMTP here: tests/integration/test_quote_mail.py sends it)."""

from datetime import date
from decimal import Decimal

import pytest

from mail.quotes import compose
from mail.render import render
from mail.send import InvalidMessage
from pricing.currencies import LIST_RATES, ExchangeRate
from pricing.engine import PricingRates, price_quote
from pricing.requests import parse_request

SALARIES = {"customer service representative": Decimal(28000), "accountant": Decimal(62500)}


def priced(
    text: str, rate: str = "56.00", currency: str = "USD", on: date = date(2025, 6, 1)
) -> dict:
    fx = ExchangeRate(Decimal(rate), as_of=date(2026, 12, 1), source="list rate")
    rates = PricingRates(exchange_rates={**LIST_RATES, currency: fx})
    request = parse_request(text)
    return price_quote(request, lambda t, _: SALARIES[t], rates, on, currency=currency)


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
    assert "(USD 453.51) a month" in rendered.text  # 25,396.666... / 56 = 453.511...


def test_a_quote_in_gbp_shows_pounds_at_the_dated_rate_and_no_dollars():
    # Given the same CSR quoted in GBP at 75.00
    quote = priced("a CSR at 20 hours a week, night shift", rate="75.00", currency="GBP")
    message, key = compose(quote, "ana@example.com")
    rendered = render(message["template"], message["context"])
    # Then 25,396.666... / 75 = 338.622...: the line and the month in pounds, the rate stated
    assert "Total: PHP 25,396.67 (GBP 338.62) a month" in rendered.text
    assert "Monthly total: PHP 25,396.67 (GBP 338.62)" in rendered.text
    assert "GBP amounts at PHP 75.00 per GBP (list rate, as of 2026-12-01)" in rendered.text
    assert "GBP 338.62" in rendered.html and "per GBP" in rendered.html
    assert "USD" not in rendered.text + rendered.html
    # And it is another mail than the USD quote's
    assert key != compose(priced("a CSR at 20 hours a week, night shift"), "ana@example.com")[1]


def test_a_quote_past_its_rule_sets_check_mails_no_internal_warning():
    # Given a quote made long after the newest rule set's checked_until
    message, _ = compose(priced("1 CSR", on=date(2031, 1, 6)), "ana@example.com")
    rendered = render(message["template"], message["context"])
    # Then the customer reads the figures, never our paperwork
    for said in ("rule set", "may change", "checked", "out of date"):
        assert said not in rendered.text.lower() and said not in rendered.html.lower()


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
