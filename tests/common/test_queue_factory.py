"""`open_queue` picks the backend from UPLOAD_QUEUE_URL; SQS URLs are prefixes of the logical queues."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from upload_common import boto_clients
from upload_common.errors import ConfigurationError
from upload_common.queues import QUEUE_NAMES, open_queue
from upload_common.queues.database import DatabaseQueue
from upload_common.queues.sqs import SqsQueue
from upload_common.settings import Settings, load_settings


def test_db_url_opens_the_database_queue_named_after_the_logical_queue(sqlite_engine: Engine) -> None:
    settings = load_settings(Settings, queue_url="db://")

    queue = open_queue(settings, sqlite_engine, "deletion", max_receives=7)

    assert isinstance(queue, DatabaseQueue)
    assert (queue.name, queue.max_receives) == ("deletion", 7)


def test_db_url_without_an_engine_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="UPLOAD_QUEUE_URL=db://"):
        open_queue(load_settings(Settings), None, "checksum")


def test_sqs_url_is_a_prefix_of_each_logical_queue(moto_url: str) -> None:
    prefix = f"{moto_url}/123456789012/upload-dev"
    admin = boto_clients.client("sqs", endpoint_url=moto_url)
    for name in QUEUE_NAMES:
        admin.create_queue(QueueName=f"upload-dev-{name}")
    settings = load_settings(Settings, queue_url=prefix)

    queues = {name: open_queue(settings, None, name) for name in QUEUE_NAMES}
    queues["validation"].send("validate me")

    assert {name: q.url for name, q in queues.items() if isinstance(q, SqsQueue)} == {
        name: f"{prefix}-{name}" for name in QUEUE_NAMES
    }
    assert queues["checksum"].receive() == []
    assert [m.body for m in queues["validation"].receive()] == ["validate me"]


def test_aws_sqs_url_takes_its_region_from_the_host() -> None:
    settings = load_settings(
        Settings, queue_url="https://sqs.eu-west-2.amazonaws.com/123456789012/upload-prod"
    )

    queue = open_queue(settings, None, "checksum")

    assert isinstance(queue, SqsQueue)
    assert queue.url == "https://sqs.eu-west-2.amazonaws.com/123456789012/upload-prod-checksum"
    assert queue._client.meta.region_name == "eu-west-2"  # the wiring is what is tested


@pytest.mark.parametrize(
    "url", ["sqs://queue", "db://elsewhere", "https://sqs.us-east-1.amazonaws.com", "upload-checksum", ""]
)
def test_a_wrong_queue_url_names_the_variable_and_the_valid_forms(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_queue(load_settings(Settings, queue_url=url), None, "checksum")

    assert "UPLOAD_QUEUE_URL" in str(caught.value)
    assert "db://" in str(caught.value)
    assert "https://sqs.<region>.amazonaws.com/<account>/<prefix>" in str(caught.value)


def test_an_unknown_logical_queue_is_refused(sqlite_engine: Engine) -> None:
    with pytest.raises(ConfigurationError, match="checksum, deletion, validation"):
        open_queue(load_settings(Settings), sqlite_engine, "billing")
