"""`celery -A config deadletters ...`: list, show, replay, resolve, purge, stats, drain, alert.

Human tables by default, `--json` for scripts; a non-zero exit whenever anything asked for
did not happen. Registered through the `celery.commands` entry point.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import timedelta
from typing import Any

import click

from config import database
from deadletters import alerts, replay, repository, spool, views
from deadletters.letters import REASONS


def parse_duration(value: str) -> timedelta:
    try:
        return views.parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def filters_from(options: dict[str, Any]) -> repository.Filters:
    try:
        return views.filters_from(options)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def filter_options(command):
    options = [
        click.option("--task", help="task name, as in email.send_email"),
        click.option("--queue"),
        click.option("--reason", type=click.Choice(REASONS)),
        click.option("--exception", "exception_type", help="exception type, as in SMTPDataError"),
        click.option("--cause", help="a cause's fingerprint, as `deadletters causes` shows it"),
        click.option("--since", help="ISO time, or a duration ago such as 2h or 7d"),
        click.option("--until", help="ISO time, or a duration ago"),
        click.option("--unresolved", is_flag=True, help="only letters not yet resolved"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text if len(text) <= 48 else text[:45] + "..."

    widths = {c: max([len(c)] + [len(cell(r.get(c))) for r in rows]) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(cell(r.get(c)).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def emit(data: Any, as_json: bool, human: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else human)


@click.group(name="deadletters")
@click.pass_context
def deadletters(ctx: click.Context) -> None:
    """List, inspect, replay and resolve dead letters (jobs that finally failed)."""


@deadletters.command(name="list")
@filter_options
@click.option("--limit", default=50, show_default=True)
@click.option("--page", default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_command(limit: int, page: int, as_json: bool, **options: Any) -> None:
    """Dead letters, newest first."""
    filters = filters_from(options)
    with database.session() as db:
        total = repository.count(db, filters)
        rows = [views.summary(x) for x in repository.find(db, filters, limit, (page - 1) * limit)]
    columns = ["id", "failed_at", "task_name", "queue", "reason", "exception_type",
               "attempts", "status"]  # fmt: skip
    human = table(rows, columns) + f"\n{len(rows)} of {total} (page {page})"
    emit({"total": total, "page": page, "items": rows}, as_json, human)


@deadletters.command()
@filter_options
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def causes(limit: int, as_json: bool, **options: Any) -> None:
    """Dead letters grouped by cause (task, reason, error with numbers and ids masked):
    causes with open letters first; act on one with `--cause FINGERPRINT`."""
    with database.session() as db:
        rows = [views.cause(x) for x in repository.causes(db, filters_from(options), limit)]
    columns = ["cause", "open", "letters", "last_seen", "task_name", "reason", "message"]
    emit(rows, as_json, table(rows, columns) + f"\n{len(rows)} cause(s)")


@deadletters.command()
@click.argument("letter_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def show(letter_id: int, as_json: bool) -> None:
    """One dead letter in full, with its traceback."""
    with database.session() as db:
        letter = repository.get(db, letter_id)
        if letter is None:
            raise click.ClickException(f"no dead letter {letter_id}")
        data = views.detail(letter)
    lines = [
        f"{key:>21}: {json.dumps(value) if isinstance(value, dict | list) else value}"
        for key, value in data.items()
        if key != "traceback"
    ]
    human = "\n".join(lines) + "\n\n" + (data["traceback"] or "(no traceback)")
    emit(data, as_json, human)


def chosen_ids(ids: tuple[int, ...], options: dict[str, Any]) -> list[int]:
    if ids and views.has_filter(options):
        raise click.UsageError("name IDs or filters, not both")
    if not ids and not views.has_filter(options):
        raise click.UsageError("name dead-letter IDs, or filters such as --task or --unresolved")
    if ids:
        return list(ids)
    with database.session() as db:
        return repository.ids_matching(db, filters_from(options))


@deadletters.command(name="replay")
@click.argument("ids", nargs=-1, type=int)
@filter_options
@click.option("--dry-run", is_flag=True, help="say what would be replayed; send nothing")
@click.option("--rate", default=replay.DEFAULT_RATE, show_default=True,
              help="replays a second after the canary")  # fmt: skip
@click.option("--canary-timeout", default=replay.CANARY_TIMEOUT, show_default=True, help="seconds")
@click.option("--force", is_flag=True, help="replay letters already replayed or resolved")
@click.option("--by", default=None, help="who runs it (default: your user name)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def replay_command(ctx: click.Context, ids: tuple[int, ...], dry_run: bool, rate: float,
                   canary_timeout: float, force: bool, by: str | None, as_json: bool,
                   **options: Any) -> None:  # fmt: skip
    """Re-publish dead letters with a new task id; in bulk, a canary goes first."""
    chosen = chosen_ids(ids, options)
    if dry_run:
        with database.session() as db:
            sample = [views.summary(x) for x in repository.get_many(db, chosen[:5])]
        human = f"would replay {len(chosen)} dead letters; first {len(sample)}:\n" + table(
            sample, ["id", "task_name", "queue", "reason", "status"]
        )
        emit({"count": len(chosen), "sample": sample}, as_json, human)
        return
    who = by or getpass.getuser()
    app = ctx.obj.app

    def progress(letter_id: int, message: str) -> None:
        if not as_json:
            click.echo(f"{letter_id}: {message}")

    report = replay.replay_many(app, chosen, who, rate, canary_timeout, force, progress)
    data = {"sent": report.sent, "failed": report.failed, "canary": report.canary,
            "stopped": report.stopped}  # fmt: skip
    human = f"replayed {len(report.sent)} of {len(chosen)}" + (
        f"; stopped: {report.stopped}" if report.stopped else ""
    )
    emit(data, as_json, human)
    if not report.ok:
        sys.exit(1)


@deadletters.command()
@click.argument("ids", nargs=-1, type=int)
@filter_options
@click.option("--note", required=True, help="what was done about it")
@click.option("--by", default=None, help="who resolves it (default: your user name)")
@click.option("--json", "as_json", is_flag=True)
def resolve(ids: tuple[int, ...], note: str, by: str | None, as_json: bool,
            **options: Any) -> None:  # fmt: skip
    """Mark dead letters resolved, with a note."""
    chosen = chosen_ids(ids, options)
    with database.session() as db:
        changed = repository.resolve(db, chosen, by or getpass.getuser(), note)
    emit({"resolved": changed, "asked": len(chosen)}, as_json,
         f"resolved {changed} of {len(chosen)}")  # fmt: skip
    if ids and changed < len(chosen):
        click.echo("some were unknown or already resolved", err=True)
        sys.exit(1)


@deadletters.command()
@click.option("--resolved", is_flag=True, required=True, help="only resolved letters (required)")
@click.option("--older-than", "older_than", default="30d", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def purge(resolved: bool, older_than: str, as_json: bool) -> None:
    """Delete resolved dead letters resolved longer ago than --older-than."""
    with database.session() as db:
        deleted = repository.purge_resolved(db, parse_duration(older_than))
    emit({"deleted": deleted}, as_json, f"deleted {deleted} resolved dead letters")


@deadletters.command()
@filter_options
@click.option("--json", "as_json", is_flag=True)
def stats(as_json: bool, **options: Any) -> None:
    """Counts by task, reason and day."""
    with database.session() as db:
        data = repository.stats(db, filters_from(options))
    parts = [f"total {data['total']}, unresolved {data['unresolved']}"]
    for title in ("by_task", "by_reason", "by_day"):
        rows = [{"key": k, "count": v} for k, v in data[title].items()]
        parts.append(f"\n{title.replace('_', ' ')}:\n" + table(rows, ["key", "count"]))
    emit(data, as_json, "\n".join(parts))


@deadletters.command()
@click.option("--json", "as_json", is_flag=True)
def drain(as_json: bool) -> None:
    """Move dead letters spooled while Postgres was away into Postgres now."""
    report = spool.drain()
    emit(report.__dict__, as_json, str(report))
    if report.left:
        sys.exit(1)


@deadletters.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def quarantine(limit: int, as_json: bool) -> None:
    """Letters Postgres refused, as they were spooled (their minimal copies are rows)."""
    entries = spool.quarantined(limit=limit)
    lines = [f"{len(entries)} letter(s) in quarantine (newest last)"]
    for entry in entries:
        try:
            letter = json.loads(entry["letter"])
            who = f"{letter.get('task_name')}[{letter.get('task_id')}] {letter.get('reason')}"
        except (ValueError, TypeError, AttributeError):
            who = "(unreadable letter)"
        lines.append(f"- {who}: {entry['refusal']}")
    emit(entries, as_json, "\n".join(lines))


@deadletters.command()
@click.option("--older-than", "older_than", default=None, help="default DEADLETTER_ALERT_AFTER")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def alert(ctx: click.Context, older_than: str | None, as_json: bool) -> None:
    """Alert (log, Sentry, email through the email queue) about unresolved dead letters now
    (superseded ones are resolved first: their jobs succeeded since)."""
    age = parse_duration(older_than) if older_than else None
    app = ctx.obj.app
    report = alerts.alert_unresolved(
        age, succeeded=alerts.succeeded_in(app), mail=alerts.ops_mail(app)
    )
    emit(report.__dict__, as_json, report.summary or "no unresolved dead letters to alert on")
