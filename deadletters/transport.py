"""A Redis transport that survives bytes that are not a message, and dead-letters them.

kombu's Redis channel pops an item off the queue's list and decodes it as a kombu envelope;
anything else (a stray `LPUSH quote hello`) raises out of the consumer and the whole worker
exits, with the item already gone (GOTCHAS). This channel checks the envelope first: what
is not one becomes a dead letter (reason `undecodable`), and the worker carries on.

Named by the app's `broker_transport`, so it applies to every connection to the broker.
The two read paths below follow kombu 5.7's `Channel._brpop_read` and `Channel._get`.
"""

from __future__ import annotations

import logging
import uuid
from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

logger = logging.getLogger(__name__)


def envelope(item: bytes | str) -> dict[str, Any] | None:
    """The kombu envelope in `item`, or None when it is not one."""
    try:
        payload = loads(bytes_to_str(item))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    properties = payload.get("properties")
    if not isinstance(properties, dict) or not isinstance(properties.get("delivery_info"), dict):
        return None
    if "delivery_tag" not in properties or "body" not in payload:
        return None
    return payload


def dead_letter_raw(queue: str, item: bytes | str) -> None:
    """Keep bytes that were not a message; never raise into the consumer."""
    try:
        from deadletters import letters, spool  # imported here: producers never need them

        letter = letters.from_raw(
            task_id=f"undecodable-{uuid.uuid4()}",
            task_name="(undecodable)",
            queue=queue,
            raw=item,
            headers=None,
            exception_type="NotAMessage",
            exception_message=f"bytes in queue {queue!r} are not a kombu message",
            reason="undecodable",
            hostname=None,
        )
        where = spool.keep(letter)
        logger.error("bytes in queue %r were not a message: dead letter %s", queue, where)
    except Exception:
        logger.critical("DEAD LETTER CAPTURE FAILED for raw bytes in %r: %r", queue, item,
                        exc_info=True)  # fmt: skip


class Channel(kombu_redis.Channel):
    def _brpop_read(self, **options):
        try:
            try:
                dest__item = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if not dest__item:
                raise Empty()
            dest, item = dest__item
            dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(dest)
            payload = envelope(item)
            if payload is None:
                dead_letter_raw(dest, item)
            else:
                self.connection._deliver(payload, dest)
            return True
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()

    def _get(self, queue):
        with self.conn_or_acquire() as client:
            for pri in self.priority_steps:
                while item := client.rpop(self._q_for_pri(queue, pri)):
                    payload = envelope(item)
                    if payload is not None:
                        self._maybe_update_queues_expire(client, queue)
                        return payload
                    dead_letter_raw(queue, item)
            self._maybe_update_queues_expire(client, queue)
            raise Empty()


class Transport(kombu_redis.Transport):
    Channel = Channel
