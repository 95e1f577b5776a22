"""quote: a staffing quote end to end on a real worker, priced from the seeded salary table,
cached in Redis for the same normalised request."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricing.cache import KEY_PREFIX
from pricing.requests import parse_request
from tasks.quote import generate_quote
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
    redis_client.delete(KEY_PREFIX + parse_request(text).cache_key())

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


def test_an_unknown_role_is_a_dead_letter_naming_it(quote_worker):
    result = generate_quote.delay({"roles": [{"title": "astronaut", "level": "senior",
                                              "count": 1}]})  # fmt: skip
    letter = harness.wait_for_letter(result.id)
    assert letter.reason == "permanent" and "unknown role 'astronaut'" in letter.exception_message
