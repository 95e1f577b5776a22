"""Composing the quote email: labelled figures from the quote itself, one key per quote and
recipient (no SMTP here: tests/integration/test_quote_mail.py sends it)."""

import re
from datetime import date
from decimal import Decimal

import pytest

from mail.quotes import compose, display_title
from mail.render import Rendered, render
from mail.send import InvalidMessage
from pricing.catalogue import TITLES
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
    in_pounds = priced("5 CSRs, night shift", rate="56.00", currency="GBP")
    assert compose(in_pounds, "ana@example.com")[1] != key
    assert len(key) < 255


def mail(text: str, name: str | None = None, **priced_as) -> Rendered:
    message, _ = compose(priced(text, **priced_as), "ana@example.com", name)
    return render(message["template"], message["context"])


def test_the_mail_shows_each_line_its_conditions_and_the_dated_rate():
    rendered = mail("a CSR at 20 hours a week, night shift")
    subject = "Your staffing quote: 1 customer service representative (mid-level), PHP 25,396.67"
    assert rendered.subject == f"{subject} (USD 453.51) a month"
    heading = "1 customer service representative (mid-level, night shift, 20 hours a week)"
    assert heading in rendered.text and heading in rendered.html
    # 14,000 salary, 1,400 differential; total 25,396.67 worked in test_pricing_conditions
    assert "Night-shift differential: PHP 1,400.00" in rendered.text
    assert "Monthly total: PHP 25,396.67 (USD 453.51)" in rendered.text
    assert "priced on 1 June 2025" in rendered.text
    assert "USD amounts at PHP 56.00 per USD (list rate, as of 1 December 2026)." in rendered.text
    assert "Total a month: PHP 25,396.67 (USD 453.51)" in rendered.text  # 25,396.666.../56


@pytest.mark.parametrize(
    ("text", "team", "scope"),
    [
        ("a CSR", "1 customer service representative (mid-level)", "for the one person"),
        ("2 CSRs", "2 customer service representatives (mid-level)", "for both"),
        ("5 CSRs", "5 customer service representatives (mid-level)", "for all 5"),
        ("1 senior accountant", "1 accountant (senior)", "for the one person"),
        ("12 junior accountants", "12 accountants (junior)", "for all 12"),
        ("a lead CSR", "1 customer service representative (lead)", "for the one person"),
    ],
)
def test_one_and_many_and_the_level_read_as_a_person_would_say_them(text, team, scope):
    # When a line of one, two or more people at each level is mailed
    rendered = mail(text)
    # Then the count agrees with the title, the level follows it, and the monthly cost says
    # whom it is for, in the subject, the text and the HTML alike
    assert rendered.subject.startswith(f"Your staffing quote: {team}, PHP ")
    for part in (rendered.text, rendered.html):
        assert f"Here is your monthly quote for {team}:" in part
        assert f"Monthly cost {scope}" in part
    # And a salary "per person" is said only when there is more than one person
    assert ("Basic salary per person" in rendered.text) == (not text.startswith(("a ", "1 ")))


def test_every_line_is_named_and_the_team_is_listed_with_and():
    rendered = mail("5 CSRs for the night shift and 2 senior accountants, office based")
    team = "2 accountants (senior) and 5 customer service representatives (mid-level)"
    assert f"quote for {team}: office based, standard tier" in rendered.text
    assert "\n5 customer service representatives (mid-level, night shift)\n" in rendered.text
    assert "\n2 accountants (senior)\n" in rendered.text


@pytest.mark.parametrize(
    ("title", "count", "written"),
    [
        ("customer service representative", 1, "customer service representative"),
        ("customer service representative", 3, "customer service representatives"),
        ("ui ux designer", 2, "UI/UX designers"),
        ("seo specialist", 1, "SEO specialist"),
        ("it support specialist", 4, "IT support specialists"),
        ("devops engineer", 2, "DevOps engineers"),
        ("qa tester", 2, "QA testers"),
        ("hr generalist", 1, "HR generalist"),
        ("secretary", 2, "secretaries"),
        ("attorney", 2, "attorneys"),
        ("coach", 2, "coaches"),
    ],
)
def test_a_title_is_written_as_in_a_job_ad(title, count, written):
    assert display_title(title, count) == written


def test_every_catalogue_title_has_a_plural_and_no_lower_case_acronym():
    for title in TITLES:
        many = display_title(title, 2)
        assert many != display_title(title) and many.endswith("s"), title
        assert not set(many.split()) & {"ui", "ux", "seo", "qa", "hr", "ppc", "it", "devops"}


@pytest.mark.parametrize(("code", "rate"), [("USD", "56.00"), ("AUD", "36.50"),
                                            ("GBP", "75.00"), ("EUR", "63.25")])  # fmt: skip
def test_each_currency_is_named_with_its_rate_and_no_other(code, rate):
    # Given the same CSR quoted in each currency
    rendered = mail("a CSR at 20 hours a week, night shift", rate=rate, currency=code)
    # Then 25,396.666... PHP divided by the rate, rounded once, is the month in that currency
    converted = f"{code} {(Decimal('25396.666666') / Decimal(rate)):,.2f}"
    assert f"Monthly total: PHP 25,396.67 ({converted})" in rendered.text
    assert f"{code} amounts at PHP {rate} per {code} (list rate, as of 1 December 2026)." in (
        rendered.text
    )
    assert f"Your monthly staffing quote, in {code}" in rendered.html
    assert f">{converted}</td>" in rendered.html
    assert f"({converted}) a month" in rendered.subject
    # And no other currency is named anywhere
    for other in {"USD", "AUD", "GBP", "EUR"} - {code}:
        assert other not in rendered.subject + rendered.text + rendered.html


def test_a_rate_without_a_date_is_said_without_one():
    fx = ExchangeRate(Decimal("56.00"), as_of=None, source="deal rate")
    rates = PricingRates(exchange_rates={**LIST_RATES, "USD": fx})
    quote = price_quote(parse_request("a CSR"), lambda t, _: SALARIES[t], rates, date(2025, 6, 1))
    message, _ = compose(quote, "ana@example.com")
    rendered = render(message["template"], message["context"])
    assert "USD amounts at PHP 56.00 per USD (deal rate)." in rendered.text
    assert "as of" not in rendered.text


def test_the_deductions_and_the_reply_line_close_the_mail():
    rendered = mail("a CSR")
    # 28,000: SSS 5% of the 28,000 MSC 1,400, PhilHealth 2.5% 700, Pag-IBIG 200
    said = "Employee contributions of PHP 2,300.00 a month (SSS, PhilHealth, Pag-IBIG) are"
    for part in (rendered.text, rendered.html):
        assert said in part and "Reply to this email with any questions." in part
        assert "The offshore staffing team" in part


def test_the_text_and_the_html_show_the_same_amounts():
    rendered = mail("5 CSRs for the night shift and 2 senior accountants", currency="EUR")
    amounts = re.compile(r"(?:PHP|USD|AUD|GBP|EUR) [\d,]+\.\d\d")
    assert set(amounts.findall(rendered.text)) == set(amounts.findall(rendered.html))
    assert len(set(amounts.findall(rendered.text))) > 20


def test_a_name_is_escaped_in_the_html_and_kept_as_written_in_the_text():
    rendered = mail("a CSR", name='<script>alert("x")</script> & Ana')
    assert "Hi &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Ana," in rendered.html
    assert "<script" not in rendered.html
    assert 'Hi <script>alert("x")</script> & Ana,' in rendered.text
    assert mail("a CSR", name=None).text.startswith("Hi there,")


def test_a_quote_past_its_rule_sets_check_mails_no_internal_warning():
    # Given a quote made long after the newest rule set's checked_until
    rendered = mail("1 CSR", on=date(2031, 1, 6))
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
