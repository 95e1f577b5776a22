"""`make run`: bring the platform up in the foreground on this machine.

Chooses the services (REDIS_URL / DATABASE_URL when given; else the local servers when they
answer; else embedded servers with their data in LOCAL_DIR; or embedded when forced),
creates the database if needed, applies migrations, prints where everything is, and runs
the Procfile's processes (devstack/supervisor.py) in one coloured log stream, with the demo
beside them. Every file the run keeps (embedded data, Flower's history, the dead-letter
spool, the login, the runbook's environment) is in LOCAL_DIR.

Ctrl-C stops it all: every process gets its SIGTERM and its time (a worker's soft shutdown),
the embedded servers stop after them, and the run exits 0. A terminal sends Ctrl-C's SIGINT
to its foreground process group, and make answers SIGINT by killing itself (exit 130,
`*** Interrupt`) whatever its child does; so in a terminal the run takes the foreground for
its own process group, and hands it back when it ends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from config.settings import LOCAL_DATABASE_URL, LOCAL_REDIS_URL, settings
from devstack.servers import PostgresServer, RedisServer, free_port, port_answers
from devstack.supervisor import Supervisor, read_procfile

ROOT = Path(__file__).resolve().parent.parent
#: The Procfile's long-running processes, Flower first so it gets the base port, the
#: dead-letter page second (each process gets the previous one's PORT + 100, as honcho
#: gives them).
PROCESSES = ("flower", "deadletters", "worker_quote", "worker", "beat")
#: Seconds a process gets beyond a worker's soft shutdown to put back what it holds and exit.
STOP_MARGIN = 10.0


@dataclass
class Stack:
    redis_url: str
    database_url: str
    notes: list[str] = field(default_factory=list)
    servers: list[RedisServer | PostgresServer] = field(default_factory=list)

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()


def _local_answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    return port_answers(parts.port or default_port, parts.hostname or "127.0.0.1")


def choose_services(local_dir: Path, force_embedded: bool, stack: Stack) -> Stack:
    """Decide where Redis and Postgres come from, starting embedded servers as needed (into
    `stack` as each starts, so a failure after the first still stops it)."""
    if settings.redis_url and not force_embedded:
        stack.redis_url = settings.redis_url
    elif not force_embedded and _local_answers(LOCAL_REDIS_URL, 6379):
        stack.redis_url = LOCAL_REDIS_URL
    else:
        redis_server = RedisServer(local_dir / "redis").start()
        stack.servers.append(redis_server)
        stack.redis_url = redis_server.url
        stack.notes.append(f"embedded Redis on port {redis_server.port}, data in {local_dir}/redis")

    if settings.database_url and not force_embedded:
        stack.database_url = settings.database_url
    elif not force_embedded and _local_answers(LOCAL_DATABASE_URL, 5432):
        stack.database_url = LOCAL_DATABASE_URL
    else:
        postgres = PostgresServer(local_dir / "postgres")
        postgres.stop()  # a server left running by a run that was killed
        postgres.start()
        stack.servers.append(postgres)
        stack.database_url = postgres.url("taskplatform")
        stack.notes.append(
            f"embedded Postgres on port {postgres.port}, data in {local_dir}/postgres"
            + (f" (run as user {postgres.run_as})" if postgres.run_as else "")
        )
    return stack


def ensure_database(database_url: str) -> None:
    """Create the database named in the URL if the server does not have it yet."""
    parts = urlsplit(database_url.replace("postgresql+psycopg://", "postgresql://", 1))
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def flower_credentials(local_dir: Path) -> str:
    """FLOWER_BASIC_AUTH, or a development login generated once and kept in LOCAL_DIR."""
    if settings.flower_basic_auth:
        return settings.flower_basic_auth
    path = local_dir / "flower-credentials"
    if not path.exists():
        local_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(f"admin:{secrets.token_urlsafe(12)}\n")
        path.chmod(0o600)
    return path.read_text().strip()


def deadletter_key(local_dir: Path) -> str | None:
    """DEADLETTER_ENCRYPTION_KEY, or in development a key generated once into LOCAL_DIR, so
    dead letters of the demo can be replayed. Elsewhere no key means nothing is sealed."""
    if settings.deadletter_encryption_key or settings.app_env != "development":
        return settings.deadletter_encryption_key
    from cryptography.fernet import Fernet

    path = local_dir / "deadletter-key"
    if not path.exists():
        local_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode() + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def run_files(local_dir: Path) -> dict[str, str]:
    """The state files of the run, all in LOCAL_DIR: none in $TMPDIR, where another run's
    (or a test's) would mix with this one's."""
    return {
        "FLOWER_DB": str(local_dir / "flower.db"),
        "DEADLETTER_SPOOL_FILE": str(local_dir / "deadletter-spool.jsonl"),
    }


#: The run's settings a command of the runbook needs too, written to LOCAL_DIR/activate.
RUNBOOK_VARIABLES = (
    "APP_ENV", "REDIS_URL", "DATABASE_URL", "FLOWER_URL", "FLOWER_BASIC_AUTH", "FLOWER_DB",
    "DEADLETTER_SPOOL_FILE", "DEADLETTER_ENCRYPTION_KEY", "SMTP_URL", "CRM_WEBHOOK_URL",
)  # fmt: skip


def write_activate(local_dir: Path, env: dict[str, str]) -> Path:
    """LOCAL_DIR/activate: `. .local/activate` in another shell puts the venv's commands on
    PATH with the run's settings, so the README's runbook (`celery -A config doctor`, ...)
    works as printed against the services this run chose, embedded ones included."""
    bin_dir = Path(sys.executable).parent
    lines = [
        "# Written by `make run`: the venv's commands and this run's settings.",
        f". {shlex.quote(str(bin_dir / 'activate'))}",
        *(f"export {name}={shlex.quote(env[name])}" for name in RUNBOOK_VARIABLES if env.get(name)),
    ]
    path = local_dir / "activate"
    local_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)  # it holds the login and the dead-letter key
    path.write_text("\n".join(lines) + "\n")
    return path


def take_terminal() -> Callable[[], None]:
    """Make this process's own group the terminal's foreground, so Ctrl-C's SIGINT reaches
    the run and not make; returns what gives the terminal back. Without a terminal, or when
    not in the foreground, it changes nothing."""
    try:
        fd = sys.stdin.fileno()
        if not os.isatty(fd) or os.tcgetpgrp(fd) != os.getpgrp():
            return lambda: None
    except (OSError, ValueError):
        return lambda: None
    previous = os.getpgrp()
    os.setpgid(0, 0)
    ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a background group may set it
    os.tcsetpgrp(fd, os.getpgrp())

    def give_back() -> None:
        with contextlib.suppress(OSError):  # make has gone already
            os.tcsetpgrp(fd, previous)
        signal.signal(signal.SIGTTOU, ttou)

    return give_back


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--embedded", default="0", help="1: always use embedded servers")
    parser.add_argument("--local-dir", default=str(ROOT / ".local"), help="the run's files")
    parser.add_argument("--flower-port", type=int, default=5555)
    parser.add_argument("--demo", default="1", help="0: no demo producer")
    args = parser.parse_args(argv)
    local_dir = Path(args.local_dir).resolve()

    give_back = take_terminal()
    # Until the processes run, Ctrl-C stops the start-up (KeyboardInterrupt) and what it began.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stack = Stack(redis_url="", database_url="")
    try:
        choose_services(local_dir, force_embedded=args.embedded == "1", stack=stack)
        return start_and_run(stack, local_dir, args)
    except KeyboardInterrupt:
        print("run: stopped during start-up", flush=True)
        return 0
    finally:
        stack.stop()
        give_back()


def start_and_run(stack: Stack, local_dir: Path, args: argparse.Namespace) -> int:
    ensure_database(stack.database_url)
    env = {
        **os.environ,
        "APP_ENV": settings.app_env,
        "REDIS_URL": stack.redis_url,
        "DATABASE_URL": stack.database_url,
        "FLOWER_BASIC_AUTH": flower_credentials(local_dir),
        "FLOWER_ADDRESS": "127.0.0.1",
        "DEADLETTERS_ADDRESS": "127.0.0.1",
        "FLOWER_URL": os.environ.get("FLOWER_URL") or f"http://127.0.0.1:{args.flower_port}",
        "PYTHONUNBUFFERED": "1",
        **run_files(local_dir),
    }
    key = deadletter_key(local_dir)
    if key:
        env["DEADLETTER_ENCRYPTION_KEY"] = key
    demo = None
    if args.demo == "1":
        demo = {"smtp": free_port(), "crm": free_port()}
        env.setdefault("SMTP_URL", f"smtp://127.0.0.1:{demo['smtp']}")
        env.setdefault("CRM_WEBHOOK_URL", f"http://127.0.0.1:{demo['crm']}/hooks/leads")
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    activate = write_activate(local_dir, env)
    user, _, password = env["FLOWER_BASIC_AUTH"].split(",")[0].partition(":")
    print(f"broker:    {redact_url(stack.redis_url)}", flush=True)
    print(f"database:  {redact_url(stack.database_url)}", flush=True)
    print(f"flower:    http://127.0.0.1:{args.flower_port}/", flush=True)
    print(f"overview:  http://127.0.0.1:{args.flower_port + 100}/   (dead letters by cause:"
          " /causes)", flush=True)  # fmt: skip
    if settings.app_env == "development":
        print(f"login:     {user} / {password}", flush=True)
    print(f"runbook:   . {_shown_path(activate)}   (in another shell: the venv's commands"
          " with this run's settings; or make doctor)", flush=True)  # fmt: skip
    for note in stack.notes:
        print(f"note:      {note}", flush=True)
    if demo:
        print(
            f"demo:      on (mail sink on {env['SMTP_URL']}, CRM webhook on"
            f" {env['CRM_WEBHOOK_URL']}); make run DEMO=0 turns it off",
            flush=True,
        )

    subprocess.run(
        [str(bin_dir / "alembic"), "-c", str(ROOT / "migrations" / "alembic.ini"),
         "upgrade", "head"],
        env=env, check=True, cwd=ROOT,
    )  # fmt: skip
    return run_processes(env, args.flower_port, demo)


def _shown_path(path: Path) -> str:
    """`path` relative to the working directory when it is under it (`.local/activate`)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run_processes(env: dict[str, str], base_port: int, demo: dict | None) -> int:
    """The Procfile's processes (and the demo beside them) until Ctrl-C, SIGTERM, or one of
    them ends; then every one of them stopped within a worker's soft shutdown."""
    grace = settings.worker_soft_shutdown_timeout + STOP_MARGIN
    supervisor = Supervisor(env=env, cwd=ROOT, grace=grace, width=len("worker_quote"))
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    procfile = read_procfile(ROOT / "Procfile")
    for number, name in enumerate(PROCESSES):
        supervisor.start(name, procfile[name], env={"PORT": str(base_port + 100 * number)})
    if demo:
        supervisor.start(
            "demo",
            [sys.executable, "-m", "devstack.demo", "--smtp-port", str(demo["smtp"]),
             "--crm-port", str(demo["crm"])],
        )  # fmt: skip
    return supervisor.wait()


if __name__ == "__main__":
    sys.exit(main())
