"""The dead-letter pages: causes, a cause, all letters, a letter, and the forms that replay
and resolve them (one, a cause, or a filtered set), each answered with a page or a redirect
carrying a signed message."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request
from flask import url_for as flask_url_for

from config import database
from deadletters import repository, views
from webapp import handlers as work
from webapp.handlers import PAGE_SIZE, Refused

pages = Blueprint("deadletters", __name__)


def url_for(endpoint: str, **values: str) -> str:
    return flask_url_for(f"deadletters.{endpoint}", **values)


def signed(message: str) -> dict[str, str]:
    return current_app.extensions["signer"].signed(message)


def shown_message() -> str | None:
    return current_app.extensions["signer"].shown_message()


def back_to(shown: dict[str, str], **message: str) -> str:
    """After a bulk form: the cause's page it came from, else the filtered list."""
    if shown.get("cause"):
        return url_for("cause", fingerprint=shown["cause"], **message)
    return url_for("letters", **work.query(shown), **message)


def pages_of(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


@pages.get("/causes")
def causes() -> str:
    status = request.args.get("status")
    status = status if status in work.STATUSES else "open"
    filters = repository.Filters(unresolved=status == "open", resolved=status == "resolved")
    found = work.causes(filters)
    return render_template(
        "pages/causes.html", status=status, message=shown_message(),
        paging=[c for c in found if c["paging"]], refused=[c for c in found if not c["paging"]],
    )  # fmt: skip


@pages.get("/causes/<fingerprint>")
def cause(fingerprint: str) -> str:
    found = work.cause(fingerprint)
    shown = {**work.shown_filters(request.args), "cause": fingerprint}
    if "status" not in request.args and not found["open"]:
        shown["status"] = "all"  # every letter of it resolved: show them, not nothing
    page = max(1, work.as_int(request.args.get("page"), 1))
    try:
        filters = work.filters(shown)
    except Refused as exc:
        abort(400, str(exc))
    listed = work.letters_page(filters, page, PAGE_SIZE)
    return render_template(
        "pages/cause.html", cause=found, letters=listed["items"], total=listed["total"],
        page=page, pages=pages_of(listed["total"]), shown=shown, frozen=work.frozen(shown),
        message=shown_message(),
    )  # fmt: skip


@pages.get("/letters")
def letters() -> tuple[str, int] | str:
    shown = work.shown_filters(request.args)
    try:
        filters = work.filters(shown)
    except Refused as exc:
        page = render_template("pages/list.html", error=str(exc), shown=shown, letters=[],
                               total=0, page=1, pages=1, stats=None, narrowed=False)  # fmt: skip
        return page, 400
    page = max(1, work.as_int(request.args.get("page"), 1))
    listed = work.letters_page(filters, page, PAGE_SIZE)
    return render_template(
        "pages/list.html", letters=listed["items"], total=listed["total"], page=page,
        pages=pages_of(listed["total"]), shown=shown, stats=listed["stats"], error=None,
        message=shown_message(), frozen=work.frozen(shown),
        narrowed=any(shown.get(key) for key in work.NARROWING),
    )  # fmt: skip


@pages.get("/letters/<int:letter_id>")
def letter(letter_id: int) -> str:
    shown, family = work.letter(letter_id)
    lineage = {side: [views.summary(x) for x in rows] for side, rows in family.items()}
    return render_template("pages/letter.html", letter=shown, lineage=lineage,
                           message=shown_message())  # fmt: skip


@pages.get("/tasks/<task_id>")
def by_task(task_id: str) -> Response:
    """From a task id (Flower's task page shows it) to its newest dead letter."""
    with database.session() as db:
        found = repository.latest_for_task(db, task_id)
    if found is None:
        abort(404, f"no dead letter for task {task_id}")
    return redirect(url_for("letter", letter_id=found.id))


@pages.post("/letters/<int:letter_id>/replay")
def replay_letter(letter_id: int) -> Response:
    work.existing_id(letter_id)
    try:
        new_id = work.replay_one(letter_id, force=bool(request.form.get("force")))
        message = f"replayed as {new_id}"
    except Refused as exc:
        message = f"not replayed: {exc}"
    return redirect(url_for("letter", letter_id=letter_id, **signed(message)))


@pages.post("/letters/<int:letter_id>/resolve")
def resolve_letter(letter_id: int) -> Response:
    work.existing_id(letter_id)
    changed = work.resolve([letter_id], request.form.get("note", ""))
    message = "resolved" if changed else "already resolved"
    return redirect(url_for("letter", letter_id=letter_id, **signed(message)))


@pages.post("/replay")
def replay_matching() -> Response:
    shown = work.shown_filters(request.form)
    try:
        job, count = work.start_bulk(shown, force=bool(request.form.get("force")))
    except Refused as exc:
        return redirect(back_to(shown, **signed(f"nothing replayed: {exc}")))
    return redirect(url_for("bulk", job=job, **signed(f"{count} letters to replay")))


@pages.get("/bulk/<job>")
def bulk(job: str) -> str:
    return render_template("pages/bulk.html", job=job, state=work.bulk_state(job),
                           message=shown_message())  # fmt: skip


@pages.post("/resolve")
def resolve_matching() -> Response:
    shown = work.shown_filters(request.form)
    try:
        ids = work.matching_ids(shown)
        message = f"{work.resolve(ids, request.form.get('note', ''))} resolved"
    except Refused as exc:
        message = f"nothing resolved: {exc}"
    return redirect(back_to(shown, **signed(message)))
