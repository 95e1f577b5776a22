"""What `celery report`, `celery inspect conf` and Flower's Config tab show of the settings:
no password of any URL (Celery itself masks only some keys)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests import harness

PASSWORD = "pw-canary-7f3a"
URLS = {
    "REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:6379/0",
    "RESULT_BACKEND_URL": f"redis://ops:{PASSWORD}@127.0.0.1:6379/1",
    "DATABASE_URL": f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:5432/test",
    "SMTP_URL": f"smtp://mailer:{PASSWORD}@127.0.0.1:2525",
    "CRM_WEBHOOK_URL": f"https://hooks:{PASSWORD}@crm.example/hook",
}
# The table a worker answers `inspect conf` with (and Flower's Config tab shows)
TABLE = "import json; from config import app; print(json.dumps(app.conf.table(), default=str))"


def run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=harness.ROOT, env={**os.environ, "PYTHONPATH": str(harness.ROOT), **URLS},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_celery_report_shows_no_password_of_any_url():
    report = run("-m", "celery", "-A", "config", "report")
    assert "redbeat_redis_url" in report and "broker_url" in report
    assert PASSWORD not in report


def test_the_table_inspect_conf_and_flower_show_has_no_password():
    table = json.loads(run("-c", TABLE))
    assert table["redbeat_redis_url"] == "redis://:[REDACTED]@127.0.0.1:6379/0"
    assert PASSWORD not in json.dumps(table)
