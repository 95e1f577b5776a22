"""The ground floor: settings, queues and routing, redaction rules and the Celery app.

`celery -A config worker|beat|flower` finds `config.app`; web apps import task modules.
"""

from config.celery_app import app

__all__ = ["app"]
