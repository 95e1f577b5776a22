"""The private kombu, Celery and redbeat code the platform stands on, pinned: each pin in
config/private_api.py holds a hash of the library code it names; a release that changes
one fails here with its path (read the new code, adapt ours, re-pin). And no module that
wraps a library class may use a private name of it that no pin names.
"""

import contextlib
import hashlib
import importlib
import inspect
import re

import pytest
from billiard.pool import ApplyResult
from billiard.pool import Pool as BilliardPool
from celery import Celery
from celery.app.amqp import AMQP
from celery.apps.worker import Worker
from celery.backends.redis import RedisBackend
from celery.concurrency.prefork import TaskPool
from celery.events.dispatcher import EventDispatcher
from celery.schedules import crontab
from celery.worker.consumer import Consumer
from celery.worker.request import Request
from celery.worker.worker import WorkController
from kombu.connection import Connection
from kombu.messaging import Producer
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from redbeat import RedBeatScheduler

from config.private_api import PINS, page
from tests import harness

#: The platform's modules that subclass or wrap library classes, and those classes.
WRAPPERS = {
    "broker/transport.py": [kombu_redis.Channel, kombu_redis.SentinelChannel, kombu_redis.QoS,
                            kombu_redis.MultiChannelPoller, kombu_redis.Transport,
                            virtual.Transport, virtual.Channel, virtual.QoS],
    "config/amqp.py": [AMQP, Producer, Connection],
    "config/task_events.py": [EventDispatcher, Request],
    "worker/consumer.py": [Consumer],
    "config/celery_app.py": [Celery],
    "config/result_backend.py": [RedisBackend],
    "config/beat.py": [RedBeatScheduler],
    "housekeeping/cli.py": [crontab],
    "worker/process.py": [Worker, WorkController, TaskPool, BilliardPool, ApplyResult],
}  # fmt: skip
PINNED_NAMES = {name for pin in PINS for name in pin.names}


def _resolve(target: str):
    module, path = target.split(":")
    found = importlib.import_module(module)
    for part in path.split("."):
        found = getattr(found, part)
    return found


@pytest.mark.parametrize("pin", PINS, ids=[pin.target for pin in PINS])
def test_the_library_code_the_platform_relies_on_is_unchanged(pin):
    source = inspect.getsource(_resolve(pin.target))
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == pin.digest, (
        f"{pin.target} changed: review {pin.used_in} against it, then re-pin"
    )


def _private_names_of(classes: list[type]) -> set[str]:
    names = set()
    for cls in classes:
        for klass in cls.__mro__:
            names |= {n for n in vars(klass) if n.startswith("_") and not n.startswith("__")}
            with contextlib.suppress(OSError, TypeError):
                names |= set(re.findall(r"self\.(_[a-z]\w*)", inspect.getsource(klass)))
    return names


@pytest.mark.parametrize("module", sorted(WRAPPERS))
def test_every_private_name_a_wrapper_uses_is_pinned(module):
    text = (harness.ROOT / module).read_text()
    used = set(re.findall(r"\.(_[a-z]\w*)\b", text))
    used |= set(re.findall(r"getattr\([^,()]+,\s*\"(_[a-z]\w*)\"", text))
    theirs = used & _private_names_of(WRAPPERS[module])
    assert theirs <= PINNED_NAMES, (
        f"{module} uses private names no pin names: {sorted(theirs - PINNED_NAMES)};"
        " add a pin for the library code that defines them (config/private_api.py)"
    )


def test_the_page_is_the_pin_table():
    shown = (harness.ROOT / "docs" / "private-api.md").read_text()
    assert shown == page(), "run: python -m config.private_api > docs/private-api.md"


@pytest.mark.parametrize(
    "attribute",
    ["_q_for_pri", "priority_steps", "_get_message_priority", "_in_poll",
     "_brpop_sent_at", "_flush_brpop_reauth", "from_transport_options", "sep"],
)  # fmt: skip
def test_the_channel_attributes_the_transport_uses_exist(attribute):
    assert hasattr(kombu_redis.Channel, attribute)


def test_priority_lists_are_named_as_the_reaper_expects():
    from broker import inflight

    assert kombu_redis.Channel.sep == inflight.SEP


def test_the_platform_app_and_only_it_uses_the_platform_transport():
    # config/amqp.py: the app's connections (Celery builds them with `app.amqp.Connection`)
    # pick the platform's transport by URL scheme; other kombu connections keep kombu's.
    import kombu
    from kombu.transport import redis as kombu_redis

    from broker import transport as platform_transport
    from config import app

    for url in ("redis://127.0.0.1:1/0", "rediss://127.0.0.1:1/0?ssl_cert_reqs=required"):
        connection = app.connection_for_write(url)
        assert type(connection.transport) is platform_transport.Transport
        assert connection.transport_cls == url.split(":", 1)[0]  # the scheme stays its name
        assert connection.clone().get_transport_cls() is platform_transport.Transport
        # kombu's pools make connections of their own class: the app's must not
        pool = connection.Pool(limit=1)
        assert type(pool.new().transport) is platform_transport.Transport
        assert type(kombu.Connection(url).transport) is kombu_redis.Transport
    # and the pool every publish of the app draws from
    with app.producer_or_acquire() as producer:
        assert type(producer.connection.transport) is platform_transport.Transport
    sentinel = app.connection_for_write("sentinel://127.0.0.1:26379")
    assert sentinel.get_transport_cls() is platform_transport.SentinelTransport
    # amqp:// (RabbitMQ) keeps kombu's own transport
    assert app.connection_for_write("amqp://127.0.0.1//").get_transport_cls().__module__ == (
        "kombu.transport.pyamqp"
    )


def test_kombu_resolves_transports_through_the_alias_table_and_cache():
    # make conformance registers the platform's transport as kombu's for redis:// the way a
    # kombu user who adopts it would (tests/conformance/hook/sitecustomize.py).
    from kombu import transport

    from broker.transport import ALIASES, Transport

    saved = {scheme: transport.TRANSPORT_ALIASES[scheme] for scheme in ALIASES}
    try:
        # When the hook's two steps are taken: the aliases updated, the cached classes dropped
        transport.TRANSPORT_ALIASES.update(ALIASES)
        for scheme in ALIASES:
            transport._transport_cache.pop(scheme, None)
        # Then kombu resolves redis:// to the platform's transport
        assert transport.get_transport_cls("redis") is Transport
    finally:
        transport.TRANSPORT_ALIASES.update(saved)
        for scheme in ALIASES:
            transport._transport_cache.pop(scheme, None)
    assert transport.get_transport_cls("redis") is not Transport  # and back to kombu's


def test_kombus_prefixing_client_prefixes_what_the_transport_leaves_to_it():
    # broker/transport.py lets kombu's client prefix LPUSH, PEXPIRE and DEL keys (its own
    # `_put` and `_purge` go through it) and prefixes LTRIM, EVAL and script keys itself.
    from kombu.transport.redis import GlobalKeyPrefixMixin

    simple = set(GlobalKeyPrefixMixin.PREFIXED_SIMPLE_COMMANDS)
    complex_ = set(GlobalKeyPrefixMixin.PREFIXED_COMPLEX_COMMANDS)
    assert {"LPUSH", "PEXPIRE"} <= simple and "DEL" in complex_
    assert not {"LTRIM", "EVAL", "LREM", "LMOVE"} & (simple | complex_)
    assert kombu_redis.Channel.global_keyprefix == ""
    assert "global_keyprefix" in kombu_redis.Channel.from_transport_options
