"""How the company looks in its mail: the name customers know it by and its colours, in one
place (no setting carries them; SMTP_FROM is the address, not the brand).

Every text colour here is meant to be set together with the background it sits on, never
alone: mail clients in dark mode recolour what a message leaves unset, and a dark text left
on a background the client darkened is unreadable. The pairs below all pass WCAG AA (4.5:1).
"""

from __future__ import annotations

from types import MappingProxyType

BRAND = MappingProxyType(
    {
        # The sign-off every mail of ours has carried; the header band shows it too.
        "name": "The offshore staffing team",
        "font": "-apple-system,BlinkMacSystemFont,Segoe UI,Roboto,Helvetica,Arial,sans-serif",
        # The band: white and a pale blue on a deep blue.
        "band": "#12395b",
        "on_band": "#ffffff",
        "on_band_muted": "#c9daea",
        # The page: the canvas around the card, the card, its text and its rules.
        "canvas": "#eef1f4",
        "paper": "#ffffff",
        "ink": "#1f2933",
        "muted": "#52606d",
        "rule": "#d9e2ec",
        # The totals box: the band's blue on a tint of it.
        "tint": "#e6eef6",
        "on_tint": "#12395b",
    }
)
