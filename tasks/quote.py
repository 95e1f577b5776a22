"""Queue `quote`: staffing quotes (see pricing/), cached for an hour per normalised request."""

from __future__ import annotations

from datetime import UTC, datetime

from config import app, database, redis_client
from config.settings import settings
from pricing import cache, engine, requests, salaries


@app.task(name="quote.generate_quote")
def generate_quote(request: dict | str) -> dict:
    """Price a staffing request (structured, or free text such as "2 senior accountants,
    office based"). The same normalised request returns the cached quote."""
    parsed = requests.parse_request(request)

    def compute() -> dict:
        salary_for = salaries.lookup(salaries.salary_table(database.engine()))
        rates = engine.PricingRates(php_per_usd=settings.quote_usd_rate)
        return engine.price_quote(parsed, salary_for, rates, datetime.now(UTC).date())

    return cache.cached(redis_client.client(), parsed.cache_key(), settings.quote_cache_ttl,
                        compute)  # fmt: skip
