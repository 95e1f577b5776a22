"""The intake check: what may pass from a Redis list to kombu and Celery.

Why it exists: kombu's virtual `Message` constructor, Celery's consumer (`on_task_received`),
its strategy and `Request` raise on many shapes of item, and an exception there is not a
refused message but an `Unrecoverable error`: the whole worker exits, the item is restored,
and the next worker dies on it too (GOTCHAS, "Failure paths"). So every item a consumer
fetches crosses `check` first; what comes out is either the envelope kombu would have
decoded, untouched, or a `Refusal` saying why, which the transport dead-letters.

What it promises:
- It never raises, whatever the input, and runs in time linear in the item's size.
- Given `max_bytes` and `max_depth` (the platform's workers give both), it refuses an item
  over the first and one nested deeper than the second (the body, and the envelope with its
  headers): Celery's prefork parent pickles each job for its pool, and a few hundred levels
  raise RecursionError there, which would end the worker.
- A passing item decodes exactly as kombu's `kombu.utils.json.loads(item)` does (the same
  `__type__` object hook), so the transport hands kombu the very dict it returns.
- A task message (`task_message=True`) also passes only when Celery could run it: JSON
  content, protocol 2 headers Celery reads before the task runs, and a body of
  `[args, kwargs, embed]`. The body is decoded once here and again by kombu: the price of
  a worker that cannot be killed by one stray item.
- Other lists (a kombu user's queues, pidbox replies) are checked at the envelope level
  only: what their content type may be, and whether the body decodes, is their consumer's
  to decide (its `accept`), as on kombu's own transport.

Pure: no Redis, no Celery app. The rules mirror kombu 5.7 and Celery 5.7; the unit tests
replay each refused shape through the real consumer code to show what it would do.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from celery.utils.time import maybe_iso8601, maybe_make_aware
from kombu.utils.json import object_hook

from taskplatform import settings as client_settings
from taskplatform.guard import nesting_exceeds

#: `Refusal.reason` for an item that is not a kombu envelope or does not decode.
UNDECODABLE = "undecodable"
#: `Refusal.reason` for a well-formed envelope the platform will not run.
REJECTED = "rejected"

#: The only content type a task queue accepts (the app's `accept_content=["json"]`).
JSON = "application/json"

#: Longest task id or name reported in a refusal: the dead-letter columns hold 255.
MAX_LABEL = 255

#: Longest `eta`/`expires` value parsed. ISO 8601 timestamps are under 40 characters, and
#: dateutil's parser is not promised to be linear on megabytes of text.
MAX_DATETIME_TEXT = 64

#: kombu's JSON loader without its per-call set-up: `kombu.utils.json.loads` builds a new
#: decoder with kombu's `__type__` hook on every call; this is that decoder, built once.
_JSON = json.JSONDecoder(object_hook=object_hook)

#: The form `datetime.isoformat()` gives, which Celery's producers send and dateutil's
#: parser (Celery's) accepts: checked with the C parser instead, dateutil only for the rest.
#: The offset is spelled out because Python's parser takes minutes up to 99 and dateutil's
#: only up to 59.
_ISOFORMAT = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[+-](?:[01]\d|2[0-3]):[0-5]\d|Z)?",
    re.ASCII,
)

#: The deepest nesting of a task's body, `[args, kwargs, embed]` counted as one level (and
#: of the envelope around the headers): the default of TASK_MAX_DEPTH. Far below what breaks
#: the worker (pickling for the pool fails at about 480 levels), far above real arguments.
MAX_DEPTH = client_settings.MAX_DEPTH

#: Embed keys Celery turns into signatures after the task runs: None or a list of dicts.
_SIGNATURE_LISTS = ("callbacks", "errbacks", "chain")

#: What Celery reads of every signature it builds from a dict (Signature.from_dict, and the
#: chain's `options` read directly in its failure path): a dict its producers always write.
_SIGNATURE_TYPES = (None, "chain", "group", "chord", "chunks", "xmap", "xstarmap")


@dataclass(frozen=True)
class Refusal:
    """Why an item may not reach kombu or Celery: enough for a dead letter and a log line."""

    reason: str  # UNDECODABLE or REJECTED
    error_type: str  # short CamelCase: NotAMessage, MalformedEnvelope, ContentDisallowed...
    message: str  # one line for a human; never the raw body
    task_id: str | None = None
    task_name: str | None = None
    headers: dict | None = None


class _Refused(Exception):
    """Internal: carries a refusal out of the nested checks (never leaves this module)."""

    def __init__(self, reason: str, error_type: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.error_type, self.message = reason, error_type, message


def check(
    item: bytes | str,
    *,
    task_message: bool,
    max_bytes: int | None = None,
    max_depth: int | None = None,
) -> dict | Refusal:
    """The decoded kombu envelope (the dict kombu would pass to Transport._deliver), or why
    it is refused. Never raises."""
    try:
        envelope = _decode_envelope(item)
    except _Refused as refused:
        return Refusal(refused.reason, refused.error_type, refused.message)
    except Exception as exc:  # a rule above failed to foresee something: refuse, never raise
        return Refusal(UNDECODABLE, "NotAMessage", f"the item could not be read ({_name(exc)})")
    headers = envelope.get("headers")
    try:
        if max_depth is not None and nesting_exceeds(envelope, max_depth + 1):
            # Named by its labels only: headers this deep must not reach a dead letter whole.
            shown = _refusal(REJECTED, "TooDeep", "", headers)
            message = f"the envelope is nested deeper than {max_depth + 1} levels"
            return Refusal(REJECTED, "TooDeep", message, shown.task_id, shown.task_name)
        if max_bytes is not None and len(item) > max_bytes:
            raise _Refused(REJECTED, "TooLarge", f"the item is {len(item)} bytes, over {max_bytes}")
        _check_envelope(envelope, headers, task_message, max_depth)
        return envelope
    except _Refused as refused:
        return _refusal(refused.reason, refused.error_type, refused.message, headers)
    except Exception as exc:
        message = f"the envelope could not be checked ({_name(exc)})"
        return _refusal(UNDECODABLE, "MalformedEnvelope", message, headers)


def _decode_envelope(item: Any) -> dict:
    """The envelope as kombu's JSON loader reads it: strict UTF-8, kombu's object hook.

    kombu's Redis channel decodes bytes with errors="replace", which silently alters
    arguments; invalid UTF-8 is refused here instead.
    """
    if isinstance(item, str):
        text = item
    elif isinstance(item, bytes | bytearray | memoryview):
        try:
            text = bytes(item).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Refused(
                UNDECODABLE, "NotAMessage", f"the item is not UTF-8 (bad byte at {exc.start})"
            ) from None
    else:
        raise _Refused(UNDECODABLE, "NotAMessage", f"the item is a {_name(item)}, not bytes")
    try:
        envelope = _JSON.decode(text)
    except RecursionError:
        raise _Refused(UNDECODABLE, "NotAMessage", "the item is JSON nested too deep") from None
    except Exception as exc:
        # ValueError for text that is not JSON (NUL bytes, truncation); TypeError and others
        # for a {"__type__": ..., "__value__": ...} marker kombu's hook cannot build.
        raise _Refused(
            UNDECODABLE, "NotAMessage", f"the item is not a JSON kombu envelope ({_name(exc)})"
        ) from None
    if not isinstance(envelope, dict):
        raise _Refused(
            UNDECODABLE,
            "NotAMessage",
            f"the item is JSON but {_json_type(envelope)}, not an object",
        )
    return envelope


def _check_envelope(
    envelope: dict, headers: Any, task_message: bool, max_depth: int | None
) -> None:
    """Raise _Refused unless kombu's Message, its Redis QoS and (for tasks) Celery accept it."""
    properties = envelope.get("properties")
    if not isinstance(properties, dict):
        _malformed(f"'properties' is {_json_type(properties)}, not an object")
    delivery_info = properties.get("delivery_info")
    if not isinstance(delivery_info, dict):
        _malformed(f"'properties.delivery_info' is {_json_type(delivery_info)}, not an object")
    for key in ("exchange", "routing_key"):
        # kombu's Redis QoS.append reads both when it records the unacked message, its
        # restore looks them up in a dict, and a dead letter takes its queue from them.
        if key not in delivery_info:
            _malformed(f"'properties.delivery_info' lacks {key!r}")
        if delivery_info[key] is not None and not _is_text(delivery_info[key]):
            _malformed(f"'properties.delivery_info.{key}' is not a string")
    tag = properties.get("delivery_tag")
    if not isinstance(tag, str) or not tag:
        _malformed(f"'properties.delivery_tag' is {_json_type(tag)}, not a non-empty string")
    priority = properties.get("priority")
    if priority is not None and not _is_number(priority):
        # int(inf) raises OverflowError where kombu reads the priority (publish, restore).
        _malformed("'properties.priority' is not a finite number")
    if headers is not None and not isinstance(headers, dict):
        # kombu's Message calls headers.get("compression"): a string or a list raises.
        raise _Refused(
            UNDECODABLE, "MalformedHeaders", f"'headers' is {_json_type(headers)}, not an object"
        )
    content_type = envelope.get("content-type")
    if content_type is not None and not isinstance(content_type, str):
        _malformed(f"'content-type' is {_json_type(content_type)}, not a string")
    content_encoding = envelope.get("content-encoding")
    if content_encoding is not None and not isinstance(content_encoding, str):
        _malformed(f"'content-encoding' is {_json_type(content_encoding)}, not a string")
    body = envelope.get("body")
    if not isinstance(body, str):
        _malformed(f"'body' is {_json_type(body)}, not a string")
    raw = _body_bytes(body, properties.get("body_encoding"))
    if task_message:
        _check_task(content_type, headers, raw, max_depth)


def _body_bytes(body: str, encoding: Any) -> bytes:
    """The body bytes kombu's virtual Message would hold (Channel.decode_body + postencode)."""
    try:
        if encoding is None or (isinstance(encoding, str) and encoding.lower() in ("", "utf-8")):
            return body.encode("utf-8")
        if encoding == "base64":
            # Exactly kombu's Base64.decode: non-validating, so the same bytes come out.
            return base64.b64decode(body.encode("utf-8"))
    except UnicodeEncodeError:
        raise _Refused(
            UNDECODABLE, "BadBodyEncoding", "the body holds a lone surrogate, not text"
        ) from None
    except ValueError:  # binascii.Error: bad padding or length
        raise _Refused(UNDECODABLE, "BadBodyEncoding", "the body is not valid base64") from None
    # kombu looks the encoding up in its codecs ({"base64"}) and calls None.decode otherwise.
    raise _Refused(
        UNDECODABLE,
        "BadBodyEncoding",
        f"body encoding {_clip(encoding)} is not base64 (kombu knows no other)",
    )


def _decode_body(raw: bytes) -> Any:
    """The body as kombu's JSON deserializer reads it (UTF-8, kombu's object hook)."""
    try:
        return _JSON.decode(raw.decode("utf-8"))
    except Exception as exc:
        raise _Refused(UNDECODABLE, "BodyNotJson", f"the body is not JSON ({_name(exc)})") from None


def _check_task(content_type: Any, headers: Any, raw: bytes, max_depth: int | None) -> None:
    """Celery protocol 2, as far as Celery reads it before the task body runs."""
    if content_type != JSON:
        # Pickle, YAML and the rest are disallowed; application/data, application/text and
        # an absent type are "trusted" raw bytes that Celery then fails to unpack.
        shown = "absent" if not content_type else _clip(content_type)
        raise _Refused(REJECTED, "ContentDisallowed", f"content type {shown} is not {JSON}")
    if headers is None:  # absent or null: nothing says what this is, let alone which task
        raise _Refused(UNDECODABLE, "MalformedHeaders", "no headers: not a task message")
    if not isinstance(headers, dict):
        _bad_headers(f"'headers' is {_json_type(headers)}: not a task protocol 2 message")
    if headers.get("compression"):
        raise _Refused(REJECTED, "ContentDisallowed", "a compressed body (no producer sends one)")
    for name in ("task", "id"):
        value = headers.get(name)
        if not _is_text(value) or not value:
            shown = "not valid text" if isinstance(value, str) and value else _json_type(value)
            _bad_headers(f"header {name!r} is {shown}, not a non-empty string")
    _check_headers(headers)
    body = _decode_body(raw)
    _check_depth(body, max_depth, "the body")
    if not isinstance(body, list) or len(body) != 3:
        shape = f"a list of {len(body)}" if isinstance(body, list) else _json_type(body)
        _bad_body(f"the body is {shape}, not [args, kwargs, embed]")
    args, kwargs, embed = body
    if not isinstance(args, list):
        _bad_body(f"args is {_json_type(args)}, not a list")
    if not isinstance(kwargs, dict):
        _bad_body(f"kwargs is {_json_type(kwargs)}, not an object")
    if not isinstance(embed, dict):
        _bad_body(f"embed is {_json_type(embed)}, not an object")
    for key in _SIGNATURE_LISTS:
        value = embed.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            _bad_body(f"embed {key!r} is {_json_type(value)}, not a list of signatures")
        for index, signature in enumerate(value):
            _check_signature(signature, f"embed {key!r}[{index}]")
    chord = embed.get("chord")
    if chord is not None:
        _check_signature(chord, "embed 'chord'")


def _check_signature(signature: Any, where: str) -> None:
    """An embedded signature as strictly as the message itself: Celery builds it after the
    task ran (or failed), where an error escapes its result handling and leaves neither a
    FAILURE nor a dead letter. The signatures nested in it (a chain's or group's tasks, a
    chord's header and body, links) are checked too; the depth check bounds the recursion."""
    if not isinstance(signature, dict):
        _bad_body(f"{where} is {_json_type(signature)}, not a signature")
    task = signature.get("task")
    if not _is_text(task) or not task:
        _bad_body(f"{where} names no task ('task' is {_json_type(task)})")
    for key, kind, name in (("args", list, "a list"), ("kwargs", dict, "an object"),
                            ("options", dict, "an object")):  # fmt: skip
        if not isinstance(signature.get(key), kind):
            _bad_body(f"{where} {key!r} is {_json_type(signature.get(key))}, not {name}")
    subtask_type = signature.get("subtask_type")
    if subtask_type not in _SIGNATURE_TYPES:
        shown = _clip(subtask_type) if isinstance(subtask_type, str) else _json_type(subtask_type)
        _bad_body(f"{where} has an unknown subtask_type {shown}")
    if not isinstance(signature.get("immutable", False), bool):
        _bad_body(f"{where} 'immutable' is not a boolean")
    kwargs, options = signature["kwargs"], signature["options"]
    nested: list[tuple[Any, str]] = []
    if subtask_type in ("chain", "group"):
        tasks = kwargs.get("tasks")
        if not isinstance(tasks, list):
            _bad_body(f"{where} holds no list of tasks")
        nested += [(sig, f"{where} task {i}") for i, sig in enumerate(tasks)]
    elif subtask_type == "chord":
        header, body = kwargs.get("header"), kwargs.get("body")
        if isinstance(header, list):
            nested += [(sig, f"{where} header {i}") for i, sig in enumerate(header)]
        else:
            nested.append((header, f"{where} header"))
        if body is not None:
            nested.append((body, f"{where} body"))
    elif subtask_type in ("chunks", "xmap", "xstarmap"):
        nested.append((kwargs.get("task"), f"{where} task"))
        if not isinstance(kwargs.get("it"), list):
            _bad_body(f"{where} 'it' is not a list")
    for key in ("link", "link_error"):
        links = options.get(key)
        if links is None:
            continue
        for i, sig in enumerate(links if isinstance(links, list) else [links]):
            nested.append((sig, f"{where} {key} {i}"))
    for sig, inner in nested:
        _check_signature(sig, inner)


def _check_depth(value: Any, limit: int | None, what: str) -> None:
    """Refuse a value nested deeper than `limit` (a container counts one level), without
    recursing: the check itself must not be what breaks on a deep item."""
    if limit is not None and nesting_exceeds(value, limit):
        raise _Refused(REJECTED, "TooDeep", f"{what} is nested deeper than {limit} levels")


def _check_headers(headers: dict) -> None:
    """The optional headers Celery's Request and strategy read in the consumer itself."""
    for name in ("eta", "expires"):
        value = headers.get(name)
        if value is not None and not _is_datetime_text(value):
            # Celery rejects an unparseable one, but "" or 0 passes its parser as None and
            # then raises AttributeError in maybe_make_aware: the worker dies.
            _bad_headers(f"header {name!r} is not an ISO 8601 date Celery can schedule")
    if "retries" in headers and type(headers["retries"]) is not int:
        _bad_headers(f"header 'retries' is {_json_type(headers['retries'])}, not an integer")
    timelimit = headers.get("timelimit")
    if timelimit is not None and not (
        isinstance(timelimit, list | tuple)
        and len(timelimit) == 2
        and all(limit is None or _is_number(limit) for limit in timelimit)
    ):
        # Request.execute_using_pool unpacks it into (hard, soft) in the consumer.
        _bad_headers("header 'timelimit' is not [hard, soft] seconds")
    shadow = headers.get("shadow")
    if shadow is not None and not _is_text(shadow):
        _bad_headers(f"header 'shadow' is {_json_type(shadow)}, not a string")
    stamped = headers.get("stamped_headers")
    if stamped is not None and not (
        isinstance(stamped, list) and all(isinstance(name, str) for name in stamped)
    ):
        # Request.revoked() looks each one up in a dict: a list inside raises TypeError.
        _bad_headers("header 'stamped_headers' is not a list of names")
    stamps = headers.get("stamps")
    if stamps is not None and not isinstance(stamps, dict):
        _bad_headers(f"header 'stamps' is {_json_type(stamps)}, not an object")


def _is_datetime_text(value: Any) -> bool:
    """Whether Celery's Request would parse `value` as it does an ETA, and the strategy
    could turn it into a timestamp."""
    if not isinstance(value, str) or not value or len(value) > MAX_DATETIME_TEXT:
        return False
    if _ISOFORMAT.fullmatch(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:  # 24:00, a leap second: dateutil may still take it
            pass
        else:
            # Only the first and last years can overflow when Celery converts to local time.
            if 1 < parsed.year < 9999:
                return True
    try:
        parsed = maybe_iso8601(value)
        if not isinstance(parsed, datetime):
            return False
        maybe_make_aware(parsed).astimezone(None).timestamp()
    except Exception:  # ValueError, OverflowError, and whatever dateutil raises
        return False
    return True


def _is_text(value: Any) -> bool:
    """A string that can become a Redis key or a log line: no lone surrogates."""
    if not isinstance(value, str):
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _refusal(reason: str, error_type: str, message: str, headers: Any) -> Refusal:
    if not isinstance(headers, dict):
        return Refusal(reason, error_type, message)
    return Refusal(
        reason,
        error_type,
        message,
        task_id=label(headers.get("id")),
        task_name=label(headers.get("task")),
        headers=headers,
    )


def label(value: Any) -> str | None:
    """A header usable as a dead letter's task id or name, else None."""
    if _is_text(value) and 0 < len(value) <= MAX_LABEL and "\x00" not in value:
        return value
    return None


def _malformed(message: str) -> NoReturn:
    raise _Refused(UNDECODABLE, "MalformedEnvelope", message)


def _bad_headers(message: str) -> NoReturn:
    raise _Refused(REJECTED, "MalformedHeaders", message)


def _bad_body(message: str) -> NoReturn:
    raise _Refused(REJECTED, "MalformedTaskBody", message)


def _json_type(value: Any) -> str:
    """How a decoded JSON value reads to a human: never the value itself."""
    if value is None:
        return "missing or null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string" if value else "an empty string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {_name(value)}"  # built by kombu's __type__ hook: datetime, Decimal, UUID...


def _name(value: Any) -> str:
    return type(value).__name__


def _clip(value: Any) -> str:
    """A short, quoted, ASCII rendering of a small envelope field (a content type) for a
    message: control characters and NUL escaped, since the message may land in Postgres."""
    if not isinstance(value, str):
        return _json_type(value)
    text = repr(value[:60]).encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= 70 else text[:67] + "..."
