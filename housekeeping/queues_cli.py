"""`celery -A config queues`: pause and resume a queue, and each queue's flow state.

    celery -A config queues pause crm     workers stop fetching from crm (publishes go on)
    celery -A config queues resume crm
    celery -A config queues               each queue: paused or not, waiting jobs; and each
                                          dependency's breaker, pause and waits

A paused queue keeps accepting publishes; every worker stops fetching from it within a
second (broker/transport.py looks the set up once a second), and the jobs it already holds
finish. The pause lives in Redis, so a worker started later honours it too. Redis broker
only: on RabbitMQ, `celery -A config control cancel_consumer crm` stops live workers.
"""

from __future__ import annotations

import json

import click

from config import brokers, flow_control
from config.queues import QUEUES


def paused() -> set[str]:
    return brokers.current().paused()


def dependencies() -> list[str]:
    """Every dependency a task names, and every one with limits in the settings."""
    from config import app

    app.loader.import_default_modules()  # the task modules, which name the dependencies
    named = {getattr(task, "dependency", None) for task in app.tasks.values()}
    return sorted({*filter(None, named), *flow_control.gate().limits})


def overview() -> dict:
    gate = flow_control.gate()
    waiting = brokers.current().waiting(list(QUEUES))
    held = paused()
    return {
        "queues": {q: {"paused": q in held, "waiting": waiting[q]} for q in QUEUES},
        "dependencies": {d: gate.state(d) for d in dependencies()},
    }


@click.group(name="queues", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def queues(ctx: click.Context, as_json: bool) -> None:
    """Pause and resume queues; without a command, each queue's and dependency's state."""
    if ctx.invoked_subcommand is not None:
        return
    state = overview()
    if as_json:
        click.echo(json.dumps(state, indent=2))
        return
    for queue, q in state["queues"].items():
        state_word = "PAUSED" if q["paused"] else "running"
        click.echo(f"queue {queue}: {state_word}, {q['waiting']} waiting")
    for name, d in state["dependencies"].items():
        slowed = f", slowed for {d['slowed_for']:.0f} s" if d["slowed_for"] else ""
        click.echo(f"dependency {name}: breaker {d['breaker']}{slowed}, {d['running']} running,"
                   f" waits {json.dumps(d['waits'])}")  # fmt: skip


def _queue(name: str) -> str:
    refused = brokers.current().pausing(name)
    if refused:
        raise click.ClickException(refused)
    if name not in QUEUES:
        raise click.BadParameter(f"no queue {name!r}; queues: {', '.join(QUEUES)}")
    return name


@queues.command()
@click.argument("name")
def pause(name: str) -> None:
    """Stop every worker fetching from the queue (publishes go on)."""
    brokers.current().pause(_queue(name))
    click.echo(f"queue {name} paused: workers stop fetching within a second")


@queues.command()
@click.argument("name")
def resume(name: str) -> None:
    """Let workers fetch from the queue again."""
    brokers.current().resume(_queue(name))
    click.echo(f"queue {name} resumed")
