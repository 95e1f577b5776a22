"""The quote email: a priced quote, laid out for the customer who asked for it.

The figures are the quote's own strings (already rounded once, by pricing/engine.py); this
module only labels and groups them, with thousands separators, so the mail and the quote a
web app shows can never disagree. One mail per quote and recipient: the idempotency key is
a digest of the quote's figures and of the address, so a redelivered job is `already_sent`
and a re-priced quote (a new rate, a new rule set) is a new mail.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from mail.send import InvalidMessage, recipients_of

ITEM_LABELS = {
    "salary": "Basic salary",
    "night_differential": "Night-shift differential",
    "thirteenth_month": "13th-month pay (accrued monthly)",
    "sss_employer": "SSS, employer share",
    "ec": "Employees' Compensation (EC)",
    "philhealth_employer": "PhilHealth, employer share",
    "pagibig_employer": "Pag-IBIG, employer share",
    "service_fee": "Service fee",
    "workspace": "Workspace",
}
WORKSPACE_LABELS = {"wfh": "work from home", "hybrid": "hybrid", "office": "office based"}
MAX_NAME_LENGTH = 200


def compose(quote: dict[str, Any], to: str, name: str | None = None) -> tuple[dict, str]:
    """The message for `quote` to one recipient, and its idempotency key."""
    if not isinstance(to, str):
        raise InvalidMessage(f"a quote goes to one address, not {type(to).__name__} {to!r}")
    (recipient,) = recipients_of({"to": to})
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME_LENGTH):
        raise InvalidMessage(f"name must be text of at most {MAX_NAME_LENGTH} characters")
    figures = {key: value for key, value in quote.items() if key != "cached"}
    digest = hashlib.sha256(json.dumps(figures, sort_keys=True).encode()).hexdigest()
    address = hashlib.sha256(recipient.encode()).hexdigest()
    message = {
        "to": recipient,
        "template": "quote",
        "context": context(figures, (name or "").strip() or None),
    }
    return message, f"quote:{digest[:32]}:{address[:16]}"


def context(quote: dict[str, Any], name: str | None) -> dict[str, Any]:
    """What the templates show: labelled lines, amounts with separators, and the totals in
    the quote's currency at its dated rate (pricing/engine.py names them by its code)."""
    request = quote["request"]
    code = quote["quote_currency"]
    suffix = code.lower()
    lines = [
        {
            "heading": _heading(line),
            "scope": "the one person" if line["count"] == 1 else f"all {line['count']}",
            "monthly_salary": _php(line["monthly_salary"]),
            "items": [
                (ITEM_LABELS[item], _php(amount))
                for item, amount in line["items"].items()
                if Decimal(amount) or item == "salary"
            ],
            "total_php": _php(line["total_php"]),
            "total_converted": _amount(code, line[f"total_{suffix}"]),
        }
        for line in quote["lines"]
    ]
    totals = quote["totals"]
    return {
        "name": name,
        "team": ", ".join(_team(line) for line in quote["lines"]),
        "workspace": WORKSPACE_LABELS[request["workspace"]],
        "tier": request["tier"],
        "quoted_on": quote["quoted_on"],
        "lines": lines,
        "total_php": _php(totals["monthly_php"]),
        "total_converted": _amount(code, totals[f"monthly_{suffix}"]),
        "employee_deductions": _php(totals["employee_deductions"]["total"]),
        "currency": code,
        "rate": quote[f"{suffix}_rate"],
        "rate_as_of": quote[f"{suffix}_rate_as_of"] or "an undated rate",
        "rate_source": quote[f"{suffix}_rate_source"],
    }


def _team(line: dict[str, Any]) -> str:
    plural = "" if line["count"] == 1 else "s"
    return f"{line['count']} {line['level']} {line['title']}{plural}"


def _heading(line: dict[str, Any]) -> str:
    conditions = []
    if line["shift"] == "night":
        conditions.append("night shift")
    if line["hours_per_week"] != 40:
        conditions.append(f"{line['hours_per_week']} hours a week")
    said = f" ({', '.join(conditions)})" if conditions else ""
    return f"{_team(line)}{said}"


def _php(amount: str) -> str:
    return _amount("PHP", amount)


def _amount(code: str, amount: str) -> str:
    return f"{code} {Decimal(amount):,.2f}"
