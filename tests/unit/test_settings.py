"""Settings come from the environment only; a bad value stops start-up with one line."""

import subprocess
import sys

import pytest

from config.settings import normalise_database_url
from tests import harness


def start_worker_with(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in harness.os.environ.items() if not k.startswith("CELERY_")}
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo"],
        cwd=harness.ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TASK_TIME_LIMIT", "ten", "invalid setting TASK_TIME_LIMIT: Input should be a valid"),
        ("REDIS_URL", "http://localhost", "invalid setting REDIS_URL: must be a redis://"),
        ("DATABASE_URL", "mysql://db/x", "invalid setting DATABASE_URL: unsupported scheme"),
        ("APP_ENV", "staging", "invalid setting APP_ENV: Input should be"),
        ("FLOWER_BASIC_AUTH", "admin", "invalid setting FLOWER_BASIC_AUTH: must be user:pass"),
    ],
)
def test_an_invalid_setting_stops_the_worker_with_one_line_naming_it(variable, value, message):
    completed = start_worker_with({variable: value})
    assert completed.returncode != 0
    assert completed.stderr.strip().startswith(message)
    assert len(completed.stderr.strip().splitlines()) == 1


def test_production_requires_every_url():
    completed = start_worker_with({"APP_ENV": "production", "REDIS_URL": "", "DATABASE_URL": ""})
    assert completed.returncode != 0
    assert completed.stderr.strip() == (
        "invalid settings: REDIS_URL must be set when APP_ENV=production"
    )


def test_a_stray_celery_broker_url_is_refused():
    completed = start_worker_with({"CELERY_BROKER_URL": "redis://elsewhere:6379/0"})
    assert completed.returncode != 0
    assert completed.stderr.strip().startswith("invalid setting CELERY_BROKER_URL:")


def test_contradicting_time_limits_are_refused():
    completed = start_worker_with({"TASK_SOFT_TIME_LIMIT": "60", "TASK_TIME_LIMIT": "30"})
    assert "TASK_SOFT_TIME_LIMIT (60) must be below TASK_TIME_LIMIT (30)" in completed.stderr


def test_a_heartbeat_ttl_under_a_second_is_refused():
    # The keeper beats every TTL/3: under a second, a busy host would look dead.
    completed = start_worker_with({"WORKER_HEARTBEAT_TTL": "0.5"})
    assert completed.returncode != 0
    assert completed.stderr.strip().startswith("invalid setting WORKER_HEARTBEAT_TTL:")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+psycopg://u:p@db:5432/app"),
        ("postgresql://u@db/app?sslmode=require", "postgresql+psycopg://u@db/app?sslmode=require"),
        ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
    ],
)
def test_hosting_provider_database_urls_use_psycopg_3(given, expected):
    assert normalise_database_url(given) == expected


def test_a_database_url_of_another_kind_is_refused():
    with pytest.raises(ValueError, match="unsupported scheme 'postgresql\\+psycopg2'"):
        normalise_database_url("postgresql+psycopg2://u@db/app")


def test_beat_test_interval_is_refused_in_production():
    completed = start_worker_with(
        {"APP_ENV": "production", "REDIS_URL": "redis://r:6379/0",
         "DATABASE_URL": "postgres://db/x", "BEAT_TEST_INTERVAL": "1"}
    )  # fmt: skip
    assert "BEAT_TEST_INTERVAL replaces every crontab" in completed.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BROKER_URL": "kafka://k:9092"}, "invalid setting BROKER_URL: must be an amqp://"),
        (
            {"BROKER_URL": "redis://other:6379/0", "REDIS_URL": "redis://main:6379/0"},
            "invalid settings: BROKER_URL names a Redis other than REDIS_URL",
        ),
        (
            {"REDIS_URL": "rediss://r:6380/0"},
            "invalid setting REDIS_URL: a rediss:// URL must say ssl_cert_reqs=required",
        ),
        ({"REDIS_SSL_CERT_REQS": "maybe"}, "invalid setting REDIS_SSL_CERT_REQS: Input should be"),
    ],
)
def test_broker_and_tls_settings_are_refused_with_one_line(env, message):
    completed = start_worker_with(env)
    assert completed.returncode != 0
    assert completed.stderr.strip().startswith(message)


def test_an_amqp_broker_url_moves_only_the_broker():
    from config.settings import Settings

    settings = Settings(BROKER_URL="amqps://u:p@mq:5671/prod", redis_url="redis://r:6379/1")
    assert settings.broker_kind == "rabbitmq"
    assert settings.broker_url == "amqps://u:p@mq:5671/prod"
    assert settings.backend_url == settings.redis_service_url == "redis://r:6379/1"


def test_a_hosts_rediss_url_takes_the_tls_choice_from_its_own_setting():
    from config.settings import Settings

    settings = Settings(redis_url="rediss://:pw@r:6380", redis_ssl_cert_reqs="none")
    assert settings.broker_url == "rediss://:pw@r:6380?ssl_cert_reqs=none"
    assert settings.backend_url == settings.broker_url
    assert settings.broker_kind != "rabbitmq"
