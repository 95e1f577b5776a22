"""Quote requests: whatever the client typed, one canonical form.

A quote is cached and priced by its normalised request, so "2 senior accountants, office based"
and {"roles": [{"title": "Accountant", "level": "sr", "count": 2}], "workspace": "onsite"}
must become the same value with the same `cache_key()`. Parsing free text sits behind the
`QuoteParser` protocol so a smarter parser can replace the rule-based one; whatever a parser
returns is normalised again here, so a careless parser cannot break the cache key.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from config.errors import InvalidInput
from pricing import catalogue, wording
from taskplatform import tasks

LEVELS = ("junior", "mid", "senior", "lead")
WORKSPACES = ("wfh", "hybrid", "office")
TIERS = tasks.QUOTE_TIERS
SHIFTS = tasks.QUOTE_SHIFTS
DEFAULT_SHIFT = "day"
FULL_TIME_HOURS = tasks.QUOTE_FULL_TIME_HOURS
PART_TIME_HOURS = 20  # "part time" with no hours: four hours a day, the usual offshore part-time
MIN_HOURS = tasks.QUOTE_MIN_HOURS
WORKDAYS_PER_WEEK = 5
DEFAULT_LEVEL = "mid"
DEFAULT_WORKSPACE = "wfh"
DEFAULT_TIER = "standard"
# The limits a web app's client checks too: declared once, with the task (taskplatform/tasks.py).
MIN_COUNT, MAX_COUNT = tasks.QUOTE_MIN_COUNT, tasks.QUOTE_MAX_COUNT
MAX_TITLE_LENGTH = tasks.QUOTE_MAX_TITLE_LENGTH
MAX_TEXT_LENGTH = tasks.QUOTE_MAX_TEXT_LENGTH
# Bumped whenever normalisation changes meaning, so old cache entries stop matching.
CACHE_KEY_VERSION = 2

LEVEL_SYNONYMS = {
    "junior": "junior",
    "jr": "junior",
    "entry": "junior",
    "entry level": "junior",
    "junior level": "junior",
    "mid": "mid",
    "mid level": "mid",
    "midlevel": "mid",
    "intermediate": "mid",
    "senior": "senior",
    "sr": "senior",
    "senior level": "senior",
    "lead": "lead",
}
WORKSPACE_SYNONYMS = {
    "wfh": "wfh",
    "remote": "wfh",
    "work from home": "wfh",
    "home": "wfh",
    "hybrid": "hybrid",
    "office": "office",
    "onsite": "office",
    "on site": "office",
    "in office": "office",
    "office based": "office",
}
# Last words that end in "s" but are already singular.
SINGULAR_ENDINGS = ("ss", "us", "is")
SINGULAR_WORDS = frozenset({"sales", "series", "news", "ops", "devops", "ios", "analytics"})


ROLE_KEYS = tasks.QUOTE_ROLE_KEYS


class InvalidQuoteRequest(InvalidInput):
    """The request cannot be read as a quote; the message names the offending value."""


class UnknownCurrency(InvalidQuoteRequest):
    """A currency the quote cannot be shown in; the message names the ones it can."""


@dataclass(frozen=True)
class RoleLine:
    """People of one title and level on the same shift and weekly hours."""

    title: str
    level: str
    count: int
    shift: str = DEFAULT_SHIFT
    hours_per_week: int = FULL_TIME_HOURS


@dataclass(frozen=True)
class QuoteRequest:
    roles: tuple[RoleLine, ...]
    workspace: str
    tier: str
    #: The currency the request names ("in GBP"), an upper-case code, or None: the caller's
    #: `currency` argument, or USD, decides then (tasks/quote.py).
    currency: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The structured form: `parse_request(q.to_dict()) == q`."""
        return {
            "roles": [
                {
                    "title": line.title,
                    "level": line.level,
                    "count": line.count,
                    "shift": line.shift,
                    "hours_per_week": line.hours_per_week,
                }
                for line in self.roles
            ],
            "workspace": self.workspace,
            "tier": self.tier,
        } | ({"currency": self.currency} if self.currency else {})

    def team(self) -> dict[str, Any]:
        """What is priced: the structured form without the currency it is shown in (a quote
        names that itself), so two ways of asking for one team quote alike."""
        return {k: v for k, v in self.to_dict().items() if k != "currency"}

    def cache_key(self) -> str:
        """Equal for requests that mean the same team; rates, the currency shown and the date
        are the caller's to add (pricing/cache.py)."""
        canonical = json.dumps(
            {"v": CACHE_KEY_VERSION, "request": self.team()},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
        )
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()


class QuoteParser(Protocol):
    def parse(self, text: str) -> QuoteRequest: ...


def parse_request(request: dict | str, parser: QuoteParser | None = None) -> QuoteRequest:
    """Read a structured or free-text request into its one canonical form."""
    if isinstance(request, str):
        return _from_text(request, parser)
    if not isinstance(request, dict):
        raise InvalidQuoteRequest(
            f"a quote request must be a dict or a string, not {type(request).__name__}"
        )
    if "text" in request:
        _reject_unknown_keys(request, {"text"}, "a text request")
        if not isinstance(request["text"], str):
            raise InvalidQuoteRequest(
                f"'text' must be a string, not {type(request['text']).__name__}"
            )
        return _from_text(request["text"], parser)
    return _from_structured(request)


def normalised(request: QuoteRequest) -> QuoteRequest:
    """Canonical form of any QuoteRequest, e.g. one built by a parser: merged, sorted, checked."""
    if not isinstance(request, QuoteRequest):
        raise InvalidQuoteRequest(f"expected a QuoteRequest, got {type(request).__name__}")
    if not isinstance(request.roles, tuple | list) or not all(
        isinstance(line, RoleLine) for line in request.roles
    ):
        raise InvalidQuoteRequest(f"roles must be a tuple of RoleLine, not {request.roles!r}")
    return _build(
        [
            (line.title, line.level, line.count, line.shift, line.hours_per_week)
            for line in request.roles
        ],
        request.workspace,
        request.tier,
        request.currency,
    )


# -- structured form ------------------------------------------------------------------------


def _from_structured(request: dict) -> QuoteRequest:
    _reject_unknown_keys(request, {"roles", "workspace", "tier", "currency"}, "a quote request")
    roles = request.get("roles")
    if not isinstance(roles, list | tuple):
        raise InvalidQuoteRequest(f"'roles' must be a list of roles, not {roles!r}")
    lines = []
    for index, role in enumerate(roles):
        if not isinstance(role, dict):
            raise InvalidQuoteRequest(f"roles[{index}] must be a dict, not {role!r}")
        _reject_unknown_keys(role, set(ROLE_KEYS), f"roles[{index}]")
        lines.append(tuple(role.get(key) for key in ROLE_KEYS))
    workspace = request.get("workspace")
    tier = request.get("tier")
    return _build(
        lines,
        DEFAULT_WORKSPACE if workspace is None else workspace,
        DEFAULT_TIER if tier is None else tier,
        request.get("currency"),
    )


def _reject_unknown_keys(data: dict, allowed: set[str], what: str) -> None:
    """A misspelt key would otherwise fall back to a default and quote the wrong thing."""
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise InvalidQuoteRequest(
            f"{what} has unknown keys {unknown}; expected some of {sorted(allowed)}"
        )


# -- free text ------------------------------------------------------------------------------


def _from_text(text: str, parser: QuoteParser | None) -> QuoteRequest:
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidQuoteRequest(
            f"request text is {len(text)} characters; at most {MAX_TEXT_LENGTH} are read"
        )
    _refuse_unreadable_characters(text, "the request text")
    parsed = (parser or RuleBasedParser()).parse(text)
    return normalised(parsed)


# C0 and C1 controls but tab, newline and carriage return; and lone surrogates, which a str
# holds only when it was decoded from broken UTF-16 or "\ud800" in JSON.
_UNREADABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _refuse_unreadable_characters(value: str, what: str) -> None:
    """Nobody types a NUL or half a surrogate pair: such text was mangled on its way here,
    and pricing it would quote whatever the mangling left."""
    match = _UNREADABLE.search(value)
    if match:
        code = ord(match.group(0))
        kind = "an unpaired surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
        raise InvalidQuoteRequest(
            f"{what} has {kind} (U+{code:04X}) at position {match.start()}; send plain text"
            f" (tabs and line breaks are fine): {_shown(value)}"
        )


_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SEPARATORS = re.compile(r"[,;:.&+/()\n]|\b(?:and|plus)\b")
# "office" alone names the workspace only when no word of a title follows ("office manager").
_NOT_A_TITLE_NEXT = r"(?!\s+(?!and\b|plus\b)[a-z])"
_WORKSPACE_PHRASES = (
    ("office", r"(?:(?:working|work|based)\s+)?(?:on\s*site|in\s+(?:the\s+|an\s+)?office)"),
    ("office", r"office\s+based"),
    ("office", rf"(?:(?:at|from)\s+(?:the\s+|an\s+)?)?office{_NOT_A_TITLE_NEXT}"),
    ("hybrid", r"hybrid(?:\s+(?:setup|set\s+up|arrangement|work|working|basis))?"),
    ("wfh", r"(?:fully\s+)?remote(?:\s+(?:setup|work|working|basis))?"),
    ("wfh", r"(?:work|working)\s+from\s+home|wfh|home\s+based"),
    ("office", r"(?:work|working)\s+from\s+(?:the\s+)?office|wfo"),
)
# "our enterprise clients" is a purpose, not the enterprise tier.
_TIER_PHRASE = re.compile(
    r"(?:\b(?:on|in|at)\s+(?:the\s+|a\s+)?)?\b(?P<tier>standard|premium|enterprise)\b"
    r"(?:\s+(?:tier|plan|package|service)\b"
    rf"|(?!\s+(?:{'|'.join(sorted(wording.PURPOSE_HEADS))})\b))"
)
# Shift and schedule phrases, read per fragment (see RuleBasedParser).
_SHIFT_PHRASES = (
    ("night", r"(?:night|graveyard|overnight|gy)\s*shifts?|graveyard|overnight"),
    ("night", r"night\s*diff(?:erential)?|nights?(?:\s*time)?"),
    ("day", r"(?:day|morning)\s*shifts?|day\s*time|days?"),
)
# Shifts clients name that a quote has no price for: refused by name, never read as day.
_UNPRICED_SHIFT = re.compile(
    r"\b(?:mid|swing|evening|afternoon|split|rotating|rotational|early|late)\s*shifts?\b"
    r"|\bshifting\s+schedules?\b"
)
# Work outside a five-day week of day or night shifts costs more (premium pay for rest days,
# holidays, overtime, on-call duty), and a quote does not price it: refused wherever it is
# said, in a purpose too ("to cover our weekend calls").
_UNPRICED_TIME = re.compile(
    r"\b(?:weekends?|saturdays?|sundays?|holidays?|overtime|on[\s-]*call|after[\s-]*hours?"
    r"|rest[\s-]*days?|overnight|midnight|graveyard\s+hours)\b"
)
_SCHEDULE_PHRASES = (
    ("part_time", r"part\s*(?:time|timers?)"),
    ("hours", r"full\s*(?:time|timers?)|ft"),
)
_SCHEDULE_VALUES = {"part_time": True, "hours": FULL_TIME_HOURS}
_HOUR_WORDS = frozenset({"hour", "hours", "hr", "hrs", "h"})
_PER_WORDS = frozenset({"a", "per", "each", "every"})
_WEEK_WORDS = frozenset({"week", "wk", "weekly"})
_DAY_WORDS = frozenset({"day", "daily"})
_MORE = frozenset({"more", "other", "additional", "extra"})
# "5 pax CSRs", "CSR x 5 pax", "5 people for customer service": a count's noun, not a role.
_HEADS = frozenset(
    ("pax", "people", "persons", "person", "heads", "head", "headcount", "seats", "seat", "nos")
)
_LEVEL_WORDS = {
    "entry": "junior", "junior": "junior", "jr": "junior", "jnr": "junior", "mid": "mid",
    "midlevel": "mid", "intermediate": "mid", "senior": "senior", "sr": "senior",
    "snr": "senior", "lead": "lead",
}  # fmt: skip
# Written in a title's place: "Python devs", "customer service reps".
_ABBREVIATIONS = {
    "dev": "developer",
    "rep": "representative",
    "mgr": "manager",
    "asst": "assistant",
    "engr": "engineer",
}
# Words before a title that name the same job: "10 inbound call center agents" are CSRs,
# "an Amazon VA" a virtual assistant. "outbound" is sales work (see _refuse_outbound).
_INBOUND_FAMILIES = frozenset({"support", "sales"})
_FAMILY = {role.title: role.family for role in catalogue.ROLES}
_REGION_CONTEXT = "|".join(sorted(wording.ANY_CONTEXT, key=len, reverse=True))


class RuleBasedParser:
    """Reads requests as a sales team writes them: "2 senior accountants and a junior graphic
    designer, office based", "night-shift customer support x5", "3 CSRs for Aussie hours".

    A request is cut into fragments at commas, "and" and the like. A fragment is a role: a
    count (in digits or words, or after the title: "x5", "(5)", ": 5"), a level (before or
    after the title), a title or alias from the role catalogue, and what the team works for
    ("for our Shopify store": read, it does not change the price); with the shift and hours
    said in the same fragment ("5 CSRs for the night shift", "US hours", "20 hrs/week"). Or a
    fragment holds conditions or a level alone ("3 CSRs, night shift", "payroll specialist,
    mid level"), which then hold for every role that does not say its own. So punctuation
    never changes what is priced. Deliberately strict: every word is read or refused by
    name, because quoting a misread team is worse than asking the client to rephrase.
    """

    def parse(self, text: str) -> QuoteRequest:
        _refuse_unreadable_characters(text, "the request text")
        cleaned = _clean(_prepared(text))
        cleaned, workspace = _take_workspace(cleaned, text)
        cleaned, tier = _take_tier(cleaned, text)
        cleaned, currency = _take_currency(cleaned, text)
        lines: list[tuple[tuple[str, str | None, int], _Conditions]] = []
        shared = _Conditions()
        unreadable: list[str] = []
        after_purpose = False
        for segment in _SEPARATORS.split(cleaned):
            words = segment.split()
            if not words:
                continue
            conditions, words = _take_conditions(words, text)
            reading = _read_fragment(words, text, after_purpose)
            after_purpose = reading.purpose
            if reading.unread:
                unreadable.append(" ".join(reading.unread))
            if reading.role is None:
                shared = shared.merged(replace(conditions, level=reading.level), text)
            else:
                lines.append((reading.role, conditions))
        if unreadable:
            raise InvalidQuoteRequest(
                f"cannot read {', '.join(map(repr, unreadable))} in {_shown(text)}; write each"
                " role like '2 senior accountants', with its shift or hours if any"
                " ('night shift', 'US hours', 'part time', '20 hours a week')"
            )
        if not lines:
            raise InvalidQuoteRequest(f"no roles found in {_shown(text)}")
        _refuse_unused(shared, [(role[1], own) for role, own in lines], text)
        return _build(
            [
                (
                    title,
                    level or shared.level,
                    count,
                    own.shift or shared.shift,
                    _weekly_hours(own, shared, alone=len(lines) == 1),
                )
                for (title, level, count), own in lines
            ],
            workspace or DEFAULT_WORKSPACE,
            tier or DEFAULT_TIER,
            currency,
        )


@dataclass(frozen=True)
class _Conditions:
    """What a fragment says besides a role; `said` keeps the words, for messages."""

    shift: str | None = None
    hours: int | None = None
    level: str | None = None
    part_time: bool = False  # "part time": fewer than 40 hours, 20 unless the hours are said
    said: tuple[tuple[str, str], ...] = ()

    def merged(self, other: _Conditions, original: str) -> _Conditions:
        """Both sets of conditions, refusing a contradiction rather than picking one."""
        values: dict[str, Any] = {}
        mine_said, theirs_said = dict(self.said), dict(other.said)
        for name in ("shift", "hours", "level"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not None and theirs is not None and mine != theirs:
                what = {"shift": "shifts", "hours": "weekly hours", "level": "levels"}[name]
                raise InvalidQuoteRequest(
                    f"{_shown(original)} asks for two different {what}:"
                    f" {_as_said(mine, mine_said.get(name))} and"
                    f" {_as_said(theirs, theirs_said.get(name))}"
                )
            values[name] = mine if mine is not None else theirs
        said = {**theirs_said, **mine_said}
        part_time = self.part_time or other.part_time
        if part_time and values["hours"] == FULL_TIME_HOURS:
            raise InvalidQuoteRequest(
                f"{_shown(original)} asks for two different weekly hours: part time"
                f" ({said.get('part_time')!r}) and {_as_said(FULL_TIME_HOURS, said.get('hours'))}"
            )
        return _Conditions(**values, part_time=part_time, said=tuple(said.items()))


def _weekly_hours(own: _Conditions, shared: _Conditions, alone: bool) -> int | None:
    """A role's own hours, else its own "part time", else what was said alone for every
    role; None is full time. A role `alone` in its request takes part-time hours said apart
    ("2 VAs part time, 15 hours a week"): with more roles they are the other roles'."""
    if own.hours is not None:
        return own.hours
    if own.part_time:
        fits = alone and shared.hours is not None and shared.hours < FULL_TIME_HOURS
        return shared.hours if fits else PART_TIME_HOURS
    if shared.hours is not None:
        return shared.hours
    return PART_TIME_HOURS if shared.part_time else None


def _as_said(value: Any, said: str | None) -> str:
    return f"{value} ({said!r})" if said and said != str(value) else str(value)


def _refuse_unused(
    shared: _Conditions, lines: list[tuple[str | None, _Conditions]], original: str
) -> None:
    """A shift, hours or level said alone that every role overrides was not used: the client
    meant it for someone, so ask rather than drop it ("5 CSRs on nights, day shift")."""
    said = dict(shared.said)
    for name in ("shift", "level"):
        value = getattr(shared, name)
        own = [
            level if name == "level" else getattr(conditions, name) for level, conditions in lines
        ]
        if value is not None and None not in own and any(mine != value for mine in own):
            _refuse_said_for_no_role(said.get(name, str(value)), name, original)
    alone = len(lines) == 1
    hours = [(own, _weekly_hours(own, shared, alone)) for _, own in lines]
    if (
        shared.hours is not None
        and not any(own.hours is None and weekly == shared.hours for own, weekly in hours)
        and any(weekly != shared.hours for _, weekly in hours)
    ):
        _refuse_said_for_no_role(said.get("hours", str(shared.hours)), "hours", original)
    if shared.part_time and all(own.hours == FULL_TIME_HOURS for own, _ in hours):
        _refuse_said_for_no_role(said["part_time"], "hours", original)


def _refuse_said_for_no_role(said: str, what: str, original: str) -> None:
    raise InvalidQuoteRequest(
        f"{_shown(original)} says {said!r} for no role: each role gives its own {what}; put"
        f" {said!r} with the role it is for"
    )


def _shown(text: str) -> str:
    """The client's text in an error message, cut short: enough to find it, not a wall."""
    return repr(text) if len(text) <= 80 else repr(text[:77] + "...")


# -- before the words: numbers, clock times, list marks ------------------------------------

# "-2 developers"; "Night shift - 5 CSRs" has a dash, not a negative number.
_NEGATIVE = re.compile(r"(?:^|[^\w.])([-\u2212\u2013]\d+)")
_FRACTION = re.compile(r"\d+\s*(?:[.,]\d+|/\s*\d+)|[\u00bc-\u00be\u2150-\u215e]|\bhalf\b")
_RANGE = re.compile(r"\d+\s*(?:-|\u2013|to|or)\s*\d+")
_ROUND_THE_CLOCK = re.compile(
    r"\b24\s*(?:/|x)\s*7\b|\b24\s*(?:hours?|hrs?)\s*(?:a|per)?\s*day\b"
    r"|\b(?:a)?round\W+the\W+clock\b"
)
# Clock times: "9am-6pm", "from 8 pm", "9:00", "9-5 EST". A lone "2 PM" is two project
# managers, so "am"/"pm" counts as a clock only in a range, after "at"/"from", or before a zone.
_AM_PM = r"(?:am|pm|a\.m\.|p\.m\.)(?![a-z])"
_CLOCK = re.compile(
    rf"\b\d{{1,2}}:\d{{2}}\b|\b\d{{1,2}}\s*{_AM_PM}?\s*(?:-|\u2013|to|till|until)\s*\d{{1,2}}\s*{_AM_PM}"
    rf"|\b(?:at|from|until|till|by|starting|start|starts)\s+\d{{1,2}}\s*{_AM_PM}"
    r"|\b(?:9|nine)\s*(?:-|\u2013|to)\s*(?:5|6|five|six)\b"
    rf"|\b\d{{1,2}}\s*(?:{_AM_PM}|(?:-|\u2013|to)\s*\d{{1,2}})\s*(?:{wording.REGION_NAME.pattern})"
)
_OFFSET = re.compile(r"\b(?:gmt|utc)\s*([+\-\u2212\u2013])\s*(\d{1,2})(?::?[03]0)?\b", re.I)
_LIST_MARK = re.compile(r"^[ \t]*(?:[-*\u2022\u2013\u2014]|\d{1,2}[.)])[ \t]+", re.M)
# "CSRs: 5", "Accountants - 3": a count after the title, at the end of its fragment.
_COUNT_AFTER = re.compile(
    r"([A-Za-z)])[ \t]*(?::|[-\u2013\u2014])[ \t]*(\d[\d,]*)[ \t]*"
    r"(?=$|[,;\n.)&+]|[ \t]+(?:and|plus|pax|people|persons|heads)\b)",
    re.M | re.I,
)
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])")
# The words after "hr" in a title ("hr recruiter", "hr assistant"): "2 hr recruiters" are people.
_HR_TITLES = "|".join(sorted({name.split()[1] for name in catalogue.BY_NAME if name[:3] == "hr "}))
_US_WRITTEN = re.compile(r"\bU\.S\.(?:A\.?)?|\bUSA\b|\bUS\b")
_US_IN_CAPITALS = re.compile(rf"\bUS\b(?!\s*-?\s*(?:{_REGION_CONTEXT})\b)", re.I)


def _prepared(text: str) -> str:
    """The text with what only the raw form shows read out: offsets, capitals, list marks,
    counts after a colon or dash, thousands separators; odd numbers and clock times refused.

    Done before cleaning because cleaning turns "-2" into "2", "1.5" into "1", "5" and "US"
    into "us", the pronoun.
    """
    original = text
    capitals = not re.search(r"[a-z]", text)
    if not capitals:
        text = _US_WRITTEN.sub(" usa ", text)
    else:
        # All capitals: "FOR US" may be the pronoun; "US HOURS" is not.
        text = _US_IN_CAPITALS.sub(" USCAPS ", re.sub(r"\bU\.S\.(?:A\.?)?", " USA ", text))
    text = _OFFSET.sub(lambda m: f" utc{'plus' if m[1] == '+' else 'minus'}{int(m[2])} ", text)
    text = re.sub(r"\b(?:Est|est)\.", " estimated ", text)  # "Est. budget", not EST hours
    # "20 hrs", "4hr": hours; "2 HR", "2 hr recruiters" (or "2 HRS" in capitals) are people.
    hours = r"(\d)\s*(?:hrs?|Hrs?|HRS)\b" if capitals else r"(\d)\s*(?:hrs?|Hrs?)\b"
    text = re.sub(rf"{hours}(?!\s+(?:{_HR_TITLES})s?\b)", r"\1 hours", text)
    text = _LIST_MARK.sub("", text)
    text = _COUNT_AFTER.sub(r"\1 x \2", text)
    text = _THOUSANDS.sub(lambda m: m[0].replace(",", ""), text)
    _refuse_odd_numbers(text.lower(), original)
    return text


def _refuse_odd_numbers(lowered: str, original: str) -> None:
    """Counts and hours are whole, positive and exact; anything else is asked again."""
    match = _ROUND_THE_CLOCK.search(lowered)
    if match:
        raise InvalidQuoteRequest(
            f"{_shown(original)} asks for round-the-clock cover ({match[0]!r}), which takes"
            " more than one shift: ask for each shift's team, like '3 CSRs day shift and"
            " 3 CSRs night shift'"
        )
    match = _CLOCK.search(lowered)
    if match:
        raise InvalidQuoteRequest(
            f"{_shown(original)} gives clock times ({match[0]!r}); say the time zone or region"
            " ('EST', 'US hours', 'Aussie hours') or the shift ('night shift', 'day shift')"
        )
    for pattern, what in (
        (_NEGATIVE, "a negative number"),
        (_FRACTION, "a fraction"),
        (_RANGE, "a range"),
    ):
        match = pattern.search(lowered)
        if match:
            raise InvalidQuoteRequest(
                f"{_shown(original)} has {what} ({match.group(0).strip()!r}); counts and hours"
                " must be whole numbers such as '2 developers' or '20 hours a week'"
            )


def _clean(text: str) -> str:
    lowered = text.lower().replace("'", "").replace("\u2019", "").replace("\u00d7", " x ")
    lowered = wording.GREETING.sub(" ", lowered)
    for pattern, replacement in wording.ZONE_SPELLINGS:
        lowered = re.sub(rf"\b{pattern}\b", replacement, lowered)
    lowered = re.sub(r"\b(sr|jr)\.", r"\1", lowered)
    lowered = re.sub(r"\bui\s*/\s*ux\b", "ui ux", lowered)
    lowered = re.sub(r"\.net\b", " net", lowered)
    lowered = re.sub(r"\b(\d+)\s*k\b", lambda m: str(int(m[1]) * 1000), lowered)
    lowered = re.sub(r"(\d)(?=(?:hrs?|hours?|h|x|pax)\b)", r"\1 ", lowered)
    lowered = re.sub(r"\bx(?=\d)", "x ", lowered)
    lowered = re.sub(r"\b(hours?|hrs?|h)\s*/\s*(week|wk|day)\b", r"\1 per \2", lowered)
    lowered = re.sub(
        r"\bmon(?:day)?\s*(?:-|\u2013|to|thru|through)\s*fri(?:day)?\b|\bweekdays\b",
        " 5 days per week ",
        lowered,
    )
    lowered = re.sub(r"\b(?:(?:per|a|each|every)\s+month|monthly)\b", " ", lowered)
    lowered = wording.START_DATE.sub(" ", lowered)
    lowered = re.sub(r"\*\s*(?=\d)", " x ", lowered)
    lowered = re.sub(r"(\d)\s*nos?\.", r"\1 nos ", lowered)  # "5 nos. CSR": five of them
    # "ET/PT", "US/Canada hours": one list of places, not two fragments.
    region = wording.REGION_NAME.pattern
    lowered = re.sub(rf"({region})\s*/\s*(?={region})", r"\1 ", lowered)
    lowered = re.sub(r"[-_]", " ", lowered)
    # "(euros)": a currency said alone, as a fragment of its own (_take_currency).
    lowered = re.sub(rf"\(\s*({_CURRENCY_ALONE})\s*\)", r", \1,", lowered)
    lowered = re.sub(r"\b([a-z]+)\s*\(\s*([a-z][a-z0-9 ]*?)\s*\)", _bracketed_words, lowered)
    lowered = re.sub(r"\(\s*(\d+)\s*(?:pax|people|persons|heads)?\s*\)", _bracketed_count, lowered)
    return re.sub(r"[^a-z0-9,;:.&+/()\n ]", " ", lowered)


def _bracketed_words(match: re.Match[str]) -> str:
    """ "3 accountants (CPA)" is "3 CPA accountants"; "designer (senior)", "CSRs (night
    shift)" say the level or shift of the role they follow, in its fragment."""
    word, inside = match[1], match[2]
    if _catalogue_title([*inside.split(), word]) is not None:
        return f"{inside} {word}"
    return f"{word} {inside}"


def _bracketed_count(match: re.Match[str]) -> str:
    """ "CSRs (5)" is "CSRs x 5"; "five (5) CSRs", the legal style, is five."""
    before = match.string[: match.start()].split()
    for length in range(1, min(4, len(before)) + 1):
        if _number_at(before[-length:], 0) == (int(match[1]), length):
            return " "
    return f" x {match[1]} "


def _take_workspace(text: str, original: str) -> tuple[str, str | None]:
    """Remove every workspace phrase; two different workspaces are a contradiction."""
    found: set[str] = set()
    for value, pattern in _WORKSPACE_PHRASES:
        text, hits = re.subn(rf"\b(?:{pattern})\b", " ", text)
        if hits:
            found.add(value)
    if len(found) > 1:
        raise InvalidQuoteRequest(
            f"{_shown(original)} names more than one workspace: {sorted(found)}"
        )
    return text, found.pop() if found else None


def _take_tier(text: str, original: str) -> tuple[str, str | None]:
    found = {match["tier"] for match in _TIER_PHRASE.finditer(text)}
    if len(found) > 1:
        raise InvalidQuoteRequest(f"{_shown(original)} names more than one tier: {sorted(found)}")
    return _TIER_PHRASE.sub(" ", text), found.pop() if found else None


# A currency the request names ("quote in GBP", "(EUR)", "in Australian dollars"): the
# totals are shown in it. A code or "<country> dollars" names one anywhere; "pounds",
# "sterling" and "euros" only after "in" ("priced in pounds"), in brackets or alone between
# commas, since elsewhere they may be part of what the team works for ("our pound shop").
# "dollars" alone is asked about (US or Australian?).
_CURRENCY_NAMES = (
    ("USD", r"usd|(?:usa?|american)\s+dollars?", ""),
    ("AUD", r"aud|(?:australian|aussie|au)\s+dollars?", ""),
    ("GBP", r"gbp", r"(?:british\s+)?pounds?(?:\s+sterling)?|sterling"),
    ("EUR", r"eur", r"euros?"),
)
_CURRENCY_ALONE = "|".join(alone for _code, _anywhere, alone in _CURRENCY_NAMES if alone)
_CURRENCY_IN = (
    r"\b(?:(?:please\s+)?(?:quote|quoted|price|priced|prices|pricing|totals?|amounts?|costs?)"
    r"\s+)?(?:in|into)\s+"
)
_CURRENCY_LEAD = rf"(?:{_CURRENCY_IN})?"
_BARE_DOLLARS = re.compile(rf"{_CURRENCY_LEAD}\bdollars?\b")


def _currency_phrase(anywhere: str, said_as_currency: str) -> re.Pattern[str]:
    alone = rf"(?:^|(?<=[,;\n]))\s*(?:{said_as_currency})\s*(?=$|[,;\n])"
    led = rf"{_CURRENCY_IN}\b(?:{said_as_currency})\b"
    either = [rf"{_CURRENCY_LEAD}\b(?:{anywhere})\b"]
    if said_as_currency:
        either += [led, alone]
    return re.compile("|".join(either))


_CURRENCY_PHRASES = tuple(
    (code, _currency_phrase(anywhere, led)) for code, anywhere, led in _CURRENCY_NAMES
)


def _take_currency(text: str, original: str) -> tuple[str, str | None]:
    """Remove the currency the request names; two different ones are a contradiction."""
    found: set[str] = set()
    for code, phrase in _CURRENCY_PHRASES:
        text, hits = phrase.subn(" ", text)
        if hits:
            found.add(code)
    if _BARE_DOLLARS.search(text):
        raise InvalidQuoteRequest(
            f"{_shown(original)} says dollars: say which, USD or AUD ('quote in AUD')"
        )
    if len(found) > 1:
        raise InvalidQuoteRequest(
            f"{_shown(original)} names more than one currency: {sorted(found)}"
        )
    return text, found.pop() if found else None


# -- conditions: shift, hours, region --------------------------------------------------------


def _take_conditions(words: list[str], original: str) -> tuple[_Conditions, list[str]]:
    """The shift and weekly hours a fragment states, and its words without them."""
    words, days = _take_days(words, original)
    words, hours = _take_hours(words, days or WORKDAYS_PER_WEEK, original)
    if days not in (None, WORKDAYS_PER_WEEK) and hours is None:
        raise InvalidQuoteRequest(
            f"{_shown(original)} gives {days} days a week without the hours; say the hours a"
            f" week, like '{days * 4} hours a week'"
        )
    text = " ".join(words)
    off_hours = _UNPRICED_TIME.search(text)
    if off_hours:
        raise InvalidQuoteRequest(
            f"cannot read {off_hours[0]!r} in {_shown(original)}: a quote prices a five-day week"
            " of day or night shifts; weekend, holiday, overtime, on-call or after-hours work"
            " is not priced: leave it out, or ask us for it"
        )
    unpriced = _UNPRICED_SHIFT.search(text)
    if unpriced:
        raise InvalidQuoteRequest(
            f"cannot read {unpriced[0]!r} in {_shown(original)}: a quote prices a day shift or"
            " a night shift; ask for one of them, or for a place's hours ('US hours')"
        )
    conditions = _Conditions(hours=hours)
    stating = [("shift", value, pattern) for value, pattern in _SHIFT_PHRASES]
    stating += [(name, _SCHEDULE_VALUES[name], pattern) for name, pattern in _SCHEDULE_PHRASES]
    for name, value, pattern in stating:
        for match in re.finditer(rf"\b(?:{pattern})\b", text):
            stated = _Conditions(**{name: value}, said=((name, match[0]),))
            conditions = conditions.merged(stated, original)
        text = re.sub(rf"\b(?:{pattern})\b", " ", text)
    for match in wording.REGION_PHRASE.finditer(text):
        for name in wording.REGION_NAME.findall(match[0]):
            region = wording.REGION_NAMES[name]
            conditions = conditions.merged(_region_shift(region, match[0], original), original)
    text = wording.REGION_PHRASE.sub(" ", text)
    for match in re.finditer(rf"\butc(plus|minus)(\d+)(?:\s+(?:{_REGION_CONTEXT}))*\b", text):
        offset = int(match[2]) * (1 if match[1] == "plus" else -1)
        region = wording.Region(f"UTC{offset:+d}", (offset,))
        said = match[0].replace(f"utc{match[1]}{match[2]}", region.name.lower())
        conditions = conditions.merged(_region_shift(region, said, original), original)
        text = text.replace(match[0], " ")
    words = text.split()
    if "pt" in words:
        raise InvalidQuoteRequest(
            f"{_shown(original)} says 'PT', which may be part time or Pacific time; write"
            " 'part time' or 'PST'"
        )
    if "uscaps" in words:
        raise InvalidQuoteRequest(
            f"{_shown(original)} is in capitals, so 'US' may be 'us' or the United States;"
            " write 'US hours' or 'night shift' if the team works US hours"
        )
    return conditions, words


def _region_shift(region: wording.Region, said: str, original: str) -> _Conditions:
    """The shift a place's business hours fall in, in Manila (see wording.Region.shift)."""
    if region.shift is None:
        raise InvalidQuoteRequest(
            f"{_shown(original)} asks for {region.name} hours ({said!r}): 9 am to 5 pm there is"
            f" {region.manila_hours()} in Manila, partly in the night differential's hours, so"
            " neither the day shift nor the night shift a quote prices fits; ask for"
            " 'day shift' or 'night shift'"
        )
    return _Conditions(shift=region.shift, said=(("shift", said),))


def _take_days(words: list[str], original: str) -> tuple[list[str], int | None]:
    """ "5 days a week", "a 4-day week": days a week, or None."""
    for index, word in enumerate(words):
        if word not in ("day", "days"):
            continue
        start = _number_ending_at(words, index)
        after = index + 1
        if after < len(words) and words[after] in _PER_WORDS:
            after += 1
        if start is None or after >= len(words) or words[after] not in _WEEK_WORDS:
            continue
        days, _ = _number_at(words, start)
        if not 1 <= days <= 7:
            raise InvalidQuoteRequest(f"{_shown(original)} gives {days} days a week")
        return words[:start] + words[after + 1 :], days
    return words, None


def _take_hours(words: list[str], days_a_week: int, original: str) -> tuple[list[str], int | None]:
    """ "20 hours a week", "4 hrs per day", "twenty hours weekly": hours a week, or None."""
    for index, word in enumerate(words):
        if word not in _HOUR_WORDS:
            continue
        start = _number_ending_at(words, index)
        if start is None:
            continue
        amount, _ = _number_at(words, start)
        after = index + 1
        if after < len(words) and words[after] in _PER_WORDS:
            after += 1
        if after >= len(words) or words[after] not in _WEEK_WORDS | _DAY_WORDS:
            if word in ("hr", "hrs") and _role_at(words, index) is not None:
                continue  # "2 HR recruiters", "2 HRs": written in capitals, a title
            raise InvalidQuoteRequest(
                f"{_shown(original)} gives hours ({' '.join(words[start : index + 1])!r}) without"
                " saying per week or per day"
            )
        weekly = amount * (days_a_week if words[after] in _DAY_WORDS else 1)
        rest, more = _take_hours(words[:start] + words[after + 1 :], days_a_week, original)
        if more is not None and more != weekly:
            raise InvalidQuoteRequest(f"{_shown(original)} gives two different hours")
        return rest, weekly
    return words, None


# -- numbers -------------------------------------------------------------------------------


def _number_ending_at(words: list[str], end: int) -> int | None:
    """Where a number that ends just before `end` starts, trying the longest first."""
    for start in range(max(0, end - 4), end):
        parsed = _number_at(words, start)
        if parsed is not None and parsed[1] == end:
            return start
    return None


def _number_at(words: list[str], start: int) -> tuple[int, int] | None:
    """The number written at `start` ("12", "a", "twenty five", "a couple of", "one hundred
    and two", "a thousand") and the index after it, or None."""
    if start >= len(words):
        return None
    word = words[start]
    if word.isdigit():
        return int(word), start + 1
    if word in ("a", "an"):
        following = words[start + 1 : start + 3]
        if following == ["couple", "of"]:
            return 2, start + 3
        if following[:1] == ["dozen"]:
            return 12, start + 2
        if following[:1] in (["hundred"], ["thousand"]):
            return _multiplied(words, 1, start + 1)
        return 1, start + 1
    value, index = _below_hundred(words, start)
    if value is None:
        return None
    return _multiplied(words, value, index)


def _multiplied(words: list[str], value: int, index: int) -> tuple[int, int]:
    """ "two hundred and five", "ten thousand": the number that starts with `value`."""
    if index < len(words) and words[index] == "dozen":
        return value * 12, index + 1
    if index < len(words) and words[index] == "hundred":
        value, index = _hundreds(words, value, index + 1)
    if index < len(words) and words[index] == "thousand":
        rest = _number_at(words, index + 1)
        if rest is not None and rest[0] < 1000 and words[index + 1] not in ("a", "an"):
            return value * 1000 + rest[0], rest[1]
        return value * 1000, index + 1
    return value, index


def _below_hundred(words: list[str], start: int) -> tuple[int | None, int]:
    if start < len(words) and words[start] in _UNITS:
        return _UNITS[words[start]], start + 1
    if start < len(words) and words[start] in _TENS:
        value = _TENS[words[start]]
        if start + 1 < len(words) and words[start + 1] in _UNITS and _UNITS[words[start + 1]] < 10:
            return value + _UNITS[words[start + 1]], start + 2
        return value, start + 1
    return None, start


def _hundreds(words: list[str], multiple: int, index: int) -> tuple[int, int]:
    after_and = index + 1 if index < len(words) and words[index] == "and" else index
    rest, end = _below_hundred(words, after_and)
    return (multiple * 100 + rest, end) if rest is not None else (multiple * 100, index)


# -- roles ---------------------------------------------------------------------------------


def _catalogue_title(words: list[str]) -> str | None:
    """The catalogue title `words` name, as typed ("Python devs", "customer service reps")."""
    if not words:
        return None
    words = words[:-1] + [singular(words[-1])]
    title = catalogue.title_for(" ".join(words))
    if title is None:
        title = catalogue.title_for(" ".join(_ABBREVIATIONS.get(word, word) for word in words))
    return title


def _role_at(words: list[str], start: int) -> tuple[str, int] | None:
    """The catalogue title named at `start` (the longest name wins) and the index after it."""
    for length in range(min(catalogue.LONGEST_NAME, len(words) - start), 0, -1):
        title = _catalogue_title(words[start : start + length])
        if title is not None:
            return title, start + length
    return None


def _level_at(words: list[str], start: int) -> tuple[str, int] | None:
    """ "senior", "mid level", "entry-level", "fresh grad": a level and the index after it."""
    if words[start : start + 2] in (["fresh", "grad"], ["fresh", "graduate"]):
        return "junior", start + 2
    if start >= len(words) or words[start] not in _LEVEL_WORDS:
        return None
    end = start + 1
    if end < len(words) and words[end] == "level":
        end += 1
    return _LEVEL_WORDS[words[start]], end


def _step(words: list[str], index: int) -> tuple[str, Any, int]:
    """What starts at `index`: ("level", "senior", next), ("number", 12, next) or ("word",
    the word, next). A level is tried first: "a" is a number, "lead" no number."""
    level = _level_at(words, index)
    if level is not None:
        return "level", level[0], level[1]
    number = _number_at(words, index)
    if number is not None:
        return "number", number[0], number[1]
    return "word", words[index], index + 1


@dataclass
class _Reading:
    """What one fragment says: a role, or a level for every role, or neither."""

    role: tuple[str, str | None, int] | None = None
    level: str | None = None
    purpose: bool = False  # it ends in what the team works for ("for our store")
    unread: list[str] = field(default_factory=list)


def _read_fragment(words: list[str], original: str, after_purpose: bool) -> _Reading:
    found = next(
        ((start, *named) for start in range(len(words)) if (named := _role_at(words, start))),
        None,
    )
    if found is None:
        return _read_without_role(words, original, after_purpose)
    start, title, end = found
    typed = words[start:end]
    # "For our YouTube channel we need a video editor": a purpose may come first.
    before, purpose_first = _split_purpose(words[:start])
    counts, article, levels = _read_before(before, title, original)
    rest, purpose = _split_purpose(words[end:], typed)
    if purpose or purpose_first:
        title = _read_purpose(purpose_first + purpose, typed, title, original)
    after_counts, after_levels, unread = _read_after(rest, title)
    levels += after_levels
    # "2 2 VAs" may be 22; "2 CSRs x 3" is 2 or 3; "5 CSRs (5)" says 5 twice.
    if len(counts) > 1 or len({*counts, *after_counts}) > 1:
        counts += after_counts
        raise InvalidQuoteRequest(
            f"{_shown(original)} gives two counts for {title!r}: {' and '.join(map(str, counts))}"
        )
    counts = counts or after_counts
    if len(set(levels)) > 1:
        raise InvalidQuoteRequest(
            f"{_shown(original)} gives two levels for {title!r}: {' and '.join(levels)}"
        )
    named = " ".join(typed)
    if not counts and not article:
        if typed[-1] != singular(typed[-1]):
            raise InvalidQuoteRequest(
                f"how many {named!r}? give a count, like '2 {named}' or '{named} x2'"
            )
        if after_purpose and not levels:
            raise InvalidQuoteRequest(
                f"is {named!r} in {_shown(original)} another role, or part of what the team"
                f" works for? write 'a {named}' for a role, or 'for ... and for {named}'"
            )
    return _Reading(
        role=(title, levels[0] if levels else None, counts[0] if counts else 1),
        purpose=bool(purpose) and all(word in wording.UNPRICED for word in rest),
        unread=unread,
    )


def _read_before(words: list[str], title: str, original: str) -> tuple[list[int], bool, list[str]]:
    """[count [pax] [x]] [more] [level] [inbound | a market]: what comes before a title."""
    counts: list[int] = []
    article = False
    levels: list[str] = []
    unknown: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        kind, value, index = _step(words, index)
        if kind == "level":
            levels.append(value)
            continue
        if kind == "number":
            if word in ("a", "an") and value == 1:
                article = True
            else:
                counts.append(value)
            if index < len(words) and words[index] == "x":
                index += 1
            continue
        if word == "outbound":
            _refuse_outbound(title)
        elif word == "inbound":
            if _FAMILY[title] not in _INBOUND_FAMILIES:
                unknown.append(word)
        elif word in wording.MARKETS:
            if _FAMILY[title] == "engineering":
                unknown.append(word)
        elif word not in _HEADS | _MORE | wording.UNPRICED:
            unknown.append(word)
    if unknown:
        raise InvalidQuoteRequest(
            f"cannot read {' '.join(unknown)!r} before {title!r} in {_shown(original)}; a role"
            " is a count, then a level (junior, mid, senior, lead), then the title"
        )
    return counts, article, levels


def _refuse_outbound(title: str | None) -> None:
    """ "Outbound" agents make calls to sell or to book meetings: the sales roles' work, not
    the customer service roles' this catalogue prices lower, so it is never dropped."""
    if title is None or _FAMILY[title] != "sales":
        named = f"{title}s" if title else "agents"
        raise InvalidQuoteRequest(
            f"'outbound' {named}: outbound calling is sales work, priced as its own roles; ask"
            " for appointment setters or sales development representatives (SDRs)"
            + (f", or leave 'outbound' out for {named}" if title else "")
        )


def _read_after(words: list[str], title: str) -> tuple[list[int], list[str], list[str]]:
    """[level] [x count [pax] | team of count] [a market] [filler]: what may follow a title.
    Unread words are returned."""
    counts: list[int] = []
    levels: list[str] = []
    unread: list[str] = []
    index = 0
    while index < len(words):
        named = _role_at(words, index)
        if named is not None:  # "2 accountants 3 designers": roles run together
            unread += words[index : named[1]]
            index = named[1]
            continue
        level = _level_at(words, index)
        if level is not None:
            levels.append(level[0])
            index = level[1]
            continue
        number = None
        if words[index] == "x" or words[index - 1 : index + 1] == ["team", "of"]:
            number = _number_at(words, index + 1)
        if number is None and words[index] not in ("a", "an"):
            # "CSR 5 pax": a bare number after a title is a count only with its noun.
            bare = _number_at(words, index)
            if bare is not None and bare[1] < len(words) and words[bare[1]] in _HEADS:
                number = bare
        if number is not None:
            counts.append(number[0])
            index = number[1]
            if index < len(words) and words[index] in _HEADS:
                index += 1
            continue
        market = words[index] in wording.MARKETS and _FAMILY[title] != "engineering"
        if not market and words[index] not in wording.UNPRICED:
            unread.append(words[index])
        index += 1
    return counts, levels, unread


# -- purposes ------------------------------------------------------------------------------


def _split_purpose(words: list[str], typed: list[str] | None = None) -> tuple[list[str], list[str]]:
    """The words around a title without the purpose phrase in them, and that phrase's words:
    "for" or a verb ("to manage", "handling"), then words ending in a business or platform
    ("our Shopify store", "YouTube") or in a specialism of the title `typed` ("a VA for real
    estate"). No such ending, no purpose: "for 6 months" is refused."""
    for index, word in enumerate(words):
        if word != "for" and word not in wording.PURPOSE_VERBS:
            continue
        after = index + 1
        while after < len(words) and words[after] in wording.PURPOSE_PARTICLES:
            after += 1
        ends = [
            position
            for position in range(after, len(words))
            if words[position] in wording.PURPOSE_HEADS | wording.PLATFORMS
            or (typed and _specialism(words[after : position + 1], typed, ending=True))
        ]
        if ends:
            return words[:index] + words[ends[-1] + 1 :], words[after : ends[-1] + 1]
    return words, []


def _specialism(
    words: list[str], typed: list[str], ending: bool = False
) -> tuple[str, int, int] | None:
    """The catalogue title some of `words` make before the title as typed ("real estate" and
    "VA": the real estate virtual assistant), with where those words are; longest first.
    With `ending`, only words that end `words`. No name is longer than LONGEST_NAME words,
    so no longer run is tried: the search stays linear in a long text."""
    longest = min(len(words), catalogue.LONGEST_NAME - len(typed))
    for length in range(longest, 0, -1):
        starts = [len(words) - length] if ending else range(len(words) - length + 1)
        for start in starts:
            span = words[start : start + length]
            if wording.PRICED_QUALITIES.intersection(span):
                continue  # "an accountant for our CPA firm" is no CPA for it
            title = _catalogue_title(span + typed)
            if title is not None:
                return title, start, start + length
    return None


def _read_purpose(words: list[str], typed: list[str], title: str, original: str) -> str:
    """The title a purpose leaves: the catalogue's, when the purpose names the specialism
    ("a VA for real estate" is a real estate VA); refusing what would change the price."""
    specialised = _specialism(words, typed)
    if specialised is not None:
        title, start, end = specialised
        words = words[:start] + words[end:]
    for index in range(len(words)):
        named = _role_at(words, index)
        if named is not None and named[0] != title:
            raise InvalidQuoteRequest(
                f"{_shown(original)} names {' '.join(words[index : named[1]])!r}, a role of its"
                f" own ({named[0]}), in what the {title} works for; ask for one role or the"
                " other"
            )
    _refuse_priced_words(words, title, original)
    return title


def _refuse_priced_words(words: list[str], title: str, original: str) -> None:
    """A purpose says what the team works for; a language, a credential, a level or a number
    in it would change what the person costs, so it is refused rather than passed over."""
    for index, word in enumerate(words):
        if (
            word in wording.PRICED_QUALITIES
            or _level_at(words, index) is not None
            or (_number_at(words, index) is not None and word not in ("a", "an"))
        ):
            raise InvalidQuoteRequest(
                f"cannot read {word!r} in {_shown(original)}: it may change what a {title}"
                " costs, and a quote does not price it; leave it out or ask for a level"
            )


def _read_without_role(words: list[str], original: str, after_purpose: bool) -> _Reading:
    """A fragment with no title: a level or what the team works for, said alone; a role not
    in the catalogue ("3 quantum physicists"); or words that cannot be read."""
    rest, purpose = _split_purpose(words)
    if not purpose and all(word in wording.MARKETS | wording.UNPRICED for word in words):
        rest, purpose = [], [word for word in words if word in wording.MARKETS]  # ", LinkedIn,"
    if not purpose and after_purpose:
        # "a VA to manage our Instagram and Facebook": the purpose goes on.
        rest, purpose = _split_purpose(["for", *words])
    if purpose:
        _refuse_priced_words(purpose, "person", original)
        unread = [word for word in rest if word not in wording.UNPRICED]
        return _Reading(purpose=not unread, unread=unread)
    levels: list[str] = []
    unread: list[str] = []
    counted = False
    index = 0
    while index < len(words):
        word = words[index]
        kind, value, after = _step(words, index)
        if kind == "level":
            levels.append(value)
            index = after
            continue
        counted = counted or kind == "number"
        if kind == "number" and word not in ("a", "an"):
            _refuse_unknown_role(words[after:])
        if word not in wording.UNPRICED:
            unread.append(word)
        index += 1
    if levels and unread:
        _refuse_unknown_role(unread)
    if levels and counted:
        # "2 accountants plus a lead": a person of no named role, not a level for the others
        raise InvalidQuoteRequest(
            f"cannot read {' '.join(words)!r} in {_shown(original)}: a level needs its role,"
            " like 'a senior accountant'"
        )
    if len(set(levels)) > 1:
        unread = [*levels, *unread]
    return _Reading(level=levels[0] if levels and not unread else None, unread=unread)


def _refuse_unknown_role(words: list[str]) -> None:
    """After a count or a level, words that are no title: the role is not in the catalogue."""
    while words and words[-1] in wording.UNPRICED:
        words = words[:-1]
    while words and (words[0] in wording.UNPRICED or words[0] == "x") and words[0] != "team":
        words = words[1:]  # not "team": "2 team leads" asks for team leads
    if not words:
        return
    if any(
        _number_at(words, index) for index in range(len(words)) if words[index] not in ("a", "an")
    ):
        return  # "2 2 VAs", "twenty twenty": numbers, not a title; refused as unread words
    if "outbound" in words:
        _refuse_outbound(None)
    name = " ".join(words[:-1] + [singular(words[-1])])
    hint = catalogue.suggestions(name)
    raise InvalidQuoteRequest(
        f"no role {name!r} in the catalogue"
        + (f"; did you mean {' or '.join(map(repr, hint))}?" if hint else "")
    )


# -- normalisation --------------------------------------------------------------------------


def _build(
    lines: list[tuple[Any, ...]], workspace: Any, tier: Any, currency: Any = None
) -> QuoteRequest:
    """Merge lines that name the same role, level, shift and hours, and sort them: one
    request, one form. A line is (title, level, count, shift, hours_per_week); None takes
    the default."""
    if not lines:
        raise InvalidQuoteRequest("no roles found: 'roles' is empty")
    merged: dict[tuple[str, str, str, int], int] = {}
    for title, level, count, shift, hours in lines:
        name = _title(title)
        key = (name, _level(level), _shift(shift, name), _hours(hours, name))
        merged[key] = merged.get(key, 0) + _count(count, name)
    for (title, level, *_), count in merged.items():
        if count > MAX_COUNT:
            raise InvalidQuoteRequest(
                f"{count} x {level} {title} in total is more than {MAX_COUNT} per role"
            )
    roles = tuple(RoleLine(*key[:2], count, *key[2:]) for key, count in sorted(merged.items()))
    return QuoteRequest(
        roles=roles,
        workspace=_workspace(workspace),
        tier=_tier(tier),
        currency=currency_named(currency),
    )


def currency_named(value: Any) -> str | None:
    """The upper-case code of a currency a quote can be shown in ("gbp", " GBP "), or None
    when none is named; anything else is refused by name, with the codes a quote can be in."""
    if value is None:
        return None
    code = value.strip().upper() if isinstance(value, str) else None
    if code is None or code.lower() not in tasks.QUOTE_CURRENCIES:
        shown = ", ".join(c.upper() for c in tasks.QUOTE_CURRENCIES)
        raise UnknownCurrency(f"currency must be one of {shown}, not {value!r}")
    return code


def _title(value: Any) -> str:
    """The catalogue title `value` names (a title or an alias, any case, singular or plural)."""
    if not isinstance(value, str):
        raise InvalidQuoteRequest(f"a role title must be a string, not {value!r}")
    if len(value) > MAX_TITLE_LENGTH:
        raise InvalidQuoteRequest(f"role title {value[:40]!r}... is longer than {MAX_TITLE_LENGTH}")
    _refuse_unreadable_characters(value, "a role title")
    words = re.sub(r"[-_/.]", " ", value.lower()).split()
    if not words:
        raise InvalidQuoteRequest(f"a role title is empty: {value!r}")
    name = " ".join(words[:-1] + [singular(words[-1])])
    title = _catalogue_title(words)
    if title is None:
        hint = catalogue.suggestions(name)
        raise InvalidQuoteRequest(
            f"no role {value!r} in the catalogue"
            + (f"; did you mean {' or '.join(map(repr, hint))}?" if hint else "")
        )
    return title


def _shift(value: Any, title: str) -> str:
    if value is None:
        return DEFAULT_SHIFT
    if isinstance(value, str):
        _refuse_unreadable_characters(value, f"the shift for {title!r}")
    if not isinstance(value, str) or value.strip().lower() not in SHIFTS:
        raise InvalidQuoteRequest(
            f"the shift for {title!r} must be one of {list(SHIFTS)}, not {value!r}"
        )
    return value.strip().lower()


def _hours(value: Any, title: str) -> int:
    """Weekly hours: full time is 40; more is overtime, which a quote does not price."""
    if value is None:
        return FULL_TIME_HOURS
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuoteRequest(
            f"hours_per_week for {title!r} must be a whole number, not {value!r}"
        )
    if not MIN_HOURS <= value <= FULL_TIME_HOURS:
        raise InvalidQuoteRequest(
            f"hours_per_week for {title!r} is {value}; it must be from {MIN_HOURS} to"
            f" {FULL_TIME_HOURS} (overtime is not quoted)"
        )
    return value


def singular(word: str) -> str:
    """Enough English for job titles; anything odd still reaches the salary table's check."""
    if word in SINGULAR_WORDS or not word.endswith("s") or word.endswith(SINGULAR_ENDINGS):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    return word[:-1]


def _level(value: Any) -> str:
    if value is None:
        return DEFAULT_LEVEL
    if not isinstance(value, str):
        raise InvalidQuoteRequest(f"a level must be a string, not {value!r}")
    _refuse_unreadable_characters(value, "a level")
    level = LEVEL_SYNONYMS.get(" ".join(re.sub(r"[-_.]", " ", value.lower()).split()))
    if level is None:
        raise InvalidQuoteRequest(f"unknown level {value!r}; expected one of {list(LEVELS)}")
    return level


def _count(value: Any, title: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuoteRequest(f"the count for {title!r} must be an integer, not {value!r}")
    if not MIN_COUNT <= value <= MAX_COUNT:
        raise InvalidQuoteRequest(
            f"the count for {title!r} is {value}; it must be from {MIN_COUNT} to {MAX_COUNT}"
        )
    return value


def _workspace(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidQuoteRequest(f"workspace must be a string, not {value!r}")
    _refuse_unreadable_characters(value, "workspace")
    workspace = WORKSPACE_SYNONYMS.get(" ".join(re.sub(r"[-_]", " ", value.lower()).split()))
    if workspace is None:
        raise InvalidQuoteRequest(
            f"unknown workspace {value!r}; expected one of {list(WORKSPACES)}"
        )
    return workspace


def _tier(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidQuoteRequest(f"tier must be a string, not {value!r}")
    _refuse_unreadable_characters(value, "tier")
    tier = value.strip().lower()
    if tier not in TIERS:
        raise InvalidQuoteRequest(f"unknown tier {value!r}; expected one of {list(TIERS)}")
    return tier
