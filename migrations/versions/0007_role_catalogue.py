"""Salaries for the whole role catalogue (pricing/catalogue.py): the 34 roles offshore
staffing firms list beyond the first 16 (support, admin, finance, creative, marketing,
sales, engineering, healthcare back office, people).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

Monthly PHP ranges per level, 2025 market levels for Metro Manila and Cebu, rounded as in
0003; pricing uses the midpoint. The figures are frozen here, as a migration must be.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LEVELS = ("junior", "mid", "senior", "lead")
# role: (junior, mid, senior, lead) monthly PHP (min, max), in thousands
SALARIES = {
    "technical support representative": ((20, 26), (26, 35), (35, 46), (46, 60)),
    "chat support agent": ((18, 23), (23, 30), (30, 40), (40, 52)),
    "executive assistant": ((25, 35), (35, 50), (50, 70), (70, 95)),
    "administrative assistant": ((18, 24), (24, 32), (32, 42), (42, 55)),
    "data entry specialist": ((16, 20), (20, 26), (26, 34), (34, 44)),
    "real estate virtual assistant": ((20, 27), (27, 37), (37, 50), (50, 65)),
    "certified public accountant": ((35, 45), (45, 65), (65, 95), (95, 140)),
    "payroll specialist": ((22, 30), (30, 42), (42, 58), (58, 80)),
    "accounts payable specialist": ((20, 27), (27, 36), (36, 48), (48, 62)),
    "accounts receivable specialist": ((20, 27), (27, 36), (36, 48), (48, 62)),
    "financial analyst": ((30, 42), (42, 65), (65, 95), (95, 130)),
    "ui ux designer": ((30, 45), (45, 70), (70, 105), (105, 140)),
    "illustrator": ((22, 30), (30, 45), (45, 65), (65, 85)),
    "animator": ((25, 35), (35, 52), (52, 75), (75, 100)),
    "seo specialist": ((22, 32), (32, 48), (48, 70), (70, 95)),
    "social media manager": ((22, 32), (32, 48), (48, 68), (68, 90)),
    "copywriter": ((22, 30), (30, 45), (45, 65), (65, 85)),
    "ppc specialist": ((25, 35), (35, 52), (52, 75), (75, 100)),
    "email marketing specialist": ((22, 32), (32, 46), (46, 65), (65, 85)),
    "lead generation specialist": ((18, 25), (25, 34), (34, 45), (45, 60)),
    "appointment setter": ((18, 24), (24, 32), (32, 42), (42, 55)),
    "sales development representative": ((22, 30), (30, 42), (42, 58), (58, 78)),
    "full stack developer": ((40, 60), (60, 100), (100, 150), (150, 210)),
    "mobile app developer": ((38, 58), (58, 95), (95, 145), (145, 200)),
    "devops engineer": ((45, 65), (65, 105), (105, 160), (160, 220)),
    "data engineer": ((40, 60), (60, 100), (100, 150), (150, 200)),
    "data scientist": ((45, 65), (65, 105), (105, 160), (160, 220)),
    "system administrator": ((28, 38), (38, 58), (58, 85), (85, 115)),
    "medical coder": ((25, 33), (33, 45), (45, 60), (60, 80)),
    "medical biller": ((22, 30), (30, 40), (40, 54), (54, 70)),
    "medical scribe": ((20, 27), (27, 36), (36, 48), (48, 62)),
    "insurance verification specialist": ((20, 27), (27, 35), (35, 46), (46, 60)),
    "prior authorization specialist": ((22, 29), (29, 38), (38, 50), (50, 65)),
    "hr generalist": ((24, 32), (32, 45), (45, 65), (65, 90)),
}

salaries = sa.table(
    "salaries",
    sa.column("role", sa.String),
    sa.column("level", sa.String),
    sa.column("monthly_php_min", sa.Numeric),
    sa.column("monthly_php_max", sa.Numeric),
)


def upgrade() -> None:
    op.bulk_insert(
        salaries,
        [
            {
                "role": role,
                "level": level,
                "monthly_php_min": low * 1000,
                "monthly_php_max": high * 1000,
            }
            for role, ranges in SALARIES.items()
            for level, (low, high) in zip(LEVELS, ranges, strict=True)
        ],
    )


def downgrade() -> None:
    op.execute(
        sa.delete(salaries).where(salaries.c.role.in_(list(SALARIES)))  # type: ignore[arg-type]
    )
