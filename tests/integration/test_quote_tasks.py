"""quote: a staffing quote end to end on a real worker, priced from the seeded salary table,
cached in Redis for the same normalised request and currency."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text as sql

from broker import keys
from config import database
from config.settings import settings
from pricing import catalogue
from pricing.cache import quote_key
from pricing.requests import LEVELS, parse_request
from pricing.rule_sets import rules_for
from taskplatform.schemas import InvalidArguments
from taskplatform.tasks import generate_quote as client_generate_quote
from tasks import quote as quote_tasks
from tasks.quote import current_rates, generate_quote
from tests import harness
from tests.conftest import module_worker


@pytest.fixture(scope="module")
def quote_worker():
    with module_worker(["quote"]) as worker:
        yield worker


def test_a_quote_end_to_end_then_a_cache_hit(quote_worker, redis_client):
    text = "2 senior accountants and a junior graphic designer, office based"
    structured = {
        "roles": [
            {"title": "graphic designer", "level": "junior", "count": 1},
            {"title": "accountant", "level": "senior", "count": 2},
        ],
        "workspace": "office",
        "tier": "standard",
    }
    today = datetime.now(UTC).date()
    key = quote_key(parse_request(text), current_rates(), today, "USD", rules_for(today))
    redis_client.delete(keys.quote(key))

    first = generate_quote.delay(text).get(timeout=20)
    second = generate_quote.delay(structured).get(timeout=20)  # same request, other words

    assert (first["cached"], second["cached"]) == (False, True)
    assert first["totals"] == second["totals"]
    lines = {(line["title"], line["level"]): line for line in first["lines"]}
    # Seeded midpoints: senior accountant 62,500; junior graphic designer 27,000
    assert lines[("accountant", "senior")]["monthly_salary"] == "62500.00"
    assert lines[("accountant", "senior")]["items"]["workspace"] == "24000.00"
    total_php = Decimal(first["totals"]["monthly_php"])
    total_usd = Decimal(first["totals"]["monthly_usd"])
    assert abs(total_php / Decimal("56.00") - total_usd) <= Decimal("0.01")
    # The 13th month: (2 x 62,500 + 27,000) / 12 = 12,666.67
    assert first["totals"]["per_item"]["thirteenth_month"] == "12666.67"
    assert (first["usd_rate_as_of"], first["usd_rate_source"]) == ("2026-12-01", "list rate")


def test_a_quote_in_gbp_end_to_end_then_a_cache_hit_apart_from_usd(quote_worker, redis_client):
    # Given the seeded senior accountant (midpoint 62,500) and the configured GBP rate
    text = "a senior accountant, office based"
    today = datetime.now(UTC).date()
    for code in ("GBP", "USD"):
        key = quote_key(parse_request(text), current_rates(), today, code, rules_for(today))
        redis_client.delete(keys.quote(key))

    # When a web app asks for it in pounds (any case), twice, then in dollars
    first = generate_quote.delay(text, "gbp").get(timeout=20)
    again = generate_quote.delay(text, currency="GBP").get(timeout=20)
    dollars = generate_quote.delay(text).get(timeout=20)

    # Then the worker priced it in GBP at the dated rate, and served the second from the cache
    assert (first["cached"], again["cached"], dollars["cached"]) == (False, True, False)
    assert first["quote_currency"] == "GBP" and first["currency"] == "PHP"
    assert (first["gbp_rate"], first["gbp_rate_as_of"], first["gbp_rate_source"]) == (
        "75.00",
        "2026-12-01",
        "list rate",
    )
    # 62,500 + 13th month 5,208.333... + SSS 3,500 + EC 30 + PhilHealth 1,562.50 + Pag-IBIG
    # 200 + fee 18,750 + seat 12,000 = 103,750.833...; / 75 = 1,383.344... -> 1,383.34
    assert first["totals"]["monthly_php"] == dollars["totals"]["monthly_php"] == "103750.83"
    assert first["totals"]["monthly_gbp"] == first["lines"][0]["total_gbp"] == "1383.34"
    assert dollars["totals"]["monthly_usd"] == "1852.69"  # / 56 = 1,852.693...
    assert "monthly_usd" not in first["totals"] and "monthly_gbp" not in dollars["totals"]
    # And it names the rule set in force today, nothing about its checks
    assert first["effective_rules"] == rules_for(today).effective_from.isoformat()
    assert not any("notice" in name or "until" in name for name in first)


def test_a_currency_no_quote_is_in_is_refused_at_the_door_and_in_the_worker(quote_worker):
    # At the door: the client's check names the field and the allowed codes, nothing is sent
    with pytest.raises(InvalidArguments, match=r"currency: must be one of \['usd', 'aud', 'gbp'"):
        client_generate_quote.delay("a VA", "JPY")
    # Past the door (an older client, another producer): a dead letter naming them, no retry
    result = generate_quote.delay("a VA", "JPY")
    letter = harness.wait_for_letter(result.id)
    assert (letter.reason, letter.attempts) == ("invalid_input", 1)
    assert "currency: must be one of ['usd', 'aud', 'gbp', 'eur'], not 'JPY'" in (
        letter.exception_message
    )


def test_a_request_that_names_its_currency_is_priced_in_it(quote_worker, redis_client):
    # Given a request in the words a client writes, naming pounds
    text = "2 CSRs for Aussie hours, quote in GBP"
    today = datetime.now(UTC).date()
    key = quote_key(parse_request(text), current_rates(), today, "GBP", rules_for(today))
    redis_client.delete(keys.quote(key))

    # When a web app queues it without a currency argument, then with the same one
    named = generate_quote.delay(text).get(timeout=20)
    both = generate_quote.delay(text, currency="gbp").get(timeout=20)

    # Then it is priced in GBP once, the second from the cache
    assert (named["quote_currency"], named["cached"], both["cached"]) == ("GBP", False, True)
    assert "monthly_gbp" in named["totals"] and "monthly_usd" not in named["totals"]

    # And a request that names one currency and an argument that names another is refused
    result = generate_quote.delay(text, "EUR")
    letter = harness.wait_for_letter(result.id)
    assert (letter.reason, letter.attempts) == ("invalid_input", 1)
    assert "names GBP but currency='EUR' was passed" in letter.exception_message


def test_an_unknown_role_is_a_dead_letter_naming_it(quote_worker):
    result = generate_quote.delay({"roles": [{"title": "astronaut", "level": "senior",
                                              "count": 1}]})  # fmt: skip
    letter = harness.wait_for_letter(result.id)
    assert letter.reason == "invalid_input"
    assert "no role 'astronaut' in the catalogue" in letter.exception_message


def test_free_text_conditions_reach_the_quote(quote_worker):
    result = generate_quote.delay("5 CSRs for the night shift, 2 VAs part time").get(timeout=20)
    lines = {line["title"]: line for line in result["lines"]}
    csr = lines["customer service representative"]
    assert (csr["shift"], csr["hours_per_week"]) == ("night", 40)
    # Seeded mid CSR midpoint 28,000: 10% differential, 2,800 a head
    assert csr["items"]["night_differential"] == "14000.00"
    va = lines["virtual assistant"]
    assert (va["hours_per_week"], va["monthly_salary"]) == (20, "15000.00")


def test_a_word_the_parser_cannot_use_is_a_dead_letter_naming_it(quote_worker):
    result = generate_quote.delay("2 developers for 6 months")
    letter = harness.wait_for_letter(result.id)
    assert letter.reason == "invalid_input" and "cannot read '6 months'" in letter.exception_message


def test_every_catalogue_title_has_a_salary_at_every_level(services):
    with database.engine().connect() as db:
        rows = db.execute(sql("SELECT role, level FROM salaries")).all()
    assert {(row.role, row.level) for row in rows} == {
        (title, level) for title in catalogue.TITLES for level in LEVELS
    }


def test_a_new_usd_rate_or_rate_date_is_never_served_from_the_cache(services, monkeypatch):
    # Priced in this process against the real Redis and Postgres: the cache key is the point.
    request = "3 Python devs, premium"
    first = quote_tasks.priced(request)
    again = quote_tasks.priced(request)
    assert again["cached"] is True and again["totals"] == first["totals"]

    new_rate = settings.model_copy(update={"quote_usd_rate": Decimal("50.00")})
    monkeypatch.setattr(quote_tasks, "settings", new_rate)
    changed = quote_tasks.priced(request)
    assert changed["cached"] is False
    assert changed["usd_rate"] == "50.00"
    assert changed["totals"]["monthly_php"] == first["totals"]["monthly_php"]
    assert changed["totals"]["monthly_usd"] != first["totals"]["monthly_usd"]

    new_date = new_rate.model_copy(update={"quote_usd_rate_as_of": date(2026, 12, 3)})
    monkeypatch.setattr(quote_tasks, "settings", new_date)
    dated = quote_tasks.priced(request)
    assert dated["cached"] is False and dated["usd_rate_as_of"] == "2026-12-03"


def test_a_new_gbp_rate_or_rate_date_is_never_served_from_the_cache(services, monkeypatch):
    request = "2 bookkeepers, hybrid"
    first = quote_tasks.priced(request, "GBP")
    assert quote_tasks.priced(request, "GBP")["cached"] is True

    new_rate = settings.model_copy(update={"quote_gbp_rate": Decimal("74.10")})
    monkeypatch.setattr(quote_tasks, "settings", new_rate)
    changed = quote_tasks.priced(request, "GBP")
    assert (changed["cached"], changed["gbp_rate"]) == (False, "74.10")
    assert changed["totals"]["monthly_gbp"] != first["totals"]["monthly_gbp"]

    new_date = new_rate.model_copy(update={"quote_gbp_rate_as_of": date(2026, 12, 4)})
    monkeypatch.setattr(quote_tasks, "settings", new_date)
    dated = quote_tasks.priced(request, "GBP")
    assert dated["cached"] is False and dated["gbp_rate_as_of"] == "2026-12-04"
