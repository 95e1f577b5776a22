"""RATE_LIMITS and CONCURRENCY_LIMITS as the platform reads them: plain parsing, so that
settings can check them at start without the flow-control machinery (config/flow_control.py)."""

from __future__ import annotations

import re

__all__ = ["FlowConfigError", "parse_counts", "parse_rates"]

_RATE = re.compile(r"^\s*(?P<count>\d+(?:\.\d+)?)\s*/\s*(?P<unit>s|m|h)\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


class FlowConfigError(ValueError):
    """A RATE_LIMITS or CONCURRENCY_LIMITS entry the platform cannot read."""


def parse_rates(text: str) -> dict[str, tuple[int, float]]:
    """RATE_LIMITS ("crm=10/s,smtp=300/m") as (calls, seconds) per dependency: at most that
    many calls in any window of that many seconds ("2.5/s" is 2 in any 0.8 s)."""
    rates: dict[str, tuple[int, float]] = {}
    for name, value in _entries("RATE_LIMITS", text):
        match = _RATE.match(value)
        if not match or float(match["count"]) <= 0:
            raise FlowConfigError(f"RATE_LIMITS: {name}={value!r} is not a rate like 10/s")
        per_unit = float(match["count"])
        calls = max(1, int(per_unit))
        rates[name] = (calls, _UNITS[match["unit"]] * calls / per_unit)
    return rates


def parse_counts(text: str) -> dict[str, int]:
    """CONCURRENCY_LIMITS ("crm=4") as the most jobs calling each dependency at once."""
    counts: dict[str, int] = {}
    for name, value in _entries("CONCURRENCY_LIMITS", text):
        if not value.strip().isdigit() or int(value) < 1:
            raise FlowConfigError(f"CONCURRENCY_LIMITS: {name}={value!r} is not a count >= 1")
        counts[name] = int(value)
    return counts


def _entries(variable: str, text: str) -> list[tuple[str, str]]:
    entries = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not re.fullmatch(r"[a-z][a-z0-9_-]*", name.strip()):
            raise FlowConfigError(f"{variable}: {part!r} is not name=value")
        entries.append((name.strip(), value.strip()))
    return entries
