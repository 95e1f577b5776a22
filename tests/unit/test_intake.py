"""The intake check: real messages pass untouched; every shape that would kill a worker is refused.

The table of shapes records what an unchecked kombu 5.7 / Celery 5.7 solo worker did with
each (`crash:...`: an exception escaped the consumer, an `Unrecoverable error` and the end of
the process), as seen once when the intake was written. That every shape is refused and no
worker dies on a real queue is proven with real workers in tests/integration/test_intake.py.
"""

from __future__ import annotations

import base64
import copy
import random
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from celery.utils.time import maybe_iso8601, maybe_make_aware
from kombu import Connection, Exchange, Producer, Queue
from kombu.pidbox import Mailbox
from kombu.utils.json import dumps, loads

from broker import intake
from broker.intake import REJECTED, UNDECODABLE, Refusal
from config import app as platform_app

TASK = "quote.generate_quote"
ARGS = [
    "Zoë García ☃",
    {"client": {"id": 4182, "name": "Ærø Shipping", "tags": ["offshore", "日本"]}},
    [{"title": "Backend engineer", "hours": 160, "rate": 42.5}],
]
KWARGS = {"idempotency_key": "7d6c1a2e-quote-4182", "currency": "EUR"}
ETA = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
SECRET = "s3cret-argument-marker"

QUOTE = Queue("quote", Exchange("quote", type="direct"), routing_key="quote")


def check(item, **options):
    """The intake as the platform's workers run it: with the depth limit (TASK_MAX_DEPTH's
    default) unless a test names another."""
    return intake.check(item, **{"max_depth": intake.MAX_DEPTH, **options})


def published(args=ARGS, kwargs=KWARGS, eta=ETA, headers=None, **options) -> bytes:
    """The bytes a platform producer leaves in Redis: the platform app's protocol 2 message,
    published through kombu's virtual channel (base64 body) and serialised as kombu's Redis
    channel stores it."""
    message = platform_app.amqp.as_task_v2(
        str(uuid.uuid4()), TASK, args=args, kwargs=kwargs, eta=eta, **options
    )
    with Connection("memory://") as conn:
        channel = conn.default_channel
        QUOTE(channel).declare()
        Producer(channel).publish(
            message.body,
            exchange="quote",
            routing_key="quote",
            headers={**message.headers, "enqueued_at": 1764420000.5, **(headers or {})},
            serializer="json",
            **message.properties,
        )
        return dumps(channel._get("quote")).encode()


def pidbox_reply() -> bytes:
    """A reply to `celery inspect ping` as a worker leaves it in a reply queue."""
    with Connection("memory://") as conn:
        mailbox = Mailbox("celery", type="fanout", accept=["json"])(conn)
        queue = mailbox.reply_queue
        queue(conn.default_channel).declare()
        mailbox._publish_reply(
            {"quote@host": {"ok": "pong"}},
            mailbox.reply_exchange.name,
            queue.routing_key,
            "ticket-1",
            channel=conn.default_channel,
        )
        return dumps(conn.default_channel._get(queue.name)).encode()


ITEM = published(args=[*ARGS, SECRET])


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def signature(**fields) -> dict:
    """An embedded signature as Celery's producers write it, with `fields` changed."""
    sig = {"task": TASK, "args": [1], "kwargs": {}, "options": {}, "subtask_type": None,
           "immutable": False}  # fmt: skip
    sig.update(fields)
    if sig.get("options") is None:
        del sig["options"]
    return sig


def edited(change, item: bytes = ITEM) -> bytes:
    """`item` with `change(envelope)` applied, serialised again as kombu would."""
    envelope = loads(item)
    change(envelope)
    return dumps(envelope).encode()


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def with_body(text: str | bytes):
    return lambda env: env.__setitem__("body", b64(text))


def setting(*path_and_value):
    *path, key, value = path_and_value

    def change(env):
        for name in path:
            env = env[name]
        env[key] = value

    return change


def deleting(*path):
    *path, key = path

    def change(env):
        for name in path:
            env = env[name]
        del env[key]

    return change


def embedding(key: str, value) -> bytes:
    """ITEM with `value` as its body's embed[key]."""
    envelope = loads(ITEM)
    args, kwargs, embed = loads(base64.b64decode(envelope["body"]))
    envelope["body"] = b64(dumps([args, kwargs, {**embed, key: value}]))
    return dumps(envelope).encode()


def both(*changes):
    def change(env):
        for each in changes:
            each(env)

    return change


# -- what passes ---------------------------------------------------------------------------


def test_a_real_task_message_passes_as_kombu_decodes_it():
    # Given the bytes a producer leaves in Redis: unicode, nested dicts, an ETA
    item = published()
    # When the intake checks them
    checked = check(item, task_message=True)
    # Then what comes out is exactly kombu's own reading of them
    assert checked == loads(item)
    assert checked["headers"]["eta"] == ETA.isoformat()


def test_a_real_task_message_given_as_text_passes():
    item = published()
    assert check(item.decode(), task_message=True) == loads(item)


def test_headers_kombu_decodes_into_objects_come_out_as_kombu_builds_them():
    # Given a header kombu serialises with its __type__ markers (a datetime, a Decimal)
    item = published(headers={"requested_at": ETA, "budget": Decimal("12.50")})
    checked = check(item, task_message=True)
    assert checked == loads(item)
    assert checked["headers"]["requested_at"] == ETA
    assert checked["headers"]["budget"] == Decimal("12.50")


def test_real_messages_pass_with_or_without_eta_and_arguments():
    for item in (published(), published(eta=None), published(args=[], kwargs={}, eta=None)):
        assert check(item, task_message=True) == loads(item)


def test_a_plain_body_passes_as_kombu_reads_it():
    # Given a message whose body is not base64 (body_encoding absent or utf-8)
    for encoding in (None, "utf-8", "UTF-8"):
        item = edited(
            both(
                setting("properties", "body_encoding", encoding),
                setting("body", '[["ünï"], {"k": 1}, {}]'),
            )
        )
        assert check(item, task_message=True) == loads(item)


def test_real_canvas_messages_pass():
    # Given the embedded signatures Celery itself writes: a chain's rest, callbacks and
    # errbacks with links, a group inside a chain, a chord body
    sig = platform_app.signature
    first, second = sig(TASK, args=[1]), sig(TASK, args=[2], immutable=True)
    linked = sig(TASK, args=[3]).set(link=sig(TASK), link_error=[sig(TASK)])
    group_in_chain = sig(TASK) | (sig(TASK, args=[4]) | sig(TASK, args=[5]))
    from celery import chord, group

    chord_body = chord(group(first, second), sig(TASK)).body
    for options in (
        {"chain": [dict(first), dict(second)]},
        {"callbacks": [dict(linked)], "errbacks": [dict(second)]},
        {"chain": [dict(group(first, second)), dict(group_in_chain)]},
        {"chord": dict(chord_body)},
    ):
        item = published(**options)
        # When the intake checks them, Then they pass untouched
        assert check(item, task_message=True) == loads(item), options


def test_nesting_up_to_the_limit_passes_and_one_more_level_is_refused():
    # Given a body exactly as deep as the limit, and one a level deeper
    fits = edited(with_body(dumps([nested(99), {}, {}])))  # the body counts as a level
    deeper = edited(with_body(dumps([nested(100), {}, {}])))
    # Then the first passes and the second is refused, naming the limit
    assert isinstance(check(fits, task_message=True), dict)
    refusal = check(deeper, task_message=True)
    assert (refusal.reason, refusal.error_type) == (REJECTED, "TooDeep")
    assert "100 levels" in refusal.message and refusal.task_name == TASK
    # And a deployment may choose its own limit
    assert isinstance(check(deeper, task_message=True, max_depth=120), dict)


def test_an_envelope_too_deep_names_the_task_but_keeps_no_headers():
    refusal = check(edited(setting("headers", "x", nested(300))), task_message=True)
    assert (refusal.error_type, refusal.task_name, refusal.headers) == ("TooDeep", TASK, None)


def test_an_item_over_the_size_cap_is_refused():
    item = published(args=["x" * 10_000])
    assert isinstance(check(item, task_message=True, max_bytes=len(item)), dict)
    refusal = check(item, task_message=True, max_bytes=len(item) - 1)
    assert (refusal.reason, refusal.error_type) == (REJECTED, "TooLarge")
    assert refusal.task_name == TASK and str(len(item)) in refusal.message


def test_nesting_is_measured_without_recursion_and_a_value_that_holds_itself_is_too_deep():
    from broker.intake import nesting_exceeds

    assert not nesting_exceeds(nested(100), 100)
    assert nesting_exceeds(nested(100_000), 100)  # no RecursionError
    looped: list = []
    looped.append(looped)
    assert nesting_exceeds(looped, 100)
    assert not nesting_exceeds({"a": (1, [2]), "b": "text"}, 3)


def test_a_pidbox_reply_passes_on_a_reply_queue():
    item = pidbox_reply()
    assert check(item, task_message=False) == loads(item)


def test_a_pidbox_reply_is_no_task():
    refusal = check(pidbox_reply(), task_message=True)
    assert isinstance(refusal, Refusal)
    assert (refusal.reason, refusal.error_type) == (REJECTED, "MalformedHeaders")


# -- what is refused, and what kombu and Celery would do with it ---------------------------

#: (shape, item, reason, error_type, what an unchecked worker did with it; None: not tried)
TASK_SHAPES = [
    # Not a kombu envelope at all.
    ("not JSON", b"hello", UNDECODABLE, "NotAMessage", "crash:transport:JSONDecodeError"),
    ("empty item", b"", UNDECODABLE, "NotAMessage", "crash:transport:JSONDecodeError"),
    ("a JSON list", b"[1, 2]", UNDECODABLE, "NotAMessage", "crash:consumer:TypeError"),
    ("a JSON string", b'"body"', UNDECODABLE, "NotAMessage", "crash:consumer:TypeError"),
    ("truncated", ITEM[:-40], UNDECODABLE, "NotAMessage", "crash:transport:JSONDecodeError"),
    ("a NUL byte", ITEM.replace(b'"py"', b'"p\x00y"'), UNDECODABLE, "NotAMessage",
     "crash:transport:JSONDecodeError"),
    ("invalid UTF-8 outside strings", b"\xff" + ITEM, UNDECODABLE, "NotAMessage",
     "crash:transport:JSONDecodeError"),
    # kombu's Redis channel decodes with errors="replace": the job would run with its
    # headers silently altered. Refused rather than guessed at.
    ("invalid UTF-8 inside a string", ITEM.replace(b'"py"', b'"p\xffy"'), UNDECODABLE,
     "NotAMessage", "ran"),
    ("a __type__ kombu does not know",
     edited(setting("headers", "x", {"__type__": "pickle", "__value__": "gASV"})),
     UNDECODABLE, "NotAMessage", "crash:transport:ValueError"),
    ("a __type__ kombu cannot build",
     edited(setting("headers", "x", {"__type__": "uuid", "__value__": "x"})),
     UNDECODABLE, "NotAMessage", "crash:transport:TypeError"),
    ("nested too deep", b"[" * 100_000, UNDECODABLE, "NotAMessage",
     "crash:transport:RecursionError"),
    # The envelope.
    ("no properties", edited(deleting("properties")), UNDECODABLE, "MalformedEnvelope",
     "crash:consumer:KeyError"),
    ("properties a list", edited(setting("properties", [])), UNDECODABLE, "MalformedEnvelope",
     "crash:consumer:AttributeError"),
    ("no delivery_info", edited(deleting("properties", "delivery_info")), UNDECODABLE,
     "MalformedEnvelope", "crash:consumer:KeyError"),
    ("delivery_info without exchange",
     edited(deleting("properties", "delivery_info", "exchange")), UNDECODABLE,
     "MalformedEnvelope", "crash:consumer:KeyError"),
    ("routing_key a list", edited(setting("properties", "delivery_info", "routing_key", [])),
     UNDECODABLE, "MalformedEnvelope", None),
    ("no delivery_tag", edited(deleting("properties", "delivery_tag")), UNDECODABLE,
     "MalformedEnvelope", "crash:consumer:KeyError"),
    ("delivery_tag a list", edited(setting("properties", "delivery_tag", [1])), UNDECODABLE,
     "MalformedEnvelope", "crash:consumer:TypeError"),
    # redis-py refuses None as a hash field (DataError); the harness's pipeline is a mock.
    ("delivery_tag null", edited(setting("properties", "delivery_tag", None)), UNDECODABLE,
     "MalformedEnvelope", None),
    # See test_an_infinite_priority_breaks_kombu_where_it_reads_it.
    ("priority infinite", ITEM.replace(b'"priority": 0', b'"priority": 1e999'), UNDECODABLE,
     "MalformedEnvelope", None),
    ("headers a string", edited(setting("headers", "x")), UNDECODABLE, "MalformedHeaders",
     "crash:consumer:AttributeError"),
    ("headers a list", edited(setting("headers", ["task"])), UNDECODABLE, "MalformedHeaders",
     "crash:consumer:AttributeError"),
    ("content-type a list", edited(setting("content-type", ["application/json"])),
     UNDECODABLE, "MalformedEnvelope", "crash:consumer:TypeError"),
    ("content-encoding a number", edited(setting("content-encoding", 8)), UNDECODABLE,
     "MalformedEnvelope", "crash:consumer:AttributeError"),
    ("no body", edited(deleting("body")), UNDECODABLE, "MalformedEnvelope",
     "crash:consumer:TypeError"),
    ("body a number", edited(setting("body", 5)), UNDECODABLE, "MalformedEnvelope",
     "crash:consumer:TypeError"),
    ("body not base64", edited(setting("body", "abcde")), UNDECODABLE, "BadBodyEncoding",
     "crash:consumer:Error"),
    ("unknown body_encoding", edited(setting("properties", "body_encoding", "rot13")),
     UNDECODABLE, "BadBodyEncoding", "crash:consumer:AttributeError"),
    ("body_encoding a number", edited(setting("properties", "body_encoding", 64)),
     UNDECODABLE, "BadBodyEncoding", "crash:consumer:AttributeError"),
    ("a lone surrogate in a base64 body",
     edited(lambda env: env.__setitem__("body", env["body"] + "\ud800")), UNDECODABLE,
     "BadBodyEncoding", "crash:consumer:UnicodeEncodeError"),
    ("a lone surrogate in a plain body",
     edited(both(setting("properties", "body_encoding", None),
                 setting("body", '[["\ud800"], {}, {}]'))),
     UNDECODABLE, "BadBodyEncoding", "refused:decode_error"),
    # Content types.
    ("pickle", edited(setting("content-type", "application/x-python-serialize")), REJECTED,
     "ContentDisallowed", "refused:invalid_task"),
    ("yaml", edited(setting("content-type", "application/x-yaml")), REJECTED,
     "ContentDisallowed", "refused:invalid_task"),
    ("application/data", edited(setting("content-type", "application/data")), REJECTED,
     "ContentDisallowed", "crash:consumer:ValueError"),
    ("application/text", edited(setting("content-type", "application/text")), REJECTED,
     "ContentDisallowed", "crash:consumer:ValueError"),
    ("no content-type", edited(deleting("content-type")), REJECTED, "ContentDisallowed",
     "crash:consumer:ValueError"),
    ("compressed", edited(setting("headers", "compression", "application/x-gzip")),
     REJECTED, "ContentDisallowed", "refused:decode_error"),
    # Protocol 2 headers.
    ("headers null", edited(setting("headers", None)), UNDECODABLE, "MalformedHeaders",
     "refused:unknown_message"),
    ("no headers", edited(deleting("headers")), UNDECODABLE, "MalformedHeaders",
     "refused:unknown_message"),
    ("no task header", edited(deleting("headers", "task")), REJECTED, "MalformedHeaders",
     "refused:unknown_message"),
    ("task a list", edited(setting("headers", "task", [TASK])), REJECTED, "MalformedHeaders",
     "crash:consumer:TypeError"),
    ("no id header", edited(deleting("headers", "id")), REJECTED, "MalformedHeaders",
     "crash:consumer:KeyError"),
    ("id a list", edited(setting("headers", "id", ["x"])), REJECTED, "MalformedHeaders",
     "crash:consumer:TypeError"),
    ("eta empty", edited(setting("headers", "eta", "")), REJECTED, "MalformedHeaders",
     "crash:consumer:AttributeError"),
    ("expires 0", edited(setting("headers", "expires", 0)), REJECTED, "MalformedHeaders",
     "crash:consumer:AttributeError"),
    ("eta not a date", edited(setting("headers", "eta", "tomorrow")), REJECTED,
     "MalformedHeaders", "refused:invalid_task"),
    ("eta a number", edited(setting("headers", "eta", 1893553445)), REJECTED,
     "MalformedHeaders", "refused:invalid_task"),
    ("eta beyond year 9999 in UTC", edited(setting("headers", "eta", "9999-12-31T23:59:59-12:00")),
     REJECTED, "MalformedHeaders", "not run"),
    ("timelimit of 3", edited(setting("headers", "timelimit", [1, 2, 3])), REJECTED,
     "MalformedHeaders", "crash:consumer:ValueError"),
    # Celery counts accepted tasks by name, and a shadow header replaces the name.
    ("shadow a list", edited(setting("headers", "shadow", ["x"])), REJECTED,
     "MalformedHeaders", "crash:consumer:TypeError"),
    ("stamped_headers holding a list", edited(setting("headers", "stamped_headers", [["x"]])),
     REJECTED, "MalformedHeaders", "crash:consumer:TypeError"),
    # Refused though a solo worker runs them: not what any producer of ours sends.
    ("timelimit strings", edited(setting("headers", "timelimit", ["1", "2"])), REJECTED,
     "MalformedHeaders", "ran"),
    ("retries a string", edited(setting("headers", "retries", "1")), REJECTED,
     "MalformedHeaders", "ran"),
    ("retries null", edited(setting("headers", "retries", None)), REJECTED,
     "MalformedHeaders", "ran"),
    ("stamps a list", edited(setting("headers", "stamps", ["x"])), REJECTED,
     "MalformedHeaders", "ran"),
    # The body.
    ("body broken JSON", edited(with_body('[["a"], {}')), UNDECODABLE, "BodyNotJson",
     "refused:decode_error"),
    ("body empty", edited(setting("body", "")), UNDECODABLE, "BodyNotJson",
     "crash:consumer:TypeError"),
    ("body not UTF-8", edited(with_body(b'[["\xff"], {}, {}]')), UNDECODABLE, "BodyNotJson",
     "refused:decode_error"),
    ("body with a __type__ kombu cannot build",
     edited(with_body('[[{"__type__": "uuid", "__value__": "x"}], {}, {}]')), UNDECODABLE,
     "BodyNotJson", "refused:decode_error"),
    ("body a number", edited(with_body("5")), REJECTED, "MalformedTaskBody",
     "crash:consumer:TypeError"),
    ("body of 2 items", edited(with_body("[[1], {}]")), REJECTED, "MalformedTaskBody",
     "crash:consumer:ValueError"),
    ("body an object", edited(with_body('{"a": 1}')), REJECTED, "MalformedTaskBody",
     "crash:consumer:ValueError"),
    ("body an object of 3 keys", edited(with_body('{"a": 1, "b": 2, "c": 3}')), REJECTED,
     "MalformedTaskBody", "crash:pool:TypeError"),
    ("embed a list", edited(with_body("[[], {}, [1]]")), REJECTED, "MalformedTaskBody",
     "crash:pool:TypeError"),
    ("kwargs a list", edited(with_body("[[], [], {}]")), REJECTED, "MalformedTaskBody",
     "not run"),
    # Refused though Celery runs them: protocol 1 hybrids, args spread from a string...
    ("body a protocol 1 hybrid", edited(with_body('{"args": [1], "kwargs": {}}')), REJECTED,
     "MalformedTaskBody", "ran"),
    ("args a string", edited(with_body('["ab", {}, {}]')), REJECTED, "MalformedTaskBody",
     "ran"),
    ("embed null", edited(with_body("[[], {}, null]")), REJECTED, "MalformedTaskBody", "ran"),
    ("callbacks a string", edited(with_body('[[], {}, {"callbacks": "x"}]')), REJECTED,
     "MalformedTaskBody", "ran"),
    ("chord a list", edited(with_body('[[], {}, {"chord": [1]}]')), REJECTED,
     "MalformedTaskBody", "ran"),
    # Nesting: the prefork parent pickles each job for its pool, which recurses per level.
    ("arguments nested 480 levels", edited(with_body(f"[[{'[' * 480}1{']' * 480}], {{}}, {{}}]")),
     REJECTED, "TooDeep", "crash:pool:RecursionError"),
    ("headers nested 200 levels", edited(setting("headers", "x", nested(200))), REJECTED,
     "TooDeep", None),
    # Embedded signatures: Celery builds them after the task ran (or failed), where an error
    # escapes its result handling: neither a FAILURE nor a dead letter (seen when written).
    ("a chain link that is no signature", embedding("chain", [{"args": [], "kwargs": {}}]),
     REJECTED, "MalformedTaskBody", "lost:no failure stored"),
    ("a chain link naming a number", embedding("chain", [signature(task=5)]), REJECTED,
     "MalformedTaskBody", "lost:no failure stored"),
    ("a chain link of an unknown type", embedding("chain", [signature(subtask_type="nope")]),
     REJECTED, "MalformedTaskBody", "lost:no failure stored"),
    ("a chain link without options", embedding("chain", [signature(options=None)]),
     REJECTED, "MalformedTaskBody", "lost:no failure stored"),
    ("an errback naming a number", embedding("errbacks", [signature(task=7)]), REJECTED,
     "MalformedTaskBody", "lost:no failure stored"),
    ("args of a callback a string", embedding("callbacks", [signature(args="abc")]),
     REJECTED, "MalformedTaskBody", "failed later"),
    ("a chord without header", embedding("chord", signature(subtask_type="chord")),
     REJECTED, "MalformedTaskBody", "ignored"),
    ("a group whose tasks are a number",
     embedding("chain", [signature(subtask_type="group", kwargs={"tasks": 5})]), REJECTED,
     "MalformedTaskBody", "failed later"),
    ("a nested link naming nothing",
     embedding("chain", [signature(options={"link": [{"args": []}]})]), REJECTED,
     "MalformedTaskBody", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("item", "reason", "error_type"),
    [pytest.param(item, reason, error, id=shape) for shape, item, reason, error, _ in TASK_SHAPES],
)
def test_a_shape_celery_cannot_run_is_refused_on_a_task_queue(item, reason, error_type):
    refusal = check(item, task_message=True)
    assert isinstance(refusal, Refusal)
    assert (refusal.reason, refusal.error_type) == (reason, error_type)
    assert refusal.message and "\n" not in refusal.message
    assert SECRET not in refusal.message and loads(ITEM)["body"][:20] not in refusal.message


def test_an_infinite_priority_breaks_kombu_where_it_reads_it():
    # kombu's Redis channel reads the priority when it restores an unacked message and
    # when a retry republishes it; int(inf) escapes its (TypeError, ValueError) guard.
    payload = loads(ITEM.replace(b'"priority": 0', b'"priority": 1e999'))
    with Connection("memory://") as conn, pytest.raises(OverflowError):
        conn.default_channel._get_message_priority(payload)


def test_a_refusal_names_the_task_when_its_headers_are_readable():
    envelope = loads(ITEM)
    refusal = check(
        edited(setting("content-type", "application/x-python-serialize")), task_message=True
    )
    assert refusal.task_id == envelope["headers"]["id"]
    assert refusal.task_name == TASK
    assert refusal.headers == envelope["headers"]


def test_a_refusal_without_readable_headers_names_no_task():
    for item in (b"hello", edited(setting("headers", "x"))):
        refusal = check(item, task_message=True)
        assert (refusal.task_id, refusal.task_name, refusal.headers) == (None, None, None)


def test_an_id_no_dead_letter_column_can_hold_is_not_reported():
    refusal = check(
        edited(both(setting("headers", "id", "x" * 300), setting("content-type", None))),
        task_message=True,
    )
    assert refusal.task_id is None
    assert refusal.task_name == TASK


# -- other lists: the envelope only --------------------------------------------------------

REPLY = pidbox_reply()
OTHER_SHAPES = [
    ("not JSON", b"\x00\x01", UNDECODABLE, "NotAMessage"),
    ("no delivery_tag", edited(deleting("properties", "delivery_tag"), REPLY), UNDECODABLE,
     "MalformedEnvelope"),
    ("headers a string", edited(setting("headers", "x"), REPLY), UNDECODABLE,
     "MalformedHeaders"),
    ("unknown body_encoding", edited(setting("properties", "body_encoding", "hex"), REPLY),
     UNDECODABLE, "BadBodyEncoding"),
    ("body not base64", edited(setting("body", "a"), REPLY), UNDECODABLE, "BadBodyEncoding"),
    ("a __type__ kombu cannot build",
     edited(setting("headers", "x", {"__type__": "uuid", "__value__": "x"}), REPLY),
     UNDECODABLE, "NotAMessage"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("item", "reason", "error_type"),
    [pytest.param(item, reason, error, id=shape) for shape, item, reason, error in OTHER_SHAPES],
)
def test_a_broken_envelope_is_refused_on_other_lists(item, reason, error_type):
    refusal = check(item, task_message=False)
    assert isinstance(refusal, Refusal)
    assert (refusal.reason, refusal.error_type) == (reason, error_type)


def test_other_lists_accept_any_json_body_and_no_headers():
    for change in (
        with_body('{"quote@host": {"ok": "pong"}}'),
        with_body("[1, 2]"),
        setting("headers", None),
        both(deleting("content-type"), with_body('{"ok": 1}')),
    ):
        item = edited(change, REPLY)
        assert check(item, task_message=False) == loads(item)


def test_other_lists_leave_the_content_type_and_body_to_their_consumer():
    # As on kombu's transport: a consumer that accepts pickle, raw data or text gets it, and
    # one that does not refuses it itself (its `accept`); the transport only checks that
    # kombu can read the envelope.
    for change in (
        setting("content-type", "application/x-python-serialize"),
        setting("content-type", "application/data"),
        both(deleting("content-type"), with_body("pong")),
        with_body("{not json"),
    ):
        item = edited(change, REPLY)
        assert check(item, task_message=False) == loads(item)


def test_without_limits_an_item_is_taken_at_any_size_and_depth_kombu_reads():
    # A plain kombu user of the transport sets no limit (the platform's workers set both)
    deep = edited(setting("headers", "x", nested(300)), REPLY)
    assert intake.check(deep, task_message=False) == loads(deep)


def test_a_task_message_is_a_valid_envelope_on_other_lists():
    assert check(ITEM, task_message=False) == loads(ITEM)


# -- dates, as Celery parses them ----------------------------------------------------------


def _celery_parses(value: str) -> bool:
    """Request.__init__ and the strategy, on an `eta` header."""
    try:
        parsed = maybe_iso8601(value)
        maybe_make_aware(parsed).astimezone(None).timestamp()
    except Exception:
        return False
    return True


@pytest.mark.parametrize(
    "value",
    [
        "2030-01-02T03:04:05+00:00",
        "2030-01-02T03:04:05.123456+05:30",
        "2030-01-02T03:04:05.1+00:00",
        "2030-01-02T03:04:05Z",
        "2030-01-02T03:04:05",
        "2030-01-02T24:00:00+00:00",
        "2030-01-02T23:59:60+00:00",
        "2030-02-30T00:00:00+00:00",
        "2030-01-02T03:04:05+24:00",
        "2030-01-02T03:04:05-23:59",
        "2030-01-02T03:04:05+10:61",
        "2030-01-02T03:04:05.1234567+00:00",
        "0001-01-01T00:00:00+01:00",
        "0001-01-01T00:00:00-01:00",
        "9999-12-31T23:59:59+00:00",
        "9999-12-31T23:59:59-01:00",
        "2030-01-02",
        "20300102T030405Z",
        "2030-01-02 03:04:05",
        "2030-W01-1",
        "tomorrow",
    ],
)
def test_an_eta_passes_exactly_when_celery_can_schedule_it(value):
    item = edited(setting("headers", "eta", value))
    assert isinstance(check(item, task_message=True), dict) is _celery_parses(value)


# -- never raises, on anything -------------------------------------------------------------

ODD_VALUES = [
    None, True, False, 0, -1, 2**70, 1.5, 1e308, "", "x", "\ud800", "2030-01-01", [], {}, [None],
    ["a", "b"], [1, 2, 3], {"a": 1}, {"__type__": "uuid", "__value__": "x"},
    {"__type__": "datetime", "__value__": "2030-01-01T00:00:00"}, "\x00", "é" * 70,
]  # fmt: skip


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*prefix, index))


def _structural_mutation(rng: random.Random, item: bytes) -> bytes:
    """Delete or retype one field of the envelope or of the decoded body."""
    envelope = loads(item)
    in_body = rng.random() < 0.4
    target = loads(base64.b64decode(envelope["body"])) if in_body else envelope
    path = rng.choice([p for p in _paths(target) if p])
    parent = target
    for key in path[:-1]:
        parent = parent[key]
    if rng.random() < 0.3:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    if in_body:
        envelope["body"] = b64(dumps(target))
    return dumps(envelope).encode()


def _byte_mutation(rng: random.Random, item: bytes) -> bytes:
    data = bytearray(item)
    kind = rng.randrange(4)
    at = rng.randrange(len(data))
    if kind == 0:
        return bytes(data[:at])
    if kind == 1:
        data[at] = rng.randrange(256)
    elif kind == 2:
        data.insert(at, rng.choice(b'\x00\xff"\\{}[],:0 '))
    else:
        del data[at : at + rng.randrange(1, 20)]
    return bytes(data)


def mutations(count: int, seed: int):
    rng = random.Random(seed)
    seeds = [ITEM, published(eta=None), published(args=[], kwargs={}), REPLY]
    for _ in range(count):
        item = rng.choice(seeds)
        for _ in range(rng.randint(1, 3)):
            mutate = _structural_mutation if rng.random() < 0.5 else _byte_mutation
            try:
                item = mutate(rng, item)
            except Exception:  # a byte mutation left nothing to mutate structurally
                break
        yield item


def test_check_never_raises_on_random_mutations_of_real_messages():
    # Given a few thousand random mutations of real messages
    for item in mutations(3000, seed=20261129):
        # When the intake checks each one, as a task and as another message
        for task_message in (True, False):
            # Then it answers, and does not raise
            assert isinstance(check(item, task_message=task_message), dict | Refusal)


@pytest.mark.parametrize(
    "item",
    [None, 42, 1.5, object(), ["x"], bytearray(b"{}"), memoryview(b"[]"), b"\xff\xfe", "\ud800"],
)
def test_any_input_at_all_is_answered(item):
    assert isinstance(check(item, task_message=True), Refusal)


# -- bounded on huge input -----------------------------------------------------------------


def _seconds(item: bytes, task_message: bool = True) -> float:
    started = time.perf_counter()
    check(item, task_message=task_message)
    return time.perf_counter() - started


HUGE = 5_000_000


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(published(args=["x" * HUGE]), id="a 5 MB argument"),
        pytest.param(published(args=[list(range(HUGE // 8))]), id="a 5 MB list"),
        pytest.param(b"[" * HUGE, id="5 MB of brackets"),
        pytest.param(b" " * HUGE, id="5 MB of spaces"),
        pytest.param(b"1" * HUGE, id="5 MB of digits"),
        pytest.param(b'{"body": "' + b"\\u0000" * (HUGE // 6) + b'"}', id="5 MB of escapes"),
        pytest.param(edited(setting("headers", "eta", "2" * HUGE)), id="a 5 MB eta"),
        pytest.param(edited(with_body("[" * HUGE)), id="a 5 MB nested body"),
        pytest.param(edited(setting("body", "=" * HUGE)), id="5 MB of padding"),
    ],
)
def test_a_huge_item_is_answered_in_bounded_time(item):
    assert _seconds(item) < 2.0


def test_checking_time_grows_linearly_with_size():
    small = published(args=["x" * (HUGE // 10), list(range(HUGE // 80))])
    large = published(args=["x" * HUGE, list(range(HUGE // 8))])
    assert isinstance(check(large, task_message=True), dict)
    ratio = min(_seconds(large) for _ in range(3)) / min(_seconds(small) for _ in range(3))
    assert ratio < 25  # 10x the bytes; quadratic would be about 100x
