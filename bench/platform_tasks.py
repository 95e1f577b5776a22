"""A no-op on the platform's app: every guard, counter and signal of a real task."""

from config import app


@app.task(name="quote.bench_noop", ignore_result=True)
def noop(n: int) -> None:
    return None


@app.task(name="quote.bench_started_at")
def started_at() -> float:
    """When a worker started it: enqueue-to-start latency, on the same clock."""
    import time

    return time.time()
