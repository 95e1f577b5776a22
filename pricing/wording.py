"""The words a sales team writes around a role, and what each means for a quote.

The grammar of a request lives in pricing/requests.py; this module holds the vocabularies it
reads against, because they are what grows: a new way clients name their hours or their
business is a line here, not a change to how a request is read.

Every word here either changes the quote in one stated way (a region's hours set the shift)
or is known not to change it (greetings, the business the team works for). A word in neither
list is refused by name, so growing these lists is how the parser learns, never guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The night differential's hours (Labor Code Art. 86): 10 pm to 6 am, Manila time.
NIGHT_STARTS, NIGHT_ENDS = 22, 6
MANILA_UTC_OFFSET = 8
WORKDAY = (9, 17)  # a region's business hours, in its own time
# At least this many of the eight hours inside the night window make a night shift.
NIGHT_MAJORITY = 5


@dataclass(frozen=True)
class Region:
    """A place whose business hours a client names ("US hours", "EST", "Aussie hours")."""

    name: str
    utc_offsets: tuple[int, ...]  # standard time, then summer time if it has one

    @property
    def shift(self) -> str | None:
        """The Manila shift its 9-to-5 falls in, or None when neither quoted shift fits.

        A shift fits when it holds the hours in both standard and summer time: night when
        most of them (5 of 8) earn the night differential, day when none does. UK hours
        (5 pm to 1 am in Manila) have 2 or 3 night hours: day would leave out a differential
        the law owes, night would charge one it does not, so they are refused.
        """
        shifts = {_shift_for(offset) for offset in self.utc_offsets}
        return shifts.pop() if len(shifts) == 1 else None

    def manila_hours(self) -> str:
        """Where its 9-to-5 falls in Manila (standard time), for a message."""
        start = (WORKDAY[0] - self.utc_offsets[0] + MANILA_UTC_OFFSET) % 24
        end = (start + WORKDAY[1] - WORKDAY[0]) % 24
        return f"{_clock(start)} to {_clock(end)}"


def _shift_for(utc_offset: int) -> str | None:
    start = WORKDAY[0] - utc_offset + MANILA_UTC_OFFSET
    hours = [(start + hour) % 24 for hour in range(WORKDAY[1] - WORKDAY[0])]
    night = sum(1 for hour in hours if hour >= NIGHT_STARTS or hour < NIGHT_ENDS)
    if night >= NIGHT_MAJORITY:
        return "night"
    return "day" if night == 0 else None


def _clock(hour: int) -> str:
    if hour in (0, 12):
        return "midnight" if hour == 0 else "noon"
    return f"{hour % 12} {'am' if hour < 12 else 'pm'}"


US = Region("US", (-5, -4))
US_CENTRAL = Region("US Central", (-6, -5))
US_MOUNTAIN = Region("US Mountain", (-7, -6))
US_PACIFIC = Region("US Pacific", (-8, -7))
AUSTRALIA = Region("Australian", (10, 11))
PERTH = Region("Perth", (8,))
MANILA = Region("Manila", (8,))
SINGAPORE = Region("Singapore", (8,))
JAPAN = Region("Japan", (9,))
GULF = Region("Gulf", (4,))
UK = Region("UK", (0, 1))
EUROPE = Region("European", (1, 2))
NEW_ZEALAND = Region("New Zealand", (12, 13))

# Lower-case, hyphen-free, as the parser compares them.
REGION_NAMES: dict[str, Region] = {
    **dict.fromkeys(("usa", "america", "american", "north america", "north american"), US),
    **dict.fromkeys(("canada", "canadian", "east coast", "new york", "nyc", "toronto"), US),
    **dict.fromkeys(("us", "est", "edt", "et", "eastern"), US),
    **dict.fromkeys(("cst", "cdt", "ct", "central", "chicago", "texas"), US_CENTRAL),
    **dict.fromkeys(("mst", "mdt", "mt", "mountain", "denver"), US_MOUNTAIN),
    **dict.fromkeys(("pst", "pdt", "pt", "pacific", "west coast", "california"), US_PACIFIC),
    **dict.fromkeys(("los angeles", "san francisco", "seattle"), US_PACIFIC),
    **dict.fromkeys(("australia", "australian", "aussie", "au", "aus", "aest", "aedt"), AUSTRALIA),
    **dict.fromkeys(("sydney", "melbourne", "brisbane", "canberra", "adelaide"), AUSTRALIA),
    **dict.fromkeys(("perth", "awst"), PERTH),
    **dict.fromkeys(("manila", "philippine", "philippines", "ph", "pht"), MANILA),
    **dict.fromkeys(("singapore", "sg", "sgt", "hong kong", "hk", "hkt"), SINGAPORE),
    **dict.fromkeys(("japan", "jst", "tokyo"), JAPAN),
    **dict.fromkeys(("dubai", "uae", "gulf"), GULF),
    **dict.fromkeys(("uk", "gb", "britain", "british", "england", "london", "gmt", "bst"), UK),
    **dict.fromkeys(("ireland", "irish", "dublin", "scotland"), UK),
    **dict.fromkeys(("europe", "european", "eu", "cet", "cest", "emea"), EUROPE),
    **dict.fromkeys(("berlin", "paris", "amsterdam", "madrid"), EUROPE),
    **dict.fromkeys(("nz", "new zealand", "kiwi", "auckland", "nzst", "nzdt", "anz"), NEW_ZEALAND),
}  # fmt: skip
# What may follow a region name in the same phrase: "US hours", "AU business hours", "EST
# time zone" (hours), "US-based clients", "Australian customers" (the market served).
HOUR_CONTEXT = (
    "business hours", "working hours", "office hours", "work hours", "hours", "hrs", "hour",
    "time zones", "time zone", "timezones", "timezone", "tz", "time", "shift", "schedule",
    "coverage",
)  # fmt: skip
ZONE_CONTEXT = ("time zones", "time zone", "timezones", "timezone", "tz", "time")
MARKET_CONTEXT = (
    "clients", "client", "customers", "customer", "market", "based", "callers", "accounts",
    "account", "companies", "company", "businesses", "business",
)  # fmt: skip
ANY_CONTEXT = HOUR_CONTEXT + MARKET_CONTEXT
# Names that are a region only with context after them, and which context: "us" alone is
# the pronoun, "pacific" and "central" ordinary words, "pt" also part time, and "Manila"
# or "the Philippines" alone is where every team we quote sits, not the hours it keeps.
CONTEXT_ONLY: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("us", "eastern", "central", "mountain", "pacific"), ANY_CONTEXT),
    **dict.fromkeys(("pt", "ct", "mt"), ZONE_CONTEXT),
    **dict.fromkeys(("manila", "philippine", "philippines", "ph"), HOUR_CONTEXT),
}  # fmt: skip
# Abbreviated time zones that may be listed together ("ET/PT", "EST or PST"), where "pt",
# "ct" and "mt" need no more context.
ZONE_ABBREVIATIONS = frozenset(
    ("est", "edt", "et", "cst", "cdt", "ct", "mst", "mdt", "mt", "pst", "pdt", "pt")
    + ("aest", "aedt", "awst", "gmt", "bst", "cet", "cest", "nzst", "nzdt", "sgt", "jst")
)
# Full zone names, folded before reading so "Eastern Standard Time" does not name a tier.
ZONE_SPELLINGS = (
    (r"australian\s+(?:eastern|western)\s+(?:standard|daylight)\s+time", "aest"),
    (r"central\s+european\s+(?:summer\s+)?time", "cet"),
    (r"philippine\s+(?:standard\s+)?time", "manila time"),
    (r"greenwich\s+mean\s+time", "gmt"),
    (r"british\s+summer\s+time", "bst"),
    (r"([a-z]+)\s+(?:standard|daylight|summer)\s+time", r"\1 time"),
)


def _alternatives(names) -> str:
    """A regex alternation of `names`, longest first, so "new york" wins over "new"."""
    return "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))


def _phrase() -> re.Pattern[str]:
    free = [name for name in REGION_NAMES if name not in CONTEXT_ONLY]
    context = _alternatives(set(ANY_CONTEXT))
    needing = "|".join(
        rf"(?:{_alternatives(name for name, allowed in CONTEXT_ONLY.items() if allowed == group)})"
        rf"(?=\s+(?:{_alternatives(group)})\b)"
        for group in set(CONTEXT_ONLY.values())
    )
    zones = _alternatives(ZONE_ABBREVIATIONS)
    return re.compile(
        rf"\b(?:(?:{zones})(?:\s+(?:or\s+)?(?:{zones}))+|{_alternatives(free)}|{needing})"
        rf"(?:\s+(?:{context}))*\b"
    )


# A region phrase in cleaned text: a name or a list of zones, then any context words.
REGION_PHRASE = _phrase()
REGION_NAME = re.compile(rf"\b(?:{_alternatives(REGION_NAMES)})\b")

# What the team works for: read, and documented as not changing the price. A purpose
# phrase is "for ..." or "to <verb> ..." ending in one of PURPOSE_HEADS or PLATFORMS.
# Where a business sells or publishes: "an Amazon VA", "a TikTok video editor" name the
# same job as the title alone. Not engineering titles: an "Amazon developer" may be AWS work.
MARKETS = frozenset(
    ("youtube", "tiktok", "instagram", "ig", "facebook", "fb", "linkedin", "twitter")
    + ("pinterest", "snapchat", "shopify", "amazon", "etsy", "ebay", "woocommerce", "walmart")
    + ("lazada", "shopee", "ecommerce", "podcast", "podcasts", "dropshipping", "airbnb")
)
# Software a team works in: a purpose ("a VA for our HubSpot"), never a word before a title,
# where it may name a specialist ("a Salesforce admin" is no administrative assistant).
TOOLS = frozenset(
    ("wordpress", "wix", "squarespace", "webflow", "magento", "bigcommerce", "google", "meta")
    + ("gohighlevel", "ghl", "hubspot", "salesforce", "zendesk", "freshdesk", "intercom")
    + ("gorgias", "quickbooks", "qbo", "xero", "netsuite", "clickup", "asana", "notion")
    + ("kajabi", "clickfunnels", "mailchimp", "klaviyo", "canva", "saas", "upwork")
)
PLATFORMS = MARKETS | TOOLS
PURPOSE_HEADS = frozenset(
    ("store", "stores", "shop", "shops", "site", "sites", "website", "websites", "channel")
    + ("channels", "page", "pages", "account", "accounts", "brand", "brands", "business")
    + ("businesses", "company", "companies", "agency", "agencies", "startup", "startups")
    + ("firm", "firms", "clinic", "clinics", "practice", "practices", "hospital", "restaurant")
    + ("restaurants", "hotel", "hotels", "team", "teams", "department", "clients", "client")
    + ("customers", "customer", "users", "members", "patients", "students", "listings")
    + ("properties", "products", "product", "catalog", "catalogue", "orders", "campaigns")
    + ("campaign", "project", "projects", "launch", "app", "apps", "platform", "blog", "blogs")
    + ("newsletter", "newsletters", "videos", "content", "posts", "inbox", "emails", "calls")
    + ("phones", "tickets", "chats", "inquiries", "enquiries", "books", "invoices", "records")
    + ("operations", "backlog", "expansion", "growth", "needs", "work", "tasks", "calendar")
    + ("calendars", "ceo", "founder", "founders", "owner", "owners", "director", "directors")
    + ("executives", "management", "boss", "partners", "doctors", "dentists", "lawyers")
    + ("attorneys", "realtors", "coaches", "group", "portfolio", "reviews", "shipments")
    + ("support", "queue", "line", "lines", "hotline", "media", "marketing", "ads", "sales")
    + ("advertising", "research", "graphics", "thumbnails", "reels", "shorts", "accounting")
    + ("finance", "logistics", "shipping", "fulfillment", "inventory", "recruitment")
    + ("onboarding", "scheduling", "email", "events", "webinars", "community", "crm", "hiring")
    + ("hires", "roles", "positions", "openings", "vacancies")
)
# Verbs that open a purpose: "a VA to manage our Instagram", "CSRs handling our inbox".
PURPOSE_VERBS = frozenset(
    ("manage", "handle", "run", "edit", "answer", "take", "make", "do", "help", "support")
    + ("cover", "assist", "process", "update", "maintain", "grow", "build", "create", "design")
    + ("write", "post", "respond", "reply", "monitor", "book", "chase", "track", "organize")
    + ("organise", "prepare", "reconcile", "file", "call", "serve", "look", "work", "clean")
    + ("managing", "handling", "running", "editing", "answering", "taking", "doing", "helping")
    + ("supporting", "covering", "assisting", "processing", "maintaining", "serving")
    + ("working", "creating", "writing", "posting", "responding", "monitoring")
)
PURPOSE_PARTICLES = frozenset({"up", "on", "with", "after", "out", "to", "for", "of", "in"})
# Words that change what a person costs, so never read as part of a purpose: languages,
# experience, credentials. "CSRs for our Spanish-speaking customers" is refused by name.
PRICED_QUALITIES = frozenset(
    ("spanish", "french", "german", "japanese", "mandarin", "chinese", "cantonese", "korean")
    + ("italian", "portuguese", "arabic", "dutch", "russian", "hindi", "english", "bilingual")
    + ("multilingual", "trilingual", "native", "fluent", "speaking", "speaker", "speakers")
    + ("experienced", "experience", "years", "yrs", "year", "certified", "licensed")
    + ("accredited", "expert", "experts", "skilled", "specialized", "specialised", "cpa")
    # When the work is done: a purpose may not move it out of the shift the quote prices.
    + ("late", "evening", "evenings", "night", "nights", "nightly", "early", "nighttime")
)

# Words a request may hold besides what it asks for: greetings, "we need", linking words.
# Anything not here, not a role and not a condition is refused by name, never dropped: a
# word we skip could change the price. So only words that cannot change a quote belong.
FILLER = frozenset(
    ("please", "pls", "plz", "kindly", "thanks", "thank", "thx", "cheers", "regards", "hi")
    + ("hello", "hey", "dear", "you", "we", "i", "im", "ive", "id", "weve", "were", "us")
    + ("me", "our", "it", "its", "my", "your", "this", "these", "need", "needs", "needed")
    + ("needing", "want", "wants", "wanted", "would", "could", "can", "will", "may", "might")
    + ("like", "love", "looking", "for", "quote", "quotes", "quotation", "estimate", "price")
    + ("prices", "pricing", "cost", "costs", "rate", "rates", "how", "much", "what", "is")
    + ("are", "be", "do", "does", "give", "get", "send", "share", "provide", "hire", "hiring")
    + ("also", "the", "of", "on", "in", "at", "a", "an", "to", "who", "with", "some", "basis")
    + ("schedule", "role", "roles", "position", "positions", "setup", "tier", "plan", "team")
    + ("staff", "staffing", "company", "business", "firm", "asap", "urgently", "urgent")
    + ("soon", "immediately", "start", "starting", "new", "total", "about", "around")
    + ("approximately", "roughly", "interested", "request", "requesting", "require", "estimated")
    + ("requires", "required", "just", "only", "so", "too", "as", "well", "currently", "now")
    + ("let", "know", "able", "working", "work", "each", "dedicated", "during", "covering")
    + ("help", "assist", "long", "term", "permanent", "ongoing", "all", "both")
    + ("following", "aligned", "matching", "same", "offshore", "outsourced", "philippines")
    + ("philippine", "manila", "ph", "based")
)
# Words that say what the team will do, or link it: "2 CSRs to take calls", "supporting".
UNPRICED = FILLER | PURPOSE_VERBS | PURPOSE_PARTICLES
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# When the team starts: read, and not priced (a quote is a month's price, whenever it starts).
START_DATE = re.compile(
    r"\b(?:to\s+)?(?:start|starting|begin|beginning|from)\s+(?:on\s+|in\s+|by\s+)?"
    r"(?:next\s+(?:week|month|quarter|year)|this\s+(?:week|month|quarter)|asap|immediately"
    rf"|soon|right\s+away|(?:(?:early|mid|late|end\s+of)\s+)?(?:{_MONTHS}))\b"
)
# "good day" and "good evening" are greetings, not shifts: taken out before reading.
GREETING = re.compile(r"\bgood\s+(?:morning|afternoon|evening|day)\b")
