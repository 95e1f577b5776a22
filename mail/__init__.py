"""Outgoing mail: templates (Jinja2, text and HTML) and sending exactly once per key."""
