"""The overview: the web app's root, the page an operator opens first (what it shows and
where each figure comes from: housekeeping/overview.py), and its JSON twin."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template

from housekeeping import overview as figures

overview = Blueprint("overview", __name__)


@overview.get("/")
@overview.get("/overview")
def page() -> str:
    return render_template("pages/overview.html", o=figures.gather(),
                           message=current_app.extensions["signer"].shown_message())  # fmt: skip


@overview.get("/api/overview")
def as_json() -> Response:
    return jsonify(figures.gather())
