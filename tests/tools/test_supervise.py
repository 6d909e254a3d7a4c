"""`tools/supervise.py` (`make run`): a crashed process is restarted with backoff and the supervisor says
so; the others keep running; SIGTERM stops every process. Real processes; every wait is on a condition."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """True while `pid` runs (not gone, not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


class Supervised:
    """The supervisor over a Procfile, its output in a file."""

    def __init__(self, tmp_path: Path, procfile: str) -> None:
        (tmp_path / "Procfile").write_text(procfile)
        self.log = tmp_path / "supervise.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "tools" / "supervise.py"), str(tmp_path / "Procfile")],
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str) -> None:
        wait_until(lambda: text in self.output(), what=f"{text!r} in the output:\n{self.output()}")


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Supervised]:
    # `steady` runs until stopped; `crashy` exits 1 each time; each writes its pid to a file first.
    steady = f"sh -c 'echo $$ >> {tmp_path}/steady.pids; echo steady up; exec sleep 600'"
    crashy = f"sh -c 'echo $$ >> {tmp_path}/crashy.pids; echo crashing; exit 1'"
    supervisor = Supervised(tmp_path, f"steady: {steady}\ncrashy: {crashy}\n")
    try:
        yield supervisor
    finally:
        if supervisor.process.poll() is None:
            os.killpg(supervisor.process.pid, signal.SIGKILL)
            supervisor.process.wait()
        for pid in pids(tmp_path / "steady.pids"):  # the children run in sessions of their own
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_crashed_process_is_restarted_with_backoff_and_sigterm_stops_all(
    supervised: Supervised, tmp_path: Path
) -> None:
    supervised.wait_for_output("crashy exited with 1; restarting it in 1 s")
    supervised.wait_for_output("crashy restarted (restart 1,")
    supervised.wait_for_output("crashy exited with 1; restarting it in 2 s")  # the pause doubles
    wait_until(lambda: len(pids(tmp_path / "crashy.pids")) >= 2, what="crashy to run twice")
    [steady] = wait_until(lambda: pids(tmp_path / "steady.pids"), what="steady to start")
    assert alive(steady)  # the others were left alone
    assert supervised.process.poll() is None

    supervised.process.send_signal(signal.SIGTERM)

    assert supervised.process.wait(timeout=60) == 0
    assert not alive(steady)
    assert pids(tmp_path / "steady.pids") == [steady]  # never restarted
    assert supervised.output().rstrip().endswith("supervise: every process stopped")
    assert "steady up" in supervised.output()
