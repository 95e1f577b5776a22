"""Quotes are pure work: the same normalised request, rates, currency, rule set and day give
the same quote, so it is cached in Redis for QUOTE_CACHE_TTL seconds under a hash of all five.
Each is in the key because a new exchange rate, another currency, a corrected rule set or a
new one from midnight must never be answered from the cache with the old figures."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import redis

from broker import keys

if TYPE_CHECKING:
    from pricing.engine import PricingRates
    from pricing.requests import QuoteRequest
    from pricing.rule_sets import RuleSet


def quote_key(
    request: QuoteRequest, rates: PricingRates, on: date, currency: str, rules: RuleSet
) -> str:
    """The cache key of a quote: the request's meaning, every rate, the currency shown, the
    rule set's numbers and the day priced."""
    parts = (
        request.cache_key(),
        rates.fingerprint(),
        currency,
        rules.fingerprint(),
        on.isoformat(),
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def cached(client: redis.Redis, key: str, ttl: int, compute: Callable[[], dict]) -> dict[str, Any]:
    """The cached quote for `key`, or `compute()` stored for `ttl` seconds.

    A cache that cannot be read or written is no reason to fail a quote: it is computed.
    """
    try:
        hit = client.get(keys.quote(key))
    except redis.RedisError:
        hit = None
    if hit is not None:
        return {**json.loads(hit), "cached": True}
    quote = compute()
    if ttl:
        with contextlib.suppress(redis.RedisError):
            client.set(keys.quote(key), json.dumps(quote), ex=ttl)
    return {**quote, "cached": False}
