"""Fixtures of the harness tests: a callback server on 127.0.0.1, a moto S3 server, staging and store dirs.

Everything runs for real: `upload-validate` is the installed console script, the API is a small HTTP
server that records what it is sent, and S3 is `moto_server` listening on 127.0.0.1.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch_validator.harness_support import AREA, BIN, CallbackServer, free_port
from support.callback_server import serve_callbacks


@pytest.fixture
def callback_server() -> Iterator[CallbackServer]:
    with serve_callbacks() as base:
        server = CallbackServer(url_base=base.url_base, reports=base.reports, answers=base.answers)
        yield server


@pytest.fixture
def staging_dir(tmp_path: Path) -> Path:
    path = tmp_path / "staging"
    path.mkdir()
    return path


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    """A local store's root, with the test area's directory."""
    root = tmp_path / "store"
    (root / AREA).mkdir(parents=True)
    return root


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 for the whole session."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)
