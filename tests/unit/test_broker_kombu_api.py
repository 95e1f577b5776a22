"""The private kombu and Celery API the platform stands on, pinned.

broker/transport.py overrides or calls these kombu internals; config/amqp.py and
config/task_events.py wrap the Celery ones. When a release changes one, this test fails
with its name: read the new code, adapt ours, then update the pin.
"""

import hashlib
import importlib
import inspect

import pytest
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

PINNED = {
    "Channel._brpop_start": "06723d707ddf2240",
    "Channel._brpop_read": "c42518699709f2df",
    "Channel._put": "1c0cf9749576614c",
    "Channel._purge": "221e37da7c172561",
    "Channel.close": "101e9b9cdad44b88",
    "Channel.basic_consume": "34e0da85e689ff98",
    "QoS.ack": "1bc15a4ddf541af6",
    "QoS.reject": "747a02434344d1a6",
    "QoS.append": "35c655f6ecc62fe6",
    "MultiChannelPoller._register_BRPOP": "85724582464a615f",
    "MultiChannelPoller.on_readable": "c0d99f241607f845",
    "MultiChannelPoller.on_poll_start": "414f76caaa675bc0",
    "virtual.QoS.append": "b388f0cd6485c28a",
    "virtual.QoS.ack": "0714292b916fecb2",
    "virtual.Channel.basic_consume": "0fec962694938b61",
    # a cached publish client, acks that ride with the fetch, batched publishes
    "Channel._create_client": "dae92bc4075dafb9",
    "Channel.conn_or_acquire": "25883caca6c4121e",
    "Channel.basic_cancel": "d2e3a03a48d2a52a",
    "Channel._put_fanout": "5b781fe8d941b5db",
    "Channel.create_publish_batch": "18b62ab1b769f0a2",
    "Transport.register_with_event_loop": "4b835642e4a99425",
    "PublishBatch.publish": "907967955e6f8fc4",
    "PublishBatch.flush": "9c47ee10979b4b04",
    "Channel._on_connection_disconnect": "9eab3394f78b076c",
    "MultiChannelPoller.maybe_check_brpop_health": "0dc592e46353a0fc",
}

#: Outside the Redis transport: the producer batch (config/amqp.py) and the worker's event
#: buffer (config/task_events.py).
PINNED_ELSEWHERE = {
    "kombu.messaging:Producer.batch": "aaae0d988e89aadf",
    "kombu.messaging:_ProducerBatch.__exit__": "3c258caae3ffcd84",
    "celery.app.amqp:AMQP._create_task_sender": "f648c9fd29598970",
    "celery.worker.consumer.consumer:Consumer.on_send_event_buffered": "0429cadc8bf9dc54",
    "celery.worker.consumer.consumer:Consumer._flush_events": "2f39dd2416515bf0",
    "celery.events.dispatcher:EventDispatcher.send": "eb70b87b4c68ed01",
}


def _resolve(name: str):
    module, path = (
        (virtual, name.removeprefix("virtual."))
        if name.startswith("virtual.")
        else (kombu_redis, name)
    )
    owner, attribute = path.split(".")
    return getattr(getattr(module, owner), attribute)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_kombu_code_the_transport_relies_on_is_unchanged(name):
    source = inspect.getsource(_resolve(name))
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == PINNED[name], (
        f"kombu's {name} changed: review broker/transport.py against it, then re-pin"
    )


@pytest.mark.parametrize("name", sorted(PINNED_ELSEWHERE))
def test_the_celery_and_kombu_code_the_platform_wraps_is_unchanged(name):
    module, path = name.split(":")
    owner, attribute = path.split(".")
    source = inspect.getsource(getattr(getattr(importlib.import_module(module), owner), attribute))
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == PINNED_ELSEWHERE[name], (
        f"{name} changed: review config/amqp.py and config/task_events.py against it, then re-pin"
    )


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
