"""Queue `crm`: lead capture and the CRM webhook push (see leads/capture.py)."""

from __future__ import annotations

import httpx

from config import app, database, flow_control
from config.settings import settings
from leads import capture


@app.task(name="crm.capture_lead", retry_preset="patient", dependency="crm", rate_at_call=True)
def capture_lead(lead: dict) -> dict:
    """Validate and store a lead ({email, name, company, source}); push it to the CRM when
    the CRM does not have these details yet (`pushed` in the result: whether it did now)."""
    hooks = {"request": [flow_control.before_call("crm")]}  # the rate, as each call leaves
    with httpx.Client(timeout=settings.crm_webhook_timeout, event_hooks=hooks) as client:
        return capture.capture(database.engine(), client, settings.crm_webhook_url, lead)
