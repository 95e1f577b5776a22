"""The private kombu, Celery and redbeat code the platform stands on: every name, pinned.

Each pin is one piece of library code (its import path), the first 16 hex digits of a
SHA-256 of its source at the versions in constraints.txt, the private names of it the
platform uses, and where. tests/unit/test_private_api.py fails with the pin's path when a
release changes that code (read the new code, adapt ours, re-pin), and when a module that
wraps a library class starts using a private name of it that no pin names. The page
docs/private-api.md is this table (`python -m config.private_api > docs/private-api.md`);
a test holds the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pin:
    target: str
    digest: str
    names: tuple[str, ...]
    used_in: str


_REDIS = "kombu.transport.redis"
_VIRTUAL = "kombu.transport.virtual.base"
T = "broker/transport.py"

PINS: tuple[Pin, ...] = (
    # The Redis transport (broker/transport.py) overrides or calls kombu's channel
    Pin(f"{_REDIS}:Channel.__init__", "f189bdebe2436ccd",
        ("_sentinel_manager", "_expires", "_queue_cycle", "_fanout_queues"), T),
    Pin(f"{_REDIS}:Channel._brpop_start", "06723d707ddf2240",
        ("_brpop_start", "_in_poll", "_brpop_sent_at", "_queue_cycle"), T),
    Pin(f"{_REDIS}:Channel._brpop_read", "c42518699709f2df", ("_brpop_read", "_in_poll"), T),
    Pin(f"{_REDIS}:Channel._put", "1c0cf9749576614c", ("_put",), T),
    Pin(f"{_REDIS}:Channel._purge", "221e37da7c172561", ("_purge",), T),
    Pin(f"{_REDIS}:Channel.close", "101e9b9cdad44b88", ("_closing",), T),
    Pin(f"{_REDIS}:Channel.basic_consume", "34e0da85e689ff98", (), T),
    Pin(f"{_REDIS}:Channel._queue_bind", "29b73e023af67e47", ("_fanout_queues",), T),
    Pin(f"{_REDIS}:Channel._new_queue", "a4d66079dd5ed155", ("_expires",), T),
    Pin(f"{_REDIS}:Channel._get_pool", "d6e689f654ffec44", ("_get_pool",), T),
    Pin(f"{_REDIS}:Channel._q_for_pri", "f3997660680dd00f", ("_q_for_pri",), T),
    Pin(f"{_REDIS}:Channel._flush_brpop_reauth", "bb4930b4fd3cf8f3",
        ("_flush_brpop_reauth",), T),
    Pin(f"{_REDIS}:Channel._create_client", "dae92bc4075dafb9", ("_create_client",), T),
    Pin(f"{_REDIS}:Channel.conn_or_acquire", "25883caca6c4121e", (), T),
    Pin(f"{_REDIS}:Channel.basic_cancel", "d2e3a03a48d2a52a", (), T),
    Pin(f"{_REDIS}:Channel._put_fanout", "5b781fe8d941b5db", ("_put_fanout",), T),
    Pin(f"{_REDIS}:Channel.create_publish_batch", "18b62ab1b769f0a2", (), T),
    Pin(f"{_REDIS}:Channel._on_connection_disconnect", "9eab3394f78b076c",
        ("_on_connection_disconnect",), T),
    Pin(f"{_REDIS}:SentinelChannel._sentinel_managed_pool", "bde54a2d6e93ac13",
        ("_sentinel_manager",), T),
    Pin(f"{_REDIS}:SentinelChannel._get_pool", "6abc6e5c81e1880c", ("_get_pool",), T),
    Pin(f"{_REDIS}:QoS.ack", "1bc15a4ddf541af6", (), T),
    Pin(f"{_REDIS}:QoS.reject", "747a02434344d1a6", (), T),
    Pin(f"{_REDIS}:QoS.append", "35c655f6ecc62fe6", (), T),
    Pin(f"{_REDIS}:MultiChannelPoller._register_BRPOP", "85724582464a615f",
        ("_register_BRPOP",), T),
    Pin(f"{_REDIS}:MultiChannelPoller.on_readable", "c0d99f241607f845", (), T),
    Pin(f"{_REDIS}:MultiChannelPoller.on_poll_start", "414f76caaa675bc0", (), T),
    Pin(f"{_REDIS}:MultiChannelPoller.maybe_check_brpop_health", "0dc592e46353a0fc", (), T),
    Pin(f"{_REDIS}:Transport.register_with_event_loop", "4b835642e4a99425", (), T),
    Pin(f"{_REDIS}:PublishBatch.publish", "907967955e6f8fc4", (), T),
    Pin(f"{_REDIS}:PublishBatch.flush", "9c47ee10979b4b04", (), T),
    Pin(f"{_VIRTUAL}:QoS.__init__", "86388d33d7d6fb40", ("_delivered",), T),
    Pin(f"{_VIRTUAL}:QoS.append", "b388f0cd6485c28a", (), T),
    Pin(f"{_VIRTUAL}:QoS.ack", "0714292b916fecb2", (), T),
    Pin(f"{_VIRTUAL}:Channel.basic_consume", "0fec962694938b61", (), T),
    Pin(f"{_VIRTUAL}:Channel._get_message_priority", "07faea72a3d7025f",
        ("_get_message_priority",), T),
    Pin(f"{_VIRTUAL}:Transport._deliver", "799e242f3ec53863", ("_deliver",), T),
    # The producer batch (config/brokers/redis.py), the worker's event buffer
    # (worker/consumer.py) and redacted events (config/task_events.py)
    Pin("kombu.messaging:Producer.batch", "aaae0d988e89aadf", (), "config/brokers/redis.py"),
    Pin("kombu.messaging:_ProducerBatch.__exit__", "3c258caae3ffcd84", ("_ProducerBatch",),
        "config/brokers/redis.py"),
    Pin("kombu.connection:Connection._info", "d756812a39364a49", ("_info",), "config/amqp.py"),
    Pin("celery.app.amqp:AMQP._create_task_sender", "f648c9fd29598970",
        ("_create_task_sender",), "config/amqp.py"),
    Pin("celery.worker.consumer.consumer:Consumer.on_send_event_buffered", "0429cadc8bf9dc54",
        (), "worker/consumer.py"),
    Pin("celery.worker.consumer.consumer:Consumer._flush_events", "2f39dd2416515bf0",
        ("_flush_events",), "worker/consumer.py"),
    Pin("celery.events.dispatcher:EventDispatcher.send", "eb70b87b4c68ed01", (),
        "config/task_events.py"),
    Pin("celery.worker.request:Request.__init__", "efdf47149cde3635", ("_request_dict",),
        "config/task_events.py"),
    # The app, the result backend, the schedule command
    Pin("celery.app.base:Celery.__init__", "0c511349941a516c", ("_conf",),
        "config/celery_app.py"),
    Pin("celery.app.base:Celery._load_config", "b46ee3cbcb237f14", ("_load_config", "_conf"),
        "config/celery_app.py"),
    Pin("celery.backends.base:BaseKeyValueStoreBackend._get_task_meta_for", "b470b3fd8abc5ddd",
        ("_get_task_meta_for",), "config/result_backend.py"),
    Pin("celery.schedules:crontab.__init__", "b3ba8f31cff292ca",
        ("_orig_minute", "_orig_hour", "_orig_day_of_month", "_orig_month_of_year",
         "_orig_day_of_week"), "housekeeping/cli.py"),
    # The worker's backstop for a job its pool cannot take (worker/process.py)
    Pin("celery.worker.worker:WorkController._process_task", "4ffb514847bd001d",
        ("_process_task",), "worker/process.py"),
    Pin("celery.worker.components:Pool.create", "1f0dba9f45f3ef37",
        ("_quick_release", "_process_task"), "worker/process.py"),
    Pin("celery.concurrency.prefork:TaskPool.on_start", "7fcf20251a654c50", ("_pool",),
        "worker/process.py"),
    Pin("billiard.pool:Pool.__init__", "67bcd600c9614757", ("_cache",), "worker/process.py"),
    Pin("billiard.pool:ApplyResult", "0e0753f51fd2676f", ("_write_to", "_cache"),
        "worker/process.py"),
    # `make conformance` registers the transport as kombu's (tests/conformance/hook)
    Pin("kombu.transport:get_transport_cls", "6d820a6e75dd8085", ("_transport_cache",),
        "tests/conformance/hook/sitecustomize.py"),
)  # fmt: skip


def page() -> str:
    """docs/private-api.md, from PINS."""
    lines = [
        "# The private library code the platform relies on",
        "",
        "Generated from `config/private_api.py` (`python -m config.private_api >"
        " docs/private-api.md`); `tests/unit/test_private_api.py` fails when a release changes",
        "any of it, or when a module that wraps a library class uses a private name of it that",
        "no pin names. Upgrading kombu, Celery or redbeat: run `make test`, read each pin that",
        "fails against our module, adapt ours, then re-pin.",
        "",
        "| library code | private names used | by |",
        "| --- | --- | --- |",
    ]
    for pin in PINS:
        names = ", ".join(f"`{name}`" for name in pin.names) or "(overridden or wrapped)"
        lines.append(f"| `{pin.target}` | {names} | `{pin.used_in}` |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(page(), end="")
