"""The process manager of `make run`: the Procfile's processes in one log stream, stopped
the way a deploy stops them.

honcho runs the same Procfile, but SIGKILLs whatever still runs 5 s after its SIGTERM (a
constant, `honcho.manager.KILL_WAIT`) and exits 130 or 143 after Ctrl-C. A worker's soft
shutdown is WORKER_SOFT_SHUTDOWN_TIMEOUT (20 s): killed at 5 s, it leaves its running job in
its in-flight list until a reaper finds it, and make reports the run as failed. So `make
run` supervises its processes itself, as a dyno manager does: each in a session of its own
(one process group to signal, which no terminal's Ctrl-C reaches directly), SIGTERM to every
process of each on stop, and SIGKILL only for a process still there `grace` seconds later,
which is then a failure of the run. Honcho stays the way to run the Procfile anywhere else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

#: ANSI colours for the name column, as honcho uses them.
COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92")


def read_procfile(path: Path) -> dict[str, str]:
    """The Procfile's `name: command` lines, in order."""
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or not command.strip():
            raise ValueError(f"{path}:{number}: not a `name: command` line: {line!r}")
        entries[name.strip()] = command.strip()
    return entries


def exec_line(line: str) -> str:
    """A Procfile line for `sh -c` that replaces the shell with its command (`exec`, through
    `env` when the line starts with variable assignments), so the signal reaches the command
    and its own exit code comes back, not the shell's."""
    first = line.split(None, 1)[0]
    assigns = "=" in first and first.split("=", 1)[0].isidentifier()
    return f"exec env {line}" if assigns else f"exec {line}"


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    colour: str
    reader: threading.Thread | None = None


@dataclass
class Supervisor:
    """Start named commands, print their output, stop them all on a signal or on the first
    one that ends by itself."""

    env: dict[str, str]
    cwd: Path
    grace: float
    colour: bool = field(default_factory=lambda: sys.stdout.isatty())
    children: list[Child] = field(default_factory=list)
    width: int = 6
    # Reentrant: `say` runs in the signal handler too, maybe while the main thread holds it.
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _stopped_by: str | None = None

    def say(self, name: str, text: str, colour: str = "") -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        label = f"{stamp} {name:<{self.width}} |"
        if self.colour and colour:
            label = f"\033[{colour}m{label}\033[0m"
        with self._lock:
            sys.stdout.write(f"{label} {text}\n")
            sys.stdout.flush()

    def start(self, name: str, command: list[str] | str, env: dict[str, str] | None = None) -> None:
        """Run `command` (a shell line, as a Procfile gives it, or an argv) in a session of
        its own, its output read line by line into the log stream."""
        self.width = max(self.width, len(name))
        shell = isinstance(command, str)
        process = subprocess.Popen(
            exec_line(command) if shell else command, shell=shell, env={**self.env, **(env or {})},
            cwd=self.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        child = Child(name, process, COLOURS[len(self.children) % len(COLOURS)])
        child.reader = threading.Thread(target=self._pump, args=(child,), daemon=True)
        child.reader.start()
        self.children.append(child)
        self.say("system", f"{name} started (pid={process.pid})")

    def _pump(self, child: Child) -> None:
        assert child.process.stdout is not None
        for raw in iter(child.process.stdout.readline, b""):
            self.say(child.name, raw.decode(errors="replace").rstrip("\n"), child.colour)
        child.process.wait()
        self.say("system", f"{child.name} stopped (rc={child.process.returncode})")
        self._stop.set()  # the first process to end ends the run, as under honcho

    def request_stop(self, signum: int, _frame: object = None) -> None:
        """Signal handler: the first signal stops the run; later ones only say what it
        waits for (a job still running gets its soft shutdown)."""
        if self._stopped_by is None:
            self._stopped_by = signal.Signals(signum).name
            self._stop.set()
        else:
            running = ", ".join(c.name for c in self.children if c.process.poll() is None)
            self.say(
                "system", f"still stopping: waiting for {running} (at most {self.grace:.0f} s)"
            )

    def wait(self) -> int:
        """Until a signal or a process ends; then stop everything. 0 when a signal stopped
        the run and every process ended within the grace period; 1 otherwise."""
        self._stop.wait()
        early = [c for c in self.children if c.process.poll() is not None]
        if self._stopped_by:
            self.say("system", f"{self._stopped_by} received: stopping every process")
        killed = self.stop_all()
        if killed:
            self.say("system", f"killed after {self.grace:.0f} s: {', '.join(killed)}")
        if early and not self._stopped_by:
            names = ", ".join(f"{c.name} (rc={c.process.returncode})" for c in early)
            self.say("system", f"{names} ended by itself; the run stopped")
            return 1
        return 1 if killed else 0

    def stop_all(self) -> list[str]:
        """SIGTERM every process of every child; SIGKILL what is left after `grace`. The
        names of the children that had to be killed."""
        for child in self.children:
            if child.process.poll() is None:
                self.say("system", f"sending SIGTERM to {child.name} (pid {child.process.pid})")
            _signal_group(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        killed = []
        for child in self.children:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                killed.append(child.name)
            _wait_group_gone(child.process.pid, max(0.0, deadline - time.monotonic()))
            if group_members(child.process.pid):
                _signal_group(child.process.pid, signal.SIGKILL)
                if child.name not in killed:
                    killed.append(child.name)  # it ended, but not every process it started
            child.process.wait()
            if child.reader:
                child.reader.join(5)
        return killed


def _signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to a process group; whether any process of it was still there."""
    try:
        os.killpg(pgid, signum)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of the group changed user: it is still there
        return True


def processes() -> Iterator[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group) of every process, read from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended while we looked
            continue
        state, ppid, group = stat.rpartition(")")[2].split()[:3]
        yield int(entry.name), state, int(ppid), int(group)


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group, from /proc: an orphaned zombie
    still answers a signal until something reaps it, and in a container nothing may."""
    if not Path("/proc").is_dir():  # no /proc (macOS): a signal 0 is the best we can ask
        return [pgid] if _signal_group(pgid, 0) else []
    return [pid for pid, state, _, group in processes() if group == pgid and state != "Z"]


def _wait_group_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
