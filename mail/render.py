"""Rendering mail from Jinja2 templates: a subject, a text part and an HTML part.

Each template `name` is three files in mail/templates/: `name.subject.txt`,
`name.txt` and `name.html`. HTML is autoescaped; text is not. Every template sees `brand`
(mail/brand.py): the company's name and colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from config.errors import PermanentError
from mail.brand import BRAND

TEMPLATES = Path(__file__).parent / "templates"

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_environment.globals["brand"] = BRAND


class TemplateError(PermanentError):
    """A template that does not exist, or a context that lacks what it needs."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(template: str, context: dict[str, Any]) -> Rendered:
    try:
        subject = _environment.get_template(f"{template}.subject.txt").render(context)
        text = _environment.get_template(f"{template}.txt").render(context)
        html = _environment.get_template(f"{template}.html").render(context)
    except TemplateNotFound as exc:
        raise TemplateError(f"no mail template {template!r} ({exc.name})") from None
    except Exception as exc:  # undefined variables and template syntax errors
        raise TemplateError(f"mail template {template!r} failed: {exc}") from None
    return Rendered(subject=" ".join(subject.split()), text=text, html=html)
