"""The Celery app, built once from the settings.

Every non-obvious setting carries its reason. Upper floors are named only as strings
(`task_cls`, `include`), so config/ never imports tasks/.
Reference: https://docs.celeryq.dev/en/stable/userguide/configuration.html
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any, NoReturn

import kombu.exceptions
import redis.exceptions
from celery import Celery
from celery.app.utils import Settings
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    import_modules,
    worker_init,
)
from kombu.utils.url import url_to_parts

from beat_schedule import beat_schedule
from broker import keys
from config import brokers, flower, publish
from config.brokers import Job
from config.brokers.redis import redis_transport_options, sentinel_options
from config.logs import install_json, install_redaction, install_text
from config.queues import QUEUES, route_task
from config.result_backend import BACKENDS
from config.sentry import init_sentry
from config.settings import settings
from taskplatform.producer import refused
from taskplatform.redaction import redact

logger = logging.getLogger(__name__)

#: The task modules: one per queue, named after it (tasks/<queue>.py), so a queue is added
#: in one table (config/queues.py QUEUES) plus a worker that consumes it (the Procfile).
TASK_MODULES: list[str] = [f"tasks.{queue}" for queue in QUEUES]

#: Modules every worker imports for their signal handlers and hooks.
WORKER_MODULES = [
    "deadletters.capture",
    "deadletters.exchange",
    "housekeeping.outbox",
    "housekeeping.task_stats",
    "worker.heartbeat",
    "worker.watchdog",
]


# One quick retry rides over a dropped connection (a Redis restart, a failover); more would
# only keep a web request waiting. With Redis down a publish fails in well under 3 s; with a
# Redis that accepts connections but never answers, in about 3 x REDIS_SOCKET_TIMEOUT.
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0.2,
    "interval_max": 0.2,
}


def redbeat_connection() -> dict[str, Any]:
    """Where beat keeps its lock and schedule: REDIS_URL's Redis, with the platform's timeouts
    (redbeat's client has none by default: a hung Redis would hang beat).

    redbeat cannot read `sentinel://` (it hands the URL to `Redis.from_url`, which refuses
    the scheme): on Sentinel it gets its own `redis-sentinel://` form plus the sentinels and
    the master's name, and its clients ask the sentinels for the master whenever they
    connect, so the lock follows a failover (deploy/README.md, Sentinel)."""
    url = settings.redis_service_url
    timeouts = {
        "socket_timeout": settings.redis_socket_timeout,
        "socket_connect_timeout": settings.redis_socket_connect_timeout,
    }
    if not url.startswith("sentinel://"):
        return {"redbeat_redis_url": url, "redbeat_redis_options": timeouts}
    hosts = [url_to_parts(part) for part in url.split(";")]
    sentinels = [(host.hostname, host.port or 26379) for host in hosts]
    db = int(hosts[0].path or 0)  # as config/redis_client.py reads it
    options: dict[str, Any] = {
        "sentinels": sentinels,
        "db": db,
        "password": hosts[0].password,
        "socket_timeout": settings.redis_socket_timeout,
        # The sentinels themselves: short timeouts, no password (as config/redis_client.py).
        "sentinel_kwargs": timeouts,
    }
    if hosts[0].username:
        options["username"] = hosts[0].username
    if settings.redis_sentinel_master:
        options["service_name"] = settings.redis_sentinel_master
    shown = ";".join(f"{host}:{port}" for host, port in sentinels)
    return {
        "redbeat_redis_url": f"redis-sentinel://{shown}/{db}",
        "redbeat_redis_options": options,
    }


class CensoredSettings(Settings):
    """The configuration as `celery report`, `inspect conf` and Flower's Config tab show it.

    Celery masks secret-looking keys and the broker and backend URLs only: a password in
    `redbeat_redis_url` (or any other URL) was shown. Every value passes the redaction rules
    on top of Celery's own masking."""

    def table(self, with_defaults: bool = False, censored: bool = True) -> dict:
        table = super().table(with_defaults, censored)
        return redact(table) if censored else table


def _censored(conf: Settings) -> Settings:
    """Celery builds the settings object; this only adds to its `table` (the class is set
    with object.__setattr__: the settings' own __setattr__ writes a setting)."""
    object.__setattr__(conf, "__class__", CensoredSettings)
    return conf


# What a publish raises when Redis is down: kombu wraps broker errors; the Redis result
# backend, which subscribes to the result channel before publishing, gives up with a
# RuntimeError once its (bounded) retry policy is spent.
UNREACHABLE_ERRORS = (
    kombu.exceptions.OperationalError,
    kombu.exceptions.BatchPublishError,  # a message and its event sent together (config/amqp)
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    RuntimeError,
)


class PlatformCelery(Celery):
    """Celery, with every publish guarded and every shown configuration censored."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # setdefault: unpickling the app (spawned pools, deepcopy) passes `events` again.
        kwargs.setdefault("events", "config.task_events:PlatformEvents")
        kwargs.setdefault("amqp", "config.amqp:PlatformAMQP")  # message + sent event: 1 trip
        super().__init__(*args, **kwargs)
        _censored(self._conf)
        # Result backends by URL scheme: the redacting ones (config/result_backend.py).
        self.loader.override_backends = {**self.loader.override_backends, **BACKENDS}

    def _load_config(self) -> Settings:
        return _censored(super()._load_config())

    @cached_property
    def Worker(self) -> type:  # noqa: N802 - Celery's name
        """The worker `celery worker` builds: dead letters for jobs its pool cannot take
        (named as a string: config/ does not import the dead-letter package)."""
        return self.subclass_with_self("worker.process:PlatformWorker")

    def send_task(  # noqa: PLR0913 - Celery's signature
        self,
        name: str,
        args: Any = None,
        kwargs: Any = None,
        countdown: float | None = None,
        eta: Any = None,
        task_id: str | None = None,
        **options: Any,
    ) -> Any:
        """Every publish ends here (`.delay`, `apply_async`, canvas, `celery call`, beat,
        retries, replays): refuse what must not be queued, then send."""
        task_id = publish.prepare(name, args, kwargs, countdown, eta, task_id, options)
        job = Job(name, args, kwargs, countdown, eta, task_id, options)
        try:
            return brokers.current().publish(self, job, self._send)
        except UNREACHABLE_ERRORS as exc:  # the broker's own steps (a depth, a job key's mark)
            _raise_unreachable(name, exc)

    def _send(self, job: Job) -> Any:
        """Celery's own send, with what the broker refused or could not take named."""
        broker = brokers.current()
        try:
            broker.before_send(self)
            return super().send_task(job.name, job.args, job.kwargs, job.countdown, job.eta,
                                     job.task_id, **job.options)  # fmt: skip
        except Exception as exc:
            refused = broker.refusal(job.name, exc)
            if refused is not None:
                raise refused from exc
            if isinstance(exc, UNREACHABLE_ERRORS):
                _raise_unreachable(job.name, exc)
            raise


def _raise_unreachable(name: str, exc: BaseException) -> NoReturn:
    """What the caller hears when a publish could not reach a service."""
    if isinstance(exc, publish.BrokerUnavailableError):
        raise exc
    if isinstance(exc, RuntimeError) and not _is_result_store_give_up(exc):
        raise exc
    raise publish.BrokerUnavailableError(
        f"could not queue {name}: {brokers.current().service_down(exc)} unreachable"
        f" ({_reason(exc)})"
    ) from exc


def _is_result_store_give_up(exc: RuntimeError) -> bool:
    return "reconnect to the Celery result store" in str(exc)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, kombu.exceptions.BatchPublishError):
        cause = exc.__cause__ or exc
        reason = str(cause).strip() or type(cause).__name__
        if refused(exc):
            return reason
        return reason + "; it may have been queued: publish again with the same job_key to be safe"
    if isinstance(exc, RuntimeError):
        return "the result store did not answer"
    reason = str(exc).strip() or type(exc).__name__
    if "timeout" in reason.lower() or isinstance(exc, TimeoutError | redis.exceptions.TimeoutError):
        reason += "; it may have been queued: publish again with the same job_key to be safe"
    return reason


def build_app() -> Celery:
    app = PlatformCelery("taskplatform", task_cls="tasks.base:PlatformTask", include=TASK_MODULES)
    app.conf.update(
        imports=WORKER_MODULES,
        # Dead letters for what Celery would drop: bodies that do not decode (the consumer);
        # the transport's intake refuses what is not a runnable message before that.
        worker_consumer="worker.consumer:WorkerConsumer",
        # Reliable fetch: the app's connections use the platform's transport for Redis URL
        # schemes (PlatformConnection, named by the app's amqp class).
        broker_use_ssl=brokers.current().use_ssl(),
        broker_url=settings.broker_url,
        result_backend=settings.backend_url,
        # JSON only: a pickle from the broker is remote code execution.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        # Queues and routes: one table, and a typo must not create a queue nobody reads.
        task_queues=brokers.current().task_queues(),
        task_routes=(route_task,),
        task_default_queue="maintenance",
        task_create_missing_queues=False,
        # Producers never hang: few, short publish retries on top of the socket timeouts.
        broker_transport_options=brokers.current().transport_options(),
        broker_connection_timeout=settings.redis_socket_connect_timeout,
        broker_connection_retry_on_startup=True,
        task_publish_retry=True,
        task_publish_retry_policy=PUBLISH_RETRY_POLICY,
        # The Redis result backend subscribes to the result channel before publishing; by
        # default it retries 20 times a second apart, so `.delay()` would block ~20 s.
        result_backend_transport_options={
            **redis_transport_options(),
            **sentinel_options(),
            "retry_policy": PUBLISH_RETRY_POLICY,
        },
        redis_socket_timeout=settings.redis_socket_timeout,
        redis_socket_connect_timeout=settings.redis_socket_connect_timeout,
        redis_backend_health_check_interval=10,
        # Flower sees every state, from sent (a job still queued) to done. The sent event
        # costs 5-15% of a publish's time (docs/performance.md): TASK_SENT_EVENTS.
        worker_send_task_events=True,
        task_send_sent_event=settings.task_sent_events,
        # Job status for web apps: STARTED is visible, results expire.
        task_track_started=True,
        result_expires=settings.result_expires,
        # result_extended would copy the real arguments, secrets included, into Redis.
        result_extended=False,
        # Delivery that loses nothing: ack after the task ends, requeue when its process
        # dies (bounded by MAX_DELIVERIES, counted by the transport), reserve one job at a
        # time, and stop in-flight jobs when the broker connection is lost, since with
        # acks_late they are redelivered anyway and would otherwise run twice.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        # A pool child that does not say it is up within this is SIGKILLed and replaced;
        # Celery's 4 s was seen to pass on a busy 2-core host while children restarted.
        worker_proc_alive_timeout=10.0,
        # Cold shutdown (SIGQUIT, or SIGTERM with REMAP_SIGTERM=SIGQUIT on dynos) first waits
        # this long for running jobs, then requeues what is left: under Heroku's 30 s.
        worker_soft_shutdown_timeout=settings.worker_soft_shutdown_timeout,
        # Time limits: the soft one raises inside the task first, so it can clean up.
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        timezone="UTC",
        enable_utc=True,
        # Beat: the top-level beat_schedule.py holds the entries; one leader at a time.
        beat_schedule=beat_schedule(settings.beat_test_interval),
        beat_scheduler="config.beat:PlatformScheduler",
        beat_max_loop_interval=settings.beat_max_interval,
        **redbeat_connection(),
        redbeat_lock_timeout=settings.beat_lock_timeout,
        redbeat_key_prefix=keys.REDBEAT_PREFIX,
    )
    return app


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_worker_logs(logger=None, **_kwargs) -> None:
    if settings.logs_as_json:
        install_json(logger)
    else:
        install_text(logger)
    install_redaction(logger)


# Flower refuses to start without auth, however it is started (config/flower.py).
import_modules.connect(flower.refuse_open_flower)


@worker_init.connect
def _prepare_the_broker(sender: Any = None, **_kwargs: Any) -> None:
    """What the broker needs of a worker before its consumer starts (config/brokers/)."""
    if sender is not None:
        brokers.current().worker_init(sender.app)


@import_modules.connect
@beat_init.connect
def _start_sentry(**_kwargs) -> None:
    """Sentry in the processes that load the app's modules (workers, beat, Flower, the ops
    commands), not in a web app that only imports a task to queue it. `import_modules`
    fires before the worker imports its task and hook modules, so Sentry's Celery
    integration is in place before Celery's consumer binds its tracer builder (solo pool),
    and before the prefork pool forks (worker_process_init misses task errors)."""
    init_sentry()


app = build_app()
