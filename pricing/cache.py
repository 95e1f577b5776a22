"""Quotes are pure work: the same normalised request gives the same quote, so it is cached in
Redis for QUOTE_CACHE_TTL seconds under a hash of the normalised request."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import redis

KEY_PREFIX = "taskplatform:quote:"


def cached(client: redis.Redis, key: str, ttl: int, compute: Callable[[], dict]) -> dict[str, Any]:
    """The cached quote for `key`, or `compute()` stored for `ttl` seconds.

    A cache that cannot be read or written is no reason to fail a quote: it is computed.
    """
    try:
        hit = client.get(KEY_PREFIX + key)
    except redis.RedisError:
        hit = None
    if hit is not None:
        return {**json.loads(hit), "cached": True}
    quote = compute()
    if ttl:
        with contextlib.suppress(redis.RedisError):
            client.set(KEY_PREFIX + key, json.dumps(quote), ex=ttl)
    return {**quote, "cached": False}
