"""One handle per task a web app may queue, named as the task's function, with what it takes.

`from taskplatform.tasks import generate_quote`, then `generate_quote.delay(request)`.
Each declaration is checked by the client before a publish and by the worker before the
job runs (tasks/base.py); the domain modules take their limits from here, so a number is
written once. The platform's suite checks this list against the tasks its workers register
(tests/integration/test_registry.py): a task added there without a handle here fails it.
Beat's housekeeping tasks (queue `maintenance`) are the platform's own, not a web app's.
"""

from __future__ import annotations

from taskplatform.handles import TaskHandle
from taskplatform.schemas import Either, Items, Nullable, Param, Record, Signature, Text, Whole

# -- quotes (pricing/requests.py reads these) -------------------------------------------------
QUOTE_MIN_COUNT, QUOTE_MAX_COUNT = 1, 500
QUOTE_MAX_TITLE_LENGTH = 80
QUOTE_MAX_TEXT_LENGTH = 2000
QUOTE_SHIFTS = ("day", "night")
QUOTE_TIERS = ("standard", "premium", "enterprise")
QUOTE_MIN_HOURS, QUOTE_FULL_TIME_HOURS = 4, 40
QUOTE_ROLE_KEYS = ("title", "level", "count", "shift", "hours_per_week")
# ISO codes a quote may be shown in besides PHP (any case; none means USD): pricing/currencies.py.
QUOTE_CURRENCIES = ("usd", "aud", "gbp", "eur")

ROLE = Record(
    {
        "title": Text(QUOTE_MAX_TITLE_LENGTH, least=1),
        "level": Text(40),
        "count": Whole(QUOTE_MIN_COUNT, QUOTE_MAX_COUNT),
        "shift": Text(choices=QUOTE_SHIFTS),
        "hours_per_week": Whole(QUOTE_MIN_HOURS, QUOTE_FULL_TIME_HOURS),
    },
    required=("title", "count"),
)
QUOTE_CURRENCY = Nullable(Text(choices=QUOTE_CURRENCIES))
QUOTE_REQUEST = Either(
    (
        Text(QUOTE_MAX_TEXT_LENGTH, least=1),
        Record({"text": Text(QUOTE_MAX_TEXT_LENGTH, least=1)}, required=("text",)),
        Record(
            {
                "roles": Items(ROLE, least=1),
                "workspace": Text(40),
                "tier": Text(choices=QUOTE_TIERS),
                "currency": QUOTE_CURRENCY,
            },
            required=("roles",),
        ),  # fmt: skip
    ),
    "a request: text, {'text': ...} or {'roles': [...], 'workspace': ..., 'tier': ...,"
    " 'currency': ...}",
)

# -- search (candidates/search.py reads these) ------------------------------------------------
SEARCH_MAX_PER_PAGE = 100
SEARCH_MAX_QUERY_CHARS = 500
SEARCH_AVAILABILITY = ("immediate", "two_weeks", "one_month", "unavailable")
SEARCH_FIELDS = ("q", "role", "skills", "min_years", "availability", "page", "per_page")

AVAILABILITY = Text(choices=SEARCH_AVAILABILITY)
SEARCH_QUERY = Record(
    {
        "q": Text(SEARCH_MAX_QUERY_CHARS),
        "role": Text(200),
        "skills": Items(Text(200)),
        "min_years": Whole(0, 80, digits=True),
        "availability": Either((AVAILABILITY, Items(AVAILABILITY)), "a value or a list"),
        "page": Whole(1, 10_000, digits=True),
        "per_page": Whole(1, SEARCH_MAX_PER_PAGE, digits=True),
    }
)

# -- mail and leads ---------------------------------------------------------------------------
ADDRESS = Text(320, least=1)
MESSAGE = Record(
    {"to": Either((ADDRESS, Items(ADDRESS, least=1)), "an address or a list of addresses"),
     "reply_to": Text(320), "subject": Text(998), "template": Text(100)},
    required=("to",),
    closed=False,  # a template's context and the rest are the mail module's to check
)  # fmt: skip
IDEMPOTENCY_KEY = Text(255, least=1)
LEAD = Record(
    {name: Text(least=1) for name in ("email", "name", "company", "source")},
    required=("email", "name", "company", "source"),
    closed=False,
)
RECORD_ID = Whole(1, 2**63 - 1, digits=True)

generate_quote = TaskHandle(
    "quote.generate_quote",
    Signature((Param("request", QUOTE_REQUEST), Param("currency", QUOTE_CURRENCY, required=False))),
)
send_email = TaskHandle(
    "email.send_email",
    Signature((Param("message", MESSAGE), Param("idempotency_key", IDEMPOTENCY_KEY))),
)
send_candidate_matches = TaskHandle(
    "email.send_candidate_matches",
    Signature((Param("lead_id", RECORD_ID), Param("candidate_ids", Items(RECORD_ID, least=1)))),
)
send_quote = TaskHandle(
    "email.send_quote",
    Signature(
        (
            Param("request", QUOTE_REQUEST),
            Param("to", ADDRESS),
            Param("name", Nullable(Text(200)), required=False),
            Param("currency", QUOTE_CURRENCY, required=False),
        )
    ),
)
capture_lead = TaskHandle("crm.capture_lead", Signature((Param("lead", LEAD),)))
search_candidates = TaskHandle(
    "search.search_candidates", Signature((Param("query", SEARCH_QUERY),))
)
reindex_candidates = TaskHandle("search.reindex_candidates", Signature(()))

#: Every handle by task name: what the worker checks a job's arguments against.
BY_NAME: dict[str, TaskHandle] = {
    handle.name: handle
    for handle in (generate_quote, send_email, send_candidate_matches, send_quote,
                   capture_lead, search_candidates, reindex_candidates)
}  # fmt: skip

__all__ = [
    "capture_lead",
    "generate_quote",
    "reindex_candidates",
    "search_candidates",
    "send_candidate_matches",
    "send_email",
    "send_quote",
]
