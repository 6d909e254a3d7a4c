"""The files that hold one local job's state, so that any process can describe or cancel the job.

`<state_dir>/<job_id>/`: `spec.json` (what to run, without its environment), `status.json` (state,
reason, exit code, pids; each write is atomic), `supervisor.pid`, `cancel` (a cancel request and its
reason), `stdout.log`, `stderr.log`, `supervisor.log`, and `work/` (the job's only writable directory
when sandboxed).

A job's environment holds secrets (its callback token; AWS keys when the store is S3), so it never
reaches these files: the supervisor gets it on its standard input. Everything here is the service
user's alone: directories 0700, files 0600.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FINAL_STATES = ("SUCCEEDED", "FAILED")
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


@dataclass(frozen=True)
class JobDir:
    """Paths and atomic reads/writes of one job's state directory."""

    path: Path

    @property
    def job_id(self) -> str:
        return self.path.name

    @property
    def work(self) -> Path:
        return self.path / "work"

    @property
    def stdout(self) -> Path:
        return self.path / "stdout.log"

    @property
    def stderr(self) -> Path:
        return self.path / "stderr.log"

    @property
    def supervisor_log(self) -> Path:
        return self.path / "supervisor.log"

    @property
    def cancel_file(self) -> Path:
        return self.path / "cancel"

    @property
    def spec_file(self) -> Path:
        return self.path / "spec.json"

    def create(self) -> None:
        """The job's directory and its work directory, readable by the service user only."""
        self.path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        self.path.mkdir(mode=PRIVATE_DIR)
        self.work.mkdir(mode=PRIVATE_DIR)

    def read_spec(self) -> dict[str, Any]:
        return _read_json(self.spec_file)

    def write_spec(self, spec: dict[str, Any]) -> None:
        _write_json(self.spec_file, spec)

    def read_status(self) -> dict[str, Any]:
        return _read_json(self.path / "status.json")

    def write_status(self, **fields: Any) -> dict[str, Any]:
        """Merge `fields` over the current status and replace the file in one step."""
        status_file = self.path / "status.json"
        status = _read_json(status_file) if status_file.exists() else {}
        status.update(fields)
        _write_json(status_file, status)
        return status

    def finish(self, state: str, reason: str | None, exit_code: int | None) -> dict[str, Any]:
        return self.write_status(state=state, reason=reason, exit_code=exit_code, finished_at=now())

    def supervisor_pid(self) -> int | None:
        try:
            return int((self.path / "supervisor.pid").read_text())
        except (OSError, ValueError):
            return None

    def write_supervisor_pid(self, pid: int) -> None:
        _write_text(self.path / "supervisor.pid", str(pid))

    def secure(self) -> None:
        """Owner-only modes on the job's files, and no environment in its spec (earlier versions wrote
        it there, readable by others, and never removed it)."""
        self.path.chmod(PRIVATE_DIR)
        for entry in self.path.iterdir():
            if entry.is_symlink():
                continue
            if entry.name.startswith(".spec.json.") and not _writer_alive(entry):
                entry.unlink(missing_ok=True)  # a crashed submitter's half-written spec
            elif entry.is_dir():
                entry.chmod(PRIVATE_DIR)
            elif entry.is_file():
                entry.chmod(PRIVATE_FILE)
        try:
            spec = self.read_spec()
        except (OSError, ValueError):
            return
        if spec.pop("environment", None) is not None:
            self.write_spec(spec)

    def cancel_reason(self) -> str | None:
        try:
            return self.cancel_file.read_text()
        except FileNotFoundError:
            return None

    def request_cancel(self, reason: str) -> None:
        _write_text(self.cancel_file, reason)


def now() -> str:
    return datetime.now(UTC).isoformat()


def process_alive(pid: int, marker: str) -> bool:
    """Whether `pid` is a live (not zombie) process whose command line mentions `marker` (pids get reused)."""
    proc = Path("/proc") / str(pid)
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X") and marker in cmdline


def start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), to tell it from a later process given the same pid."""
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _writer_alive(temporary: Path) -> bool:
    # `.<name>.<pid>.tmp`: the pid of the process writing it.
    try:
        os.kill(int(temporary.name.rsplit(".", 2)[1]), 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _read_json(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_text())
    return value


def _write_json(path: Path, value: dict[str, Any]) -> None:
    _write_text(path, json.dumps(value, indent=1, sort_keys=True))


def _write_text(path: Path, text: str) -> None:
    # Write then rename: a reader in another process sees the old file or the new one, never half.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # Created 0600 whatever the umask; the chmod covers a stale temporary that a crash left behind.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), PRIVATE_FILE)
        handle.write(text)
    temporary.replace(path)
