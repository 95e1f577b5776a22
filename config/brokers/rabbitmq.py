"""RabbitMQ as the broker: quorum queues that count deliveries and dead-letter to an
exchange of the platform's, publisher confirms, the broker's own redelivery of a dead
worker's jobs (no reaper). The RabbitMQ helpers the publish path uses live in
config/rabbitmq.py; here is what the platform asks of this broker, and how a queue is
measured and checked without touching a message.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import amqp
import kombu
import redis

from config import publish_log, rabbitmq
from config.brokers import rabbitmq_api
from config.brokers.base import NOT_SAMPLED, Broker, Job, QueueState, Sending
from config.queues import QUEUES, dead_letter_queue, task_queues
from config.settings import settings
from taskplatform.errors import QueueFullError
from taskplatform.producer import refused

logger = logging.getLogger(__name__)

#: How long the alarm probe waits for the broker to say it blocks publishers.
ALARM_PROBE_SECONDS = 1.0


class RabbitmqBroker(Broker):
    name = "RabbitMQ"

    def transport_options(self) -> dict[str, Any]:
        """A publish returns once the broker confirmed it; told when the broker blocks
        publishers (an alarm), publishes then fail at once."""
        return {
            "confirm_publish": True,
            "on_blocked": rabbitmq.on_blocked,
            "on_unblocked": rabbitmq.on_unblocked,
        }

    def use_ssl(self) -> dict | bool:
        """amqps:// is TLS with the system's CA store, checking the certificate's chain and
        host name (py-amqp checks the name, and sends SNI, only when given one)."""
        if not settings.broker_url.startswith("amqps://"):
            return False
        return {
            "cert_reqs": ssl.CERT_REQUIRED,
            "server_hostname": urlsplit(settings.broker_url).hostname,
        }

    def task_queues(self) -> list:
        return task_queues(rabbitmq=True)

    def publish(self, app: Any, job: Job, send: Callable[[Job], Any]) -> Any:
        """Whole-second delays, refused at once while the broker blocks publishers, a job
        key's publish-once mark (taken before, given back if the publish fails), and the
        publish counted for its queue's oldest-job age."""
        job.countdown, job.eta = rabbitmq.whole_seconds(job.countdown, job.eta)
        rabbitmq.refuse_while_blocked(job.name)
        rabbitmq.prepare_publish(job.options)
        job.task_id = job.task_id or str(uuid.uuid4())
        if not rabbitmq.claim_once(job.task_id, job.options):
            return app.AsyncResult(job.task_id)
        try:
            sent = send(job)
        except BaseException:
            rabbitmq.release_once(job.task_id, job.options)
            raise
        rabbitmq.count_published(job.name, job.options, job.countdown, job.eta)
        return sent

    def send_message(
        self, send: Callable[..., Any], producer: Any, sending: Sending, args: tuple, kwargs: dict
    ) -> Any:
        """One publish, sent again only when nothing can have been written (the connection
        was refused): kombu's retry would send a second copy after a confirm that timed out.
        A publish that RabbitMQ blocked (a memory or disk alarm) is aborted with a TCP
        reset, which makes the broker drop it: the caller hears that nothing was queued."""
        for attempt in range(sending.retries + 1):
            try:
                return send(producer, *args, **kwargs)
            except Exception as exc:
                if rabbitmq.blocked():
                    rabbitmq.abort(producer.connection)
                    raise rabbitmq.BrokerBlockedError(
                        "RabbitMQ blocks publishers (a memory or disk alarm): the publish was"
                        " aborted unread, nothing was queued: publish again later"
                    ) from exc
                if attempt == sending.retries or not refused(exc):
                    raise
            time.sleep(sending.pause(attempt))
        raise AssertionError("unreachable")  # the loop returns or raises

    def before_send(self, app: Any) -> None:
        rabbitmq.ensure_topology(app)

    def refusal(self, name: str, exc: BaseException) -> BaseException | None:
        if rabbitmq.nacked(exc):
            return QueueFullError(
                f"nothing was queued: RabbitMQ refused {name} (its queue is at its"
                " max-length; see docs/flow-control.md)"
            )
        return None

    def service_down(self, exc: BaseException) -> str:
        return "Redis" if isinstance(exc, RuntimeError | redis.RedisError) else "RabbitMQ"

    def worker_init(self, app: Any) -> None:
        """Before the worker's own steps bind the delay levels to every queue (a worker of
        one queue would find the others' exchanges missing)."""
        try:
            rabbitmq.ensure_topology(app)
        except Exception as exc:  # the broker is away: every publish declares it again first
            logger.warning("RabbitMQ topology not declared at start-up: %s", exc)

    @property
    def dead_letters_by_broker(self) -> bool:
        return True

    def queue_states(self, client: Any, now: float) -> dict[str, QueueState]:
        return states(client, now)

    def waiting(self, queues: list[str]) -> dict[str, int]:
        return {queue: found.ready if found else 0 for queue, found in declared(queues).items()}

    def pausing(self, queue: str) -> str | None:
        return ("pausing needs the Redis broker; on RabbitMQ: celery -A config control"
                f" cancel_consumer {queue}")  # fmt: skip

    def doctor(self, app: Any) -> list[str]:
        return check(app)


class Declared(NamedTuple):
    """What a passive declare tells of a RabbitMQ queue, exact at that moment (the
    management API's counts lag by its statistics interval)."""

    ready: int
    consumers: int


def declared(queues: Iterable[str]) -> dict[str, Declared | None]:
    """RabbitMQ: per queue its ready messages and consumers; None for a queue not declared
    yet. A passive declare reads the queue without touching a message."""
    found: dict[str, Declared | None] = {}
    with _connection() as connection:
        for queue in queues:
            try:
                ok = connection.default_channel.queue_declare(queue, passive=True)
                found[queue] = Declared(int(ok.message_count), int(ok.consumer_count))
            except connection.channel_errors:  # not declared yet: nothing waits in it
                connection.close()  # the broker closed the channel; start a fresh one
                found[queue] = None
    return found


def _connection() -> kombu.Connection:
    """A connection of its own to the broker, with the options the app's have (the app is
    built on this package, so it is not asked)."""
    broker = RabbitmqBroker()
    return kombu.Connection(
        settings.broker_url,
        ssl=broker.use_ssl(),
        transport_options=broker.transport_options(),
        connect_timeout=settings.redis_socket_connect_timeout,
    )


def states(client: Any, now: float) -> dict[str, QueueState]:
    """Ready jobs and consumers from a passive declare (exact, now); jobs in flight from
    the management API when one is configured (None otherwise: AMQP does not tell them);
    the oldest job's age from the broker's head timestamp where it gives one (classic
    queues), else from the platform's publish counts (config/publish_log.py). RabbitMQ lets
    a client count a queue, not read its messages in place: nothing here touches one."""
    found = declared(QUEUES)
    stats: dict[str, dict[str, Any]] = {}
    source = "rabbitmq amqp"
    if rabbitmq_api.configured():
        try:
            stats = rabbitmq_api.queues()
            source = "rabbitmq amqp+management"
        except rabbitmq_api.ManagementApiError as exc:
            logger.warning("queue states without jobs in flight: %s", exc)
    states = {}
    for queue in QUEUES:
        ready, consumers = found[queue] or (0, 0)
        held = stats.get(queue, {}).get("messages_unacknowledged")
        head = stats.get(queue, {}).get("head_message_timestamp")
        if not ready:
            age = None
        elif head:
            age = max(0.0, now - float(head))
        else:
            age = publish_log.age(client, queue, ready, now)
        states[queue] = QueueState(
            ready, age, Counter({NOT_SAMPLED: ready}) if ready else Counter(),
            Counter({NOT_SAMPLED: held}) if held else Counter(),
            None if held is None else int(held), consumers, source,
        )  # fmt: skip
    return states


#: Where the alarm probe publishes: no queue is bound to it, so the broker drops it.
PROBE_ROUTING_KEY = "taskplatform.doctor.probe"


def check(app: Any) -> list[str]:
    """RabbitMQ reachable; each queue as the platform declares it (a redeclare with the
    platform's arguments is a no-op, or the broker's refusal naming the difference); a
    consumer on each; no alarm. Reads queues without touching a message."""
    connection = app.connection_for_write()
    try:
        connection.ensure_connection(max_retries=1)
    except Exception as exc:
        where = urlsplit(settings.broker_url).hostname
        return [f"rabbitmq: unreachable at {where} ({type(exc).__name__}: {exc})"]
    try:
        return _declarations(connection, app) + _alarms(app)
    finally:
        connection.release()


def _declarations(connection: Any, app: Any) -> list[str]:
    problems = []
    for queue in [*app.amqp.queues.values(), dead_letter_queue()]:
        channel = connection.channel()
        try:
            found = channel.queue_declare(queue.name, passive=True)
        except connection.channel_errors:
            problems.append(f"rabbitmq: queue {queue.name!r} is not declared (every worker and"
                            " a process's first publish declare it)")  # fmt: skip
            continue
        try:
            queue.bind(channel).queue_declare()
        except connection.channel_errors as exc:
            problems.append(f"rabbitmq: queue {queue.name!r} is not declared as the platform"
                            f" declares it ({exc}); delete it while empty, or move its jobs,"
                            " and let a worker declare it")  # fmt: skip
            continue
        finally:
            with contextlib.suppress(Exception):
                channel.close()
        if queue.name in QUEUES and not found.consumer_count:
            problems.append(f"rabbitmq: no consumer on queue {queue.name!r}; its jobs wait")
    return problems


def _alarms(app: Any) -> list[str]:
    """From the management API when configured; else publish a probe nobody receives and
    see whether the broker blocks the connection (it tells a publishing connection). The
    probe has a connection of its own without publisher confirms: a confirm never comes
    while the broker blocks, and waiting for it would hang the doctor."""
    if rabbitmq_api.configured():
        try:
            return [f"rabbitmq: {alarm}; publishers are blocked" for alarm in rabbitmq_api.alarms()]
        except rabbitmq_api.ManagementApiError as exc:
            return [f"rabbitmq: {exc}"]
    options = {**(app.conf.broker_transport_options or {}), "confirm_publish": False}
    connection = app.connection_for_write(transport_options=options)
    blocked: list[str] = []
    try:
        connection.ensure_connection(max_retries=1)
        amqp_connection = connection.connection
        amqp_connection.on_blocked = blocked.append
        channel = amqp_connection.channel()
        channel.basic_publish(amqp.Message(b"doctor"), exchange="", routing_key=PROBE_ROUTING_KEY)
        with contextlib.suppress(socket.timeout, TimeoutError):
            amqp_connection.drain_events(timeout=ALARM_PROBE_SECONDS)
    finally:
        if blocked:
            rabbitmq.abort(connection)  # a blocked connection's close would wait for the alarm
        else:
            with contextlib.suppress(Exception):
                connection.release()
    if blocked:
        return [f"rabbitmq: publishers are blocked ({blocked[0]}: a memory or disk alarm)"]
    return []
