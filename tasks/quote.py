"""Queue `quote`: staffing quotes (see pricing/), cached for an hour per request, rates and day."""

from __future__ import annotations

from datetime import UTC, datetime

from config import app, database, redis_client
from config.settings import settings
from pricing import cache, engine, requests, salaries


def current_rates() -> engine.PricingRates:
    """The list price and today's configured USD rate, with its date and source."""
    return engine.PricingRates(
        php_per_usd=settings.quote_usd_rate,
        usd_rate_as_of=settings.quote_usd_rate_as_of,
        usd_rate_source=settings.quote_usd_rate_source,
    )


def priced(request: dict | str) -> dict:
    """The quote for `request` today: from the cache, or priced and cached."""
    parsed = requests.parse_request(request)
    rates = current_rates()
    today = datetime.now(UTC).date()

    def compute() -> dict:
        salary_for = salaries.lookup(salaries.salary_table(database.engine()))
        return engine.price_quote(parsed, salary_for, rates, today)

    key = cache.quote_key(parsed, rates, today)
    return cache.cached(redis_client.client(), key, settings.quote_cache_ttl, compute)


@app.task(name="quote.generate_quote")
def generate_quote(request: dict | str) -> dict:
    """Price a staffing request (structured, or free text such as "2 senior accountants,
    office based"). The same normalised request returns the cached quote."""
    return priced(request)
