"""What the web app does, shared by its pages and its JSON API (and, below them, by the CLI:
deadletters/replay.py, the repository, deadletters/views.py). A page and its JSON twin call
the same function here and differ only in how they answer.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import abort, request

from broker import epoch
from config import brokers, database, redis_client
from config.publish import BrokerUnavailableError
from deadletters import replay, repository, views
from deadletters.letters import REASONS
from taskplatform.redaction import redact_text

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
#: A bulk replay or resolve from the page handles at most this many letters (the CLI, more).
BULK_LIMIT = 500
LARGEST_ID = 2**63 - 1
STATUSES = ("open", "resolved", "all")
#: The filters that narrow a bulk action (the status, open by default, does not).
NARROWING = ("task", "queue", "reason", "exception_type", "cause", "age", "since")
#: Causes a page lists (the CLI, any number).
CAUSES_SHOWN = 200
FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")


class Refused(Exception):
    """A request the app will not carry out, with the reason to show."""


def letters_page(filters: repository.Filters, page: int, limit: int) -> dict[str, Any]:
    """One page of letters, newest first, with the total and the counts of what matches."""
    with database.session() as db:
        items = [views.summary(x) for x in repository.find(db, filters, limit, (page - 1) * limit)]
        return {"total": repository.count(db, filters), "page": page, "items": items,
                "stats": repository.stats(db, filters)}  # fmt: skip


def letter(letter_id: int) -> tuple[dict[str, Any], dict[str, list]]:
    """A letter in full and its lineage (the rows), or 404."""
    existing_id(letter_id)
    with database.session() as db:
        found = repository.get(db, letter_id)
        if found is None:
            abort(404, f"no dead letter {letter_id}")
        return views.detail(found), repository.lineage(db, found)


def causes(filters: repository.Filters, limit: int = CAUSES_SHOWN) -> list[dict[str, Any]]:
    with database.session() as db:
        return [views.cause(x) for x in repository.causes(db, filters, limit)]


def broker_losses() -> list[str]:
    """A line per unacknowledged loss of the broker's data, for the banner on every page
    (broker/epoch.py); none when Redis cannot say, which the doctor reports on its own."""
    try:
        return [epoch.describe(loss) for loss in epoch.unacknowledged(redis_client.client())]
    except Exception as exc:
        logger.warning("could not read the broker's data losses: %s", exc)
        return []


def who() -> str:
    return f"web:{request.environ.get('taskplatform.user')}"


def replay_one(letter_id: int, force: bool) -> str:
    from config import app as celery_app

    try:
        return replay.replay_one(celery_app, letter_id, by=who(), force=force)
    except replay.ReplayError as exc:
        raise Refused(str(exc)) from None
    except BrokerUnavailableError as exc:
        broker = brokers.current().name
        abort(503, f"{broker} did not take the replay ({exc}): it may have been queued;"
                   " replaying again is safe, it is published once per replay")  # fmt: skip


def start_bulk(shown: dict[str, str], force: bool) -> tuple[str, int]:
    from config import app as celery_app

    ids = matching_ids(shown)
    if not ids:
        raise Refused("no dead letter matches")
    try:
        job = replay.start_bulk(celery_app, redis_client.client(), ids, who(), force)
    except replay.BulkRunning as exc:
        raise Refused(str(exc)) from exc
    except BrokerUnavailableError as exc:
        abort(503, f"{brokers.current().name} did not take the bulk replay ({exc}); try again")
    return job, len(ids)


def bulk_state(job: str) -> dict[str, Any]:
    """Where a bulk replay stands: waiting, running, done (with its report) or failed."""
    from config import app as celery_app

    result = celery_app.AsyncResult(job)
    state = result.state
    if state == "SUCCESS":
        return {"task_id": job, "state": "done", "report": result.result}
    if state in ("FAILURE", "REVOKED"):
        return {"task_id": job, "state": "failed", "error": redact_text(str(result.result))}
    return {"task_id": job, "state": "running" if state in ("STARTED", "RETRY") else "waiting"}


def resolve(ids: list[int], note: str) -> int:
    with database.session() as db:
        return repository.resolve(db, ids, by=who(), note=note.strip() or None)


def matching_ids(shown: dict[str, str]) -> list[int]:
    if not any(shown.get(key) for key in NARROWING):
        raise Refused(
            "choose a reason, task, queue, exception or age: a bulk action from the page"
            " never means every letter (the status alone does not narrow it)"
        )
    with database.session() as db:
        ids = repository.ids_matching(db, filters(shown))
    if len(ids) > BULK_LIMIT:
        raise Refused(f"{len(ids)} letters match; the page handles {BULK_LIMIT} at a time"
                      " (narrow the filters, or use `celery -A config deadletters`)")  # fmt: skip
    return ids


def cause(fingerprint: str) -> dict[str, Any]:
    """One cause, over all its letters (open and resolved), or 404."""
    if not FINGERPRINT.match(fingerprint):
        abort(404, f"no cause {fingerprint!r}")
    with database.session() as db:
        found = repository.causes(db, repository.Filters(fingerprint=fingerprint), limit=1)
    if not found:
        abort(404, f"no cause {fingerprint!r}")
    return views.cause(found[0])


def existing_id(letter_id: int) -> None:
    if not 0 < letter_id <= LARGEST_ID:
        abort(404, f"no dead letter {letter_id}")


# -- filters as the page shows them ---------------------------------------------------------


def shown_filters(source: Any) -> dict[str, str]:
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


def filters(shown: dict[str, str]) -> repository.Filters:
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


def filters_or_400(source: Any) -> repository.Filters:
    try:
        return filters(shown_filters(source))
    except Refused as exc:
        abort(400, str(exc))


def frozen(shown: dict[str, str]) -> dict[str, str]:
    """The filters for a bulk form: the age as the moment it means now, so the set acted
    on is the set the page counted (the status, open by default, does not narrow it)."""
    frozen = dict(shown)
    if shown.get("age") and views.DURATION.match(shown["age"]):
        moment = views.parse_moment(shown["age"])
        frozen["since"], frozen["age"] = (moment.isoformat() if moment else ""), ""
    return frozen


def query(shown: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in shown.items() if value}


def as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
