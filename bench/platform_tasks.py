"""A no-op on the platform's app: every guard, counter and signal of a real task."""

from config import app


@app.task(name="quote.bench_noop", ignore_result=True)
def noop(n: int) -> None:
    return None
