"""The chaos suite's set-up: which pass runs, one `Scenario` per test, and the summary table.

`CHAOS=full` runs the full fault counts (`make chaos`); unset or `light`, the light pass that
`make test` includes. Every scenario's numbers are printed at the end of the run and written
as JSON to CHAOS_RESULTS (default: a file in the temporary folder, never in the repository).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import binaries
from tests import harness
from tests.chaos import driver

PLAN = driver.plan_from(os.environ.get("CHAOS"))


@pytest.fixture
def scenario(services: None, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator:
    """A scenario with nothing started yet; everything it starts is stopped by PID after."""
    try:
        binaries.redis_server()
    except binaries.BinaryMissing as exc:
        if harness.in_ci():
            pytest.fail(f"required binary missing under CI: {exc}")
        pytest.skip(str(exc))
    chaos = driver.Scenario(request.node.name.removeprefix("test_"), tmp_path, PLAN)
    try:
        yield chaos
    finally:
        chaos.close()
        if chaos.report is not None:
            driver.keep_result(chaos.report)


def pytest_terminal_summary(terminalreporter) -> None:
    if not driver.RESULTS:
        return
    terminalreporter.section(f"chaos ledger ({PLAN.mode} pass)")
    for line in driver.summary_table(driver.RESULTS):
        terminalreporter.write_line(line)
    transports = sorted({report.transport for report in driver.RESULTS})
    terminalreporter.write_line(f"transport: {', '.join(transports)}")
    terminalreporter.write_line(f"results: {driver.results_path()}")
