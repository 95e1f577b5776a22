"""The roles we staff and quote: one title per role, its family, and the words clients use.

Salaries live in the `salaries` table (a row per title and level, seeded by migrations);
this catalogue is what a request's words are read against, so "2 Python devs", "a VA" and
"QA" reach a priced title instead of a refusal. Every title here has a row for each of the
four levels, and every salary row a title here (tests/unit/test_role_catalogue.py and the
migration test hold both ends).

Aliases are lower-case, singular and hyphen-free, as the parser compares them. An alias
belongs to one role only; one that could mean two roles ("designer", "coder") is left out
unless one meaning dominates offshore job ads.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Role:
    title: str
    family: str
    aliases: tuple[str, ...] = ()


FAMILIES = (
    "support",
    "admin",
    "finance",
    "creative",
    "marketing",
    "sales",
    "engineering",
    "healthcare back office",
    "people",
)

ROLES: tuple[Role, ...] = (
    # support
    Role("customer service representative", "support", (
        "csr", "customer service rep", "customer service agent", "customer service",
        "customer service specialist", "customer support", "customer support representative",
        "customer support rep", "customer support agent", "customer care representative",
        "call center agent", "call centre agent", "inbound agent", "voice agent",
        "call center representative", "call centre representative", "contact center agent",
        "contact centre agent", "customer care agent", "customer care specialist",
        "customer care", "customer experience agent", "customer experience representative",
        "cx agent", "cs agent", "cs representative", "support agent", "support representative",
        "phone support agent", "phone support", "voice csr", "csr agent", "csr representative",
    )),
    Role("technical support representative", "support", (
        "tsr", "tech support", "technical support", "tech support agent",
        "technical support agent", "tech support representative",
    )),
    Role("chat support agent", "support", (
        "chat support", "chat agent", "email support agent", "non voice agent", "non voice csr",
        "live chat agent", "live chat support", "chat support specialist",
        "chat support representative", "chat csr", "email support", "email support specialist",
    )),
    # admin
    Role("virtual assistant", "admin", ("va", "general virtual assistant", "general va")),
    Role("executive assistant", "admin", ("ea", "personal assistant")),
    Role("administrative assistant", "admin", (
        "admin assistant", "admin", "admin staff", "administrative staff", "office assistant",
        "admin officer", "administrative officer", "admin support", "administrative support",
    )),
    Role("data entry specialist", "admin", (
        "data entry", "data entry clerk", "data entry operator", "data encoder", "encoder",
    )),
    Role("real estate virtual assistant", "admin", ("real estate va", "real estate assistant")),
    # finance
    Role("accountant", "finance", (
        "staff accountant", "accounting staff", "accounting specialist",
    )),
    Role("certified public accountant", "finance", (
        "cpa", "cpa accountant", "licensed accountant",
    )),
    Role("bookkeeper", "finance", (
        "book keeper", "bookkeeping specialist", "bookkeeping", "bookkeeping assistant",
        "bookkeeping clerk", "accounting clerk",
    )),
    Role("payroll specialist", "finance", (
        "payroll", "payroll officer", "payroll clerk", "payroll administrator",
    )),
    Role("accounts payable specialist", "finance", (
        "accounts payable", "ap specialist", "ap clerk", "accounts payable clerk",
    )),
    Role("accounts receivable specialist", "finance", (
        "accounts receivable", "ar specialist", "ar clerk", "accounts receivable clerk",
        "collections specialist", "collections agent",
    )),
    Role("financial analyst", "finance", ("finance analyst", "fp a analyst")),
    # creative
    Role("graphic designer", "creative", (
        "graphic artist", "graphics designer", "designer", "layout artist", "canva designer",
    )),
    Role("ui ux designer", "creative", (
        "ui designer", "ux designer", "ui ux", "product designer", "web designer",
    )),
    Role("illustrator", "creative", ("digital illustrator",)),
    Role("animator", "creative", ("motion graphics designer", "motion designer", "2d animator")),
    Role("video editor", "creative", (
        "video editing specialist", "youtube video editor", "youtube editor", "video editing",
        "tiktok video editor", "reels editor", "short form video editor",
    )),
    # marketing
    Role("digital marketer", "marketing", (
        "digital marketing specialist", "online marketer", "marketing specialist",
        "marketing assistant", "digital marketing assistant", "marketing va",
    )),
    Role("seo specialist", "marketing", ("seo", "seo expert", "seo analyst", "seo va")),
    Role("social media manager", "marketing", (
        "smm", "social media specialist", "social media marketer", "social media assistant",
        "social media va", "community manager",
    )),
    Role("content writer", "marketing", (
        "writer", "blog writer", "article writer", "seo writer", "seo content writer",
    )),
    Role("copywriter", "marketing", ("copy writer", "ad copywriter")),
    Role("ppc specialist", "marketing", (
        "ppc", "ppc manager", "google ads specialist", "facebook ads specialist",
        "paid ads specialist", "media buyer",
    )),
    Role("email marketing specialist", "marketing", (
        "email marketer", "email marketing", "email marketing va", "klaviyo specialist",
    )),
    # sales
    Role("lead generation specialist", "sales", (
        "lead generation", "lead gen", "lead gen specialist", "lead generator", "lead researcher",
    )),
    Role("appointment setter", "sales", (
        "appointment setting specialist", "cold caller", "telemarketer", "telemarketing agent",
        "telemarketing specialist",
    )),
    Role("sales development representative", "sales", (
        "sdr", "bdr", "business development representative", "sales rep",
        "sales representative", "sales agent", "inside sales representative", "inside sales rep",
        "inside sales agent",
    )),
    # engineering
    Role("software developer", "engineering", (
        "dev", "developer", "programmer", "software engineer", "backend developer",
        "back end developer", "python developer", "python dev", "java developer",
        "php developer", "laravel developer", "django developer", "net developer",
        "node developer", "nodejs developer", "ruby developer", "golang developer",
    )),
    Role("web developer", "engineering", (
        "web dev", "web programmer", "wordpress developer", "shopify developer",
        "webflow developer", "front end developer", "frontend developer", "react developer",
        "javascript developer",
    )),
    Role("full stack developer", "engineering", (
        "full stack", "full stack dev", "fullstack developer", "fullstack dev",
        "full stack engineer", "fullstack engineer", "mern developer",
    )),
    Role("mobile app developer", "engineering", (
        "mobile developer", "mobile app dev", "app developer", "ios developer",
        "android developer", "flutter developer", "react native developer",
    )),
    Role("qa tester", "engineering", (
        "qa", "quality assurance", "quality assurance tester", "qa engineer", "qa analyst",
        "qa specialist", "software tester", "tester", "test engineer", "automation tester",
    )),
    Role("devops engineer", "engineering", (
        "devops", "devops specialist", "site reliability engineer", "sre", "cloud engineer",
    )),
    Role("data analyst", "engineering", (
        "data analytics specialist", "business intelligence analyst", "bi analyst",
        "reporting analyst",
    )),
    Role("data engineer", "engineering", ("etl developer", "big data engineer")),
    Role("data scientist", "engineering", (
        "machine learning engineer", "ml engineer", "ai engineer",
    )),
    Role("it support specialist", "engineering", (
        "it support", "it specialist", "it technician", "help desk", "helpdesk",
        "help desk technician", "helpdesk specialist", "desktop support",
    )),
    Role("system administrator", "engineering", (
        "sysadmin", "sys admin", "system admin", "systems administrator",
        "network administrator",
    )),
    Role("project manager", "engineering", ("pm", "it project manager", "scrum master")),
    # healthcare back office
    Role("medical virtual assistant", "healthcare back office", (
        "medical va", "healthcare va", "healthcare virtual assistant", "dental va",
        "dental virtual assistant",
    )),
    Role("medical coder", "healthcare back office", (
        "medical coding specialist", "clinical coder",
    )),
    Role("medical biller", "healthcare back office", (
        "medical billing specialist", "medical billing", "billing specialist",
    )),
    Role("medical scribe", "healthcare back office", ("scribe", "virtual scribe", "remote scribe")),
    Role("insurance verification specialist", "healthcare back office", (
        "insurance verification", "insurance verifier", "eligibility verification specialist",
    )),
    Role("prior authorization specialist", "healthcare back office", (
        "prior authorization", "prior auth specialist", "pre authorization specialist",
    )),
    # people
    Role("recruiter", "people", (
        "talent acquisition specialist", "sourcer", "sourcing specialist",
        "recruitment specialist", "hr recruiter", "technical recruiter", "it recruiter",
    )),
    Role("hr generalist", "people", (
        "hr", "hr assistant", "hr specialist", "hr officer", "human resources specialist",
        "human resources assistant", "human resources generalist",
    )),
)  # fmt: skip


def _index(roles: tuple[Role, ...]) -> MappingProxyType[str, str]:
    """Every title and alias to its title; an alias claimed twice is a bug, caught at import."""
    index: dict[str, str] = {}
    for role in roles:
        if role.family not in FAMILIES:
            raise ValueError(f"role {role.title!r} has unknown family {role.family!r}")
        for name in (role.title, *role.aliases):
            if index.setdefault(name, role.title) != role.title:
                raise ValueError(f"{name!r} names both {index[name]!r} and {role.title!r}")
    return MappingProxyType(index)


TITLES: tuple[str, ...] = tuple(role.title for role in ROLES)
BY_NAME = _index(ROLES)
LONGEST_NAME = max(len(name.split()) for name in BY_NAME)


def title_for(name: str) -> str | None:
    """The catalogue title a (normalised, singular) name means, or None."""
    return BY_NAME.get(name)


def titles_matching(words: str) -> list[str]:
    """Titles a search term means: the one its name is, then every title holding its words.

    "va" is the virtual assistant; "developer" is the software developer and then every other
    developer title, because someone searching for developers wants all of them, not an
    exact-title miss. Aliases are not searched word by word: "seo va" must not make "va"
    mean the SEO specialist.
    """
    wanted = words.split()
    if not wanted:
        return []
    found = [BY_NAME[words]] if words in BY_NAME else []
    for title in TITLES:
        if title not in found and all(word in title.split() for word in wanted):
            found.append(title)
    return found


def suggestions(name: str, limit: int = 3) -> list[str]:
    """Titles close to an unknown name, for an error message that helps."""
    close = difflib.get_close_matches(name, list(BY_NAME), n=limit * 2, cutoff=0.6)
    titles: list[str] = []
    for match in close:
        if BY_NAME[match] not in titles:
            titles.append(BY_NAME[match])
    return titles[:limit]
