"""Runs the validator: its own process group, a timeout, the tail of stdout and stderr, the exit code.

The validator runs in a new session so that a timeout (or the harness being stopped) kills its whole
process tree, and whatever it left running when it exited. Output is read by two threads that keep only
the last `OUTPUT_TAIL_BYTES` of each stream, so a chatty validator cannot exhaust memory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, Literal

from upload_batch_validator.errors import TerminatedError, ValidatorStartError
from upload_batch_validator.isolation import ValidatorUser

OUTPUT_TAIL_BYTES = 64 * 1024
KILL_GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL
_READER_JOIN_SECONDS = 5.0  # a grandchild that escaped the group may hold a pipe open

RunStatus = Literal["completed", "timed_out", "aborted"]


@dataclass(frozen=True)
class RunResult:
    """What one run of the validator gave."""

    command: list[str]
    exit_code: int | None
    status: RunStatus
    stdout: str
    stderr: str
    duration_s: float
    exception: str | None


def run_validator(
    command: Sequence[str],
    paths: Sequence[Path],
    *,
    timeout: float,
    env: Mapping[str, str],
    user: ValidatorUser | None = None,
    cwd: Path | None = None,
    preexec: Callable[[], None] | None = None,
) -> RunResult:
    """Run `command` with the staged `paths` (in order) and return what happened; as `user` (its uid
    and its group only) when given, else as this process's user. `env` is its whole environment;
    `preexec` runs in the child once its user is set (e.g. `isolation.network_isolation`'s).

    Raises `ValidatorStartError` when the command cannot be started at all.
    """
    given = [*command, *(str(path) for path in paths)]
    argv = [resolve_executable(command[0]), *given[1:]]
    identity = {} if user is None else user.popen_arguments()
    started = time.monotonic()
    held = _HeldSignals()
    try:
        process = subprocess.Popen(  # noqa: S603 (the validator is the command the job was given)
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            preexec_fn=preexec,  # noqa: PLW1509 - no other thread runs yet (the readers start after)
            **identity,
        )
    except OSError as exc:
        held.release()
        reason = exc.strerror or str(exc)
        if user is not None:
            reason += (
                f" (it runs as user {user.name}, uid {user.uid}: that user must be able to read and run it "
                "and its interpreter; see UPLOAD_VALIDATOR_USER)"
            )
        raise ValidatorStartError(f"cannot run the validator {command[0]!r}: {reason}") from None
    readers: list[_TailReader] = []
    status: RunStatus = "completed"
    exception: str | None = None
    try:  # from here on, a SIGTERM (TerminatedError) must still kill the validator and be recorded
        readers = [_TailReader(process.stdout), _TailReader(process.stderr)]
        held.release()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            status, exception = "timed_out", f"the validator ran longer than {timeout:g} s and was killed"
            _stop_group(process)
    except TerminatedError as exc:
        status, exception = "aborted", f"{exc} while the validator ran"
        _stop_group(process)
    finally:
        _kill_group(process.pid)  # leftovers: anything the validator started and did not wait for
        process.wait()
    stdout, stderr = (reader.text() for reader in readers) if readers else ("", "")
    duration = round(time.monotonic() - started, 3)
    if status == "completed" and process.returncode < 0:
        exception = f"the validator was killed by signal {_signal_name(-process.returncode)}"
    return RunResult(
        command=given,
        exit_code=process.returncode,
        status=status,
        stdout=stdout,
        stderr=stderr,
        duration_s=duration,
        exception=exception,
    )


def resolve_executable(name: str) -> str:
    """A bare command name found on PATH, or else next to this Python (a venv's bin is often not on PATH)."""
    if os.sep in name:
        return name
    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent)) or name


class _TailReader:
    """Reads one pipe to its end on a thread, keeping the last `OUTPUT_TAIL_BYTES`."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        self._tail = bytearray()
        self._dropped = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def text(self) -> str:
        """The tail decoded as UTF-8 (bad bytes replaced), with a marker when the start was cut."""
        self._thread.join(_READER_JOIN_SECONDS)
        with self._lock:
            tail, dropped = bytes(self._tail), self._dropped
        text = tail.decode("utf-8", errors="replace")
        return f"[truncated: the first {dropped} bytes were dropped]\n{text}" if dropped else text

    def _read(self, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        with stream:
            for chunk in iter(lambda: os.read(stream.fileno(), OUTPUT_TAIL_BYTES), b""):
                with self._lock:
                    self._tail += chunk
                    excess = len(self._tail) - OUTPUT_TAIL_BYTES
                    if excess > 0:
                        del self._tail[:excess]
                        self._dropped += excess


class _HeldSignals:
    """SIGTERM and SIGINT held back while the validator starts, then delivered to the previous handlers.

    A stop that arrived inside `Popen` (the validator already forked) would otherwise leave the
    validator running, unknown to the harness; once delivered inside the runner's `try` it is killed.
    Only the main thread can change handlers: elsewhere nothing is held.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self._held: list[int] = []
        self._previous: dict[int, Callable[[int, FrameType | None], Any] | int | signal.Handlers] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                previous = signal.getsignal(signum)
                if previous is not None:  # None: a handler not set from Python; it cannot be put back
                    self._previous[signum] = previous
                    signal.signal(signum, self._hold)

    def _hold(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self._held.append(signum)

    def release(self) -> None:
        """Put the previous handlers back and deliver what was held (the handler may raise here)."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
        held, self._held = self._held, []
        for signum in dict.fromkeys(held):
            signal.raise_signal(signum)  # runs the restored handler now, where the caller catches it


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the validator's process group, then SIGKILL it if it is still there after a grace time."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_GRACE_SECONDS)
    _kill_group(process.pid)


def _kill_group(pgid: int) -> None:
    _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is already gone
        os.killpg(pgid, signum)


def _signal_name(number: int) -> str:
    try:
        return f"{number} ({signal.Signals(number).name})"
    except ValueError:
        return str(number)
