"""The JSON API: the same work as the pages (webapp/handlers.py), answered as JSON; bodies
must be `application/json` (webapp/auth.py), a bad one gets a 400 naming the field."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, url_for

from config import database
from deadletters import replay, repository
from webapp import handlers as work
from webapp.handlers import CAUSES_SHOWN, PAGE_SIZE, Refused

api = Blueprint("api", __name__, url_prefix="/api")


def error(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"error": message}), status


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


@api.get("/causes")
def causes() -> Response:
    limit = min(500, max(1, work.as_int(request.args.get("limit"), CAUSES_SHOWN)))
    return jsonify({"items": work.causes(work.filters_or_400(request.args), limit)})


@api.get("/causes/<fingerprint>")
def cause(fingerprint: str) -> Response:
    found = work.cause(fingerprint)
    filters = repository.Filters(fingerprint=fingerprint)
    with database.session() as db:
        ids = repository.ids_matching(db, filters)
    return jsonify({**found, "letter_ids": ids})


@api.get("/letters")
def letters() -> Response:
    filters = work.filters_or_400(request.args)
    page = max(1, work.as_int(request.args.get("page"), 1))
    limit = min(500, max(1, work.as_int(request.args.get("limit"), PAGE_SIZE)))
    return jsonify(work.letters_page(filters, page, limit))


@api.get("/letters/<int:letter_id>")
def letter(letter_id: int) -> Response:
    shown, family = work.letter(letter_id)
    lineage = {side: [x.id for x in rows] for side, rows in family.items()}
    return jsonify({**shown, "lineage": lineage})


@api.post("/letters/<int:letter_id>/replay")
def replay_letter(letter_id: int) -> Response | tuple[Response, int]:
    work.existing_id(letter_id)
    force = _flag(_body(), "force")
    try:
        new_id = work.replay_one(letter_id, force)
    except Refused as exc:
        return error(str(exc), 409)
    return jsonify({"id": letter_id, "replayed_as": new_id})


@api.post("/letters/<int:letter_id>/resolve")
def resolve_letter(letter_id: int) -> Response:
    work.existing_id(letter_id)
    note = _note(_body())
    work.letter(letter_id)  # 404 for a letter that is not there
    return jsonify({"id": letter_id, "resolved": work.resolve([letter_id], note)})


@api.post("/replay")
def replay_matching() -> tuple[Response, int]:
    body = _body()
    try:
        job, count = work.start_bulk(work.shown_filters(_filters_of(body)), _flag(body, "force"))
    except Refused as exc:
        status = 409 if isinstance(exc.__cause__, replay.BulkRunning) else 400
        return error(str(exc), status)
    return jsonify({"task_id": job, "letters": count,
                    "status": url_for("api.bulk", job=job)}), 202  # fmt: skip


@api.get("/bulk/<job>")
def bulk(job: str) -> Response:
    return jsonify(work.bulk_state(job))


@api.post("/resolve")
def resolve_matching() -> Response | tuple[Response, int]:
    body = _body()
    note = _note(body)
    try:
        ids = work.matching_ids(work.shown_filters(_filters_of(body)))
    except Refused as exc:
        return error(str(exc), 400)
    return jsonify({"resolved": work.resolve(ids, note)})
