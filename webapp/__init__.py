"""The operators' web app: the overview of the whole platform, dead letters triaged by cause,
and every letter, to read, replay and resolve, in a browser or over JSON.

    gunicorn 'webapp:create_app()'   (the Procfile's `deadletters` process)

auth        logins (Flower's), form tokens, signed messages, hardened headers
handlers    the work, shared by the pages and the JSON API (and the CLI's code below it)
overview    the root page and /api/overview
pages       causes, letters, a letter, and the forms that replay and resolve
api         the JSON API
templates/  server-rendered pages (Jinja2); times relative, UTC on hover
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, render_template, request
from sqlalchemy.exc import OperationalError as DatabaseUnavailable
from werkzeug.exceptions import HTTPException

from config.settings import settings
from deadletters import views
from deadletters.letters import REASONS
from webapp import auth, handlers

logger = logging.getLogger(__name__)


def create_app() -> Flask:
    """The WSGI app (gunicorn calls this)."""
    from webapp.api import api, error
    from webapp.overview import overview
    from webapp.pages import pages

    app = Flask(__name__)
    app.config["JSON_SORT_KEYS"] = False
    app.extensions["signer"] = signer = auth.install(app)
    app.jinja_env.filters.update(ago=views.ago, utc=views.utc, duration=views.duration)
    for blueprint in (overview, pages, api):
        app.register_blueprint(blueprint)

    @app.context_processor
    def page_context() -> dict[str, Any]:
        user = auth.current_user()
        return {
            "user": user,
            "csrf": signer.csrf_token(user) if user else "",
            "flower_url": (settings.flower_url or "").rstrip("/"),
            "reasons": REASONS,
            "reason_words": views.REASON_WORDS,
            "replay_words": views.REPLAY_WORDS,
            "environment": settings.app_env,
            "broker_losses": handlers.broker_losses() if user else [],
        }

    @app.get("/healthcheck")
    def healthcheck() -> Response:
        return Response("OK", 200, {"Content-Type": "text/plain"})

    @app.errorhandler(HTTPException)
    def refused(exc: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            return error(exc.description or exc.name, exc.code or 500)
        if exc.code == 401:
            return exc
        page = render_template("pages/error.html", code=exc.code, description=exc.description)
        return page, exc.code

    @app.errorhandler(DatabaseUnavailable)
    def database_down(exc: Exception) -> Any:
        description = "Postgres does not answer: dead letters cannot be read now; try again"
        if request.path.startswith("/api/"):
            return error(description, 503)
        return render_template("pages/error.html", code=503, description=description), 503

    return app
