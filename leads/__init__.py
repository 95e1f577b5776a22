"""Leads: validated, stored once per email address, and pushed to the CRM once per change
of their details."""
