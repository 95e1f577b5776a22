"""Real Redis and Postgres servers on loopback, started and stopped by PID.

Used by `make run` when no Redis or Postgres is given or answering (or with EMBEDDED=1),
by the test suite on a machine without them, and by fault tests that need a server of their
own to stop. Data lives in a folder of the caller's choosing (`.local/` for `make run`).

Postgres refuses to run as root. As root we run it as an unprivileged user: the machine's
`postgres` user when there is one, else a system user `taskplatform-pg` that we create
(`useradd --system`); the data folder is handed to that user. Nothing else on the machine
is changed: the folder's parents must already be traversable by that user, or start-up
fails with a message saying so.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from devstack import binaries

POSTGRES_SYSTEM_USER = "taskplatform-pg"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def stop_process(process: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM, then SIGKILL if it is still there after `grace` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {timeout} s")
        time.sleep(0.05)


class RedisServer:
    """`redis-server` on 127.0.0.1:`port`, with an append-only file in `data_dir`."""

    def __init__(
        self, data_dir: Path, port: int | None = None, config: dict[str, str] | None = None
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.config = {"appendonly": "yes", "save": "", "maxmemory-policy": "noeviction",
                       **(config or {})}  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "redis.log", "ab")  # noqa: SIM115 - the server keeps it
        self.process = subprocess.Popen(
            [
                binaries.redis_server(),
                "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.data_dir.resolve()),
                *(part for key, value in self.config.items() for part in (f"--{key}", value)),
            ],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        _wait(lambda: port_answers(self.port) or self.process.poll() is not None, 20, "Redis")
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited; see {self.data_dir / 'redis.log'}")
        return self

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)

    def kill(self) -> None:
        """Stop it the hard way, as a crash would."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


class RabbitMQServer:
    """A RabbitMQ node of its own on 127.0.0.1:`port` (guest/guest, vhost `/`), with its data
    in `data_dir`: for tests that raise alarms or stop the broker, which must not touch the
    machine's node. Starts in about 5 s."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.node = f"taskplatform{self.port}@localhost"
        self.bindir = binaries.rabbitmq_bindir()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.data_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.data_dir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.data_dir / "plugins"),
            "RABBITMQ_PID_FILE": str(self.data_dir / "pid"),
            "RABBITMQ_CONFIG_FILE": str(self.data_dir / "rabbitmq.conf"),
        }

    def start(self, timeout: float = 60) -> RabbitMQServer:
        for folder in ("mnesia", "log"):
            (self.data_dir / folder).mkdir(parents=True, exist_ok=True)
        (self.data_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
        )
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - the server keeps it
        self.process = subprocess.Popen(
            [str(self.bindir / "rabbitmq-server")], env=self._env(), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        _wait(lambda: port_answers(self.port) or self.process.poll() is not None, timeout,
              "RabbitMQ")  # fmt: skip
        if self.process.poll() is not None:
            raise RuntimeError(f"rabbitmq-server exited; see {self.data_dir / 'server.log'}")
        return self

    def ctl(self, *args: str) -> str:
        """`rabbitmqctl` on this node; its output."""
        done = subprocess.run(
            [str(self.bindir / "rabbitmqctl"), "-n", self.node, "-q", *args], env=self._env(),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"rabbitmqctl {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def memory_alarm(self, on: bool) -> None:
        """Raise (or clear) a memory alarm: the broker then blocks every publisher."""
        self.ctl("set_vm_memory_high_watermark", "0.0000001" if on else "0.4")

    def messages(self, queue: str) -> int:
        """Messages ready in `queue` (0 before it exists), as the broker counts them now (a
        passive declare: `rabbitmqctl list_queues` shows statistics up to seconds old)."""
        from amqp.exceptions import NotFound
        from kombu import Connection

        with Connection(self.url, connect_timeout=5) as connection:
            try:
                return connection.default_channel.queue_declare(queue, passive=True).message_count
            except NotFound:
                return 0

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


class PostgresServer:
    """A Postgres cluster in `data_dir`, on 127.0.0.1:`port`, user `postgres`, trust auth."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.bindir = binaries.postgres_bindir()
        self.run_as = _unprivileged_user() if os.geteuid() == 0 else None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            user=self.run_as, capture_output=True, text=True, timeout=timeout,
            cwd=self.data_dir,
        )  # fmt: skip

    def start(self) -> PostgresServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            _check_reachable(self.bindir, self.run_as)
            _hand_over(self.data_dir, self.run_as)
        if not (self.pgdata / "PG_VERSION").exists():
            done = self._run(
                "initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C",
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        options = f"-p {self.port} -h 127.0.0.1 -k {self.pgdata} -c fsync=off"
        done = self._run(
            "pg_ctl", "-D", str(self.pgdata), "-o", options,
            "-l", str(self.data_dir / "postgres.log"), "-w", "-t", "60", "start",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(
                f"pg_ctl start failed: {done.stderr.strip() or done.stdout.strip()};"
                f" see {self.data_dir / 'postgres.log'}"
            )
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "stop")

    def kill(self) -> None:
        """Stop it the hard way (immediate shutdown, as a crash would)."""
        self.stop(mode="immediate")


def _unprivileged_user() -> str:
    for name in ("postgres", POSTGRES_SYSTEM_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
         POSTGRES_SYSTEM_USER],
        check=True,
    )  # fmt: skip
    return POSTGRES_SYSTEM_USER


def _check_reachable(folder: Path, user: str) -> None:
    for parent in folder.parents:
        if not parent.stat().st_mode & 0o001:
            raise RuntimeError(
                f"{user} cannot reach {folder}: {parent} is not traversable by others;"
                " move it under a world-traversable path (for data: LOCAL_DIR)"
            )


def _hand_over(folder: Path, user: str) -> None:
    """Give `folder` to `user`, after checking the user can reach it at all."""
    _check_reachable(folder, user)
    entry = pwd.getpwnam(user)
    shutil.chown(folder, entry.pw_uid, entry.pw_gid)
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
