"""Monthly salaries per role and level, from the `salaries` table (seeded by migration 0003).

Pricing uses the midpoint of the table's range. The table is small and changes with a
migration, so it is read once per call of `salary_table` and looked up in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import Engine, text

from config.errors import PermanentError


class UnknownRole(PermanentError):
    """A role, or a level of it, that the salary table does not price."""


def salary_table(engine: Engine) -> dict[tuple[str, str], Decimal]:
    with engine.connect() as db:
        rows = db.execute(
            text("SELECT role, level, monthly_php_min, monthly_php_max FROM salaries")
        ).all()
    return {(row.role, row.level): (row.monthly_php_min + row.monthly_php_max) / 2 for row in rows}


def lookup(table: dict[tuple[str, str], Decimal]) -> Callable[[str, str], Decimal]:
    """A `salary_for(title, level)` over the table, raising UnknownRole with the role named."""
    roles = sorted({role for role, _ in table})

    def salary_for(title: str, level: str) -> Decimal:
        try:
            return table[(title, level)]
        except KeyError:
            if title not in roles:
                raise UnknownRole(
                    f"unknown role {title!r}: priced roles are {', '.join(roles)}"
                ) from None
            raise UnknownRole(
                f"role {title!r} has no {level!r} level in the salary table"
            ) from None

    return salary_for
