"""The client's settings: the one module of the client that reads the environment.

A web app needs one setting, `REDIS_URL` (the platform's Redis, which is its broker and
its result store). The platform reads the same variables with the same defaults
(config/settings.py takes its defaults from here), so both sides apply the same limits.
`configure(...)` sets them from code instead (a Django settings module, a test).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_SCHEMES = ("redis", "rediss")

#: Defaults shared with the platform's settings: one number for each limit.
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_DEPTH = 100
MAX_COUNTDOWN = 30 * 24 * 3600
JOB_KEY_WINDOW = 24 * 3600
SOCKET_TIMEOUT = 2.0
SOCKET_CONNECT_TIMEOUT = 1.0


class ClientConfigError(ValueError):
    """A setting the client cannot work with; the message names the variable."""


@dataclass(frozen=True)
class ClientSettings:
    broker_url: str = LOCAL_REDIS_URL
    result_url: str = LOCAL_REDIS_URL
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    max_depth: int = MAX_DEPTH
    max_countdown: int = MAX_COUNTDOWN
    job_key_window: int = JOB_KEY_WINDOW
    socket_timeout: float = SOCKET_TIMEOUT
    socket_connect_timeout: float = SOCKET_CONNECT_TIMEOUT
    sent_events: bool = True
    redacted_keys: tuple[str, ...] = field(default=())
    #: QUEUE_MAX_DEPTH ("crm=10000"): past it a publish raises QueueFullError.
    queue_max_depth: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 8 <= self.max_depth <= 5000:
            raise ClientConfigError("TASK_MAX_DEPTH must be between 8 and 5000")
        if self.max_payload_bytes < 1024:
            raise ClientConfigError("TASK_MAX_PAYLOAD_BYTES must be at least 1024")


def check_redis_url(name: str, url: str) -> str:
    """The client talks to Redis only (checked when it first connects, so that the platform,
    which also takes sentinel:// and amqp:// brokers, can import the rules alone)."""
    scheme = urlsplit(url).scheme
    if scheme not in REDIS_SCHEMES:
        raise ClientConfigError(
            f"{name}: the client publishes to the platform's Redis (redis:// or rediss://),"
            f" not {scheme or 'a URL without a scheme'}://"
        )
    return url


def parse_depths(text: str) -> dict[str, int]:
    """QUEUE_MAX_DEPTH: comma-separated queue=jobs, the most jobs a queue may hold."""
    depths: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        queue, _, value = part.partition("=")
        if not value.strip().isdigit() or int(value) < 1:
            raise ClientConfigError(f"QUEUE_MAX_DEPTH: {part!r} is not queue=jobs (jobs >= 1)")
        depths[queue.strip()] = int(value)
    return depths


def parse_keys(text: str) -> tuple[str, ...]:
    """REDACT_KEYS: comma-separated extra key names to mask, lower-cased."""
    return tuple(k.strip().lower() for k in text.split(",") if k.strip())


def from_environment(environ: dict[str, str] | None = None) -> ClientSettings:
    env = os.environ if environ is None else environ

    def number(name: str, default: float, kind: type = int) -> float:
        text = env.get(name, "").strip()
        if not text:
            return default
        try:
            return kind(text)
        except ValueError:
            raise ClientConfigError(f"{name} must be a number, got {text!r}") from None

    redis_url = env.get("REDIS_URL", "").strip() or LOCAL_REDIS_URL
    return ClientSettings(
        broker_url=redis_url,
        result_url=env.get("RESULT_BACKEND_URL", "").strip() or redis_url,
        max_payload_bytes=int(number("TASK_MAX_PAYLOAD_BYTES", MAX_PAYLOAD_BYTES)),
        max_depth=int(number("TASK_MAX_DEPTH", MAX_DEPTH)),
        max_countdown=int(number("MAX_COUNTDOWN", MAX_COUNTDOWN)),
        job_key_window=int(number("JOB_KEY_WINDOW", JOB_KEY_WINDOW)),
        socket_timeout=number("REDIS_SOCKET_TIMEOUT", SOCKET_TIMEOUT, float),
        socket_connect_timeout=number(
            "REDIS_SOCKET_CONNECT_TIMEOUT", SOCKET_CONNECT_TIMEOUT, float
        ),
        sent_events=env.get("TASK_SENT_EVENTS", "true").strip().lower()
        not in ("0", "false", "no", "off"),
        redacted_keys=parse_keys(env.get("REDACT_KEYS", "")),
        queue_max_depth=parse_depths(env.get("QUEUE_MAX_DEPTH", "")),
    )


_current: ClientSettings | None = None
#: Called after configure() changed the settings (the producer forgets its connections).
_on_change: list[Callable[[], None]] = []


def on_change(callback: Callable[[], None]) -> None:
    """Call `callback` whenever configure() changes the settings."""
    _on_change.append(callback)


def current() -> ClientSettings:
    """The settings in force: configure()'s, else the environment's (read once)."""
    global _current
    if _current is None:
        _current = from_environment()
    return _current


def configure(**changes: object) -> ClientSettings:
    """Set the client's settings from code, e.g. `configure(broker_url=settings.REDIS_URL)`;
    what is not named keeps its value (from the environment). A broker_url alone moves
    the result store with it unless result_url is named too. REDACT_KEYS is the one
    setting read from the environment only: the redaction patterns are compiled with it
    at import."""
    if "redacted_keys" in changes:
        raise ClientConfigError("redacted_keys: set REDACT_KEYS in the environment instead")
    global _current
    base = current()
    if "broker_url" in changes and "result_url" not in changes:
        changes["result_url"] = changes["broker_url"]
    _current = replace(base, **changes)  # type: ignore[arg-type]
    for callback in _on_change:  # a new URL needs new connections
        callback()
    return _current
