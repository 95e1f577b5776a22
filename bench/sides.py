"""What `make bench` compares: how to enqueue, run a worker and tell a drained queue, per side.

Every side runs the same two jobs, a no-op and a latency probe that records enqueue-to-start
in `bench:latency`, on the same Redis.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent

ENQUEUE = """
import sys, time
n = int(sys.argv[1])
{setup}
send(0)  # connect first
started = time.perf_counter()
for i in range(n):
    send(i)
print(n / (time.perf_counter() - started))
"""

#: Many jobs in a row: a side's own bulk call (`send_many(n)`), else its `.delay()` loop.
BULK = """
import sys, time
n = int(sys.argv[1])
{setup}
send(0)  # connect first
many = globals().get("send_many") or (lambda n: [send(i) for i in range(n)])
started = time.perf_counter()
many(n)
print(n / (time.perf_counter() - started))
"""

STEADY = """
import sys, time
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
{setup}
start = time.perf_counter()
for k in range(int(rate * seconds)):
    pause = start + k / rate - time.perf_counter()
    if pause > 0:
        time.sleep(pause)
    probe(time.time())
"""


@dataclass
class Side:
    name: str
    #: Python that defines send(i) (a no-op job) and probe(sent_at) (the latency job).
    setup: str
    #: The worker command for a concurrency (1: solo / one thread; 2: two processes).
    worker: Callable[[int], list[str]]
    #: Whether nothing is queued or held any more.
    drained: Callable[[redis.Redis], bool]
    #: The key the jobs wait in (its length falls when a worker starts taking).
    queue: str
    env: dict[str, str] = field(default_factory=dict)
    #: Only the publishing measures (its worker is another side's).
    enqueue_only: bool = False

    def environment(self, url: str) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_BROKER_URL": url,
                "LOG_FORMAT": "text", **self.env, "REDIS_URL": url}  # fmt: skip

    def enqueue_code(self) -> str:
        return ENQUEUE.format(setup=self.setup)

    def bulk_code(self) -> str:
        return BULK.format(setup=self.setup)

    def steady_code(self) -> str:
        return STEADY.format(setup=self.setup)


def _celery_worker(app: str, queue: str, include: str) -> Callable[[int], list[str]]:
    def argv(concurrency: int) -> list[str]:
        pool = ["solo"] if concurrency == 1 else ["prefork", "-c", str(concurrency)]
        return [sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queue, "--pool", *pool,
                "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                f"--include={include}", "-n", "bench@%h"]  # fmt: skip

    return argv


def _held(client: redis.Redis, pattern: str) -> int:
    return sum(client.llen(key) for key in client.scan_iter(pattern))


BARE = Side(
    name="bare Celery",
    setup="from bench.bare_app import noop, probe_latency\n"
    "send = noop.delay\nprobe = probe_latency.delay",
    worker=_celery_worker("bench.bare_app", "celery", "bench.bare_app"),
    drained=lambda c: not c.llen("celery") and not c.hlen("unacked"),
    queue="celery",
)


def _platform(name: str = "platform", variant: str = "") -> Side:
    return Side(
        name=name,
        setup="from bench.platform_tasks import noop, probe_latency\n"
        "send = noop.delay\nprobe = probe_latency.delay",
        worker=_celery_worker("config", "quote", "bench.platform_tasks"),
        drained=lambda c: (
            not c.llen("quote")
            and not c.hlen("unacked")
            and not _held(c, "taskplatform:broker:inflight:*")
        ),
        queue="quote",
        env={"APP_ENV": "test", "WATCHDOG_IDLE_SECONDS": "0", "BENCH_VARIANT": variant},
    )


PLATFORM = _platform()

#: A web app's side: the client alone (taskplatform), publishing to the platform's worker.
CLIENT = Side(
    name="platform client",
    setup="from taskplatform import TaskHandle\n"
    "noop = TaskHandle('quote.bench_noop', ignore_result=True)\n"
    "send = noop.delay\n"
    "probe = TaskHandle('quote.bench_probe_latency', ignore_result=True).delay\n"
    "send_many = lambda n: noop.delay_many([(i,) for i in range(n)])",
    worker=PLATFORM.worker,
    drained=PLATFORM.drained,
    queue="quote",
    env=PLATFORM.env,
    enqueue_only=True,
)

#: The platform with one guarantee taken away each (bench/platform_tasks.py): what it costs.
VARIANTS = [
    _platform("platform without task events", "no-events"),
    _platform("platform without statistics", "no-stats"),
    _platform("platform on kombu's transport", "kombu-transport"),
]


def _dramatiq_worker(concurrency: int) -> list[str]:
    # One or two processes, each with Dramatiq's default 8 threads: with one thread its
    # consumer sleeps whenever its two prefetched messages are out (about 270 jobs/s here),
    # which would measure a setting nobody runs.
    return [sys.executable, "-m", "dramatiq", "bench.dramatiq_app", "--processes",
            str(concurrency)]  # fmt: skip


DRAMATIQ = Side(
    name="Dramatiq",
    setup="from bench.dramatiq_app import noop, probe_latency\n"
    "send = noop.send\nprobe = probe_latency.send",
    worker=_dramatiq_worker,
    drained=lambda c: not c.llen("dramatiq:bench") and not c.hlen("dramatiq:bench.msgs"),
    queue="dramatiq:bench",
)

FLOOR = Side(
    name="Redis floor",
    setup="from bench import floor\nr = floor.client()\n"
    'send = lambda i: r.lpush(floor.QUEUE, \'{"task": "noop", "args": [%d]}\' % i)\n'
    "probe = lambda sent_at: floor.send_latency_probe(r)",
    worker=lambda concurrency: [
        sys.executable,
        "-m",
        "bench.floor",
        "consume",
        "-",
        str(concurrency),
    ],  # fmt: skip
    drained=lambda c: not c.llen("floor") and not _held(c, "floor:inflight:*"),
    queue="floor",
)


def available(variants: bool = False) -> list[Side]:
    """The sides this machine can run (Dramatiq only with the `bench` extra)."""
    sides = [BARE, PLATFORM, CLIENT, *(VARIANTS if variants else [])]
    try:
        import dramatiq  # noqa: F401
    except ImportError:
        print("Dramatiq is not installed (pip install -e '.[bench]'): left out", file=sys.stderr)
    else:
        sides.append(DRAMATIQ)
    return [*sides, FLOOR]
