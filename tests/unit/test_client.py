"""The client's plain decisions: guard refusals through the handles, the message it builds,
its settings, and what importing it costs (tests/integration/test_client.py sends for real)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from taskplatform import PayloadError, TaskHandle, message, producer
from taskplatform.schemas import InvalidArguments
from taskplatform.settings import ClientConfigError, check_redis_url, from_environment
from taskplatform.tasks import (
    capture_lead,
    generate_quote,
    reindex_candidates,
    search_candidates,
    send_candidate_matches,
    send_email,
    send_quote,
)


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


NESTED = nested(150)


def built(handle: TaskHandle, args=(), kwargs=None, **options):
    item, job = handle._prepared(
        args,
        kwargs,
        options.get("job_key"),
        options.get("countdown"),
        None,
        None,
        None,
        options.get("headers"),
    )
    return json.loads(item.payload), item, job


def test_a_handle_routes_by_its_name_and_refuses_a_name_that_routes_nowhere():
    assert generate_quote.queue == "quote" and send_email.queue == "email"
    with pytest.raises(LookupError, match="routes nowhere"):
        TaskHandle("billing.charge")


#: A handle without a declaration: what the guard alone does (any producer, older clients).
UNDECLARED = TaskHandle("quote.generate_quote")


def test_the_message_is_celerys_protocol_2_with_redacted_reprs():
    envelope, item, job = built(UNDECLARED, ({"roles": [], "password": "hunter2"},))
    headers = envelope["headers"]
    assert headers["task"] == "quote.generate_quote" and headers["id"] == job.id
    assert headers["root_id"] == job.id and headers["lang"] == "py"
    assert "hunter2" not in headers["argsrepr"] and "hunter2" not in item.event
    assert envelope["properties"]["delivery_info"] == {"exchange": "", "routing_key": "quote"}
    body = json.loads(base64.b64decode(envelope["body"]))
    assert body == [[{"roles": [], "password": "hunter2"}], {}, message.EMBEDDED_NONE]
    assert isinstance(headers["enqueued_at"], float)


@pytest.mark.parametrize(
    "argument", ["plain", 'quote " backslash \\ newline \n', "non-ascii: é 中 \U0001f600", ""]
)
def test_the_assembled_message_and_event_are_what_dumps_writes_for_their_dicts(argument):
    """The envelope and event are put together from pre-encoded parts (a bulk publish's hot
    path): their text must be exactly the standard encoding of the dicts they hold, which is
    what kombu writes (tests/integration/test_client.py compares with Celery byte for byte)."""
    import datetime

    _envelope, item, _job = built(
        UNDECLARED, (argument,), {"at": argument}, countdown=5, headers={"x_when": argument}
    )
    for text in (item.payload, item.event):
        assert text == json.dumps(json.loads(text))
    event = base64.b64decode(json.loads(item.event)["body"]).decode()
    assert event == json.dumps(json.loads(event))
    assert json.loads(event)["args"] == _envelope["headers"]["argsrepr"]
    assert json.loads(event)["eta"] == _envelope["headers"]["eta"] is not None
    text, headers = message.task_envelope(
        "quote.x", "id-1", 'queue "q"', (1,), None,
        {"argsrepr": argument, "kwargsrepr": "{}", "headers": {"x_on": datetime.date(2026, 1, 2)}},
        expires=message.when(60),
    )  # fmt: skip
    envelope = json.loads(text)
    assert envelope["headers"]["x_on"] == {"__type__": "date", "__value__": "2026-01-02"}
    assert envelope["properties"]["argsrepr"] == argument
    assert envelope["properties"]["delivery_info"]["routing_key"] == 'queue "q"'
    assert text == json.dumps(envelope)


def test_a_job_key_gives_the_same_id_and_a_publish_once_window():
    first, item, job = built(send_email, ({"to": "a@example.com"}, "k"), job_key="request-1")
    again, _item, same = built(send_email, ({"to": "a@example.com"}, "k"), job_key="request-1")
    assert job.id == same.id and item.window and item.window >= 86400
    assert first["headers"]["x_publish_once"] == item.window


@pytest.mark.parametrize(
    ("args", "options", "refusal"),
    [
        (("x" * 300_000,), {}, "over the cap"),
        ((NESTED,), {}, "nest deeper"),
        ((object(),), {}, "not JSON"),
        ((1,), {"job_key": ""}, "job_key must be a non-empty string"),
        ((1,), {"countdown": 10**9}, "MAX_COUNTDOWN"),
        ((1,), {"headers": ["not", "a", "dict"]}, "headers must be a dict"),
    ],
)
def test_the_guard_refuses_before_anything_is_built(args, options, refusal):
    with pytest.raises(PayloadError, match=refusal):
        built(UNDECLARED, args, **options)


def test_a_bulk_publish_checks_every_item_first_and_names_the_bad_one():
    good = ({"roles": [{"title": "qa tester", "count": 1}]},)
    with pytest.raises(InvalidArguments, match="item 2: request.roles.0..count: is 0") as raised:
        generate_quote.delay_many([good, good, ({"roles": [{"title": "qa", "count": 0}]},)])
    assert raised.value.field == "request.roles[0].count"
    with pytest.raises(PayloadError, match="item 2"):
        UNDECLARED.delay_many([good, good, (object(),)])
    with pytest.raises(PayloadError, match="item 0 is dict"):
        generate_quote.delay_many([{"roles": []}])
    with pytest.raises(PayloadError, match="2 job keys for 1 items"):
        generate_quote.delay_many([good], job_keys=["a", "b"])


@pytest.mark.parametrize(
    ("handle", "args", "kwargs", "field", "problem"),
    [
        (generate_quote, ({"roles": [{"title": "qa tester", "count": 10_000}]},), None,
         "request.roles[0].count", "is 10000; it must be from 1 to 500"),
        (generate_quote, ({"roles": [{"title": "qa tester", "cnt": 2}]},), None,
         "request.roles[0].count", "is required"),
        (generate_quote, ({"roles": [{"title": "qa", "count": 1, "colour": "red"}]},), None,
         "request.roles[0].colour", "is not a field"),
        (generate_quote, ({"roles": [{"title": "qa", "count": 1}], "tier": "gold"},), None,
         "request.tier", "must be one of ['standard', 'premium', 'enterprise']"),
        (generate_quote, (42,), None, "request", "must be a request"),
        (generate_quote, ("x" * 2001,), None, "request", "is 2001 characters; at most 2000"),
        (generate_quote, (), None, "request", "is required"),
        (generate_quote, ("a", "usd", "b"), None, "args", "takes 2 positional arguments"),
        (generate_quote, ("a VA", "JPY"), None, "currency",
         "must be one of ['usd', 'aud', 'gbp', 'eur'], not 'JPY'"),
        (send_quote, ("a VA", "a@example.com"), {"currency": 826}, "currency", "must be text"),
        (generate_quote, (), {"req": "2 accountants"}, "req", "is not a parameter"),
        (search_candidates, ({"per_page": 1000},), None, "query.per_page", "from 1 to 100"),
        (search_candidates, ({"page": "two"},), None, "query.page", "must be a whole number"),
        (search_candidates, ({"availability": ["now"]},), None, "query.availability[0]",
         "must be one of"),
        (capture_lead, ({"email": "a@example.com", "name": " "},), None, "lead.company",
         "is required"),
        (send_email, ({"to": []}, "key-1"), None, "message.to", "must not be empty"),
        (send_email, ({"to": "a@example.com"}, ""), None, "idempotency_key", "must not be empty"),
        (send_quote, ("2 accountants",), {"name": None}, "to", "is required"),
    ],
)  # fmt: skip
def test_arguments_are_checked_against_the_tasks_declaration(handle, args, kwargs, field, problem):
    with pytest.raises(InvalidArguments) as raised:
        handle._prepared(args, kwargs, None, None, None, None, None, None)
    assert raised.value.field == field
    assert problem in raised.value.problem, raised.value


@pytest.mark.parametrize("currency", ["GBP", "gbp", " Eur ", "AUD", "usd", None])
def test_a_quote_may_name_its_currency_in_any_case_or_none(currency):
    generate_quote._prepared(("a VA", currency), None, None, None, None, None, None, None)
    send_quote._prepared(
        ("a VA", "a@example.com"), {"currency": currency}, None, None, None, None, None, None
    )


@pytest.mark.parametrize(
    ("handle", "args", "kwargs"),
    [
        (generate_quote, ("2 senior accountants, office based",), None),
        (generate_quote, ({"text": "3 VAs"},), None),
        (generate_quote, ({"roles": [{"title": "Accountant", "level": "sr", "count": 2,
                                      "shift": "Night", "hours_per_week": 20}],
                           "workspace": "onsite", "tier": "Premium"},), None),
        (search_candidates, ({"q": "python", "per_page": "50", "availability": "immediate"},),
         None),
        (send_quote, ("2 accountants", "ana@example.com"), {"name": None}),
        (send_candidate_matches, (7, [1, "2"]), None),
        (capture_lead, ({"email": "a@example.com", "name": "Ana", "company": "Acme",
                         "source": "web", "utm": "x"},), None),
        (reindex_candidates, (), None),
    ],
)  # fmt: skip
def test_what_the_domain_accepts_passes_the_door(handle, args, kwargs):
    handle._prepared(args, kwargs, None, None, None, None, None, None)


def test_settings_come_from_the_environment_and_name_what_is_wrong():
    settings = from_environment({"REDIS_URL": "redis://cache:6380/2", "TASK_MAX_DEPTH": "50"})
    assert settings.broker_url == settings.result_url == "redis://cache:6380/2"
    assert settings.max_depth == 50
    with pytest.raises(ClientConfigError, match="TASK_MAX_PAYLOAD_BYTES must be a number"):
        from_environment({"TASK_MAX_PAYLOAD_BYTES": "lots"})
    with pytest.raises(ClientConfigError, match="REDIS_URL: the client publishes"):
        check_redis_url("REDIS_URL", "amqp://guest@rabbit//")


def test_a_refused_connection_is_known_to_have_written_nothing():
    import redis.exceptions

    assert producer.refused(redis.exceptions.ConnectionError("Error 111 connecting to x:1."))
    assert not producer.refused(redis.exceptions.TimeoutError("Timeout reading from socket"))


def test_importing_the_client_loads_nothing_of_the_platform_or_redis():
    code = (
        "import sys, time; t = time.perf_counter(); import taskplatform, taskplatform.tasks;"
        " print(time.perf_counter() - t);"
        " print([m for m in ('redis', 'kombu', 'celery', 'config', 'tasks', 'broker')"
        " if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[1] == "[]", out
    assert float(out[0]) < 0.5  # about 30 ms; the bound only catches a heavy import creeping in


def test_new_ids_are_version_4_uuids_as_uuid4_writes_them():
    import uuid

    ids = {message.new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 4 for i in ids)
