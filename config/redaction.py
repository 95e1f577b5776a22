"""Redaction rules: what counts as a secret, and how it is masked.

The one place that decides what must never leave the process in clear: job status errors,
log lines, dead-letter rows and Sentry events all pass through `redact` / `redact_text`.
"""

from __future__ import annotations

import re
from typing import Any

from config.settings import settings

MASK = "[REDACTED]"

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

_KEY_PATTERN = "|".join(re.escape(part) for part in SENSITIVE_KEY_PARTS + settings.redacted_keys)
# `password=hunter2`, `"token": "abc"`, `Authorization: Bearer x`, `api_key='k'`
_ASSIGNMENT = re.compile(
    rf"""(?ix)
    (?P<key>["']?[\w-]*(?:{_KEY_PATTERN})[\w-]*["']?\s*[:=]\s*)
    (?P<value>"[^"]*"|'[^']*'|(?:bearer|basic)\s+\S+|[^\s,;&}}\]]+)
    """
)
# 13 to 19 digits, optionally grouped by spaces or dashes, that pass the Luhn check: card
# numbers (and not every long id or timestamp).
_CARD_NUMBER = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# user:password@ in URLs.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@", re.I)


def is_sensitive_key(key: object) -> bool:
    normalised = str(key).lower().replace("-", "_")
    return any(part in normalised for part in SENSITIVE_KEY_PARTS + settings.redacted_keys)


def redact_text(text: str) -> str:
    """Mask secrets inside free text: assignments, bearer tokens, URL passwords, card numbers."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _ASSIGNMENT.sub(lambda m: f"{m['key']}{MASK}", text)
    return _CARD_NUMBER.sub(lambda m: MASK if _luhn(m.group()) else m.group(), text)


def _luhn(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    checksum = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        checksum += digit
    return checksum % 10 == 0


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with sensitive keys masked and strings scrubbed."""
    if isinstance(value, dict):
        return {key: MASK if is_sensitive_key(key) else redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
