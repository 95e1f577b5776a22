"""Sentry: errors leave the process redacted, or not at all.

Initialised at import of the app (so both the prefork parent and its children have it; in
`worker_process_init` it misses task errors, see GOTCHAS). A no-op without SENTRY_DSN.
"""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration

from config.redaction import redact, redact_text
from config.settings import settings


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


def init_sentry() -> bool:
    """Initialise the SDK when SENTRY_DSN is set; report whether it was."""
    if not settings.sentry_dsn:
        return False
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
