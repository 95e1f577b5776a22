"""`make run`: bring the platform up in the foreground on this machine.

Chooses the services (REDIS_URL / DATABASE_URL when given; else the local servers when they
answer; else embedded servers with their data in LOCAL_DIR; or embedded when forced),
creates the database if needed, applies migrations, prints where everything is, and runs
the Procfile's processes under honcho in one coloured log stream. Ctrl-C stops it all.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from config.settings import LOCAL_DATABASE_URL, LOCAL_REDIS_URL, settings
from devstack.servers import PostgresServer, RedisServer, free_port, port_answers

ROOT = Path(__file__).resolve().parent.parent
#: The Procfile's long-running processes, Flower first so it gets the base port, the
#: dead-letter page second (honcho gives each process the previous one's port + 100).
PROCESSES = ("flower", "deadletters", "worker_quote", "worker", "beat")


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


def choose_services(local_dir: Path, force_embedded: bool) -> Stack:
    """Decide where Redis and Postgres come from, starting embedded servers as needed."""
    stack = Stack(redis_url="", database_url="")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--embedded", default="0", help="1: always use embedded servers")
    parser.add_argument("--local-dir", default=str(ROOT / ".local"), help="embedded data")
    parser.add_argument("--flower-port", type=int, default=5555)
    parser.add_argument("--demo", default="1", help="0: no demo producer")
    args = parser.parse_args(argv)
    local_dir = Path(args.local_dir).resolve()

    stack = choose_services(local_dir, force_embedded=args.embedded == "1")
    try:
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
        user, _, password = env["FLOWER_BASIC_AUTH"].split(",")[0].partition(":")
        print(f"broker:    {redact_url(stack.redis_url)}", flush=True)
        print(f"database:  {redact_url(stack.database_url)}", flush=True)
        print(f"flower:    http://127.0.0.1:{args.flower_port}/", flush=True)
        print(f"deadletters: http://127.0.0.1:{args.flower_port + 100}/", flush=True)
        if settings.app_env == "development":
            print(f"login:     {user} / {password}", flush=True)
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
    finally:
        stack.stop()


def run_processes(env: dict[str, str], base_port: int, demo: dict | None) -> int:
    """honcho in the foreground (and the demo beside it); SIGINT/SIGTERM stop them all."""
    children = [
        subprocess.Popen(
            [str(Path(sys.executable).parent / "honcho"), "start", "-f", str(ROOT / "Procfile"),
             "-d", str(ROOT), "-p", str(base_port), *PROCESSES],
            env=env, cwd=ROOT,
        )
    ]  # fmt: skip
    if demo:
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "devstack.demo", "--smtp-port", str(demo["smtp"]),
                 "--crm-port", str(demo["crm"])],
                env=env, cwd=ROOT,
            )
        )  # fmt: skip

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = children[0].wait()
    forward(signal.SIGTERM, None)
    for child in children[1:]:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:  # Ctrl-C must stop everything, whatever hangs
            print(f"run: {child.args[2]} did not stop within 30 s; killing it", flush=True)
            child.kill()
            child.wait(5)
    return code


if __name__ == "__main__":
    sys.exit(main())
