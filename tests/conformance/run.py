"""`make conformance`: kombu's and Celery's own integration suites, on kombu's Redis transport
and on the platform's, compared test by test.

The platform's transport stands in for kombu's for every connection the platform app makes;
kombu's and Celery's integration suites (`t/integration/` in the sdists of the installed
kombu and celery) are the contract such a transport keeps. Each suite runs on a redis-server
of its own: as shipped (kombu's transport), and with the platform's transport registered as
kombu's for redis:// in every process of the run (hook/sitecustomize.py, which also records
which transport each process used). The rule: no test that passes on kombu's transport
fails on the platform's, every process of the platform pass used the platform's transport,
and (for the canvas suite, a release check) its time stays within 1.2x of kombu's.

    python -m tests.conformance.run [--suite kombu|celery|canvas ...]   # both passes
    python -m tests.conformance.run --baseline ...    # ours only, against baseline.json

The first writes what kombu's transport did to baseline.json (for the installed versions);
the second, what CI runs, compares the platform's pass with it: kombu's pass does not
depend on the platform's code, and it costs as much again. Exits 1 on any regression. A
difference that is deliberate is listed in DELIBERATE with its reason (docs/guarantees.md);
those tests are deselected from the platform's pass.

A test that passed on kombu's transport and failed on ours is run once more on ours, alone,
before it counts: some upstream tests race with the worker they start (test_tasks'
`test_replaced_task_nesting_level_0` sets the flag its signal handler reports through after
`.delay()` returns, so a worker that is quick enough has its answer overwritten), and they
fail now and then on either transport on a busy machine. A real regression fails again.
Every test run again is printed, with its second outcome.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from devstack.servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
HOOK = Path(__file__).resolve().parent / "hook"
BASELINE = Path(__file__).resolve().parent / "baseline.json"

#: What each suite runs, from which sdist.
SUITES = {
    "kombu": ("kombu", ["t/integration/test_redis.py", "t/integration/test_redis_brpop_qos.py"]),
    "celery": ("celery", ["t/integration/test_inspect.py", "t/integration/test_tasks.py",
                          "t/integration/test_worker.py"]),
    "canvas": ("celery", ["t/integration/test_canvas.py"]),
}  # fmt: skip

#: Tests whose result differs on purpose (any parameters): test -> why. Each is named in
#: docs/guarantees.md with the platform's own test of the same promise.
DELIBERATE: dict[str, str] = {
    "t.integration.test_redis.test_RedisRestoreAtShutdown::"
    "test_unacked_message_requeued_on_connection_close": (
        "reads kombu's `unacked` hash while the message is held; the platform holds it in the"
        " consumer's in-flight list, and puts it back on close just the same"
        " (tests/integration/test_kombu_semantics.py)"
    ),
    "t.integration.test_redis.test_RedisRestoreBindingLookupFailure::"
    "test_failed_requeue_keeps_message_unacked": (
        "injects a failure into the exchange-binding lookup kombu makes to requeue; the"
        " platform's in-flight entry names its list, so a requeue looks nothing up"
    ),
    "t.integration.test_redis.test_RedisRestoreBindingLookupFailure::"
    "test_failed_restore_visible_keeps_message_unacked": (
        "kombu's visibility-timeout sweep, which the platform replaces with heartbeats and a"
        " reaper (tests/integration/test_delivery.py)"
    ),
    "t.integration.test_redis.test_RedisRestoreVisible::"
    "test_restore_visible_requeues_expired_unacked": (
        "kombu's visibility-timeout sweep, which the platform replaces with heartbeats and a"
        " reaper (tests/integration/test_delivery.py)"
    ),
}

#: The canvas suite may take at most this much longer on the platform's transport.
CANVAS_TIME_RATIO = 1.2


@dataclass
class Pass:
    transport: str
    outcomes: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    processes: dict[str, set[int]] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)


def sdist(package: str, workdir: Path) -> Path:
    """The installed version's sdist, downloaded once and unpacked under `workdir`."""
    release = version(package)
    source = workdir / f"{package}-{release}"
    if (source / "t" / "integration").is_dir():
        return source
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
         "--dest", str(workdir), f"{package}=={release}"],
        check=True,
    )  # fmt: skip
    with tarfile.open(workdir / f"{package}-{release}.tar.gz") as archive:
        archive.extractall(workdir, filter="data")
    return source


def run_pass(
    suite: str,
    transport: str,
    source: Path,
    workdir: Path,
    extra: list[str],
    only: list[str] | None = None,
) -> Pass:
    """One run of `suite` (or `only` those of its tests) on `transport` ("kombu" or
    "platform") on a Redis of its own."""
    results = workdir / f"{suite}-{transport}"
    results.mkdir(parents=True, exist_ok=True)
    junit, proof = results / "junit.xml", results / "transports.log"
    proof.unlink(missing_ok=True)
    redis = RedisServer(results / "redis", config={"appendonly": "no"}).start()
    try:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HOOK), str(source), str(ROOT)]),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "TASKPLATFORM_CONFORMANCE": transport,
            "TASKPLATFORM_CONFORMANCE_LOG": str(proof),
            # kombu's suite
            "REDIS_HOST": "127.0.0.1",
            "REDIS_6379_TCP": str(redis.port),
            # Celery's suite
            "REDIS_PORT": str(redis.port),
            "TEST_BROKER": f"redis://127.0.0.1:{redis.port}/0",
            "TEST_BACKEND": f"redis://127.0.0.1:{redis.port}/1",
        }
        for stray in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "BROKER_URL", "REDIS_URL"):
            env.pop(stray, None)
        began = time.monotonic()
        deselect = [] if transport == "kombu" else [
            arg for test in DELIBERATE for arg in ("--deselect", node_id(test))
        ]  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "pytest", *(only or SUITES[suite][1]), "-p", "no:cacheprovider",
             "-o", "addopts=", "-o", "testpaths=", "-q", "--timeout=300",
             f"--junitxml={junit}", *deselect, *extra],
            cwd=source, env=env,
        )  # fmt: skip
        seconds = time.monotonic() - began
    finally:
        redis.stop()
    result = Pass(transport, outcomes(junit), seconds)
    for line in proof.read_text().splitlines() if proof.exists() else []:
        pid, kind = line.split(" ", 1)
        result.processes.setdefault(kind, set()).add(int(pid))
    return result


def node_id(test: str) -> str:
    """pytest's node id of a JUnit test name (`t.integration.test_x.Class::test` ->
    `t/integration/test_x.py::Class::test`): the suites' files all lie in t/integration."""
    classname, _, name = test.partition("::")
    parts = classname.split(".")
    return "::".join(["/".join(parts[:3]) + ".py", *parts[3:], name])


def outcomes(junit: Path) -> dict[str, str]:
    """passed, failed, skipped or xfailed for each test case of a JUnit report."""
    found: dict[str, str] = {}
    if not junit.exists():
        return found
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
        found[name] = outcome
    return found


def regressed(kombu: Pass, platform: Pass) -> list[str]:
    """Tests that passed on kombu's transport and did not on ours, but the deliberate ones."""
    return [
        test
        for test, outcome in sorted(kombu.outcomes.items())
        if outcome == "passed"
        and platform.outcomes.get(test, "missing") != "passed"
        and test.split("[", 1)[0] not in DELIBERATE
    ]


def compare(suite: str, kombu: Pass, platform: Pass) -> list[str]:
    """The problems with the platform's pass: regressions, and processes on another
    transport; for the canvas suite, its time too."""
    problems = []
    for test, outcome in sorted(kombu.outcomes.items()):
        theirs = platform.outcomes.get(test, "missing")
        if outcome == "passed" and theirs != "passed":
            if test.split("[", 1)[0] in DELIBERATE:
                print(f"  deliberate: {test} ({theirs} on ours)")
                continue
            problems.append(f"{suite}: {test} passes on kombu's transport, {theirs} on ours")
    # kombu's own transport, where the platform's was registered (a test may build a
    # transport class of its own on top of either: that is its choice)
    foreign = {kind: pids for kind, pids in platform.processes.items()
               if kind.startswith("kombu.transport.redis.")}  # fmt: skip
    if foreign:
        problems.append(f"{suite}: processes of the platform pass used {sorted(foreign)}")
    if not any(kind.startswith("broker.transport.") for kind in platform.processes):
        problems.append(f"{suite}: no process of the platform pass used the platform's transport")
    if suite == "canvas" and platform.seconds > CANVAS_TIME_RATIO * kombu.seconds:
        problems.append(
            f"canvas: {platform.seconds:.0f} s on ours against {kombu.seconds:.0f} s on kombu's"
            f" (over {CANVAS_TIME_RATIO}x)"
        )
    return problems


def summary(suite: str, kombu: Pass, platform: Pass) -> list[str]:
    lines = [f"{suite}:"]
    for each in (kombu, platform):
        processes = sum(len(pids) for pids in each.processes.values())
        lines.append(
            f"  {each.transport:8} passed={each.count('passed')} failed={each.count('failed')}"
            f" skipped={each.count('skipped')} xfailed={each.count('xfailed')}"
            f" time={each.seconds:.0f}s processes={processes}"
            f" ({', '.join(sorted(each.processes)) or 'no Redis transport'})"
        )
    return lines


def versions() -> dict[str, str]:
    return {package: version(package) for package in ("kombu", "celery")}


def baseline_pass(suite: str) -> Pass:
    """kombu's pass of `suite` as baseline.json recorded it, for the installed versions."""
    recorded = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    if recorded.get("versions") != versions() or suite not in recorded.get("suites", {}):
        raise SystemExit(
            f"tests/conformance/baseline.json has no {suite} pass for {versions()}:"
            f" run `make conformance SUITES={suite}` to record one"
        )
    entry = recorded["suites"][suite]
    return Pass("kombu", entry["outcomes"], entry["seconds"])


def record_baseline(passes: dict[str, Pass]) -> None:
    recorded = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    if recorded.get("versions") != versions():
        recorded = {"versions": versions(), "suites": {}}
    for suite, kombu in passes.items():
        recorded["suites"][suite] = {"outcomes": kombu.outcomes, "seconds": round(kombu.seconds)}
    BASELINE.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance.run")
    parser.add_argument("--suite", action="append", choices=sorted(SUITES))
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="run the platform's pass only, against baseline.json",
    )
    parser.add_argument("--workdir", type=Path, default=ROOT / ".conformance")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    options = parser.parse_args(argv)  # fmt: skip
    problems: list[str] = []
    kombu_passes: dict[str, Pass] = {}
    suites = options.suite or ["kombu", "celery"]
    sources = {suite: sdist(SUITES[suite][0], options.workdir) for suite in suites}

    def both(suite: str) -> tuple[Pass, Pass]:
        if options.baseline:
            kombu = baseline_pass(suite)
        else:
            kombu = kombu_passes[suite] = run_pass(
                suite, "kombu", sources[suite], options.workdir, options.pytest_args
            )
        platform = run_pass(suite, "platform", sources[suite], options.workdir, options.pytest_args)
        return kombu, platform

    # Each suite has a Redis of its own and mostly waits on it: they run side by side.
    with ThreadPoolExecutor(len(suites)) as pool:
        results = dict(zip(suites, pool.map(both, suites), strict=True))
    for suite, (kombu, platform) in results.items():
        print("\n".join(summary(suite, kombu, platform)), flush=True)
        again = regressed(kombu, platform)
        if again:
            only = [node_id(test) for test in again]
            rerun = run_pass(
                suite, "platform", sources[suite], options.workdir, options.pytest_args, only
            )
            for test in again:
                second = rerun.outcomes.get(test, "missing")
                print(f"  run again: {test}: {platform.outcomes.get(test)}, then {second}")
                platform.outcomes[test] = second
        problems += compare(suite, kombu, platform)
    if kombu_passes:
        record_baseline(kombu_passes)
    for problem in problems:
        print(f"REGRESSION {problem}")
    print("conformance: " + ("ok" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
