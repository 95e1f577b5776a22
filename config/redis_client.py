"""One Redis client per process on the broker's Redis, with the platform's short timeouts.

For the platform's own keys (delivery counters, the dead-letter spool, caches). redis-py's
pool notices a fork and reconnects in the child, so a cached client is prefork-safe.
"""

from __future__ import annotations

from functools import cache

import redis

from config.settings import settings


@cache
def client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.broker_url,
        socket_timeout=settings.redis_socket_timeout,
        socket_connect_timeout=settings.redis_socket_connect_timeout,
    )
