"""Bare Celery, as a team would start: the baseline the platform is measured against."""

import os

from celery import Celery

app = Celery("bare", broker=os.environ["BENCH_BROKER_URL"])
app.conf.update(task_ignore_result=True, worker_prefetch_multiplier=4)


@app.task(name="bench.noop")
def noop(n: int) -> None:
    return None
