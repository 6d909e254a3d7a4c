"""Test harness shared by every package's tests.

- AWS: dummy credentials and no metadata probing for every test (clients only ever reach moto).
- PostgreSQL: one throwaway server per test session (or UPLOAD_TEST_DATABASE_URL), migrated once.
- SQLite: one migrated database file per session.
- `db_session` (both databases), `pg_session` and `pg_sessions` (PostgreSQL; a service context's
  `sessions`) run each test inside a transaction that is rolled back: `support.rolled_back`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from support.moto_server import moto_thread
from support.postgres import ThrowawayPostgres
from support.rolled_back import rolled_back_sessions
from upload_common import boto_clients
from upload_common.db import make_engine, upgrade
from upload_common.storage import LocalObjectStore, ObjectStore, S3ObjectStore

# The applied Terraform `local` stage (session fixtures shared by tests/terraform and tests/iam).
pytest_plugins = ["support.terraform_stage"]

_AWS_TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


# Test-harness inputs, not settings: a database, the Terraform tests' mirror, build and report paths, and
# the browser test's screenshot folder.
_HARNESS_VARIABLES = (
    "UPLOAD_TEST_DATABASE_URL",
    "UPLOAD_TF_PLUGIN_MIRROR",
    "UPLOAD_DIST_DIR",
    "UPLOAD_TF_REPORT",
    "UPLOAD_CHECKOV",
    "UPLOAD_SCREENSHOT_DIR",  # where tests/browser saves the upload page's screenshot
)


def pytest_configure(config: pytest.Config) -> None:
    os.environ.update(_AWS_TEST_ENVIRONMENT)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)
    # No UPLOAD_* setting from the developer's shell leaks into a test (the harness's own variables stay).
    for name in [n for n in os.environ if n.startswith("UPLOAD_") and n not in _HARNESS_VARIABLES]:
        del os.environ[name]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a migrated PostgreSQL database that lives for the whole session."""
    existing = os.environ.get("UPLOAD_TEST_DATABASE_URL")
    if existing:
        upgrade(existing)
        yield existing
        return
    server = ThrowawayPostgres().start()
    try:
        upgrade(server.url)
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a migrated SQLite database file that lives for the whole session."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'upload.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


_ENGINE_FIXTURES = {"postgresql": "postgres_engine", "sqlite": "sqlite_engine"}


@pytest.fixture(params=list(_ENGINE_FIXTURES))
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """The migrated engine of each database: the test runs once on PostgreSQL and once on SQLite."""
    engine: Engine = request.getfixturevalue(_ENGINE_FIXTURES[request.param])
    return engine


@pytest.fixture
def db_session(any_engine: Engine) -> Iterator[Session]:
    """A session in a transaction rolled back after the test, on PostgreSQL and on SQLite."""
    with rolled_back_sessions(any_engine) as sessions, sessions() as session:
        yield session


@pytest.fixture
def pg_sessions(postgres_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A service context's `sessions` on PostgreSQL: every write is rolled back after the test."""
    with rolled_back_sessions(postgres_engine) as sessions:
        yield sessions


@pytest.fixture
def pg_session(pg_sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a rolled-back transaction on PostgreSQL only."""
    with pg_sessions() as session:
        yield session


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """A moto server (in a thread) on 127.0.0.1 for the whole session; tests use unique names in it."""
    with moto_thread() as url:
        yield url


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """An empty object store of each kind: a local directory, and a fresh bucket on the session's moto
    server. (Tests that need S3 in-process, or one kind only, define their own `store`.)"""
    if request.param == "local":
        return LocalObjectStore(tmp_path / "store")
    client = boto_clients.client("s3", endpoint_url=request.getfixturevalue("moto_url"))
    bucket = f"store-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    return S3ObjectStore(bucket, client)


@pytest.fixture
def in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test in an empty working directory (the embedded default keeps its data under ./var)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
