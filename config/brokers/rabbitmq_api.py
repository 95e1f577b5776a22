"""RabbitMQ's management HTTP API, read-only: what AMQP cannot tell a client.

A passive declare gives a queue's ready messages and consumers; only the management API
(RABBITMQ_MANAGEMENT_URL, else FLOWER_BROKER_API) gives the messages delivered and not yet
acknowledged, and the nodes' memory and disk alarms. Its counts are the broker's statistics,
up to its collection interval old (5 s by default). Nothing here reads or moves a message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlsplit

import httpx
from kombu.utils.url import parse_url

from config.settings import settings

TIMEOUT = 5.0


class ManagementApiError(RuntimeError):
    """The management API could not be read (unreachable, refused, or not the API)."""


def configured() -> bool:
    return settings.management_api_url is not None


def where() -> str:
    """The API's address without its credentials, for messages."""
    return _without_credentials(urlsplit(settings.management_api_url or "")).geturl()


def _without_credentials(parts: SplitResult) -> SplitResult:
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=f"{parts.hostname or ''}{port}")


def vhost() -> str:
    """The broker URL's virtual host (`amqp://host/` and `amqp://host//` are `/`)."""
    return parse_url(settings.broker_url).get("virtual_host") or "/"


def _get(path: str) -> Any:
    url = settings.management_api_url
    if url is None:
        raise ManagementApiError("no management API configured")
    parts = urlsplit(url)
    auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
    base = _without_credentials(parts).geturl().rstrip("/")
    try:
        response = httpx.get(f"{base}/{path}", auth=auth, timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ManagementApiError(f"RabbitMQ management API at {where()}: {exc}") from None


def queues() -> dict[str, dict[str, Any]]:
    """The broker's statistics of every queue of the virtual host, by name. A field the
    broker has not collected yet (a queue declared seconds ago) is missing, not 0."""
    columns = "name,type,messages_ready,messages_unacknowledged,consumers,head_message_timestamp"
    found = _get(f"queues/{quote(vhost(), safe='')}?columns={columns}")
    return {queue["name"]: queue for queue in found}


def alarms() -> list[str]:
    """A line per alarm in force on a node of the cluster (memory, disk)."""
    lines = []
    for node in _get("nodes?columns=name,mem_alarm,disk_free_alarm"):
        if node.get("mem_alarm"):
            lines.append(f"memory alarm on {node.get('name')}")
        if node.get("disk_free_alarm"):
            lines.append(f"disk alarm on {node.get('name')}")
    return lines
