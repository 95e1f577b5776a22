"""Bare Celery, as a team would start: the baseline the platform is measured against."""

import os

from celery import Celery

app = Celery("bare", broker=os.environ["BENCH_BROKER_URL"])
# kombu's own Redis transport, named: the platform registers its transport for redis://
# in any process that imports config (the celery CLI does, through its plugins).
app.conf.update(
    task_ignore_result=True,
    worker_prefetch_multiplier=4,
    broker_transport="kombu.transport.redis:Transport",
)


@app.task(name="bench.noop")
def noop(n: int) -> None:
    return None
