"""`celery -A config doctor`: check a deployment, one line per problem, non-zero on any.

Checks what the platform's promises rest on: Redis and Postgres reachable, migrations at
head, time limits that agree, a worker for every queue, Redis that never
evicts and keeps an append-only file and has not lost its data (broker/epoch.py), Flower
behind auth, dynos that shut down softly, the quote contribution rules checked well ahead
(pricing/rule_sets.py). On RabbitMQ Redis holds no job (results, beat's
lock, the spool), so its append-only file is not required. The broker checks itself
(config/brokers/): on RabbitMQ, reachable, every queue declared as the platform declares
it, no memory or disk alarm, a consumer on every queue.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import click
import httpx
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from broker import epoch
from config import brokers, database, redis_client
from config.queues import QUEUES
from config.settings import settings
from pricing import rule_sets

#: How long one check may take before the doctor names it and goes on.
CHECK_SECONDS = 20.0


def migrations_config() -> Path:
    """The release line's Alembic configuration: beside the working directory, as the
    Procfile runs it (an installed image or host), else beside the source tree."""
    here = Path.cwd() / "migrations" / "alembic.ini"
    return (
        here
        if here.exists()
        else Path(__file__).resolve().parent.parent / here.relative_to(Path.cwd())
    )


def check_redis() -> list[str]:
    client = redis_client.client()
    try:
        client.ping()
    except Exception as exc:
        return [f"redis: unreachable at {settings.redis_service_url.split('@')[-1]} ({exc})"]
    problems = []
    config = client.config_get("maxmemory-policy")
    if config.get("maxmemory-policy", b"noeviction") not in (b"noeviction", "noeviction"):
        policy = config["maxmemory-policy"]
        policy = policy.decode() if isinstance(policy, bytes) else policy
        problems.append(f"redis: maxmemory-policy is {policy}; queued jobs can be evicted"
                        " (set noeviction)")  # fmt: skip
    return problems + check_data_loss(client)


def check_data_loss(client) -> list[str]:
    """A line per loss of the broker's data that no operator has acknowledged yet."""
    return [
        f"redis: {epoch.describe(loss)}; reconcile (the outbox, the callers), then"
        " `celery -A config doctor --acknowledge-data-loss`"
        for loss in epoch.unacknowledged(client)
    ]


def check_postgres() -> list[str]:
    try:
        with database.engine().connect() as db:
            current = db.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0]
        if "alembic_version" in first:
            return ["postgres: no migrations applied (run the release line)"]
        return [f"postgres: unreachable or unreadable ({first})"]
    head = ScriptDirectory.from_config(Config(str(migrations_config()))).get_current_head()
    if current != head:
        return [f"postgres: migrations at {current}, head is {head} (run the release line)"]
    return []


def check_limits() -> list[str]:
    problems = []
    if settings.task_soft_time_limit >= settings.task_time_limit:
        problems.append("settings: TASK_SOFT_TIME_LIMIT is not below TASK_TIME_LIMIT")
    return problems


def check_workers(app) -> list[str]:
    replies = app.control.inspect(timeout=2.0).active_queues() or {}
    consumed = {queue["name"] for queues in replies.values() for queue in queues}
    missing = [queue for queue in QUEUES if queue not in consumed]
    if not replies:
        return ["workers: none answered; every queue is unconsumed"]
    return [f"workers: no running worker consumes queue {queue!r}" for queue in missing]


def check_flower() -> list[str]:
    if not settings.flower_url:
        return []
    try:
        response = httpx.get(settings.flower_url.rstrip("/") + "/api/workers", timeout=5)
    except httpx.HTTPError as exc:
        return [f"flower: unreachable at {settings.flower_url} ({exc})"]
    if response.status_code == 200:
        return [f"flower: {settings.flower_url} answers without auth"]
    return []


def check_dyno() -> list[str]:
    if settings.dyno and (settings.remap_sigterm or "").upper() != "SIGQUIT":
        return [f"dyno {settings.dyno}: REMAP_SIGTERM is not SIGQUIT; a restart waits for"
                " running jobs past the 30 s grace and they are killed"]  # fmt: skip
    return []


def check_flow() -> list[str]:
    """Paused queues and dependencies that are not being called (config/flow_control.py)."""
    from housekeeping import queues_cli

    state = queues_cli.overview()
    problems = [f"queue {q}: paused (celery -A config queues resume {q})"
                for q, s in state["queues"].items() if s["paused"]]  # fmt: skip
    for name, d in state["dependencies"].items():
        if d["breaker"] != "closed":
            failures = d["consecutive_failures"]
            problems.append(f"dependency {name}: circuit breaker {d['breaker']} after"
                            f" {failures} failures in a row; its jobs wait")  # fmt: skip
        if d["slowed_for"]:
            problems.append(f"dependency {name}: asked to slow down, {d['slowed_for']:.0f} s left")
    return problems


def check_quote_rules(
    on: date | None = None, table: Sequence[rule_sets.RuleSet] = rule_sets.RULE_SETS
) -> list[str]:
    """Contribution rules checked less than WARN_DAYS ahead, past their check, or missing:
    said here long before a quote is priced on rules nobody has read."""
    return rule_sets.freshness(on or datetime.now(UTC).date(), table).problems()


def _bounded(name: str, check: Callable[[], list[str]], seconds: float) -> list[str] | None:
    """The check's problems, or None when it did not finish within `seconds` (a server that
    takes connections and never answers, a broker that blocks): the doctor answers anyway."""
    found: list[list[str]] = []

    def run() -> None:
        try:
            found.append(check())
        except Exception as exc:
            found.append([f"doctor: a check failed to run ({type(exc).__name__}: {exc})"])

    thread = threading.Thread(target=run, name=f"doctor-{name}", daemon=True)
    thread.start()
    thread.join(seconds)
    return found[0] if found else None


def diagnose(app, seconds: float = CHECK_SECONDS) -> tuple[list[str], bool]:
    """Every problem found, and whether a check was left hanging."""
    checks: dict[str, Callable[[], list[str]]] = {
        "redis": check_redis, "broker": lambda: brokers.current().doctor(app),
        "postgres": check_postgres, "limits": check_limits,
        "workers": lambda: check_workers(app), "flower": check_flower, "dyno": check_dyno,
        "flow": check_flow, "quote rules": check_quote_rules,
    }  # fmt: skip
    problems: list[str] = []
    hanging = False
    for name, check in checks.items():
        if name == "workers" and any("publishers are blocked" in p for p in problems):
            # Asking the workers is a publish: under an alarm it would wait for the alarm.
            problems.append("workers: not asked while RabbitMQ blocks publishers")
            continue
        found = _bounded(name, check, seconds)
        if found is None:
            hanging = True
            problems.append(f"doctor: the {name} check did not finish within {seconds:.0f} s"
                            " (a server that takes connections and never answers?)")  # fmt: skip
            continue
        problems += found
    return problems, hanging


@click.command(name="doctor")
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--acknowledge-data-loss",
    is_flag=True,
    help="Mark the broker's recorded data losses as seen (after reconciling), then check.",
)
@click.pass_context
def doctor(ctx: click.Context, as_json: bool, acknowledge_data_loss: bool) -> None:
    """Check this deployment; one line per problem, exit 1 if there is any."""
    if acknowledge_data_loss:
        seen = epoch.acknowledge(redis_client.client())
        click.echo(f"acknowledged {seen} data loss(es) of the broker", err=True)
    problems, hanging = diagnose(ctx.obj.app)
    if as_json:
        click.echo(json.dumps({"problems": problems}, indent=2))
    else:
        click.echo("\n".join(problems) if problems else "ok: no problems found")
    if hanging:  # a hung check's connection would hold the interpreter's exit
        sys.stdout.flush()
        os._exit(1)
    ctx.exit(1 if problems else 0)
