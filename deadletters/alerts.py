"""Telling ops that dead letters wait: a plain function the beat schedule runs.

Unresolved dead letters older than DEADLETTER_ALERT_AFTER seconds always produce a log line;
also a Sentry message when SENTRY_DSN is set, and an email to OPS_EMAIL when that is set.

Ops mail leaves by the path every mail takes, the `email.send_email` task (`ops_mail`): one
send per idempotency key, the email queue's retries, and a dead letter if the mail server
never takes it. The key names the alert's window (a day for the digest, one threshold
crossing, a minute for a person running `deadletters alert`), so a re-run of the same
alert mails once.

Before it alerts, it settles what has become superseded: an unresolved letter whose job now
shows SUCCESS in the result store (a duplicate delivery that failed, then another that
succeeded) is resolved as `superseded`, and is no reason to wake anyone.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sentry_sdk
from sqlalchemy import Engine

from config import database
from config.sentry import init_sentry
from config.settings import settings
from deadletters import repository
from deadletters.letters import NOT_PAGING, SUPERSEDED

logger = logging.getLogger(__name__)


MAIL_TASK = "email.send_email"

OpsMail = Callable[[dict[str, Any], str], Any]


def ops_mail(app: Any) -> OpsMail:
    """Send an ops message through the email task: `mail(message, idempotency_key)`.

    Published by name, so a process that never imported the task modules (the CLI) sends
    it the same way a worker does, through the guarded publish path."""
    return lambda message, key: app.send_task(MAIL_TASK, args=(message, key))


@dataclass
class AlertReport:
    unresolved: int = 0
    summary: str = ""
    sent_to: list[str] = field(default_factory=list)
    mail_key: str | None = None  # the email job's idempotency key
    mail_job: str | None = None  # and its task id


def summarise(by_task: Counter, by_reason: Counter, older_than: timedelta) -> str:
    tasks = ", ".join(f"{name} x{n}" for name, n in by_task.most_common(5))
    reasons = ", ".join(f"{name} x{n}" for name, n in by_reason.most_common())
    total = sum(by_task.values())
    return (
        f"{total} unresolved dead letter{'s' if total != 1 else ''} older than"
        f" {int(older_than.total_seconds())} s: {tasks} (reasons: {reasons});"
        " see `celery -A config deadletters list --unresolved`"
    )


def succeeded_in(app: Any) -> Callable[[str], bool]:
    """Whether the app's result store shows SUCCESS for a task id."""
    return lambda task_id: app.AsyncResult(task_id).state == "SUCCESS"


def settle_superseded(succeeded: Callable[[str], bool], engine: Engine | None = None) -> int:
    """Resolve unresolved letters whose job has since succeeded; how many."""
    with database.session(engine) as db:
        waiting = repository.unresolved_older_than(db, timedelta(0))
        done = []
        for letter in waiting:
            try:
                if succeeded(letter.task_id):
                    done.append(letter.id)
            except Exception as exc:
                logger.warning("could not ask the result store about %s: %s", letter.task_id, exc)
                break
        settled = repository.resolve(
            db, done, by=SUPERSEDED, note="the job succeeded on another delivery"
        )
    if settled:
        logger.info("%d dead letter(s) superseded: their jobs succeeded since", settled)
    return settled


def alert_unresolved(
    older_than: timedelta | None = None,
    engine: Engine | None = None,
    succeeded: Callable[[str], bool] | None = None,
    mail: OpsMail | None = None,
    key: str | None = None,
) -> AlertReport:
    """Alert about unresolved letters older than `older_than`, after settling those whose
    job `succeeded` (a result-store lookup) since. The email, when OPS_EMAIL is set, goes
    through `mail` once per `key` (default: this minute's window)."""
    if older_than is None:
        older_than = timedelta(seconds=settings.deadletter_alert_after)
    if succeeded is not None:
        settle_superseded(succeeded, engine)
    with database.session(engine) as db:
        # Refused user input is counted and shown, but wakes nobody (letters.NOT_PAGING).
        waiting = [
            letter
            for letter in repository.unresolved_older_than(db, older_than)
            if letter.reason not in NOT_PAGING
        ]
        by_task = Counter(letter.task_name for letter in waiting)
        by_reason = Counter(letter.reason for letter in waiting)
    report = AlertReport(unresolved=len(waiting))
    if not waiting:
        return report
    report.summary = summarise(by_task, by_reason, older_than)
    logger.warning("dead-letter alert: %s", report.summary)
    report.sent_to.append("log")
    if init_sentry():  # started already in a worker; a CLI process starts it here
        sentry_sdk.capture_message(report.summary, level="warning")
        report.sent_to.append("sentry")
    if settings.ops_email and mail is not None:
        key = key or f"deadletter-alert:{datetime.now(UTC):%Y-%m-%dT%H:%M}"
        try:
            queued = mail(alert_message(settings.ops_email, report.summary), key)
            report.sent_to.append(settings.ops_email)
            report.mail_key, report.mail_job = key, getattr(queued, "id", None)
        except Exception as exc:  # the log line and Sentry went out; say the mail did not
            logger.error("dead-letter alert email to %s not queued: %s", settings.ops_email, exc)
    elif settings.ops_email:
        logger.warning("dead-letter alert: OPS_EMAIL is set but this caller has no mail path")
    return report


def alert_message(to: str, summary: str) -> dict[str, Any]:
    """The alert as a message for the email task."""
    return {
        "to": to,
        "subject": f"[taskplatform {settings.app_env}] unresolved dead letters",
        "body": summary,
    }
