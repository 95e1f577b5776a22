"""Flower's configuration file (`celery -A config flower --conf=config/flower.py`), and the
guard that keeps Flower closed however it is started.

Flower is open to anyone by default (CVE-2022-30034 was about this), and it reads its
options from `--conf`, or from `flowerconfig.py` in the working directory when none is
given: a check in this file alone is skipped by `celery -A config flower`. So the guard is
`refuse_open_flower`, which the app connects to Celery's `import_modules` signal: Flower
sends it while it builds its web app, after it has read every option (environment, file,
command line) and before it listens. Without basic auth (FLOWER_BASIC_AUTH) or an OAuth
provider (FLOWER_AUTH with FLOWER_AUTH_PROVIDER and Flower's FLOWER_OAUTH2_* settings),
it exits, in every environment: `make run` generates credentials for development.

In Flower's process the guard also redacts the results Flower's API reads from the result
backend (`/api/task/result/<id>`); events are redacted where they are sent.

Flower executes this file and reads the option names it defines; other names are ignored.
"""

from __future__ import annotations

from typing import Any

import click

from config.settings import settings
from taskplatform.redaction import redact

if settings.flower_basic_auth:
    basic_auth = settings.flower_basic_auth.split(",")

persistent = True
db = settings.flower_db
state_save_interval = 60_000  # ms: history survives a crash, not only a clean stop
max_tasks = 50_000


def refuse_open_flower(sender: Any = None, **_kwargs: Any) -> None:
    """Exit a Flower process that has no auth; in any other process, do nothing."""
    context = click.get_current_context(silent=True)
    if context is None or context.command.name != "flower":
        return
    from tornado.options import options  # Flower's parsed options

    logins = list(options.basic_auth or ())
    weak = [login for login in logins if not _user_and_password(login)]
    if weak or not (logins or options.auth):
        # FLOWER_BASIC_AUTH="" reaches Flower as [""]; "admin" alone would be the password.
        raise SystemExit(
            "invalid setting FLOWER_BASIC_AUTH: Flower refuses to start without auth;"
            " set user:password, both non-empty (or FLOWER_AUTH with FLOWER_AUTH_PROVIDER)"
        )
    _redact_api_results()


def _user_and_password(login: str) -> bool:
    user, _, password = login.partition(":")
    return bool(user.strip() and password.strip())


def _redact_api_results() -> None:
    from flower.api.tasks import BaseTaskHandler

    shown = BaseTaskHandler.safe_result
    if getattr(shown, "redacted", False):
        return

    def safe_result(self: Any, result: Any) -> Any:
        return redact(shown(self, result))

    safe_result.redacted = True  # type: ignore[attr-defined]
    BaseTaskHandler.safe_result = safe_result
