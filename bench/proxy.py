"""Counting a client's Redis traffic: round trips through a TCP proxy, commands from the
server's INFO commandstats (commands run inside a Lua script count too).

A round trip is counted each time a client sends after having been answered: a pipeline or
a MULTI/EXEC sent in one write is one round trip.
"""

from __future__ import annotations

import asyncio
import threading

import redis

from devstack.servers import free_port


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
