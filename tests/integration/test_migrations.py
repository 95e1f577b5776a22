"""The Procfile's release line, run as written, migrates a fresh database, and again is a
no-op."""

import shlex
import subprocess
import uuid

import psycopg
from alembic.config import Config
from alembic.script import ScriptDirectory

from tests import harness


def procfile_line(name: str) -> str:
    for line in (harness.ROOT / "Procfile").read_text().splitlines():
        process, _, command = line.partition(":")
        if process.strip() == name:
            return command.strip()
    raise AssertionError(f"no {name} line in the Procfile")


def head_revision() -> str:
    config = Config(str(harness.ROOT / "migrations" / "alembic.ini"))
    return ScriptDirectory.from_config(config).get_current_head()


def run_release(database_url: str) -> subprocess.CompletedProcess[str]:
    bin_dir = harness.Path(harness.sys.executable).parent
    env = {**harness.os.environ, "DATABASE_URL": database_url}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return subprocess.run(
        ["bash", "-c", procfile_line("release")], cwd=harness.ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_release_migrates_a_fresh_database_to_head_and_is_idempotent(services):
    from tests.conftest import POSTGRES_ADMIN_URL

    name = f"taskplatform_release_{uuid.uuid4().hex[:8]}"
    harness.create_database(POSTGRES_ADMIN_URL, name)
    url = harness.database_url(POSTGRES_ADMIN_URL, name)
    try:
        first = run_release(url)
        assert first.returncode == 0, first.stderr
        assert "Running upgrade" in first.stderr
        second = run_release(url)
        assert second.returncode == 0, second.stderr
        assert "Running upgrade" not in second.stderr
        with psycopg.connect(url) as conn:
            (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        assert version == head_revision()
    finally:
        harness.drop_database(POSTGRES_ADMIN_URL, name)


def test_every_procfile_process_is_a_celery_or_alembic_command():
    lines = {
        line.partition(":")[0]: line.partition(":")[2]
        for line in (harness.ROOT / "Procfile").read_text().splitlines()
        if line.strip()
    }
    assert set(lines) >= {"release", "flower", "worker_quote", "worker", "beat"}
    consumed = set()
    for name, command in lines.items():
        words = shlex.split(command)
        if name.startswith("worker"):
            assert "REMAP_SIGTERM=SIGQUIT" in words
            consumed |= set(words[words.index("-Q") + 1].split(","))
    from config.queues import QUEUES

    assert consumed == set(QUEUES)
