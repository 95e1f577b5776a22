"""What the client raises: each one says whether the job may have been queued."""

from __future__ import annotations

from typing import Any


class PayloadError(ValueError):
    """The producer refused a job: arguments not JSON-serialisable or too large, another
    serializer than JSON, a delay longer than the platform holds, a bad job key. Nothing
    reached the broker."""


class BrokerUnavailableError(ConnectionError):
    """The broker did not take the job within the publish timeouts. A connection that was
    refused queued nothing; one that timed out may have queued it: publish again with the
    same `job_key` to be safe. (In the platform's own processes the error is also a
    `kombu.exceptions.OperationalError`, as Celery's callers expect.)"""


class ResultStoreUnavailableError(ConnectionError):
    """The result store (the platform's Redis) did not answer a status read in time. The
    job itself is unaffected: ask again later."""


class BulkPublishError(BrokerUnavailableError):
    """A bulk publish failed part way. `queued` holds the jobs of the items that were sent
    before the failure (in order, by index); `unsent` the indexes of the items that were
    not, and `uncertain` those whose batch was written when the connection failed: they may
    have been queued. Publish the unsent and uncertain ones again with their job keys."""

    def __init__(
        self, message: str, queued: dict[int, Any], uncertain: list[int], unsent: list[int]
    ) -> None:
        super().__init__(message)
        self.queued, self.uncertain, self.unsent = queued, uncertain, unsent


class QueueFullError(Exception):
    """The job's queue holds QUEUE_MAX_DEPTH jobs already: nothing was queued. Answer 503
    (or 429) and let the caller try later; the workers are behind."""
