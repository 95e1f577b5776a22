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
from dataclasses import dataclass
from typing import Any, Protocol

from config.errors import PermanentError

LEVELS = ("junior", "mid", "senior", "lead")
WORKSPACES = ("wfh", "hybrid", "office")
TIERS = ("standard", "premium", "enterprise")
DEFAULT_LEVEL = "mid"
DEFAULT_WORKSPACE = "wfh"
DEFAULT_TIER = "standard"
MIN_COUNT = 1
MAX_COUNT = 500
MAX_TITLE_LENGTH = 80
MAX_TEXT_LENGTH = 2000
# Bumped whenever normalisation changes meaning, so old cache entries stop matching.
CACHE_KEY_VERSION = 1

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
# Whole titles (after singularising) that mean another title in the salary table.
TITLE_SYNONYMS = {
    "va": "virtual assistant",
    "dev": "software developer",
    "developer": "software developer",
    "programmer": "software developer",
    "csr": "customer service representative",
    "customer service rep": "customer service representative",
    "graphic artist": "graphic designer",
    "book keeper": "bookkeeper",
}
# Last words that end in "s" but are already singular.
SINGULAR_ENDINGS = ("ss", "us", "is")
SINGULAR_WORDS = frozenset({"sales", "series", "news", "ops"})


class InvalidQuoteRequest(PermanentError):
    """The request cannot be read as a quote; the message names the offending value."""


@dataclass(frozen=True)
class RoleLine:
    title: str
    level: str
    count: int


@dataclass(frozen=True)
class QuoteRequest:
    roles: tuple[RoleLine, ...]
    workspace: str
    tier: str

    def to_dict(self) -> dict[str, Any]:
        """The structured form: `parse_request(q.to_dict()) == q`."""
        return {
            "roles": [
                {"title": line.title, "level": line.level, "count": line.count}
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
        [(line.title, line.level, line.count) for line in request.roles],
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
        _reject_unknown_keys(role, {"title", "level", "count"}, f"roles[{index}]")
        lines.append((role.get("title"), role.get("level"), role.get("count")))
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


_COUNT_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_COUNT = r"(?P<count>\d+|" + "|".join(_COUNT_WORDS) + r")"
_LEVEL = r"(?P<level>entry|junior|jr|midlevel|mid|intermediate|senior|sr|lead)(?:\s+level)?"
_TITLE = r"(?P<title>[a-z][a-z ]*?)"
# A role may trail a clause ("for our firm", "with a CPA licence"); it is not part of the title.
_TAIL = r"(?:\s+(?:for|who|that|to|on|at|in|with|please)\b.*)?"
_MORE = r"(?:(?:more|other|additional|extra)\s+)?"
_ROLE_WITH_COUNT = re.compile(rf"(?:^|\s){_COUNT}\s+{_MORE}(?:{_LEVEL}\s+)?{_TITLE}{_TAIL}$")
_ROLE_WITH_LEVEL = re.compile(rf"(?:^|\s){_LEVEL}\s+{_TITLE}{_TAIL}$")
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
# Words a fragment may hold without being a role: greetings, "we need", and what is left
# of "... on the premium tier".
_FILLER = frozenset(
    ("please", "thanks", "thank", "you", "hi", "hello", "we", "i", "us", "me", "our", "it")
    + ("need", "want", "would", "like", "looking", "for", "quote", "price", "pricing", "cost")
    + ("how", "much", "is", "give", "get", "hire", "hiring", "also", "the", "of", "on", "in")
    + ("at", "a", "an", "setup", "tier", "plan", "team", "staff")
)


class RuleBasedParser:
    """Reads phrasings like "2 senior accountants and a junior graphic designer, office based".

    Deliberately strict: a fragment that is neither a role (how many, then an optional level,
    then a title) nor filler is an error rather than skipped, because quoting a misread team
    is worse than asking the client to rephrase.
    """

    def parse(self, text: str) -> QuoteRequest:
        cleaned = _clean(text)
        cleaned, workspace = _take_workspace(cleaned, text)
        cleaned, tier = _take_tier(cleaned, text)
        lines, unreadable = [], []
        for segment in _SEPARATORS.split(cleaned):
            words = segment.split()
            if all(word in _FILLER for word in words):
                continue
            line = _role_in(" ".join(words))
            if line is None:
                unreadable.append(" ".join(words))
            else:
                lines.append(line)
        if not lines:
            unread = f"; cannot read {unreadable} as roles" if unreadable else ""
            raise InvalidQuoteRequest(f"no roles found in {_shown(text)}{unread}")
        if unreadable:
            raise InvalidQuoteRequest(
                f"cannot read {unreadable} in {_shown(text)} as roles; "
                "write each like '2 senior accountants'"
            )
        return _build(lines, workspace or DEFAULT_WORKSPACE, tier or DEFAULT_TIER)


def _shown(text: str) -> str:
    """The client's text in an error message, cut short: enough to find it, not a wall."""
    return repr(text) if len(text) <= 80 else repr(text[:77] + "...")


def _clean(text: str) -> str:
    lowered = text.lower().replace("'", "").replace("\u2019", "")
    lowered = re.sub(r"\b(sr|jr)\.", r"\1", lowered)
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


def _role_in(segment: str) -> tuple[str, str | None, int] | None:
    """The role a fragment names, or None; words before it must be filler, never a role."""
    match = _ROLE_WITH_COUNT.search(segment)
    if match:
        count_text = match["count"]
        count = int(count_text) if count_text.isdigit() else _COUNT_WORDS[count_text]
    else:
        match = _ROLE_WITH_LEVEL.search(segment)
        count = 1
    if match is None or not all(word in _FILLER for word in segment[: match.start()].split()):
        return None
    return match["title"], match["level"], count


# -- normalisation --------------------------------------------------------------------------


def _build(lines: list[tuple[Any, Any, Any]], workspace: Any, tier: Any) -> QuoteRequest:
    """Merge lines that name the same (title, level) and sort them: one request, one form."""
    if not lines:
        raise InvalidQuoteRequest("no roles found: 'roles' is empty")
    merged: dict[tuple[str, str], int] = {}
    for title, level, count in lines:
        key = (_title(title), _level(level))
        merged[key] = merged.get(key, 0) + _count(count, key[0])
    for (title, level), count in merged.items():
        if count > MAX_COUNT:
            raise InvalidQuoteRequest(
                f"{count} x {level} {title} in total is more than {MAX_COUNT} per role"
            )
    roles = tuple(RoleLine(title, level, count) for (title, level), count in sorted(merged.items()))
    return QuoteRequest(roles=roles, workspace=_workspace(workspace), tier=_tier(tier))


def _title(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidQuoteRequest(f"a role title must be a string, not {value!r}")
    words = re.sub(r"[-_]", " ", value.lower()).split()
    if not words:
        raise InvalidQuoteRequest(f"a role title is empty: {value!r}")
    title = " ".join(words[:-1] + [_singular(words[-1])])
    if len(title) > MAX_TITLE_LENGTH:
        raise InvalidQuoteRequest(f"role title {value!r} is longer than {MAX_TITLE_LENGTH}")
    return TITLE_SYNONYMS.get(title, title)


def _singular(word: str) -> str:
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
