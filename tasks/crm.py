"""Queue `crm`: lead capture and the CRM webhook push (see leads/capture.py)."""

from __future__ import annotations

import httpx

from config import app, database
from config.settings import settings
from leads import capture


@app.task(name="crm.capture_lead", retry_preset="patient", dependency="crm")
def capture_lead(lead: dict) -> dict:
    """Validate and store a lead ({email, name, company, source}); push it to the CRM when
    the CRM does not have these details yet (`pushed` in the result: whether it did now)."""
    with httpx.Client(timeout=settings.crm_webhook_timeout) as client:
        return capture.capture(database.engine(), client, settings.crm_webhook_url, lead)
