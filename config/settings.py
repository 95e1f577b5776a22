"""Settings: the one place that reads the environment.

Every knob of the platform is an environment variable (12-factor), read once into a typed
`Settings` object. A bad value stops the process at start-up with one line naming the
variable, instead of a traceback or, worse, a silent fallback. Local defaults for the URLs
exist only in development and test; production must name every URL.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from taskplatform import settings as client_defaults

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")
LOCAL_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/taskplatform"

# Celery reads these itself and lets them silently override the configured broker and
# backend (celery/app/utils.py); `celery -b URL` sets the first. We take URLs only from
# BROKER_URL / REDIS_URL / RESULT_BACKEND_URL, so a stray one is refused rather than obeyed.
CELERY_URL_VARIABLES = (
    "CELERY_BROKER_URL",
    "CELERY_BROKER_READ_URL",
    "CELERY_BROKER_WRITE_URL",
    "CELERY_RESULT_BACKEND",
)


def _tls_says_how_to_check(parts: SplitResult, info: ValidationInfo) -> None:
    """A rediss:// URL must say whether the server's certificate is checked (kombu and
    redis-py disagree on the default, and a silent `none` would be a downgrade), unless
    REDIS_SSL_CERT_REQS says it for a URL that cannot be edited."""
    if parts.scheme != "rediss" or "ssl_cert_reqs=" in parts.query:
        return
    if info.data.get("redis_ssl_cert_reqs") is None:
        raise ValueError(
            "a rediss:// URL must say ssl_cert_reqs=required (and ssl_ca_certs=),"
            " or set REDIS_SSL_CERT_REQS"
        )


class SettingsError(SystemExit):
    """A setting is missing or invalid.

    A SystemExit subclass, so a process that cannot be configured stops with one readable
    line (`celery -A config worker` prints it and exits 1) rather than a traceback.
    """


class Settings(BaseSettings):
    """Typed view of the environment. Field `redis_url` is variable `REDIS_URL`, and so on."""

    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, env_ignore_empty=True
    )

    app_env: Literal["development", "test", "production"] = "development"

    # Services. None means "not given": development and test fall back to local servers.
    # For a rediss:// URL that does not say ssl_cert_reqs itself and cannot be edited (a
    # hosting add-on's, rotated by the host): added to it. Heroku Redis needs `none`.
    redis_ssl_cert_reqs: Literal["none", "optional", "required"] | None = None
    redis_url: str | None = None
    # The message broker: REDIS_URL's Redis unless BROKER_URL names a RabbitMQ (amqp://,
    # amqps://). Redis stays for results, beat's lock, the spool and the caches either way.
    broker_url_setting: str | None = Field(None, validation_alias="BROKER_URL")
    redis_sentinel_master: str | None = None
    result_backend_url: str | None = None
    database_url: str | None = None
    sentry_dsn: str | None = None
    flower_basic_auth: str | None = None
    flower_db: str = Field(
        default_factory=lambda: os.path.join(tempfile.gettempdir(), "taskplatform-flower.db")
    )

    # Retry policy (seconds and counts). See tasks/base.py for how presets use them.
    retry_max_retries: int = Field(5, ge=0, le=100)
    retry_backoff: int = Field(2, ge=1, le=60)
    retry_backoff_max: int = Field(300, ge=0)

    # Time limits and delivery (seconds). No visibility timeout: a job held by a live worker
    # is never redelivered; a dead worker's jobs come back within WORKER_HEARTBEAT_TTL plus
    # one reaper pass (broker/inflight.py).
    task_soft_time_limit: int = Field(540, ge=1)
    task_time_limit: int = Field(600, ge=1)
    max_countdown: int = Field(client_defaults.MAX_COUNTDOWN, ge=0)
    job_key_window: int = Field(client_defaults.JOB_KEY_WINDOW, ge=1)
    worker_heartbeat_ttl: float = Field(30.0, ge=1, le=3600)
    max_deliveries: int = Field(3, ge=1, le=100)
    worker_soft_shutdown_timeout: float = Field(20.0, ge=0)

    # Dead letters and the database.
    database_connect_timeout: int = Field(3, ge=1, le=60)
    deadletter_write_timeout: float = Field(2.0, gt=0, le=30)
    deadletter_encryption_key: str | None = None
    deadletter_spool_file: str = Field(
        default_factory=lambda: os.path.join(tempfile.gettempdir(), "taskplatform-spool.jsonl")
    )
    deadletter_alert_after: int = Field(3600, ge=0)
    redact_keys: str = ""
    ops_email: str | None = None
    smtp_url: str | None = None

    # Domain tasks.
    smtp_from: str = "Task Platform <platform@localhost>"
    crm_webhook_url: str | None = None
    crm_webhook_timeout: float = Field(5.0, gt=0, le=60)
    quote_usd_rate: Decimal = Field(Decimal("56.00"), gt=0)
    # The day QUOTE_USD_RATE was read and where from: every quote states both.
    quote_usd_rate_as_of: date = date(2026, 12, 1)
    quote_usd_rate_source: str = Field("list rate", min_length=1, max_length=120)
    # The other currencies a quote may be shown in (pricing/currencies.py), dated the same way.
    quote_aud_rate: Decimal = Field(Decimal("37.00"), gt=0)
    quote_aud_rate_as_of: date = date(2026, 12, 1)
    quote_aud_rate_source: str = Field("list rate", min_length=1, max_length=120)
    quote_gbp_rate: Decimal = Field(Decimal("75.00"), gt=0)
    quote_gbp_rate_as_of: date = date(2026, 12, 1)
    quote_gbp_rate_source: str = Field("list rate", min_length=1, max_length=120)
    quote_eur_rate: Decimal = Field(Decimal("65.00"), gt=0)
    quote_eur_rate_as_of: date = date(2026, 12, 1)
    quote_eur_rate_source: str = Field("list rate", min_length=1, max_length=120)
    quote_cache_ttl: int = Field(3600, ge=0)

    # Flow control per dependency (config/flow_control.py): "crm=10/s,smtp=300/m" and
    # "crm=4"; a task names its dependency, never numbers.
    rate_limits: str = ""
    concurrency_limits: str = ""
    # "crm=10000": past it a publish from outside a job raises QueueFullError (Redis broker).
    queue_max_depth: str = ""
    breaker_failures: int = Field(5, ge=1, le=1000)
    breaker_cooldown_seconds: float = Field(30.0, gt=0, le=3600)

    # Operations.
    task_sent_events: bool = True
    watchdog_idle_seconds: float = Field(120.0, ge=0)
    # A file the worker touches while it consumes (for a container's liveness probe:
    # `python -m housekeeping.alive`); unset, none is written.
    worker_alive_file: str | None = None
    metrics_port: int = Field(9808, ge=1, le=65535)
    metrics_address: str = "127.0.0.1"
    flower_url: str | None = None
    # RabbitMQ's management API, `http://user:password@host:15672/api/`: jobs in flight and
    # alarms (config/brokers/rabbitmq_api.py). Unset: FLOWER_BROKER_API, the same URL that
    # Flower's Broker page reads.
    rabbitmq_management_url: str | None = None
    flower_broker_api: str | None = None
    dyno: str | None = None
    remap_sigterm: str | None = None

    # Logs: JSON lines by default; `text` reads better on a terminal (development's default).
    log_format: Literal["json", "text"] | None = None

    # Beat: one leader (a Redis lock), and the housekeeping it schedules.
    beat_max_interval: float = Field(10.0, gt=0)
    beat_lock_timeout: int = Field(45, ge=2)
    beat_test_interval: float | None = Field(None, gt=0)
    deadletter_alert_threshold: int = Field(10, ge=1)
    deadletter_retention_days: int = Field(30, ge=1)
    email_record_retention_days: int = Field(90, ge=1)

    # Producers: a publish returns or raises quickly, and payloads stay small.
    redis_socket_timeout: float = Field(client_defaults.SOCKET_TIMEOUT, gt=0)
    redis_socket_connect_timeout: float = Field(client_defaults.SOCKET_CONNECT_TIMEOUT, gt=0)
    task_max_payload_bytes: int = Field(client_defaults.MAX_PAYLOAD_BYTES, ge=1024)
    # Nesting of a job's arguments (broker/intake.py MAX_DEPTH): refused by the producer and,
    # for any other writer, by the worker's intake. Above about 400 a worker's prefork pool
    # cannot take such a job (it then ends as a dead letter all the same).
    task_max_depth: int = Field(client_defaults.MAX_DEPTH, ge=8, le=5000)
    result_expires: int = Field(24 * 3600, ge=60)

    @property
    def intake_max_bytes(self) -> int:
        """The largest item a worker takes from a queue: twice the payload cap, since the
        body is base64 in the envelope (a third more) beside headers the cap also counts."""
        return 2 * self.task_max_payload_bytes

    @field_validator("redis_url", "result_backend_url")
    @classmethod
    def _redis_scheme(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.split(";", 1)[0])
        if parts.scheme not in ("redis", "rediss", "sentinel") or not parts.hostname:
            raise ValueError("must be a redis://, rediss:// or sentinel:// URL with a host")
        _tls_says_how_to_check(parts, info)
        return value

    @field_validator("broker_url_setting")
    @classmethod
    def _broker_scheme(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        scheme = urlsplit(value.split(";", 1)[0]).scheme
        if scheme in AMQP_SCHEMES:
            if not urlsplit(value).hostname:
                raise ValueError("must be an amqp:// or amqps:// URL with a host")
            return value
        if scheme in ("redis", "rediss", "sentinel"):
            _tls_says_how_to_check(urlsplit(value.split(";", 1)[0]), info)
            return value  # and checked against REDIS_URL below
        raise ValueError("must be an amqp://, amqps://, redis://, rediss:// or sentinel:// URL")

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, value: str | None) -> str | None:
        return None if value is None else normalise_database_url(value)

    @field_validator("flower_basic_auth")
    @classmethod
    def _user_password_pairs(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for pair in value.split(","):
            user, _, password = pair.partition(":")
            if not user or not password:
                raise ValueError("must be user:password, comma-separated for several users")
        return value

    @field_validator("deadletter_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from cryptography.fernet import Fernet

        try:
            for key in value.split(","):
                Fernet(key.strip())
        except ValueError as exc:
            raise ValueError(
                "must be Fernet keys (comma-separated, newest first); make one with"
                " `python -c 'from cryptography.fernet import Fernet;"
                " print(Fernet.generate_key().decode())'`"
            ) from exc
        return value

    @field_validator("rate_limits", "concurrency_limits", "queue_max_depth")
    @classmethod
    def _tables(cls, value: str, info: ValidationInfo) -> str:
        """The flow-control tables, read once here so that a bad entry stops the start."""
        from config.flow_limits import parse_counts, parse_rates
        from taskplatform.settings import parse_depths

        parse = {"rate_limits": parse_rates, "concurrency_limits": parse_counts,
                 "queue_max_depth": parse_depths}[info.field_name]  # fmt: skip
        parse(value)
        return value

    @field_validator("crm_webhook_url", "rabbitmq_management_url", "flower_broker_api")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError("must be smtp://, smtp+starttls:// or smtps://host[:port]")
        return value

    @model_validator(mode="after")
    def _production_names_every_url(self) -> Settings:
        if self.app_env == "production":
            for name in ("redis_url", "database_url"):
                if getattr(self, name) is None:
                    raise ValueError(f"{name.upper()} must be set when APP_ENV=production")
        return self

    def _with_tls_choice(self, url: str) -> str:
        """Add REDIS_SSL_CERT_REQS to a rediss:// URL that does not say it."""
        parts = urlsplit(url)
        if parts.scheme != "rediss" or "ssl_cert_reqs=" in parts.query:
            return url
        if self.redis_ssl_cert_reqs is None:
            return url
        joiner = "&" if parts.query else ""
        query = f"{parts.query}{joiner}ssl_cert_reqs={self.redis_ssl_cert_reqs}"
        return parts._replace(query=query).geturl()

    @model_validator(mode="after")
    def _one_redis(self) -> Settings:
        """A Redis broker is REDIS_URL's Redis: the broker's in-flight lists, the spool and
        the reaper's statistics must live side by side, so a second Redis is refused."""
        given = self.broker_url_setting
        if given and urlsplit(given).scheme not in AMQP_SCHEMES and given != self.redis_url:
            raise ValueError(
                "BROKER_URL names a Redis other than REDIS_URL: a Redis broker is REDIS_URL's"
                " own; set REDIS_URL (BROKER_URL is for amqp:// or amqps:// only)"
            )
        return self

    @model_validator(mode="after")
    def _beat_numbers_agree(self) -> Settings:
        if self.beat_test_interval is not None and self.app_env == "production":
            raise ValueError("BEAT_TEST_INTERVAL replaces every crontab: not in production")
        if self.beat_lock_timeout <= self.beat_max_interval:
            raise ValueError(
                f"BEAT_LOCK_TIMEOUT ({self.beat_lock_timeout}) must exceed BEAT_MAX_INTERVAL"
                f" ({self.beat_max_interval}): the leader extends its lock once per interval"
            )
        return self

    @model_validator(mode="after")
    def _time_limits_agree(self) -> Settings:
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ValueError(
                f"TASK_SOFT_TIME_LIMIT ({self.task_soft_time_limit}) must be below"
                f" TASK_TIME_LIMIT ({self.task_time_limit})"
            )
        return self

    @cached_property
    def logs_as_json(self) -> bool:
        return (self.log_format or ("text" if self.app_env == "development" else "json")) == "json"

    @cached_property
    def redis_service_url(self) -> str:
        """The platform's Redis: results, beat's lock, the spool, statistics, caches (and the
        broker, unless BROKER_URL names a RabbitMQ)."""
        return self._with_tls_choice(self.redis_url or LOCAL_REDIS_URL)

    @cached_property
    def broker_url(self) -> str:
        if self.broker_url_setting and self.broker_kind == "rabbitmq":
            return self.broker_url_setting
        return self.redis_service_url

    @cached_property
    def broker_kind(self) -> str:
        """`rabbitmq` for an amqp:// BROKER_URL, else `redis`: what config/brokers/ picks
        its implementation by (nothing else asks)."""
        scheme = urlsplit(self.broker_url_setting or "").scheme
        return "rabbitmq" if scheme in AMQP_SCHEMES else "redis"

    @cached_property
    def management_api_url(self) -> str | None:
        """RabbitMQ's management API, when the broker is RabbitMQ and one is configured."""
        if self.broker_kind != "rabbitmq":
            return None
        return self.rabbitmq_management_url or self.flower_broker_api

    @cached_property
    def backend_url(self) -> str:
        if self.result_backend_url:
            return self._with_tls_choice(self.result_backend_url)
        return self.redis_service_url

    @cached_property
    def sqlalchemy_url(self) -> str:
        return self.database_url or LOCAL_DATABASE_URL


def normalise_database_url(url: str) -> str:
    """Accept the URL forms hosting providers hand out and pin the psycopg 3 driver.

    Heroku and friends give `postgres://`; SQLAlchemy knows only `postgresql://`, and a bare
    `postgresql://` would pick psycopg2, which we do not ship.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("must be a postgres:// or postgresql:// URL")
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"unsupported scheme {scheme!r}: use postgres:// or postgresql://")


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    location = first.get("loc") or ()
    message = first["msg"].removeprefix("Value error, ")
    if location:
        return f"invalid setting {str(location[0]).upper()}: {message}"
    return f"invalid settings: {message}"


def load_settings() -> Settings:
    """Read and validate the environment, or stop with one line naming the variable."""
    for name in CELERY_URL_VARIABLES:
        if os.environ.get(name):
            raise SettingsError(
                f"invalid setting {name}: Celery would let it override REDIS_URL silently;"
                " unset it and use REDIS_URL / RESULT_BACKEND_URL"
            )
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(_one_line(error)) from None


settings = load_settings()
