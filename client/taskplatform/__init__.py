"""The task platform's client: what a web app installs to queue jobs and read their status.

    from taskplatform import BrokerUnavailableError, PayloadError, job_status
    from taskplatform.tasks import generate_quote

    job = generate_quote.delay(request)   # a Job: job.id goes back to the browser
    job_status(job.id)                    # {"status": "pending", "result": None, ...}

Importing it opens no connection, reads no service and changes nothing of other libraries;
redis-py and kombu are imported at the first publish or status read.
"""

from taskplatform.correlation import correlation_id
from taskplatform.errors import (
    BrokerUnavailableError,
    BulkPublishError,
    PayloadError,
    QueueFullError,
    ResultStoreUnavailableError,
)
from taskplatform.handles import Job, TaskHandle
from taskplatform.schemas import InvalidArguments
from taskplatform.settings import ClientConfigError, configure
from taskplatform.status import job_status, job_status_many

__all__ = [
    "BrokerUnavailableError",
    "BulkPublishError",
    "ClientConfigError",
    "InvalidArguments",
    "Job",
    "PayloadError",
    "QueueFullError",
    "ResultStoreUnavailableError",
    "TaskHandle",
    "configure",
    "correlation_id",
    "job_status",
    "job_status_many",
]
