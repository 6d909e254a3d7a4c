"""Run the processes of a Procfile in the foreground: prefixed output, and a clean stop on Ctrl-C.

Usage: python tools/supervise.py [Procfile]

Commands run from the virtual environment's bin directory (this interpreter's). If any process exits,
the others are stopped too and the exit code is that process's. SIGINT/SIGTERM stop every process
(SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

GRACE_SECONDS = 10.0
COLOURS = ["36", "33", "35", "32", "34", "31"]


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
    processes: dict[str, subprocess.Popen[bytes]] = {}
    lock = threading.Lock()

    def stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for index, (name, command) in enumerate(entries):
        process = subprocess.Popen(  # noqa: S603 - commands from the project's own Procfile
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        processes[name] = process
        label = f"\033[{COLOURS[index % len(COLOURS)]}m{name.ljust(width)} |\033[0m "
        threading.Thread(target=_relay, args=(process.stdout, label, lock), daemon=True).start()

    exit_code = 0
    while not stopping.is_set():
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with {process.returncode}; stopping the others", flush=True)  # noqa: T201
                exit_code = process.returncode or 1
                stopping.set()
                break
        stopping.wait(0.5)
    _stop_all(processes)
    return exit_code


def _relay(stream: IO[bytes] | None, label: str, lock: threading.Lock) -> None:
    if stream is None:
        return
    for raw in iter(stream.readline, b""):
        with lock:
            sys.stdout.write(label + raw.decode("utf-8", errors="replace"))
            sys.stdout.flush()


def _stop_all(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
