"""Dead letters for what the broker's intake cannot run, and for jobs lost past the bound.

Named by the broker transport's options (`on_refused`, `on_lost`), so broker/ never imports
this package. Both run in a worker (or beat) process, never in a producer.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import uuid

from broker import intake
from config.delivery import DeliveryBoundExceeded
from config.settings import settings
from deadletters import letters, spool
from taskplatform.guard import PROTOCOL_HEADERS

logger = logging.getLogger(__name__)


def keep_refused(queue: str, item: bytes, refusal: intake.Refusal) -> str:
    """An item taken from `queue` that is not a runnable message: keep its raw bytes.
    Returns where the letter went (deadletters/spool.py)."""
    letter = letters.from_raw(
        task_id=refusal.task_id or f"{refusal.reason}-{uuid.uuid4()}",
        task_name=refusal.task_name or f"({refusal.reason})",
        queue=queue or None,  # "" for an in-flight entry that named no list
        raw=item,
        headers=refusal.headers,
        exception_type=refusal.error_type,
        exception_message=refusal.message,
        reason=refusal.reason,
        hostname=socket.gethostname(),
    )
    where = spool.keep(letter)
    logger.error("item in queue %r refused (%s): dead letter %s", queue, refusal.message, where,
                 extra=letters.log_fields(letter))  # fmt: skip
    return where


def keep_lost(queue: str, item: bytes, deliveries: int, broker_limit: int | None = None) -> str:
    """A job whose worker died MAX_DELIVERIES times (or, `broker_limit`, that RabbitMQ gave
    up on past its own delivery limit): a dead letter, and FAILURE for callers. Returns where
    the letter went."""
    # The platform's depth limit: a letter is built from the arguments, recursively.
    checked = intake.check(item, task_message=True, max_depth=settings.task_max_depth)
    if isinstance(checked, intake.Refusal):
        return keep_refused(queue, item, checked)
    headers = dict(checked.get("headers") or {})
    task_id, task_name = headers.get("id") or str(uuid.uuid4()), headers.get("task") or "?"
    exc = DeliveryBoundExceeded.for_task(task_name, task_id, deliveries, broker_limit)
    args, kwargs, embed = _body(checked)
    letter = letters.from_job(
        task_id=task_id,
        task_name=task_name,
        queue=queue,
        args=args,
        kwargs=kwargs,
        embed=embed,
        headers={k: v for k, v in headers.items() if k not in PROTOCOL_HEADERS},
        properties=dict(checked.get("properties", {}).get("delivery_info") or {}),
        exception_type=type(exc).__name__,
        exception_message=str(exc),
        traceback=None,
        attempts=(headers.get("retries") or 0) + deliveries,
        reason=DeliveryBoundExceeded.reason,
        hostname=socket.gethostname(),
    )
    where = spool.keep(letter)
    logger.error("%s[%s] lost its worker %d times: dead letter %s", task_name, task_id,
                 deliveries, where, extra=letters.log_fields(letter))  # fmt: skip
    _mark_failed(task_id, exc)
    return where


def _body(envelope: dict) -> tuple[list, dict, dict]:
    body = envelope["body"]
    if envelope.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    args, kwargs, embed = json.loads(body)
    return list(args), dict(kwargs), dict(embed or {})


def _mark_failed(task_id: str, exc: BaseException) -> None:
    """Tell whoever waits on the result; the dead letter is already safe."""
    try:
        from celery import current_app

        current_app.backend.mark_as_failure(task_id, exc)
    except Exception as error:
        logger.warning("could not mark %s as failed in the result store: %s", task_id, error)
