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
from datetime import date
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
WORKSPACE_LABELS = {"wfh": "working from home", "hybrid": "hybrid", "office": "office based"}
LEVEL_LABELS = {"junior": "junior", "mid": "mid-level", "senior": "senior", "lead": "lead"}
# Catalogue titles are lower-case for the parser; a customer reads these words as they are
# written in job ads.
TITLE_WORDS = {"ui ux": "UI/UX", "seo": "SEO", "qa": "QA", "hr": "HR", "ppc": "PPC", "it": "IT",
               "devops": "DevOps"}  # fmt: skip
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip
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
    the quote's currency at its dated rate (pricing/engine.py names them by its code). The
    wording is settled here, once, so the text and the HTML parts say the same."""
    request = quote["request"]
    code = quote["quote_currency"]
    suffix = code.lower()
    lines = [
        {
            "heading": _heading(line),
            "count": line["count"],
            "scope": _scope(line["count"]),
            "monthly_salary": _php(line["monthly_salary"]),
            "costs": [
                {"label": ITEM_LABELS[item], "amount": _php(amount)}
                for item, amount in line["items"].items()
                if Decimal(amount) or item == "salary"
            ],
            "total_php": _php(line["total_php"]),
            "total_converted": _amount(code, line[f"total_{suffix}"]),
        }
        for line in quote["lines"]
    ]
    totals = quote["totals"]
    as_of = quote[f"{suffix}_rate_as_of"]
    return {
        "name": name,
        "team": _listed([_team(line) for line in quote["lines"]]),
        "workspace": WORKSPACE_LABELS[request["workspace"]],
        "tier": request["tier"],
        "quoted_on": _day(quote["quoted_on"]),
        "lines": lines,
        "total_php": _php(totals["monthly_php"]),
        "total_converted": _amount(code, totals[f"monthly_{suffix}"]),
        "employee_deductions": _php(totals["employee_deductions"]["total"]),
        "currency": code,
        "rate": f"PHP {quote[f'{suffix}_rate']}",
        "rate_said": ", ".join(
            [quote[f"{suffix}_rate_source"], *([f"as of {_day(as_of)}"] if as_of else [])]
        ),
    }


def display_title(title: str, count: int = 1) -> str:
    """A catalogue title as a customer reads it, in the plural for any count but one:
    "SEO specialist" for one, "UI/UX designers" for two (the caller writes the count)."""
    words = f" {title} "
    for lower, written in TITLE_WORDS.items():
        words = words.replace(f" {lower} ", f" {written} ")
    words = words.strip()
    return words if count == 1 else _plural(words)


def _plural(noun: str) -> str:
    """English's regular plurals, so a title added to the catalogue reads right unasked."""
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return f"{noun}es"
    if noun.endswith("y") and noun[-2:-1] not in tuple("aeiou"):
        return f"{noun[:-1]}ies"
    return f"{noun}s"


def _people(line: dict[str, Any]) -> str:
    return f"{line['count']} {display_title(line['title'], line['count'])}"


def _team(line: dict[str, Any]) -> str:
    """A line as the team is listed: "5 customer service representatives (mid-level)"."""
    return f"{_people(line)} ({LEVEL_LABELS[line['level']]})"


def _heading(line: dict[str, Any]) -> str:
    """A line's own heading, its conditions beside its level: "5 customer service
    representatives (mid-level, night shift, 20 hours a week)"."""
    said = [LEVEL_LABELS[line["level"]]]
    if line["shift"] == "night":
        said.append("night shift")
    if line["hours_per_week"] != 40:
        said.append(f"{line['hours_per_week']} hours a week")
    return f"{_people(line)} ({', '.join(said)})"


def _scope(count: int) -> str:
    """Who a line's monthly figures are for: "the one person", "both", "all 5"."""
    return {1: "the one person", 2: "both"}.get(count, f"all {count}")


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _day(iso: str) -> str:
    """A day as "1 December 2026": no reader takes it for 12 January, and no locale changes
    the month's name."""
    day = date.fromisoformat(iso)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _php(amount: str) -> str:
    return _amount("PHP", amount)


def _amount(code: str, amount: str) -> str:
    return f"{code} {Decimal(amount):,.2f}"
