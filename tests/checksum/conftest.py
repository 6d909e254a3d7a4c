"""Checksum worker fixtures: a service context on real PostgreSQL (writes rolled back after each test),
the object store (local directory or S3 through moto) and SQS queues through moto."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from support.factories import make_area
from upload_common import boto_clients
from upload_common.queues import QUEUE_NAMES
from upload_common.service_context import ServiceContext
from upload_common.settings import Settings
from upload_common.storage import LocalObjectStore, ObjectInfo, ObjectStore, S3ObjectStore

QUEUE_PREFIX = "https://sqs.us-east-1.amazonaws.com/123456789012/upload-test"
BUCKET = "upload-test-bucket"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    with mock_aws():
        for name in QUEUE_NAMES:
            boto3.client("sqs", region_name="us-east-1").create_queue(QueueName=f"upload-test-{name}")
        if request.param == "local":
            yield LocalObjectStore(tmp_path / "storage")
        else:
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
            yield S3ObjectStore(BUCKET, boto_clients.client("s3"))


@pytest.fixture
def context(
    postgres_engine: Engine, pg_sessions: sessionmaker[Session], store: ObjectStore
) -> ServiceContext:
    settings = Settings(
        database_url=postgres_engine.url.render_as_string(hide_password=False),
        storage_url=store.url,
        queue_url=QUEUE_PREFIX,
        secret_key="test-server-secret",  # type: ignore[arg-type]
    )
    return ServiceContext(
        settings=settings,
        engine=postgres_engine,
        sessions=pg_sessions,
        store=store,
        secret_key="test-server-secret",
    )


@pytest.fixture
def area(context: ServiceContext) -> str:
    with context.sessions.begin() as session:
        return make_area(session, uuid=str(uuid.uuid4())).uuid


Upload = Callable[..., ObjectInfo]


@pytest.fixture
def upload(context: ServiceContext, area: str) -> Upload:
    """Put bytes straight into the store, as a submitter with scoped credentials would."""

    def put(name: str, data: bytes, metadata: dict[str, str] | None = None) -> ObjectInfo:
        return context.store.put(
            f"{area}/{name}",
            io.BytesIO(data),
            size=len(data),
            content_type="text/plain; dcp-type=data",
            metadata=metadata,
        )

    return put
