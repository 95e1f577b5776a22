"""Who may use the web app, and proof that a form or a message came from it.

Behind the same logins as Flower (FLOWER_BASIC_AUTH, HTTP basic auth); without them the
app refuses to start, as Flower does. A browser sends basic-auth credentials with any
request to the site, a forged cross-site form included, so every form carries a token
signed for the logged-in user (and a POST from another origin is refused); the JSON API
takes only `application/json` bodies, which no cross-site form can send. Pages are never
framed or cached, and a status message in a redirect is signed: no link can put words in
the page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, jsonify, request

from config.settings import settings

TOKEN_LIFETIME = 8 * 3600
#: Requests that need no login (probes).
OPEN_ENDPOINTS = ("healthcheck", "static")


def logins() -> dict[str, str]:
    """user -> password from FLOWER_BASIC_AUTH; refuses to serve without a proper one."""
    found = {}
    for login in (settings.flower_basic_auth or "").split(","):
        user, _, password = login.partition(":")
        if not (user.strip() and password.strip()):
            raise SystemExit(
                "invalid setting FLOWER_BASIC_AUTH: the dead-letter page refuses to start"
                " without logins (user:password, both non-empty), as Flower does"
            )
        found[user.strip()] = password.strip()
    return found


class Signer:
    """Form tokens and status messages, signed with a key made from the logins."""

    def __init__(self, logins_setting: str) -> None:
        self.secret = hashlib.sha256(
            b"taskplatform deadletters page\n" + logins_setting.encode()
        ).digest()

    def _mac(self, text: str) -> bytes:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).digest()

    def csrf_token(self, user: str) -> str:
        issued = str(int(time.time()))
        signature = base64.urlsafe_b64encode(self._mac(f"{user}\n{issued}"))
        return f"{issued}.{signature.decode().rstrip('=')}"

    def csrf_valid(self, user: str, token: str) -> bool:
        issued, _, signature = (token or "").partition(".")
        if not issued.isdigit() or time.time() - int(issued) > TOKEN_LIFETIME:
            return False
        expected = base64.urlsafe_b64encode(self._mac(f"{user}\n{issued}")).decode()
        return hmac.compare_digest(expected.rstrip("="), signature)

    def signed(self, message: str) -> dict[str, str]:
        """The query parameters that carry `message` to the next page."""
        return {"message": message, "sig": self._mac(f"message\n{message}").hex()[:32]}

    def shown_message(self) -> str | None:
        """The signed message of this request, if its signature holds."""
        message, tag = request.args.get("message"), request.args.get("sig", "")
        if not message:
            return None
        return message if hmac.compare_digest(self.signed(message)["sig"], tag) else None


def current_user() -> str | None:
    """The logged-in user (after `guard` ran)."""
    return request.environ.get("taskplatform.user")


def install(app: Flask) -> Signer:
    """Logins, form tokens and hardened headers on every request of `app`."""
    users = logins()
    signer = Signer(settings.flower_basic_auth or "")

    def authenticated() -> str | None:
        auth = request.authorization
        if auth is None or auth.type != "basic" or auth.username not in users:
            return None
        expected = users[auth.username].encode()
        password = (auth.password or "").encode()
        return auth.username if hmac.compare_digest(expected, password) else None

    @app.before_request
    def guard() -> Any:
        if request.endpoint in OPEN_ENDPOINTS:
            return None
        user = authenticated()
        if user is None:
            return Response("login required", 401,
                            {"WWW-Authenticate": 'Basic realm="dead letters"'})  # fmt: skip
        request.environ["taskplatform.user"] = user
        if request.method != "POST":
            return None
        if request.path.startswith("/api/"):
            if not request.is_json:
                return jsonify({"error": "send JSON (Content-Type: application/json)"}), 415
            return None
        origin = request.headers.get("Origin") or request.headers.get("Referer")
        if origin and urlsplit(origin).netloc != request.host:
            abort(403, "a form from another site")
        if not signer.csrf_valid(user, request.form.get("csrf", "")):
            abort(403, "the form has expired or was not made by this page: reload and retry")
        return None

    @app.after_request
    def harden(response: Response) -> Response:
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    app.jinja_env.globals["signed"] = signer.signed
    return signer
