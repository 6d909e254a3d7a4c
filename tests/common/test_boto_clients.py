"""`upload_common.boto_clients.client`: endpoint, checksum and retry configuration of every boto3 client."""

from __future__ import annotations

import pytest

from upload_common import boto_clients
from upload_common.settings import Settings


def test_s3_uses_the_configured_endpoint_and_other_services_do_not() -> None:
    settings = Settings(s3_endpoint_url="http://127.0.0.1:4566")

    assert boto_clients.client("s3", settings).meta.endpoint_url == "http://127.0.0.1:4566"
    assert boto_clients.client("sqs", settings).meta.endpoint_url != "http://127.0.0.1:4566"


def test_an_explicit_endpoint_beats_the_setting() -> None:
    settings = Settings(s3_endpoint_url="http://127.0.0.1:4566")
    client = boto_clients.client("s3", settings, endpoint_url="http://127.0.0.1:5000")
    assert client.meta.endpoint_url == "http://127.0.0.1:5000"


def test_boto3_endpoint_variables_keep_working(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4567")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4568")

    assert boto_clients.client("s3", Settings()).meta.endpoint_url == "http://127.0.0.1:4567"
    assert boto_clients.client("sts").meta.endpoint_url == "http://127.0.0.1:4568"


def test_checksums_only_when_required_and_standard_retries() -> None:
    config = boto_clients.client("s3").meta.config

    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    assert config.retries["mode"] == "standard"


def test_region_defaults_when_none_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert boto_clients.client("sqs").meta.region_name == "us-east-1"
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    assert boto_clients.client("sqs").meta.region_name == "eu-west-2"


def test_the_region_comes_with_the_settings_and_an_explicit_one_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    settings = Settings()
    monkeypatch.setenv("AWS_REGION", "eu-west-2")  # AWS_REGION beats AWS_DEFAULT_REGION
    assert Settings().aws_region == "eu-west-2"
    assert boto_clients.client("sts", settings).meta.region_name == "ap-south-1"
    assert boto_clients.client("sts", settings, region_name="eu-north-1").meta.region_name == "eu-north-1"
