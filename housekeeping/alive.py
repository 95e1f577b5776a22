"""Liveness and readiness for a worker container: exit 0 when the worker touched its
WORKER_ALIVE_FILE within --max-age seconds, 1 otherwise (with the reason on stderr).

The worker touches the file only from `worker_ready` on and after each stuck-worker
check it passes (worker/watchdog.py), so a worker that stopped consuming, froze or
never finished starting fails the probe. Reads no settings beyond the environment, and
imports nothing heavy: a probe runs every few seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

DEFAULT_FILE = "/tmp/taskplatform-worker.alive"  # noqa: S108 - a container's own /tmp


def check(path: str, max_age: float, now: float | None = None) -> str | None:
    """None when alive, else why not."""
    try:
        age = (time.time() if now is None else now) - os.stat(path).st_mtime
    except FileNotFoundError:
        return f"{path} does not exist: the worker is not ready (or WORKER_ALIVE_FILE is unset)"
    if age > max_age:
        return f"{path} was last touched {age:.0f} s ago (more than {max_age:.0f} s)"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m housekeeping.alive", description=__doc__)
    parser.add_argument("--max-age", type=float, default=90.0, help="seconds (default 90)")
    parser.add_argument("--file", default=os.environ.get("WORKER_ALIVE_FILE") or DEFAULT_FILE)
    args = parser.parse_args(argv)
    problem = check(args.file, args.max_age)
    if problem:
        print(f"not alive: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
