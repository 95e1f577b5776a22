"""The chaos driver: private Redis, Procfile workers, a publisher subprocess, and the ledger.

A `Scenario` owns everything it starts (a `redis-server` on a free port with `appendfsync
always`, two `celery worker` processes from the Procfile's `worker` line, one publisher) and
stops it by PID. Faults are recorded with their time, so the report can say how long it
took for executions to resume. The report's numbers come from Postgres only:

* acknowledged: rows in `chaos_published` (written after `apply_async` returned);
* executed: distinct job ids in `chaos_executions`; duplicates: rows beyond one per job;
* dead letters: rows in `dead_letters` whose task id is one of the scenario's job ids;
* lost: acknowledged job ids with neither an execution nor a dead letter.

Run as `python -m tests.chaos.driver publish ...` this module is the publisher itself: it
needs a process of its own because the settings (REDIS_URL) are read once per process.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devstack.servers import RabbitMQServer, RedisServer, stop_process
from devstack.supervisor import processes

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "search"
#: Settings for the chaos workers: a dead worker's jobs come back within the heartbeat TTL
#: plus one reaper pass (broker/inflight.py). Time limits stay the platform's defaults: the
#: faults here are the broker's and the workers', not slow jobs.
WORKER_ENV = {"WORKER_HEARTBEAT_TTL": "3"}
#: Restarts of a worker that exited on its own before the scenario leaves it dead: a worker
#: killed by a message dies again at every restart.
MAX_UNEXPECTED_RESTARTS = 3
RESULTS: list[Report] = []


# --- Light and full passes ------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How hard each scenario pushes: `CHAOS=full` (make chaos) or the light pass."""

    mode: str
    worker_kills: int
    child_kills: int
    redis_kills: int
    deploys: int
    worker_freezes: int
    poison_rounds: int
    alarm_seconds: float
    drain_deadline: float
    test_timeout: float


LIGHT = Plan("light", 2, 3, 1, 1, 1, 1, 6, drain_deadline=45, test_timeout=240)
FULL = Plan("full", 10, 20, 3, 3, 2, 3, 15, drain_deadline=120, test_timeout=600)


def plan_from(value: str | None) -> Plan:
    if value in (None, "", "light"):
        return LIGHT
    if value == "full":
        return FULL
    raise ValueError(f"CHAOS must be 'light' or 'full', not {value!r}")


# --- Processes ---------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::-(?P<default>[^}]*))?\}|\$(?P<bare>\w+)")
_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")


def expand(text: str, env: Mapping[str, str]) -> str:
    """`${NAME:-default}`, `${NAME}` and `$NAME` replaced as a shell would."""

    def value(match: re.Match[str]) -> str:
        name = match["name"] or match["bare"]
        current = env.get(name, "")
        if match["default"] is not None and not current:
            return match["default"]
        return current

    return _VARIABLE.sub(value, text)


def procfile_command(process: str, env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The Procfile's `process` line as argv, and the variables it assigns before the command."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == process:
            words = shlex.split(expand(command.strip(), env))
            assigned: dict[str, str] = {}
            while words and _ASSIGNMENT.match(words[0]):
                key, _, val = words.pop(0).partition("=")
                assigned[key] = val
            return words, assigned
    raise LookupError(f"Procfile has no {process!r} line")


def worker_command(
    node: str, env: Mapping[str, str], pool: str | None
) -> tuple[list[str], dict[str, str]]:
    """The Procfile's `worker` line under another node name, knowing the ledger task."""
    argv, assigned = procfile_command("worker", env)
    if "-n" in argv:
        argv[argv.index("-n") + 1] = node
    else:
        argv += ["-n", node]
    search_path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    argv[0] = shutil.which(argv[0], path=search_path) or argv[0]
    argv.append("--include=tests.chaos.ledger")
    if pool:
        argv.append(f"--pool={pool}")
    return argv, assigned


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (the prefork pool's children), read from /proc."""
    return [child for child, _, parent, _ in processes() if parent == pid]


def tail(path: Path, lines: int = 40, width: int = 400) -> str:
    """The last lines of a log, each cut to `width` characters (JSON tracebacks are long)."""
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(
        clip(line, width) for line in path.read_text(errors="replace").splitlines()[-lines:]
    )


def readable(line: str) -> str:
    """A JSON log line as its message, the project's own frames and the traceback's end."""
    try:
        record = json.loads(line)
    except ValueError:
        return clip(line, 600)
    trace = str(record.get("exception") or "").splitlines()
    ours = [f for f in trace if f.strip().startswith('File "') and "/lib/python" not in f]
    return "\n".join([f"{record.get('ts')} {record.get('message')}", *ours[-4:], *trace[-4:]])


def clip(line: str, width: int) -> str:
    return line if len(line) <= width else line[:width] + " [...]"


class ChaosWorker:
    """One `celery worker` process group; a restart runs the same command under the same name."""

    def __init__(self, node: str, env: dict[str, str], log_path: Path, pool: str | None) -> None:
        self.node = node
        argv, assigned = worker_command(node, env, pool)
        self.argv = argv
        self.env = {**env, **assigned}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.expect_exit = False  # set when the scenario signals it to exit
        self.given_up = False  # exited on its own too often: left dead
        self.unexpected_restarts = 0
        self.signalled: set[int] = set()  # pids the scenario killed or terminated
        self._log_offset = 0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def launch(self) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.expect_exit = False

    def is_ready(self) -> bool:
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            return b" ready." in log.read()

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def current_log_lines(self) -> list[str]:
        """What this run of the worker (since its last launch) logged."""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace").splitlines()

    def last_alarm(self) -> str:
        """The last CRITICAL (else ERROR) line this run of the worker logged."""
        lines = self.current_log_lines()
        for level in ("CRITICAL", "ERROR"):
            found = [line for line in lines if level in line]
            if found:
                return readable(found[-1])
        return "(no CRITICAL or ERROR line)"

    def signal_group(self, signum: int, *, exits: bool) -> None:
        """Signal the whole process group (main process and pool children); with `exits`, the
        processes' deaths are the scenario's doing (a SIGSTOP/SIGCONT is not)."""
        if exits:
            self.expect_exit = True
            self.signalled.update([self.pid, *children(self.pid)])
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def kill_child(self, rng: random.Random) -> int | None:
        pool = children(self.pid)
        if not pool:
            return None
        child = rng.choice(pool)
        self.signalled.add(child)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        return child

    def child_exits_not_ours(self) -> tuple[list[str], int]:
        """Pool children that died without the scenario signalling them (billiard logs each),
        less those the hard time limit explains (it SIGKILLs the child): (exits, explained)."""
        log = self.log()
        found = re.findall(r"pid:(\d+) exited with '([^']*)'", log)
        exits = [f"{self.node} child pid {pid} exited with {why}" for pid, why in found
                 if int(pid) not in self.signalled]  # fmt: skip
        time_limit_kills = min(log.count("Hard time limit ("), len(exits))
        return exits[time_limit_kills:], time_limit_kills

    def stop(self) -> None:
        """The end of the scenario: nothing to keep, so the whole group is SIGKILLed."""
        if self.process is None:
            return
        self.expect_exit = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGCONT)
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


class Publisher:
    """The publisher subprocess (this module's `publish` command), stopped by SIGTERM."""

    def __init__(self, scenario: str, env: dict[str, str], workdir: Path, **options: Any) -> None:
        self.result: dict[str, Any] | None = None
        self.summary_path = workdir / f"publisher-{uuid.uuid4().hex[:6]}.json"
        self.log_path = workdir / "publisher.log"
        args = [sys.executable, "-m", "tests.chaos.driver", "publish", "--scenario", scenario,
                "--summary", str(self.summary_path)]  # fmt: skip
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def wait(self, timeout: float) -> dict[str, Any]:
        self.process.wait(timeout)
        return self.summary()

    def stop(self) -> dict[str, Any]:
        stop_process(self.process, grace=20)
        return self.summary()

    def summary(self) -> dict[str, Any]:
        if not self.summary_path.exists():
            raise RuntimeError(f"the publisher left no summary:\n{tail(self.log_path)}")
        return json.loads(self.summary_path.read_text())


# --- Accounting ------------------------------------------------------------------------


@dataclass
class Counts:
    acknowledged: int
    executed: int
    executions: int
    dead_letters: int
    lost: int
    dead_and_executed: int  # dead letters of jobs that also have an execution row

    @property
    def duplicates(self) -> int:
        return self.executions - self.executed


def count(scenario: str) -> Counts:
    """The ledger for one scenario (its job ids start with `scenario`)."""
    from tests.chaos.ledger import execute

    ((acknowledged, executed, executions, dead_letters, lost, both),) = execute(
        """
        WITH published AS (SELECT job_id FROM chaos_published WHERE scenario = %(s)s),
        runs AS (SELECT job_id, count(*) AS n FROM chaos_executions
                 WHERE starts_with(job_id, %(s)s) GROUP BY job_id),
        letters AS (SELECT task_id FROM dead_letters WHERE starts_with(task_id, %(s)s))
        SELECT (SELECT count(*) FROM published), (SELECT count(*) FROM runs),
               (SELECT coalesce(sum(n), 0) FROM runs), (SELECT count(*) FROM letters),
               (SELECT count(*) FROM published p
                WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.job_id = p.job_id)
                  AND NOT EXISTS (SELECT 1 FROM letters l WHERE l.task_id = p.job_id)),
               (SELECT count(*) FROM letters l JOIN runs r ON r.job_id = l.task_id)
        """,
        {"s": scenario},
    )
    return Counts(acknowledged, executed, int(executions), dead_letters, lost, both)


def lost_jobs(scenario: str, limit: int = 20) -> list[tuple[str, float]]:
    from tests.chaos.ledger import execute

    rows = execute(
        """
        SELECT p.job_id, p.published_at FROM chaos_published p
        WHERE p.scenario = %(s)s
          AND NOT EXISTS (SELECT 1 FROM chaos_executions e WHERE e.job_id = p.job_id)
          AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.task_id = p.job_id)
        ORDER BY p.published_at LIMIT %(n)s
        """,
        {"s": scenario, "n": limit},
    )
    return [(job_id, published_at) for job_id, published_at in rows]


def first_start_after(scenario: str, moment: float) -> float | None:
    from tests.chaos.ledger import execute

    ((first,),) = execute(
        "SELECT min(started_at) FROM chaos_executions"
        " WHERE starts_with(job_id, %s) AND started_at > %s",
        (scenario, moment),
    )
    return first


# --- Reports ---------------------------------------------------------------------------


@dataclass
class Report:
    scenario: str
    mode: str
    transport: str
    published: int
    acknowledged: int
    refused: int
    executed: int
    lost: int
    duplicates: int
    dead_letters: int
    dead_and_executed: int
    recovery_s: float | None  # the slowest fault: until a job started after it
    drain_s: float | None  # from the last fault until every acknowledged job was accounted for
    faults: int
    unexpected_exits: list[str]
    seconds: float
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        def secs(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}s"

        return (
            f"{self.scenario}: published={self.published} acknowledged={self.acknowledged}"
            f" executed={self.executed} lost={self.lost} duplicates={self.duplicates}"
            f" dead_letters={self.dead_letters} recovery={secs(self.recovery_s)}"
            f" drain={secs(self.drain_s)} faults={self.faults}"
            f" unexpected_exits={len(self.unexpected_exits)} [{self.mode}, {self.seconds:.0f}s]"
        )


def results_path() -> Path:
    """CHAOS_RESULTS, else a file in the temporary folder (never in the repository)."""
    default = Path(tempfile.gettempdir()) / "taskplatform-chaos-results.json"
    return Path(os.environ.get("CHAOS_RESULTS") or default)


def keep_result(report: Report) -> None:
    RESULTS.append(report)
    path = results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in RESULTS], indent=2) + "\n")


def summary_table(reports: list[Report]) -> list[str]:
    header = ("scenario", "pub", "ack", "exec", "lost", "dup", "dead", "recov", "drain",
              "faults", "exits", "secs")  # fmt: skip
    rows = [header]
    for r in reports:
        rows.append((
            r.scenario, str(r.published), str(r.acknowledged), str(r.executed), str(r.lost),
            str(r.duplicates), str(r.dead_letters),
            "-" if r.recovery_s is None else f"{r.recovery_s:.1f}",
            "-" if r.drain_s is None else f"{r.drain_s:.1f}",
            str(r.faults), str(len(r.unexpected_exits)), f"{r.seconds:.0f}",
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]


# --- Poison ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Poison:
    """An item pushed straight into the queue's list, and the marker its dead letter carries."""

    kind: str
    marker: str
    item: bytes


def _body(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def poison_items(template: bytes, tag: str) -> list[Poison]:
    """Every shape of non-message the transport must dead-letter, built from a real message.

    Envelopes carry `[marker, 0]` as arguments, so one that is wrongly run shows up in the
    ledger under its marker. The pickle-typed one keeps its JSON body: a refusal must come
    from the content type, and no real pickle is ever sent.
    """
    base = json.loads(template)
    items = [
        Poison("hello", "hello", b"hello"),
        Poison("nul", f"chaos-poison-nul-{tag}", f"chaos-poison-nul-{tag}\x00\x00end".encode()),
        Poison("invalid-utf8", f"chaos-poison-utf8-{tag}",
               f"chaos-poison-utf8-{tag}".encode() + b"\xff\xfe\xc3\x28"),
    ]  # fmt: skip

    def envelope(kind: str, mutate: Callable[[dict, str], None]) -> Poison:
        marker = f"chaos-poison-{kind}-{tag}"
        message = copy.deepcopy(base)
        message["headers"]["id"] = marker
        message["headers"]["root_id"] = marker
        message["properties"]["correlation_id"] = marker
        message["properties"]["delivery_tag"] = str(uuid.uuid4())
        message["body"] = _body([[marker, 0], {}, {}])
        mutate(message, marker)
        return Poison(kind, marker, json.dumps(message).encode())

    def content_type(value: str) -> Callable[[dict, str], None]:
        return lambda message, _marker: message.update({"content-type": value})

    def set_body(value: Any) -> Callable[[dict, str], None]:
        return lambda message, _marker: message.update({"body": value})

    items += [
        envelope("application-data", content_type("application/data")),
        envelope("application-text", content_type("application/text")),
        envelope("pickle", content_type("application/x-python-serialize")),
        envelope("bad-base64", set_body("%%% not base64 %%%")),
        envelope("unknown-encoding",
                 lambda message, _m: message["properties"].update({"body_encoding": "rot13"})),
        envelope("headers-string", lambda message, marker: message.update({"headers": marker})),
        envelope("body-2-items", lambda message, marker: message.update(
            {"body": _body([[marker, 0], {}])})),
        envelope("body-object", lambda message, marker: message.update(
            {"body": _body({"job_id": marker})})),
        # Arguments 900 levels deep: Celery's prefork parent cannot pickle them for its pool.
        envelope("nested-900", lambda message, marker: message.update(
            {"body": _body([[marker, nested(900)], {}, {}])})),
        envelope("malformed-chain", lambda message, marker: message.update(
            {"body": _body([[marker, 0], {}, {"chain": [{"task": 5}]}])})),
        envelope("too-large", lambda message, marker: message.update(
            {"body": _body([[marker, "x" * 600_000], {}, {}])})),
    ]  # fmt: skip
    return items


def nested(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


def letters_since(moment: float) -> list[tuple[str, str, str, bytes]]:
    """Dead letters written since `moment`: (task id, reason, message text, sealed raw bytes)."""
    from deadletters import payload
    from tests.chaos.ledger import execute

    rows = execute(
        "SELECT task_id, reason, message::text, payload_sealed FROM dead_letters"
        " WHERE failed_at >= to_timestamp(%s)",
        (moment - 1,),
    )
    found = []
    for task_id, reason, message, sealed in rows:
        raw = b""
        with contextlib.suppress(Exception):
            opened = payload.unseal(sealed)
            raw = (
                base64.b64decode(opened["raw"]) if "raw" in opened else json.dumps(opened).encode()
            )
        found.append((task_id, reason, message, raw))
    return found


def poison_outcome(pushed: list[Poison], moment: float) -> dict[str, list[str]]:
    """For each pushed marker, the reasons of the dead letters that carry it."""
    letters = letters_since(moment)
    outcome: dict[str, list[str]] = {}
    for poison in pushed:
        outcome.setdefault(poison.marker, [])
    for task_id, reason, message, raw in letters:
        for marker in outcome:
            if marker == task_id or marker in message or marker.encode() in raw:
                outcome[marker].append(reason)
    return outcome


# --- Scenarios -------------------------------------------------------------------------


class Scenario:
    """One scenario's private Redis, workers, publisher, faults and ledger."""

    def __init__(self, name: str, workdir: Path, plan: Plan) -> None:
        from tests.chaos.ledger import create_tables

        self.name = name
        self.plan = plan
        self.workdir = workdir
        self.key = f"chaos-{name.replace('_', '-')}-{uuid.uuid4().hex[:8]}-"
        self.rng = random.Random(self.key)
        self.redis: RedisServer | None = None
        self.workers: list[ChaosWorker] = []
        self.replacements = 0
        self.publishers: list[Publisher] = []
        self.faults: list[tuple[str, float]] = []
        self.unexpected: list[str] = []
        self.notes: list[str] = []
        self.published = {"published": 0, "acknowledged": 0, "refused": 0}
        self.errors: dict[str, int] = {}
        self.slowest_publish = 0.0
        self.rabbitmq: RabbitMQServer | None = None
        self.transport = "?"
        self.report: Report | None = None
        self.began = time.time()
        create_tables()

    # Services and processes.

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), **WORKER_ENV, "REDIS_URL": self.redis.url}
        if self.rabbitmq is not None:
            env["BROKER_URL"] = self.rabbitmq.url
        return env

    def start_rabbitmq(self) -> None:
        """A RabbitMQ node of the scenario's own as the broker (Redis keeps the results);
        without Debian's rabbitmq-server the scenario is skipped, or fails under CI."""
        import pytest

        from devstack.binaries import BinaryMissing
        from tests import harness

        try:
            self.rabbitmq = RabbitMQServer(self.workdir / "rabbitmq").start()
        except BinaryMissing as exc:
            if harness.in_ci():
                pytest.fail(f"required binary missing under CI: {exc}")
            pytest.skip(str(exc))

    def start_redis(self) -> None:
        self.redis = RedisServer(self.workdir / "redis", config={"appendfsync": "always"}).start()

    def restart_redis(self) -> None:
        old = self.redis
        self.redis = RedisServer(old.data_dir, port=old.port, config=old.config).start()

    def restart_redis_empty(self, down_for: float = 1) -> None:
        """Kill -9 Redis and start it again without its data, as a failover to a replica
        that missed everything looks to the platform."""
        self.fault("redis restarted empty")
        self.redis.kill()
        for name in os.listdir(self.redis.data_dir):
            if name != "redis.log":
                path = self.redis.data_dir / name
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        self.pause(down_for)
        self.restart_redis()

    def client(self) -> Any:
        import redis

        return redis.Redis(port=self.redis.port, socket_timeout=5, socket_connect_timeout=2)

    def start_workers(self, count: int = 2, pool: str | None = None) -> None:
        for number in range(1, count + 1):
            self.workers.append(self._worker(f"chaos{number}@%h", pool))
        for worker in self.workers:
            worker.launch()
        for worker in self.workers:
            self._wait_ready(worker)

    def _worker(self, node: str, pool: str | None) -> ChaosWorker:
        log = self.workdir / f"{node.split('@')[0]}.log"
        return ChaosWorker(node, self.env(), log, pool)

    def _wait_ready(self, worker: ChaosWorker, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not worker.is_ready():
            if worker.exited() or time.monotonic() > deadline:
                raise RuntimeError(f"{worker.node} did not start:\n{tail(worker.log_path)}")
            time.sleep(0.1)

    def publish(self, **options: Any) -> Publisher:
        publisher = Publisher(self.key, self.env(), self.workdir, **options)
        self.publishers.append(publisher)
        return publisher

    def stop_publishers(self) -> None:
        for publisher in self.publishers:
            if publisher.result is not None:
                continue
            summary = publisher.result = publisher.stop()
            for key in self.published:
                self.published[key] += summary[key]
            self.transport = summary["transport"]
            errors = summary.get("errors") or {}
            for name, n in errors.items():
                self.errors[name] = self.errors.get(name, 0) + n
            self.slowest_publish = max(self.slowest_publish, summary.get("slowest_publish_s", 0))
            if errors:
                self.notes.append(f"refused publishes by error: {errors}")

    def tend(self) -> None:
        """Note (and restart) any worker that exited without the scenario asking it to."""
        for worker in self.workers:
            if worker.exited() and not worker.expect_exit and not worker.given_up:
                code = worker.process.returncode if worker.process else None
                self.unexpected.append(
                    f"{worker.node} pid {worker.pid} exited with {code} at"
                    f" +{time.time() - self.began:.1f}s; last alarm: {worker.last_alarm()}"
                )
                if worker.unexpected_restarts >= MAX_UNEXPECTED_RESTARTS:
                    worker.given_up = True
                    continue
                worker.unexpected_restarts += 1
                worker.launch()

    def pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.tend()
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def wait_executions(self, at_least: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while count(self.key).executions < at_least:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {at_least} executions within {timeout} s")
            self.pause(0.3)

    def wait_resumed(self, since: float, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while first_start_after(self.key, since) is None and time.monotonic() < deadline:
            self.pause(0.3)

    # Faults.

    def fault(self, label: str) -> float:
        moment = time.time()
        self.faults.append((label, moment))
        return moment

    def kill_worker(self, worker: ChaosWorker) -> None:
        """SIGKILL the worker's whole process group, then start it again under its name."""
        self.fault(f"SIGKILL {worker.node}")
        worker.signal_group(signal.SIGKILL, exits=True)
        assert worker.process is not None
        worker.process.wait(10)
        worker.launch()
        self._wait_ready(worker)

    def kill_pool_child(self) -> int | None:
        candidates = [w for w in self.workers if not w.exited() and children(w.pid)]
        if not candidates:
            return None
        worker = self.rng.choice(candidates)
        self.fault(f"SIGKILL child of {worker.node}")
        return worker.kill_child(self.rng)

    def kill_redis(self, down_for: float = 3) -> None:
        self.fault("redis kill -9")
        self.redis.kill()
        self.pause(down_for)
        self.restart_redis()

    def shutdown_redis(self, down_for: float = 3) -> None:
        import redis

        self.fault("redis SHUTDOWN")
        with contextlib.suppress(redis.ConnectionError):
            self.client().shutdown()
        self.redis.process.wait(30)
        self.pause(down_for)
        self.restart_redis()

    def freeze_redis(self, seconds: float) -> None:
        self.fault("redis SIGSTOP")
        os.kill(self.redis.process.pid, signal.SIGSTOP)
        try:
            self.pause(seconds)
        finally:
            os.kill(self.redis.process.pid, signal.SIGCONT)

    def freeze_worker(self, worker: ChaosWorker, seconds: float) -> None:
        self.fault(f"SIGSTOP {worker.node}")
        worker.signal_group(signal.SIGSTOP, exits=False)
        try:
            self.pause(seconds)
        finally:
            worker.signal_group(signal.SIGCONT, exits=False)

    def deploy(self, worker: ChaosWorker, grace: float = 30) -> ChaosWorker:
        """A dyno restart: SIGTERM to the old group, a replacement starts at once; SIGKILL
        after `grace` seconds, as Heroku does."""
        self.fault(f"SIGTERM {worker.node}")
        worker.signal_group(signal.SIGTERM, exits=True)
        self.replacements += 1
        replacement = self._worker(f"chaos{len(self.workers) + 1}@%h", None)
        self.workers.append(replacement)
        replacement.launch()
        deadline = time.monotonic() + grace
        while not worker.exited() and time.monotonic() < deadline:
            self.pause(0.2)
        if not worker.exited():
            self.notes.append(f"{worker.node} still running {grace} s after SIGTERM: SIGKILLed")
            worker.signal_group(signal.SIGKILL, exits=True)
        else:
            self.notes.append(f"{worker.node} exited {worker.process.returncode} after SIGTERM")
        self._wait_ready(replacement)
        return replacement

    def push_raw(self, item: bytes, queue: str = QUEUE) -> None:
        self.client().lpush(queue, item)

    def ledger_message(self, job_id: str) -> bytes:
        """The bytes a producer would leave in Redis for a ledger job `job_id`, built here
        (kombu's in-memory transport), without publishing anything."""
        from kombu import Connection, Exchange, Producer, Queue

        from config import app

        message = app.amqp.as_task_v2(job_id, "search.chaos_ledger", args=[job_id, 0.01])
        queue = Queue(QUEUE, Exchange(QUEUE, type="direct"), routing_key=QUEUE)
        with Connection("memory://") as connection:
            channel = connection.default_channel
            queue(channel).declare()
            Producer(channel).publish(
                message.body, exchange=QUEUE, routing_key=QUEUE, headers=message.headers,
                serializer="json", **message.properties,
            )  # fmt: skip
            return json.dumps(channel._get(QUEUE)).encode()

    def record_expected(self, job_id: str) -> None:
        """Count `job_id` as acknowledged: a job the scenario put in place itself."""
        from tests.chaos.ledger import record_publish

        record_publish(job_id, self.key)

    def wait_queue_empty(self, queue: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.client().llen(queue):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{queue!r} still holds jobs after {timeout} s")
            self.pause(0.1)

    def in_flight(self) -> int:
        """Jobs held in flight by every registered consumer right now."""
        from broker import inflight

        client = self.client()
        return sum(
            client.llen(inflight.inflight_key(c)) for c in client.smembers(inflight.REGISTRY)
        )

    def alarm(self, seconds: float) -> None:
        """A memory alarm on the scenario's RabbitMQ: every publisher is blocked."""
        assert self.rabbitmq is not None
        self.fault("rabbitmq memory alarm")
        self.rabbitmq.memory_alarm(True)
        try:
            self.pause(seconds)
        finally:
            self.rabbitmq.memory_alarm(False)

    # Results.

    def finish(self) -> Report:
        """Stop publishing, wait (with a deadline) until every acknowledged job is accounted
        for, then count."""
        self.stop_publishers()
        started = time.monotonic()
        drained_at: float | None = None
        while time.monotonic() - started < self.plan.drain_deadline:
            self.pause(0.5)
            if count(self.key).lost == 0:
                drained_at = time.time()
                self.pause(2)  # late duplicates (a frozen worker finishing) still count
                break
        self.tend()
        counts = count(self.key)
        last_fault = self.faults[-1][1] if self.faults else self.began
        resumes = [first_start_after(self.key, moment) for _label, moment in self.faults]
        recovery = None
        if self.faults:
            waits = [r - m for r, (_l, m) in zip(resumes, self.faults, strict=True) if r]
            recovery = max(waits) if len(waits) == len(self.faults) else None
            if len(waits) < len(self.faults):
                self.notes.append("no job started after some fault: recovery not measured")
        report = Report(
            scenario=self.name,
            mode=self.plan.mode,
            transport=self.transport,
            published=self.published["published"],
            acknowledged=counts.acknowledged,
            refused=self.published["refused"],
            executed=counts.executed,
            lost=counts.lost,
            duplicates=counts.duplicates,
            dead_letters=counts.dead_letters,
            dead_and_executed=counts.dead_and_executed,
            recovery_s=recovery,
            drain_s=None if drained_at is None else max(0.0, drained_at - last_fault),
            faults=len(self.faults),
            unexpected_exits=self.unexpected_exits(),
            seconds=time.time() - self.began,
            notes=self.notes,
        )
        if counts.dead_and_executed:
            self.notes.append(
                f"{counts.dead_and_executed} dead letter(s) for jobs that also executed"
                " (a time limit or crash after the body ran, or a duplicate's failure)"
            )
        if report.acknowledged != self.published["acknowledged"]:
            self.notes.append(
                f"publisher counted {self.published['acknowledged']} acknowledged,"
                f" the ledger {report.acknowledged}"
            )
        self.report = report
        print(f"\nchaos {report.line()}")
        return report

    def unexpected_exits(self) -> list[str]:
        """Workers that exited on their own, workers that hit an unrecoverable error and hang
        instead of exiting (alive, but consuming nothing), and pool children nobody killed."""
        hung = [
            f"{worker.node} pid {worker.pid} hit an unrecoverable error and is still running"
            f" (not consuming): {readable(line)}"
            for worker in self.workers
            if not worker.exited()
            for line in worker.current_log_lines()
            if "Unrecoverable error" in line
        ]
        children_gone: list[str] = []
        for worker in self.workers:
            exits, time_limit_kills = worker.child_exits_not_ours()
            children_gone += exits
            if time_limit_kills:
                self.notes.append(f"{worker.node}: {time_limit_kills} child(ren) killed by the"
                                  " hard time limit")  # fmt: skip
        return [*self.unexpected, *hung, *children_gone]

    def diagnostics(self, report: Report) -> str:
        """What a failed scenario shows: the ledger, the lost jobs in the logs, the log tails."""
        parts = [report.line(), f"workdir: {self.workdir}", f"transport: {report.transport}"]
        parts += [f"note: {note}" for note in report.notes]
        parts += [f"fault at +{moment - self.began:.1f}s: {label}" for label, moment in self.faults]
        parts += [f"unexpected exit: {exit_}" for exit_ in report.unexpected_exits]
        for job_id, published_at in lost_jobs(self.key):
            parts.append(f"LOST {job_id} (acknowledged at +{published_at - self.began:.1f}s;"
                         f" in Redis: {self.where_in_redis(job_id)})")  # fmt: skip
            for worker in self.workers:
                parts += [f"  {worker.node}: {line}" for line in grep(worker.log_path, job_id)]
        parts.append(f"dead letters spooled, not in Postgres: {self.spooled()}")
        for worker in self.workers:
            parts.append(f"--- {worker.log_path} (tail)\n{tail(worker.log_path, 12)}")
        if self.redis is not None:
            parts.append(f"--- redis log (tail)\n{tail(self.redis.data_dir / 'redis.log', 15)}")
        if self.publishers:
            parts.append(f"--- publisher log (tail)\n{tail(self.publishers[0].log_path, 15)}")
        return "\n".join(parts)

    def spooled(self) -> str:
        """Dead letters waiting in the spool (Redis list and local file): not rows yet."""
        from broker import keys
        from config.settings import settings

        try:
            in_redis = self.client().llen(keys.SPOOL)
        except Exception as exc:
            in_redis = f"? ({exc})"
        spool_file = Path(settings.deadletter_spool_file)
        in_file = len(spool_file.read_text().splitlines()) if spool_file.exists() else 0
        return f"{in_redis} in Redis, {in_file} in {spool_file}"

    def where_in_redis(self, needle: str) -> str:
        """The keys of the private Redis whose value mentions `needle` (lists and hashes)."""
        try:
            client = self.client()
            hits = []
            for key in client.scan_iter(count=1000):
                kind = client.type(key)
                values: list[bytes] = []
                if kind == b"list":
                    values = client.lrange(key, 0, -1)
                elif kind == b"hash":
                    values = client.hvals(key)
                elif kind == b"zset":
                    values = client.zrange(key, 0, -1)
                if any(needle.encode() in value for value in values):
                    hits.append(key.decode(errors="replace"))
            return ", ".join(hits) or "nowhere"
        except Exception as exc:
            return f"not readable ({exc})"

    def close(self) -> None:
        for publisher in self.publishers:
            if publisher.process.poll() is None:
                publisher.process.kill()
                publisher.process.wait(5)
        for worker in self.workers:
            worker.stop()
        if self.redis is not None and self.redis.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.redis.process.pid, signal.SIGCONT)
            self.redis.kill()
        if self.rabbitmq is not None:
            self.rabbitmq.stop()


def grep(path: Path, needle: str, context: int = 2) -> list[str]:
    if not path.exists():
        return []
    lines = path.read_text(errors="replace").splitlines()
    near: set[int] = set()
    for index, line in enumerate(lines):
        if needle in line:
            near.update(range(max(0, index - context), min(len(lines), index + context + 1)))
    return [clip(lines[index], 400) for index in sorted(near)][:40]


# --- The publisher process ---------------------------------------------------------------


def publish(argv: list[str]) -> int:
    """Publish ledger jobs at a steady rate until SIGTERM or `--max`; count acknowledgements.

    A publish is acknowledged when `apply_async` returned without raising; only then is it
    written to `chaos_published`. A refused publish (Redis down) is counted, not recorded.
    """
    parser = argparse.ArgumentParser(prog="tests.chaos.driver publish")
    parser.add_argument("--scenario", required=True, help="the job id prefix")
    parser.add_argument("--summary", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=20.0, help="jobs per second")
    parser.add_argument("--burst", type=int, default=0, help="jobs sent at once, first")
    parser.add_argument("--max", type=int, default=1_000_000)
    parser.add_argument("--first", type=int, default=0, help="first sequence number")
    parser.add_argument("--sleep-min", type=float, default=0.05)
    parser.add_argument("--sleep-max", type=float, default=0.05)
    parser.add_argument("--countdown-min", type=float, default=0.0)
    parser.add_argument("--countdown-max", type=float, default=0.0)
    parser.add_argument(
        "--nested-every", type=int, default=0,
        help="every Nth job carries arguments 900 levels deep (the guard must refuse it)",
    )  # fmt: skip
    options = parser.parse_args(argv)

    from config import app
    from tests.chaos.ledger import chaos_ledger, record_publish, record_refusal

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rng = random.Random(options.scenario)
    totals: Counter[str] = Counter(published=0, acknowledged=0, refused=0)
    errors: Counter[str] = Counter()
    interval = 1.0 / options.rate
    next_at = time.monotonic()
    slowest = 0.0
    for number in range(options.first, options.first + options.max):
        if stop.is_set():
            break
        if number - options.first >= options.burst:
            if stop.wait(max(0.0, next_at - time.monotonic())):
                break
            next_at = max(next_at, time.monotonic()) + interval
        job_id = f"{options.scenario}{number:06d}"
        totals["published"] += 1
        sleep_seconds: Any = rng.uniform(options.sleep_min, options.sleep_max)
        if options.nested_every and number % options.nested_every == 0:
            sleep_seconds = nested(900)
        countdown = rng.uniform(options.countdown_min, options.countdown_max) or None
        began = time.monotonic()
        try:
            chaos_ledger.apply_async((job_id, sleep_seconds), task_id=job_id, countdown=countdown)
        except Exception as exc:
            seconds = time.monotonic() - began
            slowest = max(slowest, seconds)
            totals["refused"] += 1
            errors[type(exc).__name__] += 1
            record_refusal(job_id, options.scenario, type(exc).__name__, seconds)
            continue
        slowest = max(slowest, time.monotonic() - began)
        record_publish(job_id, options.scenario)
        totals["acknowledged"] += 1
    with app.producer_or_acquire() as producer:  # the pool the publishes above drew from
        transport = type(producer.connection.transport)
    summary = {**totals, "errors": dict(errors), "slowest_publish_s": slowest,
               "transport": f"{transport.__module__}.{transport.__qualname__}"}  # fmt: skip
    options.summary.write_text(json.dumps(summary))
    return 0


if __name__ == "__main__":
    command, *rest = sys.argv[1:] or ["help"]
    if command != "publish":
        sys.exit("usage: python -m tests.chaos.driver publish --scenario PREFIX --summary FILE")
    sys.exit(publish(rest))
