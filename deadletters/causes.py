"""A dead letter's cause: what many letters share, so ops triage causes, not rows.

Forty-two letters that say `per_page must be between 1 and 100, got 1000` and `... got 500`
are one problem. A cause is the task, the reason, the exception type and the message with
its numbers, ids and e-mail addresses masked (`per_page must be between # and #, got #`);
its fingerprint is a short hash of those four. Both are columns Postgres computes from the
row (migration 0010), so every path that writes a letter (capture, the spool's drain, a
replay that fails again) groups alike without remembering to, and letters stored before
the columns existed were grouped when they were added. The message is the redacted one
the row holds. Quoted words are kept: `no role 'astronaut'` and `no role 'pilot'` may be
different fixes.
"""

from __future__ import annotations

#: (pattern, replacement, flags) applied in order by Postgres' regexp_replace.
MASKS = (
    ("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", "gi"),
    (r"\m(?=[0-9a-f]*[0-9])[0-9a-f]{12,}\M", "<id>", "gi"),
    ("[^[:space:]@'\"<>]+@[^[:space:]@'\"<>]+", "<email>", "g"),
    (r"(^|[^[:alnum:]_.#-])-?[0-9]+([.,][0-9]+)*", r"\1#", "g"),
    ("[[:space:]]+", " ", "g"),
)
#: Characters of the masked message kept: a cause is a line, not a document.
CAUSE_LENGTH = 300
#: Hex digits of the fingerprint (64 bits: no two causes of one platform meet).
FINGERPRINT_LENGTH = 16


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def cause_sql() -> str:
    """The SQL expression of a row's cause (an immutable one, as a generated column needs)."""
    expression = "coalesce(exception_message, '')"
    for pattern, replacement, flags in MASKS:
        expression = (
            f"regexp_replace({expression}, {_literal(pattern)}, {_literal(replacement)},"
            f" {_literal(flags)})"
        )
    return f"left({expression}, {CAUSE_LENGTH})"


def fingerprint_sql() -> str:
    """The SQL expression of a row's fingerprint (a generated column cannot read another)."""
    parts = " || chr(10) || ".join(
        ["task_name", "reason", "coalesce(exception_type, '')", cause_sql()]
    )
    return f"left(md5({parts}), {FINGERPRINT_LENGTH})"
