"""Quote requests: whatever the client typed, one canonical form.

A quote is cached and priced by its normalised request, so "2 senior accountants, office based"
and {"roles": [{"title": "Accountant", "level": "sr", "count": 2}], "workspace": "onsite"}
must become the same value with the same `cache_key()`. Parsing free text sits behind the
`QuoteParser` protocol so a smarter parser can replace the rule-based one; whatever a parser
returns is normalised again here, so a careless parser cannot break the cache key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from config.errors import InvalidInput
from pricing import catalogue
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
        }

    def cache_key(self) -> str:
        """Equal for requests that mean the same; rates and date are the caller's to add."""
        canonical = json.dumps(
            {"v": CACHE_KEY_VERSION, "request": self.to_dict()},
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
    )


# -- structured form ------------------------------------------------------------------------


def _from_structured(request: dict) -> QuoteRequest:
    _reject_unknown_keys(request, {"roles", "workspace", "tier"}, "a quote request")
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
    parsed = (parser or RuleBasedParser()).parse(text)
    return normalised(parsed)


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
_SEPARATORS = re.compile(r"[,;.&+/()\n]|\b(?:and|plus)\b")
# "office" alone names the workspace only when no word of a title follows ("office manager").
_NOT_A_TITLE_NEXT = r"(?!\s+(?!and\b|plus\b)[a-z])"
_WORKSPACE_PHRASES = (
    ("office", r"(?:(?:working|work|based)\s+)?(?:on\s*site|in\s+(?:the\s+|an\s+)?office)"),
    ("office", r"office\s+based"),
    ("office", rf"(?:(?:at|from)\s+(?:the\s+|an\s+)?)?office{_NOT_A_TITLE_NEXT}"),
    ("hybrid", r"hybrid(?:\s+(?:setup|set\s+up|arrangement|work|working|basis))?"),
    ("wfh", r"(?:fully\s+)?remote(?:\s+(?:setup|work|working|basis))?"),
    ("wfh", r"(?:work|working)\s+from\s+home|wfh|home\s+based"),
)
_TIER_PHRASE = re.compile(
    r"(?:\b(?:on|in|at)\s+(?:the\s+|a\s+)?)?\b(?P<tier>standard|premium|enterprise)\b"
    r"(?:\s+(?:tier|plan|package|service))?"
)
# Shift and schedule phrases, read per fragment (see RuleBasedParser).
_SHIFT_PHRASES = (
    ("night", r"(?:night|graveyard|overnight)\s*shifts?|graveyard|overnight|nights?(?:\s*time)?"),
    ("day", r"day\s*shifts?|day\s*time"),
)
_SCHEDULE_PHRASES = (
    (PART_TIME_HOURS, r"part\s*(?:time|timers?)"),
    (FULL_TIME_HOURS, r"full\s*(?:time|timers?)"),
)
_HOUR_WORDS = frozenset({"hour", "hours", "hr", "hrs", "h"})
_PER_WORDS = frozenset({"a", "per", "each", "every"})
_PERIODS = {"week": 1, "wk": 1, "weekly": 1, "day": WORKDAYS_PER_WEEK,
            "daily": WORKDAYS_PER_WEEK}  # fmt: skip
_MORE = frozenset({"more", "other", "additional", "extra"})
_LEVEL_WORDS = {
    "entry": "junior", "junior": "junior", "jr": "junior", "mid": "mid", "midlevel": "mid",
    "intermediate": "mid", "senior": "senior", "sr": "senior", "lead": "lead",
}  # fmt: skip
# Words a fragment may hold besides a role: greetings, "we need", linking words, and what
# is left of "... on the premium tier" or "... to work part time for our firm". Anything
# else is refused by name, never dropped: a word we skip could change the price.
_FILLER = frozenset(
    ("please", "thanks", "thank", "you", "hi", "hello", "we", "i", "us", "me", "our", "it")
    + ("need", "want", "would", "like", "looking", "for", "quote", "price", "pricing", "cost")
    + ("how", "much", "is", "give", "get", "hire", "hiring", "also", "the", "of", "on", "in")
    + ("at", "a", "an", "setup", "tier", "plan", "team", "staff", "to", "who", "will", "can")
    + ("work", "working", "with", "my", "your", "company", "business", "firm", "asap")
    + ("be", "are", "do", "some", "basis", "schedule", "role", "roles", "position", "positions")
)


class RuleBasedParser:
    """Reads phrasings like "2 senior accountants and a junior graphic designer, office based".

    A request is cut into fragments at commas, "and" and the like. A fragment is a role (how
    many, in digits or words, then an optional level, then a title or alias from the role
    catalogue), with the shift and hours said in the same fragment ("5 CSRs for the night
    shift", "3 bookkeepers at 20 hours a week"), or conditions alone ("3 CSRs, night shift"),
    which then hold for every role that does not say its own. So punctuation never changes
    what is priced. Deliberately strict: every word is read or refused by name, because
    quoting a misread team is worse than asking the client to rephrase.
    """

    def parse(self, text: str) -> QuoteRequest:
        _refuse_odd_numbers(text)
        cleaned = _clean(text)
        cleaned, workspace = _take_workspace(cleaned, text)
        cleaned, tier = _take_tier(cleaned, text)
        lines: list[tuple[str, str | None, int, str | None, int | None]] = []
        shared = _Conditions()
        unreadable: list[str] = []
        for segment in _SEPARATORS.split(cleaned):
            words = segment.split()
            if not words:
                continue
            conditions, words = _take_conditions(words, text)
            role, unread = _role_in(words)
            if role is None:
                if unread:
                    unreadable.append(" ".join(unread))
                else:
                    shared = shared.merged(conditions, text)
                continue
            if unread:
                unreadable.append(" ".join(unread))
            lines.append((*role, conditions.shift, conditions.hours))
        if unreadable:
            raise InvalidQuoteRequest(
                f"cannot read {', '.join(map(repr, unreadable))} in {_shown(text)}; write each"
                " role like '2 senior accountants', with its shift or hours if any"
                " ('night shift', 'part time', '20 hours a week')"
            )
        if not lines:
            raise InvalidQuoteRequest(f"no roles found in {_shown(text)}")
        return _build(
            [
                (title, level, count, shift or shared.shift, hours or shared.hours)
                for title, level, count, shift, hours in lines
            ],
            workspace or DEFAULT_WORKSPACE,
            tier or DEFAULT_TIER,
        )


@dataclass(frozen=True)
class _Conditions:
    shift: str | None = None
    hours: int | None = None

    def merged(self, other: _Conditions, original: str) -> _Conditions:
        """Both sets of conditions, refusing a contradiction rather than picking one."""
        values = {}
        for name in ("shift", "hours"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not None and theirs is not None and mine != theirs:
                what = {"shift": "shifts", "hours": "weekly hours"}[name]
                raise InvalidQuoteRequest(
                    f"{_shown(original)} asks for two different {what}: {mine} and {theirs}"
                )
            values[name] = mine if mine is not None else theirs
        return _Conditions(**values)


def _shown(text: str) -> str:
    """The client's text in an error message, cut short: enough to find it, not a wall."""
    return repr(text) if len(text) <= 80 else repr(text[:77] + "...")


_NEGATIVE = re.compile(r"(?:^|[^\w.])([-\u2212\u2013]\s*\d+)")
_FRACTION = re.compile(r"\d+\s*(?:[.,]\d+|/\s*\d+)|[\u00bc-\u00be\u2150-\u215e]|\bhalf\b")
_RANGE = re.compile(r"\d+\s*(?:-|\u2013|to|or)\s*\d+")


def _refuse_odd_numbers(text: str) -> None:
    """Counts and hours are whole, positive and exact; anything else is asked again.

    Checked on the raw text because cleaning turns "-2" into "2" and "1.5" into "1", "5".
    """
    lowered = text.lower()
    for pattern, what in (
        (_NEGATIVE, "a negative number"),
        (_FRACTION, "a fraction"),
        (_RANGE, "a range"),
    ):
        match = pattern.search(lowered)
        if match:
            raise InvalidQuoteRequest(
                f"{_shown(text)} has {what} ({match.group(0).strip()!r}); counts and hours"
                " must be whole numbers such as '2 developers' or '20 hours a week'"
            )


def _clean(text: str) -> str:
    lowered = text.lower().replace("'", "").replace("\u2019", "")
    lowered = re.sub(r"\b(sr|jr)\.", r"\1", lowered)
    lowered = re.sub(r"\bui\s*/\s*ux\b", "ui ux", lowered)
    lowered = re.sub(r"\.net\b", " net", lowered)
    lowered = re.sub(r"\b(hours?|hrs?|h)\s*/\s*(week|wk|day)\b", r"\1 per \2", lowered)
    # "3 accountants (CPA)" is "3 CPA accountants": a qualifier in brackets names the role.
    lowered = re.sub(r"\b([a-z]+)\s*\(\s*([a-z][a-z ]*?)\s*\)", r"\2 \1", lowered)
    lowered = re.sub(r"[-_]", " ", lowered)
    return re.sub(r"[^a-z0-9,;.&+/()\n ]", " ", lowered)


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


def _take_conditions(words: list[str], original: str) -> tuple[_Conditions, list[str]]:
    """The shift and weekly hours a fragment states, and its words without them."""
    words, hours = _take_hours(words, original)
    text = " ".join(words)
    conditions = _Conditions(hours=hours)
    for phrases, name in ((_SHIFT_PHRASES, "shift"), (_SCHEDULE_PHRASES, "hours")):
        for value, pattern in phrases:
            text, hits = re.subn(rf"\b(?:{pattern})\b", " ", text)
            if hits:
                conditions = conditions.merged(_Conditions(**{name: value}), original)
    return conditions, text.split()


def _take_hours(words: list[str], original: str) -> tuple[list[str], int | None]:
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
        if after >= len(words) or words[after] not in _PERIODS:
            if _role_at(words, index) is not None:
                continue  # "2 HR recruiters": a title, not hours
            raise InvalidQuoteRequest(
                f"{_shown(original)} gives hours ({' '.join(words[start : index + 1])!r}) without"
                " saying per week or per day"
            )
        weekly = amount * _PERIODS[words[after]]
        rest, more = _take_hours(words[:start] + words[after + 1 :], original)
        if more is not None and more != weekly:
            raise InvalidQuoteRequest(f"{_shown(original)} gives two different hours")
        return rest, weekly
    return words, None


def _number_ending_at(words: list[str], end: int) -> int | None:
    """Where a number that ends just before `end` starts, trying the longest first."""
    for start in range(max(0, end - 4), end):
        parsed = _number_at(words, start)
        if parsed is not None and parsed[1] == end:
            return start
    return None


def _number_at(words: list[str], start: int) -> tuple[int, int] | None:
    """The number written at `start` ("12", "a", "twenty five", "a couple of", "one hundred
    and two") and the index after it, or None."""
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
        if following[:1] == ["hundred"]:
            return _hundreds(words, 1, start + 2)
        return 1, start + 1
    value, index = _below_hundred(words, start)
    if value is None:
        return None
    if index < len(words) and words[index] == "hundred":
        return _hundreds(words, value, index + 1)
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


def _role_at(words: list[str], start: int) -> tuple[str, int] | None:
    """The catalogue title named at `start` (the longest name wins) and the index after it."""
    for length in range(min(catalogue.LONGEST_NAME, len(words) - start), 0, -1):
        span = words[start : start + length]
        name = " ".join(span[:-1] + [singular(span[-1])])
        title = catalogue.title_for(name)
        if title is not None:
            return title, start + length
    return None


def _level_at(words: list[str], start: int) -> tuple[str, int] | None:
    if start >= len(words) or words[start] not in _LEVEL_WORDS:
        return None
    end = start + 1
    if end < len(words) and words[end] == "level":
        end += 1
    return _LEVEL_WORDS[words[start]], end


def _role_in(words: list[str]) -> tuple[tuple[str, str | None, int] | None, list[str]]:
    """The role a fragment names, and the words it could not read (not filler, not used)."""
    for start in range(len(words)):
        parsed = _role_from(words, start)
        if parsed is None:
            continue
        role, end, unread = parsed
        unread += [word for word in words[:start] + words[end:] if word not in _FILLER]
        return role, unread
    return None, [word for word in words if word not in _FILLER]


def _role_from(
    words: list[str], start: int
) -> tuple[tuple[str, str | None, int], int, list[str]] | None:
    """A role starting at `start`: [count] [more] [level] title. None if none starts here."""
    counted = _number_at(words, start)
    index = counted[1] if counted else start
    if counted and index < len(words) and words[index] == "of" and words[start] not in ("a", "an"):
        index += 1  # "a team of 5", "5 of our"
    if index < len(words) and words[index] in _MORE:
        index += 1
    named = _role_at(words, index)
    level = None
    if named is None:
        leveled = _level_at(words, index)
        if leveled is not None:
            level, index = leveled
            named = _role_at(words, index)
    if named is None:
        if counted is None and level is None:
            return None
        if counted is not None and words[start] in ("a", "an") and level is None:
            return None  # "a" before a word that is no role: filler, as in "a quote"
        unknown = list(itertools.takewhile(lambda word: word not in _FILLER, words[index:]))
        if not unknown:
            return None
        for offset in range(1, len(unknown)):
            later = _role_at(words, index + offset)
            if later is not None:
                raise InvalidQuoteRequest(
                    f"cannot read {' '.join(unknown[:offset])!r} before {later[0]!r}; a role is"
                    " a count, then a level (junior, mid, senior, lead), then the title"
                )
        name = " ".join(unknown[:-1] + [singular(unknown[-1])])
        hint = catalogue.suggestions(name)
        raise InvalidQuoteRequest(
            f"no role {name!r} in the catalogue"
            + (f"; did you mean {' or '.join(map(repr, hint))}?" if hint else "")
        )
    title, end = named
    if counted is None:
        if words[end - 1] != singular(words[end - 1]):
            raise InvalidQuoteRequest(
                f"how many {' '.join(words[index:end])!r}? give a count, like"
                f" '2 {' '.join(words[index:end])}'"
            )
        count = 1
    else:
        count = counted[0]
    return (title, level, count), end, []


# -- normalisation --------------------------------------------------------------------------


def _build(lines: list[tuple[Any, ...]], workspace: Any, tier: Any) -> QuoteRequest:
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
    return QuoteRequest(roles=roles, workspace=_workspace(workspace), tier=_tier(tier))


def _title(value: Any) -> str:
    """The catalogue title `value` names (a title or an alias, any case, singular or plural)."""
    if not isinstance(value, str):
        raise InvalidQuoteRequest(f"a role title must be a string, not {value!r}")
    if len(value) > MAX_TITLE_LENGTH:
        raise InvalidQuoteRequest(f"role title {value[:40]!r}... is longer than {MAX_TITLE_LENGTH}")
    words = re.sub(r"[-_/.]", " ", value.lower()).split()
    if not words:
        raise InvalidQuoteRequest(f"a role title is empty: {value!r}")
    name = " ".join(words[:-1] + [singular(words[-1])])
    title = catalogue.title_for(name)
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
    workspace = WORKSPACE_SYNONYMS.get(" ".join(re.sub(r"[-_]", " ", value.lower()).split()))
    if workspace is None:
        raise InvalidQuoteRequest(
            f"unknown workspace {value!r}; expected one of {list(WORKSPACES)}"
        )
    return workspace


def _tier(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidQuoteRequest(f"tier must be a string, not {value!r}")
    tier = value.strip().lower()
    if tier not in TIERS:
        raise InvalidQuoteRequest(f"unknown tier {value!r}; expected one of {list(TIERS)}")
    return tier
