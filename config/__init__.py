"""The ground floor: settings, queues and routing, errors, redaction rules, and the Celery
app, built the first time it is asked for.

Importing `config` or any module in it builds no app, reads no service and starts no
Sentry: domain code that only wants `config.errors` pulls in nothing else. `config.app`
(what `celery -A config worker|beat|flower` finds, and what task modules import) builds
the app on first use; Sentry starts in the worker and beat processes (config/celery_app.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery

    app: Celery

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from config.celery_app import app

        return app
    raise AttributeError(f"module 'config' has no attribute {name!r}")
