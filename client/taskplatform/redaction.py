"""Redaction rules: what counts as a secret, and how it is masked.

They live in the client because the client shows arguments first (the reprs a message
carries for logs and Flower); the platform imports the same rules.

The one place that decides what must never leave the process in clear: job status errors,
log lines, dead-letter rows, Sentry events, task events (what Flower shows), exceptions in
the result backend and the censored configuration all pass through `redact` / `redact_text`.

Every pattern runs in linear time: each can start only at the beginning of a word, and
nothing it has matched is retried (atomic groups, possessive quantifiers). A regex with
nested quantifiers took 49 s on 20 kB of unbroken text; this one takes milliseconds. Text
longer than SCAN_LIMIT is cut before it is scanned, so no input can hold a caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from taskplatform.settings import current

#: REDACT_KEYS, read once: the patterns below are compiled with them.
_EXTRA_KEYS = current().redacted_keys

MASK = "[REDACTED]"

#: Characters of one text that are scanned and shown; the rest is cut, its length noted.
SCAN_LIMIT = 64 * 1024

#: A key is sensitive when its normalised name contains one of these, or one of REDACT_KEYS.
SENSITIVE_KEY_PARTS: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "session",
    "card",
    "cvv",
    "cvc",
    "iban",
    "private_key",
    "credential",
)

#: Words that, followed by a space, introduce a secret: `token abc123`, `Bearer eyJ...`.
SPACED_KEY_PARTS = ("password", "passwd", "secret", "token", "apikey", "api_key", "bearer")


def _part(part: str) -> str:
    """`api_key` also as `api-key` and `apikey`, as `is_sensitive_key` reads keys."""
    return "[-_]?".join(re.escape(piece) for piece in part.split("_"))


def _key(parts: tuple[str, ...]) -> str:
    """A whole word holding one of `parts`, matched once from its first character."""
    alternatives = "|".join(_part(part) for part in parts)
    return rf"(?<![\w-])(?>[\w-]*?(?:{alternatives})[\w-]*+)"


def _key_ending(parts: tuple[str, ...]) -> str:
    """A whole word ending in one of `parts` (`access_token`, not `tokenizer`)."""
    spellings = {part.replace("_", sep) for part in parts for sep in ("_", "-", "")}
    endings = "|".join(f"(?<={re.escape(spelling)})" for spelling in sorted(spellings))
    return rf"(?<![\w-])[\w-]++(?:{endings})"


# A value ends at whitespace or a separator; a quoted one at its closing quote (escaped
# quotes skipped, within 512 chars). An already masked value is left as it is.
_BARE_VALUE = r"[^\s,;&}\]\)]++"
_QUOTED = r"""(?:"(?:[^"\\\n]|\\.){0,512}+"|'(?:[^'\\\n]|\\.){0,512}+')"""
_VALUE = rf"(?!{re.escape(MASK)})(?:{_QUOTED}|(?:bearer|basic|token)\s++\S++|{_BARE_VALUE})"

# `password=hunter2`, `"token": "abc"`, `Authorization: Bearer x`, `api_key='k'`
_ASSIGNMENT = re.compile(
    rf"""(?ix)
    (?P<key>["']?{_key(SENSITIVE_KEY_PARTS + _EXTRA_KEYS)}["']?[ \t]*+[:=][ \t]*+)
    (?P<value>{_VALUE})
    """
)
# `token abc123`, `Bearer eyJhbGciOi`: masked when the word after looks like a secret.
_SPACED = re.compile(
    rf"(?i)(?P<key>{_key_ending(SPACED_KEY_PARTS)}[ \t]++)(?!{re.escape(MASK)})"
    rf"(?P<value>{_BARE_VALUE})"
)
# 13 to 19 digits, optionally grouped by spaces or dashes, that pass the Luhn check: card
# numbers (and not every long id or timestamp).
_CARD_NUMBER = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# user:password@ in URLs (the password may hold `@`: the last one before the host counts).
_URL_PASSWORD = re.compile(
    r"(?i)(?<![a-z0-9+.-])(?P<scheme>[a-z][a-z0-9+.-]*+://[^:/@\s]*+:)(?!\[REDACTED\]@)[^/\s]*@"
)


def is_sensitive_key(key: object) -> bool:
    normalised = str(key).lower().replace("-", "_")
    return any(part in normalised for part in SENSITIVE_KEY_PARTS + _EXTRA_KEYS)


def redact_text(text: str) -> str:
    """Mask secrets inside free text: assignments, `token x` and bearer forms, URL
    passwords, card numbers. Text past SCAN_LIMIT is cut, not shown."""
    if len(text) > SCAN_LIMIT:
        text = f"{text[:SCAN_LIMIT]}... [{len(text) - SCAN_LIMIT} more characters cut]"
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _ASSIGNMENT.sub(lambda m: f"{m['key']}{MASK}", text)
    text = _SPACED.sub(_mask_spaced, text)
    return _CARD_NUMBER.sub(lambda m: MASK if _luhn(m.group()) else m.group(), text)


def _mask_spaced(match: re.Match) -> str:
    """`Bearer x` is always a credential; after `token` or `password`, a word is masked when
    it looks like one (a digit in it, or 16 characters and more): `token expired` stays."""
    value = match["value"]
    secret_like = (
        match["key"].strip().lower().endswith("bearer")
        or len(value) >= 16
        or any(c.isdigit() for c in value)
    )
    if not secret_like:
        return match.group()
    return f"{match['key']}{MASK}"


def _luhn(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    checksum = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        checksum += digit
    return checksum % 10 == 0


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with sensitive keys masked and strings scrubbed (bytes
    are shown as text, and a number that is a card number is masked)."""
    if isinstance(value, Mapping):
        return {key: MASK if is_sensitive_key(key) else redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**12:
        text = str(value)  # a card number passed as a number
        return MASK if redact_text(text) != text else value
    return value
