"""Secrets named by `*_SECRET_ARN` settings are fetched from Secrets Manager (moto) at start-up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from upload_common.errors import ConfigurationError
from upload_common.secrets_manager import with_secrets
from upload_common.settings import Settings, load_settings


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def arn(client: Any, name: str, value: str) -> str:
    return str(client.create_secret(Name=name, SecretString=value)["ARN"])


def test_every_secret_is_filled_in(secrets: Any) -> None:
    settings = load_settings(
        Settings,
        database_url="postgresql+psycopg://upload@db.internal:5432/upload",
        database_secret_arn=arn(secrets, "db", json.dumps({"username": "admin", "password": "p@ss:w/rd%"})),
        api_keys_secret_arn=arn(secrets, "keys", '["key-one", "key-two"]'),
        ingest_secret_arn=arn(secrets, "ingest", "hmac-secret"),
        secret_key_secret_arn=arn(secrets, "server", "server-secret"),
    )
    resolved = with_secrets(settings, secrets)
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    url = make_url(resolved.database_url)
    assert (url.username, url.password, url.host, url.database) == (
        "admin",
        "p@ss:w/rd%",
        "db.internal",
        "upload",
    )
    assert [key.get_secret_value() for key in resolved.api_keys] == ["key-one", "key-two"]
    assert resolved.ingest_secret is not None
    assert resolved.ingest_secret.get_secret_value() == "hmac-secret"
    assert resolved.secret_key is not None
    assert resolved.secret_key.get_secret_value() == "server-secret"
    assert "p@ss" not in repr(resolved)  # never in a log line that prints the settings


def test_comma_separated_keys_and_explicit_values_win(secrets: Any) -> None:
    settings = load_settings(
        Settings,
        api_keys_secret_arn=arn(secrets, "keys", "a,b"),
        secret_key="given",
        secret_key_secret_arn=arn(secrets, "server", "from-aws"),
    )
    resolved = with_secrets(settings, secrets)
    assert [key.get_secret_value() for key in resolved.api_keys] == ["a", "b"]
    assert resolved.secret_key is not None
    assert resolved.secret_key.get_secret_value() == "given"


def test_no_arn_no_call() -> None:
    settings = load_settings(Settings)
    assert with_secrets(settings, client=object()) is settings


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("database_secret_arn", "not json", "UPLOAD_DATABASE_SECRET_ARN: the secret is not JSON"),
        ("api_keys_secret_arn", "[not json", "UPLOAD_API_KEYS_SECRET_ARN"),
    ],
)
def test_malformed_secrets_stop_start_up(secrets: Any, field: str, value: str, message: str) -> None:
    settings = load_settings(Settings, **{field: arn(secrets, "s", value)})
    with pytest.raises(ConfigurationError, match=message):
        with_secrets(settings, secrets)


def test_a_missing_secret_names_the_variable(secrets: Any) -> None:
    settings = load_settings(
        Settings, ingest_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:gone"
    )
    with pytest.raises(ConfigurationError, match="UPLOAD_INGEST_SECRET_ARN: cannot read"):
        with_secrets(settings, secrets)


def test_the_notification_jwt_key_comes_from_its_arn_unless_given(secrets: Any, tmp_path: Any) -> None:
    key_arn = arn(secrets, "jwt", '{"client_email": "upload@example.org", "private_key": "PEM"}')
    resolved = with_secrets(load_settings(Settings, ingest_jwt_key_secret_arn=key_arn), secrets)
    assert resolved.ingest_jwt_key is not None
    assert "upload@example.org" in resolved.ingest_jwt_key.get_secret_value()
    assert "upload@example.org" not in repr(resolved)
    # A key given directly, or as a file, wins over the ARN (the file: only one key may be configured).
    given = with_secrets(
        load_settings(Settings, ingest_jwt_key="direct", ingest_jwt_key_secret_arn=key_arn), secrets
    )
    assert given.ingest_jwt_key is not None
    assert given.ingest_jwt_key.get_secret_value() == "direct"
    key_file = tmp_path / "key.json"
    from_file = with_secrets(
        load_settings(Settings, ingest_jwt_key_file=key_file, ingest_jwt_key_secret_arn=key_arn), secrets
    )
    assert (from_file.ingest_jwt_key, from_file.ingest_jwt_key_file) == (None, key_file)
