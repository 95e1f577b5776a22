"""`celery -A config schedule`: every beat entry with its next run, and the current leader."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click

from beat_schedule import ENTRIES
from config import redis_client
from config.beat import leader


def next_runs(app) -> dict[str, datetime]:
    """Next run per entry: redbeat's stored due time, else the crontab's next occurrence."""
    prefix = app.conf.redbeat_key_prefix
    now = datetime.now(UTC)
    runs = {}
    for name, entry in ENTRIES.items():
        score = redis_client.client().zscore(f"{prefix}:schedule", f"{prefix}:{name}")
        if score is not None:
            runs[name] = datetime.fromtimestamp(score, UTC)
        else:
            due = now + entry.cron.remaining_estimate(now)
            runs[name] = due.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return runs


def cron_text(cron) -> str:
    """`30 3 * * *` for a crontab."""
    fields = (cron._orig_minute, cron._orig_hour, cron._orig_day_of_month,
              cron._orig_month_of_year, cron._orig_day_of_week)  # fmt: skip
    return " ".join(str(f) for f in fields)


@click.command(name="schedule")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schedule(ctx: click.Context, as_json: bool) -> None:
    """Beat's entries, their next run time (UTC) and the beat process that leads now."""
    app = ctx.obj.app
    runs = next_runs(app)
    current = leader()
    rows = [
        {
            "name": name,
            "task": entry.task,
            "cron": cron_text(entry.cron),
            "next_run": runs[name].isoformat(timespec="seconds"),
            "expires_s": entry.expires,
            "why": entry.why,
        }
        for name, entry in ENTRIES.items()
    ]
    if as_json:
        click.echo(json.dumps({"entries": rows, "leader": current}, indent=2))
        return
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        click.echo(f"{row['name']:<{width}}  {row['next_run']}  {row['cron']:<24} {row['why']}")
    if current:
        age = datetime.now(UTC).timestamp() - current["ticked_at"]
        click.echo(f"leader: {current['hostname']} pid {current['pid']}, last tick {age:.0f} s ago")
    else:
        click.echo("leader: none (no beat process holds the lock)")
