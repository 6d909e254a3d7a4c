"""Run the processes of a Procfile in the foreground: prefixed output, restarts, and a clean stop on Ctrl-C.

Usage: python tools/supervise.py [Procfile]

Commands run from the virtual environment's bin directory (this interpreter's). A process that exits
is started again after a pause that doubles from 1 s up to 30 s while it keeps failing (back to 1 s
once it has run for a minute), and the supervisor says so; the others keep running. SIGINT/SIGTERM
stop every process (SIGTERM, then SIGKILL after a grace period) and the supervisor exits 0.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

GRACE_SECONDS = 10.0
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
STABLE_SECONDS = 60.0  # a process that ran this long before it exited starts again after the first pause
POLL_SECONDS = 0.2
COLOURS = ["36", "33", "35", "32", "34", "31"]


@dataclass
class Child:
    """One Procfile entry and the process that runs it now."""

    name: str
    command: list[str]
    label: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    relay: threading.Thread | None = None
    started_at: float = 0.0
    backoff: float = FIRST_BACKOFF_SECONDS
    restart_at: float | None = None  # set while it waits to be started again
    restarts: int = 0


def read_procfile(path: Path) -> list[tuple[str, list[str]]]:
    entries = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or not command.strip():
            raise SystemExit(f"{path}:{number}: expected 'name: command'")
        entries.append((name.strip(), shlex.split(command)))
    return entries


def main(argv: list[str]) -> int:
    procfile = Path(argv[1] if len(argv) > 1 else "Procfile")
    entries = read_procfile(procfile)
    width = max(len(name) for name, _ in entries)
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), PYTHONUNBUFFERED="1")
    stopping = threading.Event()
    lock = threading.Lock()

    def stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children = [
        Child(name, command, f"\033[{COLOURS[index % len(COLOURS)]}m{name.ljust(width)} |\033[0m ", env)
        for index, (name, command) in enumerate(entries)
    ]
    for child in children:
        _start(child, lock)
    while not stopping.is_set():
        for child in children:
            _watch(child, lock, time.monotonic())
        stopping.wait(POLL_SECONDS)
    _stop_all(children)
    _say(lock, "every process stopped")
    return 0


def _start(child: Child, lock: threading.Lock) -> None:
    child.process = subprocess.Popen(  # noqa: S603 - commands from the project's own Procfile
        child.command, env=child.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    child.started_at = time.monotonic()
    child.restart_at = None
    child.relay = threading.Thread(target=_relay, args=(child.process.stdout, child.label, lock), daemon=True)
    child.relay.start()


def _watch(child: Child, lock: threading.Lock, now: float) -> None:
    """Notice that the child exited and start it again once its pause is over."""
    if child.process is None or child.process.poll() is None:
        return
    if child.restart_at is None:
        if now - child.started_at >= STABLE_SECONDS:
            child.backoff = FIRST_BACKOFF_SECONDS
        delay, child.backoff = child.backoff, min(child.backoff * 2, MAX_BACKOFF_SECONDS)
        child.restart_at = now + delay
        code = child.process.returncode
        _say(lock, f"{child.name} exited with {code}; restarting it in {delay:g} s")
    elif now >= child.restart_at:
        child.restarts += 1
        _start(child, lock)
        _say(lock, f"{child.name} restarted (restart {child.restarts}, pid {child.process.pid})")


def _say(lock: threading.Lock, message: str) -> None:
    with lock:
        sys.stdout.write(f"supervise: {message}\n")
        sys.stdout.flush()


def _relay(stream: IO[bytes] | None, label: str, lock: threading.Lock) -> None:
    if stream is None:
        return
    for raw in iter(stream.readline, b""):
        with lock:
            sys.stdout.write(label + raw.decode("utf-8", errors="replace"))
            sys.stdout.flush()


def _stop_all(children: list[Child]) -> None:
    # Every group, also of a process that exited: what it started may still run in its session.
    running = [child.process for child in children if child.process is not None]
    for process in running:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
    for child in children:  # let each process's last lines through before the supervisor says it is done
        if child.relay is not None:
            child.relay.join(timeout=2.0)


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(process.pid, signum)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
