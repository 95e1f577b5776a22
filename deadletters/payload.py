"""Sealing a failed job's real arguments so a replay can use them and nothing else can.

Rows show redacted arguments. The real ones are kept only sealed with Fernet keys from
DEADLETTER_ENCRYPTION_KEY (comma-separated, newest first, so keys can rotate). Without a
key nothing is sealed: the default is safe, and a dead letter whose arguments needed
redaction cannot be replayed (the replay would send masked values); one whose arguments
held nothing sensitive replays from its row as it is.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from config.settings import settings


class SealError(RuntimeError):
    """A sealed payload cannot be opened: no key, or not the key it was sealed with."""


@cache
def _fernet() -> MultiFernet | None:
    if not settings.deadletter_encryption_key:
        return None
    keys = [Fernet(key.strip()) for key in settings.deadletter_encryption_key.split(",")]
    return MultiFernet(keys)


def can_seal() -> bool:
    return _fernet() is not None


def seal(data: Any) -> str | None:
    """Encrypt a JSON value; None when no key is configured."""
    fernet = _fernet()
    if fernet is None:
        return None
    return fernet.encrypt(json.dumps(data).encode()).decode()


def unseal(token: str) -> Any:
    fernet = _fernet()
    if fernet is None:
        raise SealError("DEADLETTER_ENCRYPTION_KEY is not set: cannot open sealed arguments")
    try:
        return json.loads(fernet.decrypt(token.encode()))
    except InvalidToken:
        raise SealError(
            "sealed arguments do not open with DEADLETTER_ENCRYPTION_KEY: sealed with a key"
            " that is no longer listed"
        ) from None
