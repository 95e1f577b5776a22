"""Sentry: errors leave the process redacted, or not at all.

Started when a process loads the app's modules (Celery's `import_modules` signal: workers,
beat, Flower, the ops commands) and by the dead-letter alerts, never by importing the app:
a web app that imports a task to queue it keeps its own Sentry. In a worker that signal
comes before the pool forks and before Celery's consumer binds its tracer builder, so task
errors are seen under prefork and solo alike (from `celeryd_init`, solo missed them; from
`worker_process_init`, prefork did). A no-op without SENTRY_DSN.
"""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration

from config.settings import settings
from taskplatform.redaction import redact, redact_text


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Mask secrets in everything an event carries: messages, exception values, extras."""
    for exception in (event.get("exception") or {}).get("values") or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = redact_text(exception["value"])
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    if isinstance(event.get("message"), str):
        event["message"] = redact_text(event["message"])
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        for key in ("message", "formatted"):
            if isinstance(logentry.get(key), str):
                logentry[key] = redact_text(logentry[key])
        logentry.pop("params", None)
    for key in ("extra", "contexts", "tags", "request"):
        if key in event:
            event[key] = redact(event[key])
    for crumb in (event.get("breadcrumbs") or {}).get("values") or []:
        if isinstance(crumb.get("message"), str):
            crumb["message"] = redact_text(crumb["message"])
        if "data" in crumb:
            crumb["data"] = redact(crumb["data"])
    return event


_started = False


def init_sentry() -> bool:
    """Initialise the SDK once when SENTRY_DSN is set; report whether it is."""
    global _started
    if not settings.sentry_dsn:
        return False
    if _started:
        return True
    _started = True
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.app_env,
        # Beat entries report as Sentry cron monitors (Sentry skips sub-minute schedules).
        integrations=[CeleryIntegration(monitor_beat_tasks=True)],
        include_local_variables=False,
        send_default_pii=False,
        before_send=before_send,
        before_send_transaction=None,
        traces_sample_rate=0.0,
    )
    return True
