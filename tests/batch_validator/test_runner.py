"""The validator runner in this process: a stop that arrives while the validator starts still kills it."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from batch_validator.harness_support import is_running, write_script
from upload_batch_validator.errors import TerminatedError
from upload_batch_validator.runner import run_validator


@pytest.fixture
def harness_handlers() -> Iterator[None]:
    """SIGTERM raises `TerminatedError`, as `upload-validate` sets it up; restored afterwards."""

    def terminate(signum: int, frame: FrameType | None) -> None:
        del frame
        raise TerminatedError(f"the harness was stopped ({signal.Signals(signum).name})")

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_sigterm_while_the_validator_starts_kills_it_and_is_recorded(
    harness_handlers: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "validator.pid"
    validator = write_script(tmp_path / "slow", f'echo $$ > "{pid_file}"; exec sleep 60\n')
    real_popen = subprocess.Popen

    def popen_then_sigterm(*args: Any, **kwargs: Any) -> Any:
        # The stop arrives at the worst moment: the validator exists, the runner does not hold it yet.
        process = real_popen(*args, **kwargs)
        signal.raise_signal(signal.SIGTERM)
        return process

    monkeypatch.setattr(subprocess, "Popen", popen_then_sigterm)

    result = run_validator([str(validator)], [], timeout=60, env={"PATH": "/usr/bin:/bin"})

    assert (result.status, result.exception) == (
        "aborted",
        "the harness was stopped (SIGTERM) while the validator ran",
    )
    assert result.exit_code is not None
    assert result.exit_code < 0
    if pid_file.exists() and pid_file.read_text().strip():
        assert not is_running(int(pid_file.read_text()))
