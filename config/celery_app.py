"""The Celery app, built once from the settings.

Every non-obvious setting carries its reason. Upper floors are named only as strings
(`task_cls`, `include`), so config/ never imports tasks/.
Reference: https://docs.celeryq.dev/en/stable/userguide/configuration.html
"""

from __future__ import annotations

from importlib import import_module

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from config.logs import install_json, install_redaction
from config.queues import TASK_QUEUES, route_task
from config.sentry import init_sentry
from config.settings import settings

#: The task modules, listed explicitly: a worker knows exactly these.
TASK_MODULES: list[str] = [
    "tasks.quote",
    "tasks.email",
    "tasks.crm",
    "tasks.search",
    "tasks.maintenance",
]

#: Modules every worker imports for their signal handlers and hooks.
WORKER_MODULES = ["deadletters.capture", "housekeeping.task_stats", "housekeeping.watchdog"]


# One quick retry rides over a dropped connection (a Redis restart, a failover); more would
# only keep a web request waiting. With Redis down a publish fails in well under 3 s; with a
# Redis that accepts connections but never answers, in about 3 x REDIS_SOCKET_TIMEOUT.
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0.2,
    "interval_max": 0.2,
}


def _redis_transport_options() -> dict:
    """Options shared by the broker and the result backend's Redis connections."""
    return {
        # kombu's defaults are None: a hung Redis would hang `.delay()` forever
        # (Celery issues 4296, 4556).
        "socket_timeout": settings.redis_socket_timeout,
        "socket_connect_timeout": settings.redis_socket_connect_timeout,
        # An unacked message comes back once it is older than this: it must outlast the
        # longest time limit, countdown and backoff (checked in config/settings.py).
        "visibility_timeout": settings.redis_visibility_timeout,
    }


def build_app() -> Celery:
    app = Celery("taskplatform", task_cls="tasks.base:PlatformTask", include=TASK_MODULES)
    app.conf.update(
        imports=WORKER_MODULES,
        # Dead letters for what Celery would drop: bodies that do not decode (the consumer)
        # and bytes that are not a message at all (the transport); see deadletters/.
        worker_consumer="deadletters.capture:DeadLetterConsumer",
        broker_transport="deadletters.transport:Transport",
        broker_url=settings.broker_url,
        result_backend=settings.backend_url,
        # JSON only: a pickle from the broker is remote code execution.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        # Queues and routes: one table, and a typo must not create a queue nobody reads.
        task_queues=TASK_QUEUES,
        task_routes=(route_task,),
        task_default_queue="maintenance",
        task_create_missing_queues=False,
        # Producers never hang: few, short publish retries on top of the socket timeouts.
        broker_transport_options={
            **_redis_transport_options(),
            # After a whole worker dies, its jobs come back once older than the visibility
            # timeout AND another worker's restore sweep runs: sweep every interval, not
            # every interval x 10 (kombu's default throttle).
            "unacked_restore_interval": settings.redis_unacked_restore_interval,
            "unacked_restore_throttle": 1,
        },
        broker_connection_timeout=settings.redis_socket_connect_timeout,
        broker_connection_retry_on_startup=True,
        task_publish_retry=True,
        task_publish_retry_policy=PUBLISH_RETRY_POLICY,
        # The Redis result backend subscribes to the result channel before publishing; by
        # default it retries 20 times a second apart, so `.delay()` would block ~20 s.
        result_backend_transport_options={
            **_redis_transport_options(),
            "retry_policy": PUBLISH_RETRY_POLICY,
        },
        redis_socket_timeout=settings.redis_socket_timeout,
        redis_socket_connect_timeout=settings.redis_socket_connect_timeout,
        redis_backend_health_check_interval=10,
        # Flower (and the metrics) see every state, from sent to done.
        worker_send_task_events=True,
        task_send_sent_event=True,
        # Job status for web apps: STARTED is visible, results expire.
        task_track_started=True,
        result_expires=settings.result_expires,
        # result_extended would copy the real arguments, secrets included, into Redis.
        result_extended=False,
        # Delivery that loses nothing: ack after the task ends, requeue when its process
        # dies (bounded by the delivery counter in config/delivery.py), reserve one job at a
        # time, and stop in-flight jobs when the broker connection is lost, since with
        # acks_late they are redelivered anyway and would otherwise run twice.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        # Cold shutdown (SIGQUIT, or SIGTERM with REMAP_SIGTERM=SIGQUIT on dynos) first waits
        # this long for running jobs, then requeues what is left: under Heroku's 30 s.
        worker_soft_shutdown_timeout=settings.worker_soft_shutdown_timeout,
        # Time limits: the soft one raises inside the task first, so it can clean up.
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        timezone="UTC",
        enable_utc=True,
        # Beat: the top-level beat_schedule.py holds the entries; one leader at a time.
        beat_schedule=import_module("beat_schedule").beat_schedule(settings.beat_test_interval),
        beat_scheduler="config.beat:PlatformScheduler",
        beat_max_loop_interval=settings.beat_max_interval,
        redbeat_redis_url=settings.broker_url,
        redbeat_lock_timeout=settings.beat_lock_timeout,
        redbeat_key_prefix="taskplatform:redbeat",
    )
    return app


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_worker_logs(logger=None, **_kwargs) -> None:
    if settings.logs_as_json:
        install_json(logger)
    install_redaction(logger)


init_sentry()
app = build_app()
