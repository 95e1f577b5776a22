"""The dead-letter page: see, replay and resolve failed jobs from a browser, or over JSON.

    gunicorn 'deadletters.web:create_app()'   (the Procfile's `deadletters` process)

Server-rendered (Flask and Jinja2) over the same code as `celery -A config deadletters`:
the repository for lists, counts and lineage, deadletters/replay.py for replays (one at
once; a filtered set, canary first, queued for a maintenance worker and followed on its own
page), the repository's resolve for resolutions, and
deadletters/views.py for what a letter shows, redacted. Nothing here decides anything the
CLI does not.

Behind the same logins as Flower (FLOWER_BASIC_AUTH, HTTP basic auth); without them it
refuses to start, as Flower does. A browser sends basic-auth credentials with any request
to the site, a forged cross-site form included, so every form carries a token signed for
the logged-in user (and a POST from another origin is refused); the JSON API takes only
`application/json` bodies, which no cross-site form can send. Pages are never framed or
cached, and a status message in a redirect is signed: no link can put words in the page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for
from sqlalchemy.exc import OperationalError as DatabaseUnavailable
from werkzeug.exceptions import HTTPException

from broker import epoch
from config import database, redis_client
from config.publish import BrokerUnavailableError
from config.settings import settings
from deadletters import replay, repository, views
from deadletters.letters import REASONS
from housekeeping import overview as platform_overview
from taskplatform.redaction import redact_text

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
#: A bulk replay or resolve from the page handles at most this many letters (the CLI, more).
BULK_LIMIT = 500
TOKEN_LIFETIME = 8 * 3600
LARGEST_ID = 2**63 - 1
STATUSES = ("open", "resolved", "all")
#: The filters that narrow a bulk action (the status, open by default, does not).
NARROWING = ("task", "queue", "reason", "exception_type", "cause", "age", "since")
#: Causes a page lists (the CLI, any number).
CAUSES_SHOWN = 200
FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")


class Refused(Exception):
    """A request the page will not carry out, with the reason to show."""


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


def create_app() -> Flask:
    """The WSGI app (gunicorn calls this)."""
    users = logins()
    secret = hashlib.sha256(
        b"taskplatform deadletters page\n" + (settings.flower_basic_auth or "").encode()
    ).digest()
    app = Flask(__name__)
    app.config["JSON_SORT_KEYS"] = False

    def current_user() -> str | None:
        auth = request.authorization
        if auth is None or auth.type != "basic" or auth.username not in users:
            return None
        expected = users[auth.username].encode()
        return (
            auth.username if hmac.compare_digest(expected, (auth.password or "").encode()) else None
        )

    def csrf_token(user: str) -> str:
        issued = str(int(time.time()))
        signature = hmac.new(secret, f"{user}\n{issued}".encode(), hashlib.sha256).digest()
        return f"{issued}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"

    def csrf_valid(user: str, token: str) -> bool:
        issued, _, signature = (token or "").partition(".")
        if not issued.isdigit() or time.time() - int(issued) > TOKEN_LIFETIME:
            return False
        expected = hmac.new(secret, f"{user}\n{issued}".encode(), hashlib.sha256).digest()
        expected_text = base64.urlsafe_b64encode(expected).decode().rstrip("=")
        return hmac.compare_digest(expected_text, signature)

    def signed(message: str) -> dict[str, str]:
        tag = hmac.new(secret, b"message\n" + message.encode(), hashlib.sha256).hexdigest()
        return {"message": message, "sig": tag[:32]}

    def shown_message() -> str | None:
        message, tag = request.args.get("message"), request.args.get("sig", "")
        if not message:
            return None
        return message if hmac.compare_digest(signed(message)["sig"], tag) else None

    app.jinja_env.globals["signed"] = signed
    app.jinja_env.filters.update(ago=views.ago, utc=views.utc, duration=views.duration)

    @app.after_request
    def harden(response: Response) -> Response:
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.before_request
    def guard() -> Response | None:
        if request.endpoint in ("healthcheck", "static"):
            return None
        user = current_user()
        if user is None:
            return Response("login required", 401,
                            {"WWW-Authenticate": 'Basic realm="dead letters"'})  # fmt: skip
        request.environ["taskplatform.user"] = user
        if request.method != "POST":
            return None
        if request.path.startswith("/api/"):
            if not request.is_json:
                return _api_error("send JSON (Content-Type: application/json)", 415)
            return None
        origin = request.headers.get("Origin") or request.headers.get("Referer")
        if origin and urlsplit(origin).netloc != request.host:
            abort(403, "a form from another site")
        if not csrf_valid(user, request.form.get("csrf", "")):
            abort(403, "the form has expired or was not made by this page: reload and retry")
        return None

    @app.context_processor
    def page_context() -> dict[str, Any]:
        user = request.environ.get("taskplatform.user")
        return {
            "user": user,
            "csrf": csrf_token(user) if user else "",
            "flower_url": (settings.flower_url or "").rstrip("/"),
            "reasons": REASONS,
            "reason_words": views.REASON_WORDS,
            "replay_words": views.REPLAY_WORDS,
            "environment": settings.app_env,
            "broker_losses": _broker_losses() if user else [],
        }

    @app.get("/healthcheck")
    def healthcheck() -> Response:
        return Response("OK", 200, {"Content-Type": "text/plain"})

    # -- pages ------------------------------------------------------------------------------

    @app.get("/")
    @app.get("/overview")
    def overview() -> str:
        return render_template("deadletters/overview.html", o=platform_overview.gather(),
                               message=shown_message())  # fmt: skip

    @app.get("/causes")
    def causes() -> str:
        status = request.args.get("status") if request.args.get("status") in STATUSES else "open"
        filters = repository.Filters(unresolved=status == "open", resolved=status == "resolved")
        with database.session() as db:
            found = [views.cause(x) for x in repository.causes(db, filters, limit=CAUSES_SHOWN)]
        return render_template(
            "deadletters/causes.html", status=status, message=shown_message(),
            paging=[c for c in found if c["paging"]], refused=[c for c in found if not c["paging"]],
        )  # fmt: skip

    @app.get("/causes/<fingerprint>")
    def cause(fingerprint: str) -> str:
        found = _cause(fingerprint)
        shown = {**_shown_filters(request.args), "cause": fingerprint}
        if "status" not in request.args and not found["open"]:
            shown["status"] = "all"  # every letter of it resolved: show them, not nothing
        filters = _filters(shown)
        page = max(1, _int(request.args.get("page"), 1))
        with database.session() as db:
            total = repository.count(db, filters)
            letters = [views.summary(x) for x in
                       repository.find(db, filters, PAGE_SIZE, (page - 1) * PAGE_SIZE)]  # fmt: skip
        return render_template(
            "deadletters/cause.html", cause=found, letters=letters, total=total, page=page,
            pages=max(1, -(-total // PAGE_SIZE)), shown=shown, frozen=_frozen(shown),
            message=shown_message(),
        )  # fmt: skip

    @app.get("/letters")
    def letters() -> str:
        shown = _shown_filters(request.args)
        try:
            filters = _filters(shown)
        except Refused as exc:
            page = render_template("deadletters/list.html", error=str(exc), shown=shown,
                                   letters=[], total=0, page=1, pages=1, stats=None,
                                   narrowed=False)  # fmt: skip
            return page, 400
        page = max(1, _int(request.args.get("page"), 1))
        with database.session() as db:
            total = repository.count(db, filters)
            letters = [views.summary(x) for x in
                       repository.find(db, filters, PAGE_SIZE, (page - 1) * PAGE_SIZE)]  # fmt: skip
            stats = repository.stats(db, filters)
        return render_template(
            "deadletters/list.html", letters=letters, total=total, page=page,
            pages=max(1, -(-total // PAGE_SIZE)), shown=shown, stats=stats, error=None,
            message=shown_message(), frozen=_frozen(shown),
            narrowed=any(shown.get(key) for key in NARROWING),
        )  # fmt: skip

    @app.get("/letters/<int:letter_id>")
    def letter(letter_id: int) -> str:
        _existing_id(letter_id)
        with database.session() as db:
            found = repository.get(db, letter_id)
            if found is None:
                abort(404, f"no dead letter {letter_id}")
            shown = views.detail(found)
            family = repository.lineage(db, found)
            lineage = {side: [views.summary(x) for x in rows] for side, rows in family.items()}
        return render_template("deadletters/letter.html", letter=shown, lineage=lineage,
                               message=shown_message())  # fmt: skip

    @app.get("/tasks/<task_id>")
    def by_task(task_id: str) -> Response:
        """From a task id (Flower's task page shows it) to its newest dead letter."""
        with database.session() as db:
            found = repository.latest_for_task(db, task_id)
        if found is None:
            abort(404, f"no dead letter for task {task_id}")
        return redirect(url_for("letter", letter_id=found.id))

    @app.post("/letters/<int:letter_id>/replay")
    def replay_letter(letter_id: int) -> Response:
        _existing_id(letter_id)
        try:
            new_id = _replay_one(letter_id, force=bool(request.form.get("force")))
            message = f"replayed as {new_id}"
        except Refused as exc:
            message = f"not replayed: {exc}"
        return redirect(url_for("letter", letter_id=letter_id, **signed(message)))

    @app.post("/letters/<int:letter_id>/resolve")
    def resolve_letter(letter_id: int) -> Response:
        _existing_id(letter_id)
        changed = _resolve([letter_id], request.form.get("note", ""))
        message = "resolved" if changed else "already resolved"
        return redirect(url_for("letter", letter_id=letter_id, **signed(message)))

    @app.post("/replay")
    def replay_matching() -> Response:
        shown = _shown_filters(request.form)
        try:
            job, count = _start_bulk(shown, force=bool(request.form.get("force")))
        except Refused as exc:
            return redirect(_back_to(shown, **signed(f"nothing replayed: {exc}")))
        return redirect(url_for("bulk", job=job, **signed(f"{count} letters to replay")))

    @app.get("/bulk/<job>")
    def bulk(job: str) -> str:
        return render_template("deadletters/bulk.html", job=job, state=_bulk_state(job),
                               message=shown_message())  # fmt: skip

    @app.post("/resolve")
    def resolve_matching() -> Response:
        shown = _shown_filters(request.form)
        try:
            ids = _matching_ids(shown)
            message = f"{_resolve(ids, request.form.get('note', ''))} resolved"
        except Refused as exc:
            message = f"nothing resolved: {exc}"
        return redirect(_back_to(shown, **signed(message)))

    # -- JSON API ---------------------------------------------------------------------------

    @app.get("/api/overview")
    def api_overview() -> Response:
        return jsonify(platform_overview.gather())

    @app.get("/api/causes")
    def api_causes() -> Response:
        filters = _filters_or_400(request.args)
        limit = min(500, max(1, _int(request.args.get("limit"), CAUSES_SHOWN)))
        with database.session() as db:
            return jsonify({"items": [views.cause(x) for x in
                                      repository.causes(db, filters, limit)]})  # fmt: skip

    @app.get("/api/causes/<fingerprint>")
    def api_cause(fingerprint: str) -> Response:
        found = _cause(fingerprint)
        filters = repository.Filters(fingerprint=fingerprint)
        with database.session() as db:
            ids = repository.ids_matching(db, filters)
        return jsonify({**found, "letter_ids": ids})

    @app.get("/api/letters")
    def api_letters() -> Response:
        filters = _filters_or_400(request.args)
        page = max(1, _int(request.args.get("page"), 1))
        limit = min(500, max(1, _int(request.args.get("limit"), PAGE_SIZE)))
        with database.session() as db:
            items = [
                views.summary(x) for x in repository.find(db, filters, limit, (page - 1) * limit)
            ]
            return jsonify({"total": repository.count(db, filters), "page": page,
                            "items": items, "stats": repository.stats(db, filters)})  # fmt: skip

    @app.get("/api/letters/<int:letter_id>")
    def api_letter(letter_id: int) -> Response:
        _existing_id(letter_id)
        with database.session() as db:
            found = repository.get(db, letter_id)
            if found is None:
                return _api_error(f"no dead letter {letter_id}", 404)
            family = repository.lineage(db, found)
            return jsonify({**views.detail(found),
                            "lineage": {side: [x.id for x in rows]
                                        for side, rows in family.items()}})  # fmt: skip

    @app.post("/api/letters/<int:letter_id>/replay")
    def api_replay(letter_id: int) -> Response:
        _existing_id(letter_id)
        force = _flag(_body(), "force")
        try:
            new_id = _replay_one(letter_id, force)
        except Refused as exc:
            return _api_error(str(exc), 409)
        return jsonify({"id": letter_id, "replayed_as": new_id})

    @app.post("/api/letters/<int:letter_id>/resolve")
    def api_resolve(letter_id: int) -> Response:
        _existing_id(letter_id)
        note = _note(_body())
        with database.session() as db:
            if repository.get(db, letter_id) is None:
                abort(404, f"no dead letter {letter_id}")
        return jsonify({"id": letter_id, "resolved": _resolve([letter_id], note)})

    @app.post("/api/replay")
    def api_replay_matching() -> Response:
        body = _body()
        try:
            job, count = _start_bulk(_shown_filters(_filters_of(body)), _flag(body, "force"))
        except Refused as exc:
            status = 409 if isinstance(exc.__cause__, replay.BulkRunning) else 400
            return _api_error(str(exc), status)
        return jsonify({"task_id": job, "letters": count,
                        "status": url_for("api_bulk", job=job)}), 202  # fmt: skip

    @app.get("/api/bulk/<job>")
    def api_bulk(job: str) -> Response:
        return jsonify(_bulk_state(job))

    @app.post("/api/resolve")
    def api_resolve_matching() -> Response:
        body = _body()
        note = _note(body)
        try:
            ids = _matching_ids(_shown_filters(_filters_of(body)))
        except Refused as exc:
            return _api_error(str(exc), 400)
        return jsonify({"resolved": _resolve(ids, note)})

    @app.errorhandler(HTTPException)
    def refused(error: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            return _api_error(error.description or error.name, error.code or 500)
        if error.code == 401:
            return error
        page = render_template("deadletters/error.html", code=error.code,
                               description=error.description)  # fmt: skip
        return page, error.code

    @app.errorhandler(DatabaseUnavailable)
    def database_down(error: Exception) -> Any:
        description = "Postgres does not answer: dead letters cannot be read now; try again"
        if request.path.startswith("/api/"):
            return _api_error(description, 503)
        return render_template("deadletters/error.html", code=503, description=description), 503

    return app


# -- the work, shared by pages and API (and with the CLI below it) --------------------------


def _broker_losses() -> list[str]:
    """A line per unacknowledged loss of the broker's data, for the banner on every page
    (broker/epoch.py); none when Redis cannot say, which the doctor reports on its own."""
    try:
        return [epoch.describe(loss) for loss in epoch.unacknowledged(redis_client.client())]
    except Exception as exc:
        logger.warning("could not read the broker's data losses: %s", exc)
        return []


def _who() -> str:
    return f"web:{request.environ.get('taskplatform.user')}"


def _replay_one(letter_id: int, force: bool) -> str:
    from config import app as celery_app

    try:
        return replay.replay_one(celery_app, letter_id, by=_who(), force=force)
    except replay.ReplayError as exc:
        raise Refused(str(exc)) from None
    except BrokerUnavailableError as exc:
        abort(503, f"Redis did not take the replay ({exc}): it may have been queued;"
                   " replaying again is safe, it is published once per replay")  # fmt: skip


def _start_bulk(shown: dict[str, str], force: bool) -> tuple[str, int]:
    from config import app as celery_app

    ids = _matching_ids(shown)
    if not ids:
        raise Refused("no dead letter matches")
    try:
        job = replay.start_bulk(celery_app, redis_client.client(), ids, _who(), force)
    except replay.BulkRunning as exc:
        raise Refused(str(exc)) from exc
    except BrokerUnavailableError as exc:
        abort(503, f"Redis did not take the bulk replay ({exc}); try again")
    return job, len(ids)


def _bulk_state(job: str) -> dict[str, Any]:
    """Where a bulk replay stands: waiting, running, done (with its report) or failed."""
    from config import app as celery_app

    result = celery_app.AsyncResult(job)
    state = result.state
    if state == "SUCCESS":
        return {"task_id": job, "state": "done", "report": result.result}
    if state in ("FAILURE", "REVOKED"):
        return {"task_id": job, "state": "failed", "error": redact_text(str(result.result))}
    return {"task_id": job, "state": "running" if state in ("STARTED", "RETRY") else "waiting"}


def _resolve(ids: list[int], note: str) -> int:
    with database.session() as db:
        return repository.resolve(db, ids, by=_who(), note=note.strip() or None)


def _matching_ids(shown: dict[str, str]) -> list[int]:
    if not any(shown.get(key) for key in NARROWING):
        raise Refused(
            "choose a reason, task, queue, exception or age: a bulk action from the page"
            " never means every letter (the status alone does not narrow it)"
        )
    with database.session() as db:
        ids = repository.ids_matching(db, _filters(shown))
    if len(ids) > BULK_LIMIT:
        raise Refused(f"{len(ids)} letters match; the page handles {BULK_LIMIT} at a time"
                      " (narrow the filters, or use `celery -A config deadletters`)")  # fmt: skip
    return ids


def _cause(fingerprint: str) -> dict[str, Any]:
    """One cause, over all its letters (open and resolved), or 404."""
    if not FINGERPRINT.match(fingerprint):
        abort(404, f"no cause {fingerprint!r}")
    with database.session() as db:
        found = repository.causes(db, repository.Filters(fingerprint=fingerprint), limit=1)
    if not found:
        abort(404, f"no cause {fingerprint!r}")
    return views.cause(found[0])


def _back_to(shown: dict[str, str], **message: str) -> str:
    """After a bulk form: the cause's page it came from, else the filtered list."""
    if shown.get("cause"):
        return url_for("cause", fingerprint=shown["cause"], **message)
    return url_for("letters", **_query(shown), **message)


def _existing_id(letter_id: int) -> None:
    if not 0 < letter_id <= LARGEST_ID:
        abort(404, f"no dead letter {letter_id}")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        abort(400, "the body must be a JSON object")
    return body


def _filters_of(body: dict[str, Any]) -> dict[str, Any]:
    filters = body.get("filters") or {}
    if not isinstance(filters, dict) or not all(
        isinstance(v, str | bool | None) for v in filters.values()
    ):
        abort(400, '"filters" must be an object of strings')
    return filters


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        abort(400, f'"{name}" must be true or false')
    return value


def _note(body: dict[str, Any]) -> str:
    note = body.get("note", "")
    if not isinstance(note, str) or not note.strip():
        abort(400, '"note" must say why (a non-empty string), as the CLI asks')
    return note


# -- filters as the page shows them ---------------------------------------------------------


def _shown_filters(source: Any) -> dict[str, str]:
    """The filter fields as given (strings), status defaulting to open letters."""
    shown = {key: str(source.get(key) or "").strip()
             for key in NARROWING}  # fmt: skip
    status = str(source.get("status") or "open")
    shown["status"] = status if status in STATUSES else "open"
    return shown


def _filter_options(shown: dict[str, str]) -> dict[str, Any]:
    return {
        "task": shown.get("task"),
        "queue": shown.get("queue"),
        "reason": shown.get("reason"),
        "exception_type": shown.get("exception_type"),
        "cause": shown.get("cause"),
        # "letters from the last 2h": a duration ago; a bulk form sends the moment it meant
        "since": shown.get("since") or shown.get("age"),
        "unresolved": shown.get("status") == "open",
    }


def _filters(shown: dict[str, str]) -> repository.Filters:
    if shown.get("reason") and shown["reason"] not in REASONS:
        raise Refused(f"unknown reason {shown['reason']!r}: one of {', '.join(REASONS)}")
    age = shown.get("age")
    if age and not views.DURATION.match(age):
        raise Refused(f"age {age!r}: use a number and s, m, h, d or w, as in 2h or 7d")
    try:
        filters = views.filters_from(_filter_options(shown))
    except ValueError as exc:
        raise Refused(str(exc)) from None
    if shown.get("status") == "resolved":
        filters = repository.Filters(**{**filters.__dict__, "resolved": True})
    return filters


def _filters_or_400(source: Any) -> repository.Filters:
    try:
        return _filters(_shown_filters(source))
    except Refused as exc:
        abort(400, str(exc))


def _frozen(shown: dict[str, str]) -> dict[str, str]:
    """The filters for a bulk form: the age as the moment it means now, so the set acted
    on is the set the page counted (the status, open by default, does not narrow it)."""
    frozen = dict(shown)
    if shown.get("age") and views.DURATION.match(shown["age"]):
        moment = views.parse_moment(shown["age"])
        frozen["since"], frozen["age"] = (moment.isoformat() if moment else ""), ""
    return frozen


def _query(shown: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in shown.items() if value}


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _api_error(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"error": message}), status
