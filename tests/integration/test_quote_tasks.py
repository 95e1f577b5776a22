"""quote: a staffing quote end to end on a real worker, priced from the seeded salary table,
cached in Redis for the same normalised request."""

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
    redis_client.delete(keys.QUOTE_PREFIX + quote_key(parse_request(text), current_rates(), today))

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
