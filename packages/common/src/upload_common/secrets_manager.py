"""Secrets from AWS Secrets Manager, named by the `*_SECRET_ARN` settings and fetched at start-up.

On AWS, Terraform passes only the ARNs; the values never sit in the environment, in tfvars or in state.
Each `*_secret_arn` fills its setting unless that setting was given explicitly:

| ARN setting | fills | secret value |
|---|---|---|
| `database_secret_arn` | user and password of `database_url` (*) | JSON `{"username", "password"}` (RDS) |
| `api_keys_secret_arn` | `api_keys` | comma-separated keys, or a JSON list of keys |
| `ingest_secret_arn` | `ingest_secret` | the string |
| `secret_key_secret_arn` | `secret_key` | the string |
| `ingest_jwt_key_secret_arn` | `ingest_jwt_key` (unless a key file is set) | the key (JSON, base64 or PEM) |
| `health_webhook_url_secret_arn` | `health_webhook_url` | the webhook URL |

(*) Not read with `database_iam_auth`; re-read when PostgreSQL refuses the password (`db.connect`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import make_url

from upload_common.errors import ConfigurationError
from upload_common.settings import S


def with_secrets(settings: S, client: Any | None = None) -> S:
    """`settings` with every secret named by an ARN fetched and filled in (unchanged if none is)."""
    arns = {
        name: getattr(settings, f"{name}_secret_arn")
        for name in ("database", "api_keys", "ingest", "secret_key", "ingest_jwt_key", "health_webhook_url")
        if getattr(settings, f"{name}_secret_arn")
    }
    if not arns:
        return settings
    if client is None:
        from upload_common import boto_clients  # noqa: PLC0415 - boto3 only when secrets are used

        client = boto_clients.client("secretsmanager", settings)
    update: dict[str, Any] = {}
    # With IAM database authentication no password is used: the secret is not read (db.connect).
    if "database" in arns and not settings.database_iam_auth:
        username, password = database_credentials(client, arns["database"])
        url = make_url(settings.database_url).set(username=username, password=password)
        update["database_url"] = url.render_as_string(hide_password=False)
    if "api_keys" in arns and not settings.api_keys:
        update["api_keys"] = _keys(_fetch(client, "UPLOAD_API_KEYS_SECRET_ARN", arns["api_keys"]))
    if "ingest" in arns and settings.ingest_secret is None:
        update["ingest_secret"] = _fetch(client, "UPLOAD_INGEST_SECRET_ARN", arns["ingest"])
    if "secret_key" in arns and settings.secret_key is None:
        update["secret_key"] = _fetch(client, "UPLOAD_SECRET_KEY_SECRET_ARN", arns["secret_key"])
    jwt_key_given = settings.ingest_jwt_key is not None or settings.ingest_jwt_key_file is not None
    if "ingest_jwt_key" in arns and not jwt_key_given:
        update["ingest_jwt_key"] = _fetch(client, "UPLOAD_INGEST_JWT_KEY_SECRET_ARN", arns["ingest_jwt_key"])
    if "health_webhook_url" in arns and settings.health_webhook_url is None:
        update["health_webhook_url"] = _fetch(
            client, "UPLOAD_HEALTH_WEBHOOK_URL_SECRET_ARN", arns["health_webhook_url"]
        )
    # Re-validated, so a secret of the wrong shape stops start-up like any other bad setting.
    return type(settings).model_validate(settings.model_dump() | update)


def _fetch(client: Any, variable: str, arn: str) -> str:
    try:
        value = client.get_secret_value(SecretId=arn)["SecretString"]
    except Exception as exc:  # noqa: BLE001 - any failure means the service cannot start
        raise ConfigurationError(f"{variable}: cannot read the secret {arn}: {type(exc).__name__}") from None
    return str(value)


def database_credentials(client: Any, arn: str) -> tuple[str, str]:
    """The user name and password the database secret `arn` holds now (re-read after a rotation)."""
    secret = _fetch(client, "UPLOAD_DATABASE_SECRET_ARN", arn)
    try:
        values = json.loads(secret)
        return str(values["username"]), str(values["password"])
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ConfigurationError(
            "UPLOAD_DATABASE_SECRET_ARN: the secret is not JSON with username and password"
        ) from None


def _keys(secret: str) -> str:
    text = secret.strip()
    if text.startswith("["):
        try:
            keys = json.loads(text)
        except json.JSONDecodeError:
            raise ConfigurationError("UPLOAD_API_KEYS_SECRET_ARN: the secret is not a JSON list") from None
        return ",".join(str(key) for key in keys)
    return text
