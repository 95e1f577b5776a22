"""Queue `quote`: staffing quotes (see pricing/), cached for an hour per request, rates,
currency, rule set and day."""

from __future__ import annotations

from datetime import UTC, datetime

from config import app, database, redis_client
from config.settings import settings
from pricing import cache, currencies, engine, requests, rule_sets, salaries


def current_rates() -> engine.PricingRates:
    """The list price and today's configured exchange rates (QUOTE_<CODE>_RATE), each with its
    date and source."""
    return engine.PricingRates(
        exchange_rates={
            code: currencies.ExchangeRate(
                php_per_unit=getattr(settings, f"quote_{code.lower()}_rate"),
                as_of=getattr(settings, f"quote_{code.lower()}_rate_as_of"),
                source=getattr(settings, f"quote_{code.lower()}_rate_source"),
            )
            for code in currencies.CURRENCIES
        }
    )


def priced(request: dict | str, currency: str | None = None) -> dict:
    """The quote for `request` today, in `currency` (USD when None): from the cache, or priced
    and cached. A currency it cannot be shown in is refused before anything is priced."""
    parsed = requests.parse_request(request)
    code = currencies.currency_code(_one_currency(currency, parsed.currency))
    rates = current_rates()
    today = datetime.now(UTC).date()
    rules = rule_sets.rules_for(today)

    def compute() -> dict:
        salary_for = salaries.lookup(salaries.salary_table(database.engine()))
        return engine.price_quote(parsed, salary_for, rates, today, currency=code)

    key = cache.quote_key(parsed, rates, today, code, rules)
    return cache.cached(redis_client.client(), key, settings.quote_cache_ttl, compute)


def _one_currency(argument: str | None, named: str | None) -> str | None:
    """The currency the caller passed or the request names ("2 CSRs in GBP"); both may say
    it, but not two different ones."""
    argued = requests.currency_named(argument)
    if argued is not None and named is not None and argued != named:
        raise requests.InvalidQuoteRequest(
            f"the request names {named} but currency={argument!r} was passed: name one"
        )
    return argued or named


@app.task(name="quote.generate_quote")
def generate_quote(request: dict | str, currency: str | None = None) -> dict:
    """Price a staffing request (structured, or free text such as "2 senior accountants,
    office based"), its totals also in `currency` (USD, AUD, GBP or EUR), or in the one the
    request names ("in GBP"; USD when neither does).
    The same normalised request and currency return the cached quote."""
    return priced(request, currency)
