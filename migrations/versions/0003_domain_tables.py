"""Domain tables: salaries (seeded), sent emails, leads, candidates (seeded, full-text search).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

The salary table holds monthly PHP ranges for common offshore roles and levels (2025 market
levels for Metro Manila and Cebu, rounded); pricing uses the midpoint. The candidate set is
generated deterministically so the demo and the tests see the same people.
"""

import random

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# role: (junior, mid, senior, lead) monthly PHP (min, max)
SALARIES = {
    "accountant": ((25_000, 35_000), (35_000, 50_000), (50_000, 75_000), (75_000, 110_000)),
    "bookkeeper": ((20_000, 28_000), (28_000, 38_000), (38_000, 52_000), (52_000, 70_000)),
    "virtual assistant": ((18_000, 25_000), (25_000, 35_000), (35_000, 48_000), (48_000, 65_000)),
    "customer service representative": (
        (18_000, 24_000), (24_000, 32_000), (32_000, 42_000), (42_000, 58_000),
    ),
    "graphic designer": ((22_000, 32_000), (32_000, 48_000), (48_000, 70_000), (70_000, 95_000)),
    "software developer": (
        (35_000, 55_000), (55_000, 90_000), (90_000, 140_000), (140_000, 200_000),
    ),
    "web developer": ((30_000, 45_000), (45_000, 75_000), (75_000, 110_000), (110_000, 150_000)),
    "qa tester": ((25_000, 35_000), (35_000, 55_000), (55_000, 80_000), (80_000, 110_000)),
    "data analyst": ((30_000, 45_000), (45_000, 70_000), (70_000, 100_000), (100_000, 140_000)),
    "digital marketer": ((22_000, 32_000), (32_000, 50_000), (50_000, 75_000), (75_000, 100_000)),
    "content writer": ((20_000, 28_000), (28_000, 42_000), (42_000, 60_000), (60_000, 80_000)),
    "project manager": ((40_000, 55_000), (55_000, 80_000), (80_000, 120_000), (120_000, 170_000)),
    "recruiter": ((22_000, 30_000), (30_000, 45_000), (45_000, 65_000), (65_000, 90_000)),
    "video editor": ((22_000, 32_000), (32_000, 48_000), (48_000, 68_000), (68_000, 90_000)),
    "it support specialist": (
        (22_000, 30_000), (30_000, 45_000), (45_000, 65_000), (65_000, 85_000),
    ),
    "medical virtual assistant": (
        (22_000, 30_000), (30_000, 40_000), (40_000, 55_000), (55_000, 72_000),
    ),
}  # fmt: skip
LEVELS = ("junior", "mid", "senior", "lead")

SKILLS = {
    "accountant": ["xero", "quickbooks", "ifrs", "payroll", "reconciliation", "tax", "excel"],
    "bookkeeper": ["xero", "quickbooks", "accounts payable", "reconciliation", "excel"],
    "virtual assistant": ["calendar management", "email management", "research", "canva"],
    "customer service representative": ["zendesk", "chat support", "voice", "crm", "upselling"],
    "graphic designer": ["photoshop", "illustrator", "figma", "branding", "canva"],
    "software developer": ["python", "django", "react", "aws", "postgresql", "typescript"],
    "web developer": ["wordpress", "shopify", "javascript", "css", "php", "react"],
    "qa tester": ["selenium", "manual testing", "jira", "cypress", "api testing"],
    "data analyst": ["sql", "excel", "power bi", "tableau", "python"],
    "digital marketer": ["seo", "google ads", "facebook ads", "email marketing", "analytics"],
    "content writer": ["copywriting", "seo", "blogging", "editing", "research"],
    "project manager": ["agile", "scrum", "jira", "stakeholder management", "asana"],
    "recruiter": ["sourcing", "linkedin", "screening", "ats", "onboarding"],
    "video editor": ["premiere pro", "after effects", "davinci resolve", "motion graphics"],
    "it support specialist": ["windows", "active directory", "networking", "office 365"],
    "medical virtual assistant": ["ehr", "medical billing", "scheduling", "hipaa", "insurance"],
}
FIRST = [
    "Maria",
    "Jose",
    "Ana",
    "Juan",
    "Kristine",
    "Mark",
    "Angelica",
    "John Paul",
    "Jasmine",
    "Carlo",
    "Patricia",
    "Miguel",
    "Camille",
    "Paolo",
    "Bea",
    "Rafael",
    "Nicole",
    "Joshua",
    "Mae",
    "Christian",
    "Janelle",
    "Kevin",
    "Trisha",
    "Gabriel",
]
LAST = [
    "Santos",
    "Reyes",
    "Cruz",
    "Bautista",
    "Ocampo",
    "Garcia",
    "Mendoza",
    "Torres",
    "Villanueva",
    "Ramos",
    "Aquino",
    "Castillo",
    "Navarro",
    "Flores",
    "Dela Cruz",
    "Lim",
]
CITIES = ["Makati", "Taguig", "Quezon City", "Cebu City", "Davao City", "Pasig", "Iloilo City"]
AVAILABILITY = ["immediate", "two_weeks", "one_month", "unavailable"]


def candidates(count: int = 240) -> list[dict]:
    """A deterministic, realistic candidate pool."""
    rng = random.Random(20251123)
    roles = list(SKILLS)
    people = []
    for n in range(count):
        role = roles[n % len(roles)]
        years = rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 10, 12])
        skills = sorted(rng.sample(SKILLS[role], k=min(len(SKILLS[role]), rng.randint(2, 4))))
        seniority = (
            "junior" if years < 2 else "mid" if years < 5 else "senior" if years < 9 else "lead"
        )
        city = rng.choice(CITIES)
        people.append(
            {
                "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                "role": role,
                "skills": skills,
                "years_experience": years,
                "availability": rng.choices(AVAILABILITY, weights=[4, 3, 2, 1])[0],
                "location": city,
                "summary": (
                    f"{seniority.title()} {role} in {city} with {years} years of experience"
                    f" in {', '.join(skills)}."
                ),
            }
        )
    return people


SEARCH_VECTOR = (
    "setweight(to_tsvector('english', coalesce(role, '')), 'A')"
    " || setweight(to_tsvector('english', array_to_string(skills, ' ')), 'B')"
    " || setweight(to_tsvector('english', coalesce(summary, '')), 'C')"
)


def upgrade() -> None:
    salaries = op.create_table(
        "salaries",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("role", sa.String(120), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("monthly_php_min", sa.Numeric(12, 2), nullable=False),
        sa.Column("monthly_php_max", sa.Numeric(12, 2), nullable=False),
        sa.UniqueConstraint("role", "level", name="salaries_role_level"),
        sa.CheckConstraint("level IN ('junior', 'mid', 'senior', 'lead')", name="salaries_level"),
    )
    op.bulk_insert(
        salaries,
        [
            {"role": role, "level": level, "monthly_php_min": low, "monthly_php_max": high}
            for role, ranges in SALARIES.items()
            for level, (low, high) in zip(LEVELS, ranges, strict=True)
        ],
    )
    op.create_table(
        "sent_emails",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recipients", ARRAY(sa.Text), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(255)),
        sa.Column("claimed_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('sending', 'sent')", name="sent_emails_status"),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("company", sa.String(200), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("pushed_at", sa.DateTime(timezone=True)),
    )
    candidates_table = op.create_table(
        "candidates",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(120), nullable=False),
        sa.Column("skills", ARRAY(sa.Text), nullable=False),
        sa.Column("years_experience", sa.Integer, nullable=False),
        sa.Column("availability", sa.String(20), nullable=False),
        sa.Column("location", sa.String(120)),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("search_vector", TSVECTOR),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_index("candidates_search", "candidates", ["search_vector"], postgresql_using="gin")
    op.bulk_insert(candidates_table, candidates())
    op.execute(f"UPDATE candidates SET search_vector = {SEARCH_VECTOR}")


def downgrade() -> None:
    for table in ("candidates", "leads", "sent_emails", "salaries"):
        op.drop_table(table)
