"""API test fixtures: the real app (connexion's test client) on real PostgreSQL, a local object store,
and SQS through moto; each test's database writes are rolled back at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from support.moto_batch import BATCH_CONFIG
from upload_api.app import create_app
from upload_api.context import ApiContext
from upload_common.queues import QUEUE_NAMES
from upload_common.settings import Settings
from upload_common.storage import LocalObjectStore

API_KEY = "test-api-key"
QUEUE_PREFIX = "https://sqs.us-east-1.amazonaws.com/123456789012/upload-test"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config=BATCH_CONFIG):  # Batch without Docker, for tests that submit jobs to it
        sqs = boto3.client("sqs", region_name="us-east-1")
        for name in QUEUE_NAMES:
            sqs.create_queue(QueueName=f"upload-test-{name}")
        yield


@pytest.fixture
def api_context(
    postgres_engine: Engine, pg_sessions: sessionmaker[Session], tmp_path: Path, aws: None
) -> ApiContext:
    settings = Settings(
        database_url=postgres_engine.url.render_as_string(hide_password=False),
        storage_url=f"file://{tmp_path / 'storage'}",
        queue_url=QUEUE_PREFIX,
        api_keys=(API_KEY, "second-key"),  # type: ignore[arg-type]
        secret_key="test-server-secret",  # type: ignore[arg-type]
    )
    return ApiContext(
        settings=settings,
        engine=postgres_engine,
        sessions=pg_sessions,
        store=LocalObjectStore(tmp_path / "storage"),
        credential_issuer=None,
        api_keys=(API_KEY.encode(), b"second-key"),
        secret_key="test-server-secret",
    )


@pytest.fixture
def client(api_context: ApiContext) -> Iterator[TestClient]:
    with create_app(api_context).test_client() as test_client:
        yield test_client


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Api-Key": API_KEY}
