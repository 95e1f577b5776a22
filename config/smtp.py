"""Connecting to the mail server named by SMTP_URL.

`smtp://host:25` (plain), `smtp+starttls://user:password@host:587` (STARTTLS) or
`smtps://user:password@host:465` (TLS from the start).
"""

from __future__ import annotations

import smtplib
import ssl
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


def connect(url: str, timeout: float = 10.0) -> smtplib.SMTP:
    """An SMTP connection, logged in when the URL carries credentials."""
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port or DEFAULT_PORTS[parts.scheme]
    if parts.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
        if parts.scheme == "smtp+starttls":
            client.starttls(context=ssl.create_default_context())
    if parts.username:
        client.login(unquote(parts.username), unquote(parts.password or ""))
    return client
