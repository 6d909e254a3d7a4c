"""Fixtures of the harness tests: a callback server on 127.0.0.1, a moto S3 server, staging and store dirs.

Everything runs for real: `upload-validate` is the installed console script, the API is a small HTTP
server that records what it is sent, and S3 is `moto_server` listening on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from batch_validator.harness_support import AREA, CallbackServer
from support.callback_server import serve_callbacks
from support.moto_server import moto_process


@pytest.fixture
def callback_server() -> Iterator[CallbackServer]:
    with serve_callbacks() as base:
        server = CallbackServer(
            url_base=base.url_base, reports=base.reports, answers=base.answers, bodies=base.bodies
        )
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
    with moto_process() as server:
        yield server.url
