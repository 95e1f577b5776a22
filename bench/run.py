"""`make bench`: the platform against bare Celery, Dramatiq and the Redis floor, in one run.

    .venv/bin/python -m bench.run [--rounds 3] [--jobs 2000] [--latency-seconds 5]

Every side runs on one private redis-server (append-only, as in production), in rounds that
alternate between sides, so a slow minute of the machine hits every side alike; the table
shows each measure's median over the rounds:

- enqueue: jobs/s one process sends (`.delay()`, Dramatiq's `.send()`, an LPUSH), on the
  append-only Redis and on one without append-only (Redis's default);
- bulk: jobs/s for --bulk-jobs in a row: the client's `.delay_many()`, every other side's
  own loop (its `.delay()` or `.send()`);
- drain solo / drain 2: jobs/s one worker empties a queue of no-ops with one process (solo
  pool, one thread) or two (prefork -c 2, two processes);
- latency p50 / p99: enqueue-to-start, in ms, with probes sent at a steady rate (200/s);
- idle RSS: MB of an idle worker's process tree (solo);
- commands / round trips per job: from the server's command stats and a counting proxy,
  enqueue and a solo drain together.

With `--variants`, the platform also runs with one guarantee off at a time (task events,
statistics, reliable fetch): what each costs. Ratios are platform / bare Celery (above 1
is faster for rates; below 1 is better for latency and memory). Results go to
bench/results/<date>.json. A tool, not a test: it asserts nothing and does not run in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform as host
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.proxy import CountingProxy, commands  # noqa: E402
from bench.sides import Side, available  # noqa: E402
from devstack.servers import RedisServer  # noqa: E402

RESULTS = ROOT / "bench" / "results"

MEASURES = [
    # key, label, unit, better
    ("enqueue", "enqueue", "jobs/s", "higher"),
    ("enqueue_plain", "enqueue, Redis without append-only", "jobs/s", "higher"),
    ("bulk", "bulk (delay_many for the client)", "jobs/s", "higher"),
    ("drain_solo", "drain, solo", "jobs/s", "higher"),
    ("drain_2", "drain, 2 processes", "jobs/s", "higher"),
    ("latency_p50", "latency p50 (200/s)", "ms", "lower"),
    ("latency_p99", "latency p99 (200/s)", "ms", "lower"),
    ("rss", "idle worker RSS", "MB", "lower"),
    ("commands", "Redis commands per job", "", "lower"),
    ("round_trips", "round trips per job", "", "lower"),
]


class Worker:
    """A worker command in its own process group, stopped with its children."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            argv, env=env, cwd=ROOT, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def rss_mb(self) -> float:
        return sum(_rss_kb(pid) for pid in _tree(self.process.pid)) / 1024

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        except ProcessLookupError:
            pass


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            pids += _tree(int(child))
    return pids


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _wait(predicate, timeout: float, what: str, interval: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(interval)


def _python(code: str, args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout


def enqueue(side: Side, url: str, jobs: int) -> float:
    return float(_python(side.enqueue_code(), [str(jobs)], side.environment(url)).split()[-1])


def bulk(side: Side, url: str, jobs: int) -> float:
    return float(_python(side.bulk_code(), [str(jobs)], side.environment(url)).split()[-1])


def drain(side: Side, url: str, client: redis.Redis, concurrency: int) -> float:
    """Jobs/s from the moment a worker takes the first job to an empty queue and no job held."""
    waiting = client.llen(side.queue)
    worker = Worker(side.worker(concurrency), side.environment(url))
    try:
        _wait(lambda: client.llen(side.queue) < waiting, 60, f"{side.name} worker start")
        started = time.perf_counter()
        _wait(lambda: side.drained(client), 300, f"{side.name} drain")
        return waiting / (time.perf_counter() - started)
    finally:
        worker.stop()


def latency(side: Side, url: str, client: redis.Redis, rate: float, seconds: float):
    """(p50 ms, p99 ms, idle RSS MB) of one solo worker fed probes at a steady rate."""
    worker = Worker(side.worker(1), side.environment(url))
    env = side.environment(url)
    try:
        _python(side.steady_code(), ["1", "1"], env)  # one probe: the worker is up
        _wait(lambda: client.llen("bench:latency") >= 1, 60, f"{side.name} worker start")
        time.sleep(1)
        rss = worker.rss_mb()
        client.delete("bench:latency")
        _python(side.steady_code(), [str(rate), str(seconds)], env)
        sent = int(rate * seconds)
        _wait(lambda: client.llen("bench:latency") >= sent, 60, f"{side.name} probes", 0.05)
        samples = sorted(float(x) * 1000 for x in client.lrange("bench:latency", 0, -1))
        pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
        return pick(0.5), pick(0.99), rss
    finally:
        worker.stop()


def traffic(side: Side, server: RedisServer, jobs: int) -> tuple[float, float]:
    """(commands, round trips) per job for enqueue plus a solo drain, through a proxy."""
    proxy = CountingProxy(server.port)
    url = f"redis://127.0.0.1:{proxy.port}/0"
    client = redis.Redis(port=server.port)
    client.flushall()
    client.config_resetstat()
    proxy.take()
    enqueue(side, url, jobs)
    worker = Worker(side.worker(1), side.environment(url))
    try:
        _wait(lambda: side.drained(client), 300, f"{side.name} drain")
    finally:
        worker.stop()
    return sum(commands(client).values()) / jobs, proxy.take() / jobs


def one_round(side: Side, server: RedisServer, plain: RedisServer, args) -> dict[str, float]:
    client = redis.Redis(port=server.port)
    url = server.url
    measured: dict[str, float] = {}
    client.flushall()
    measured["bulk"] = bulk(side, url, args.bulk_jobs)
    client.flushall()
    redis.Redis(port=plain.port).flushall()
    measured["enqueue_plain"] = enqueue(side, plain.url, args.jobs)
    redis.Redis(port=plain.port).flushall()
    measured["enqueue"] = enqueue(side, url, args.jobs)  # the queue the drain below empties
    if side.enqueue_only:
        client.flushall()
        return measured
    measured["drain_solo"] = drain(side, url, client, 1)
    client.flushall()
    enqueue(side, url, args.jobs)
    measured["drain_2"] = drain(side, url, client, 2)
    client.flushall()
    p50, p99, rss = latency(side, url, client, args.rate, args.latency_seconds)
    measured.update(latency_p50=p50, latency_p99=p99, rss=rss)
    return measured


def table(medians: dict[str, dict[str, float]], names: list[str]) -> str:
    bare, plat = medians.get("bare Celery", {}), medians.get("platform", {})
    client = medians.get("platform client", {})
    head = ["measure", *names, "platform / bare", "client / bare"]
    rows = [head, ["---"] * len(head)]
    for key, label, unit, _ in MEASURES:
        cells = [f"{label}" + (f", {unit}" if unit else "")]
        for name in names:
            value = medians[name].get(key)
            cells.append("" if value is None else _fmt(value))
        for side in (plat, client):
            ratio = (
                side.get(key) / bare[key] if bare.get(key) and side.get(key) is not None else None
            )
            cells.append("" if ratio is None else f"{ratio:.2f}x")
        rows.append(cells)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def bulk_summary(medians: dict[str, dict[str, float]], jobs: int) -> str:
    """The client's delay_many against the other sides' loops, for the same jobs."""
    many = medians.get("platform client", {}).get("bulk")
    if not many:
        return ""
    lines = [f"\n\n{jobs:,} jobs: the client's delay_many at {_fmt(many)} jobs/s is"]
    for name in ("platform", "bare Celery", "Dramatiq", "Redis floor"):
        loop = medians.get(name, {}).get("bulk")
        if loop:
            lines.append(f"- {many / loop:.1f}x {name}'s loop ({_fmt(loop)} jobs/s)")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _versions() -> dict[str, str]:
    found = {}
    for name in ("celery", "kombu", "redis", "dramatiq"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--bulk-jobs", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0, help="latency probes per second")
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--traffic-jobs", type=int, default=1000)
    parser.add_argument("--only", help="comma-separated side names (default: all)")
    parser.add_argument("--variants", action="store_true",
                        help="add the platform with one guarantee off at a time")  # fmt: skip
    args = parser.parse_args()
    sides = available(args.variants)
    if args.only:
        wanted = {n.strip().lower() for n in args.only.split(",")}
        sides = [s for s in sides if s.name.lower() in wanted]
    rounds: dict[str, list[dict[str, float]]] = {side.name: [] for side in sides}
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(Path(folder) / "aof").start()
        plain = RedisServer(Path(folder) / "plain", config={"appendonly": "no"}).start()
        try:
            for number in range(args.rounds):
                order = sides if number % 2 == 0 else list(reversed(sides))
                for side in order:
                    print(f"round {number + 1}/{args.rounds}: {side.name}", file=sys.stderr)
                    rounds[side.name].append(one_round(side, server, plain, args))
            traffic_per_side = {}
            for side in sides:
                print(f"traffic: {side.name}", file=sys.stderr)
                traffic_per_side[side.name] = traffic(side, server, args.traffic_jobs)
            redis_version = redis.Redis(port=server.port).info()["redis_version"]
        finally:
            server.stop()
            plain.stop()
    medians = {}
    for side in sides:
        values = rounds[side.name]
        medians[side.name] = {k: statistics.median(r[k] for r in values) for k in values[0]}
        counted = traffic_per_side[side.name]
        medians[side.name]["commands"], medians[side.name]["round_trips"] = counted
    names = [side.name for side in sides]
    shown = table(medians, names) + bulk_summary(medians, args.bulk_jobs)
    print(shown)
    RESULTS.mkdir(exist_ok=True)
    when = datetime.now(UTC)
    out = RESULTS / f"{when:%Y-%m-%d}.json"
    out.write_text(json.dumps({
        "when": when.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": host.python_version(),
                    "redis": redis_version, "packages": _versions()},
        "settings": vars(args),
        "rounds": rounds,
        "traffic": {name: {"commands": c, "round_trips": rt}
                    for name, (c, rt) in traffic_per_side.items()},
        "medians": medians,
        "table": shown,
    }, indent=2) + "\n")  # fmt: skip
    print(f"\nwritten: {out.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
