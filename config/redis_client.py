"""One Redis client per process on the broker's Redis, with the platform's short timeouts.

For the platform's own keys (the dead-letter spool, task statistics, caches, beat's
reaper). redis-py's pool notices a fork and reconnects in the child, so a cached client is
prefork-safe.
"""

from __future__ import annotations

from functools import cache

import redis

from config.settings import settings


@cache
def client() -> redis.Redis:
    if settings.redis_service_url.startswith("sentinel://"):
        from kombu.utils.url import url_to_parts
        from redis.sentinel import Sentinel

        hosts = [url_to_parts(u) for u in settings.redis_service_url.split(";")]
        timeouts = {
            "socket_timeout": settings.redis_socket_timeout,
            "socket_connect_timeout": settings.redis_socket_connect_timeout,
        }
        sentinel = Sentinel(
            [(h.hostname, h.port or 26379) for h in hosts], sentinel_kwargs=timeouts, **timeouts
        )
        # The URL's password (and user) is the master's, as kombu's Sentinel transport and
        # beat's lock (config/celery_app.py) read it; the sentinels take none.
        auth = {"password": hosts[0].password, "username": hosts[0].username or None}
        return sentinel.master_for(
            settings.redis_sentinel_master, db=int(hosts[0].path or 0), **auth
        )
    return redis.Redis.from_url(
        settings.redis_service_url,
        socket_timeout=settings.redis_socket_timeout,
        socket_connect_timeout=settings.redis_socket_connect_timeout,
    )
