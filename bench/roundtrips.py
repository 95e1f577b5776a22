"""Redis commands and round trips per job: the platform against bare Celery, in one run.

    .venv/bin/python -m bench.roundtrips [--jobs 2000]

Both sides talk to a private redis-server through a counting TCP proxy. A round trip is
counted each time a client sends after having been answered (a pipeline or a MULTI/EXEC
sent in one write is one round trip); commands come from the server's INFO commandstats
(commands run inside a Lua script count too). Enqueue counts the producer's traffic;
drain counts everything while one solo worker drains the queue (fetch, ack, events,
heartbeats). A tool, not a test: it prints and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throughput import held_jobs  # noqa: E402
from devstack.servers import RedisServer, free_port  # noqa: E402

ENQUEUE = """
import sys
from {module} import noop
for i in range(int(sys.argv[1])):
    noop.delay(i)
"""


class CountingProxy:
    """Forwards 127.0.0.1:port to Redis and counts request bursts per connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.round_trips = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def serve() -> None:
            await asyncio.start_server(self._client, "127.0.0.1", self.port)
            self.ready.set()

        self.loop.run_until_complete(serve())
        self.loop.run_forever()

    async def _client(self, reader, writer) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        answered = {"yes": True}

        async def pump(src, dst, from_client: bool) -> None:
            while data := await src.read(65536):
                if from_client and answered["yes"]:
                    self.round_trips += 1
                answered["yes"] = not from_client
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(
            pump(reader, upstream_writer, True),
            pump(upstream_reader, writer, False),
            return_exceptions=True,
        )

    def take(self) -> int:
        taken, self.round_trips = self.round_trips, 0
        return taken


def commands(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {
        k.removeprefix("cmdstat_"): v["calls"]
        for k, v in stats.items()
        if k not in ("cmdstat_info", "cmdstat_config|resetstat")
    }


def measure(name: str, app: str, module: str, queue: str, env: dict, jobs: int, server: int):
    proxy = CountingProxy(server)
    url = f"redis://127.0.0.1:{proxy.port}/0"
    env = {**env, "BENCH_BROKER_URL": url, "REDIS_URL": url}
    client = redis.Redis(port=server)
    client.flushall()
    client.config_resetstat()
    proxy.take()
    subprocess.run([sys.executable, "-c", ENQUEUE.format(module=module), str(jobs)],
                   env=env, cwd=ROOT, check=True, capture_output=True)  # fmt: skip
    enqueue = (proxy.take(), commands(client))
    client.config_resetstat()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queue, "--pool", "solo",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "-n",
         f"bench-{uuid.uuid4().hex[:6]}@%h", f"--include={module}"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while client.llen(queue) or client.hlen("unacked") or held_jobs(client):
            time.sleep(0.01)
        drain = (proxy.take(), commands(client))
    finally:
        worker.terminate()
        worker.wait(30)
    return name, enqueue, drain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(Path(folder), config={"appendonly": "no"}).start()
        base = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_FORMAT": "text", "APP_ENV": "test",
                "WATCHDOG_IDLE_SECONDS": "0"}  # fmt: skip
        try:
            rows = [
                measure(
                    "bare Celery",
                    "bench.bare_app",
                    "bench.bare_app",
                    "celery",
                    base,
                    args.jobs,
                    server.port,
                ),  # fmt: skip
                measure(
                    "platform",
                    "config",
                    "bench.platform_tasks",
                    "quote",
                    base,
                    args.jobs,
                    server.port,
                ),  # fmt: skip
            ]
        finally:
            server.stop()
    print(f"per job, {args.jobs} jobs    enqueue: round trips  commands"
          "    drain: round trips  commands")  # fmt: skip
    n = args.jobs
    for name, (e_rt, e_cmd), (d_rt, d_cmd) in rows:
        e_total, d_total = sum(e_cmd.values()), sum(d_cmd.values())
        print(f"{name:22} {e_rt / n:22.2f} {e_total / n:9.2f} {d_rt / n:20.2f} {d_total / n:9.2f}")
    for name, (_, e_cmd), (_, d_cmd) in rows:
        for phase, counted in (("enqueue", e_cmd), ("drain", d_cmd)):
            busy = sorted(((c / n, k) for k, c in counted.items() if c / n >= 0.05), reverse=True)
            print(f"{name}, {phase}: " + ", ".join(f"{k} {v:.2f}" for v, k in busy))


if __name__ == "__main__":
    main()
