"""One place that builds boto3 clients, so every AWS adapter gets the same safe configuration.

- Checksums only when required: recent botocore adds CRC headers to every upload by default, which many
  S3-compatible servers and emulators reject.
- Standard retry mode (retries throttling and transient errors with backoff).
- S3 uses `UPLOAD_S3_ENDPOINT_URL` when set; boto3's own `AWS_ENDPOINT_URL` and
  `AWS_ENDPOINT_URL_<SERVICE>` variables keep working for every service, because no endpoint is passed
  when the setting is unset.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from upload_common.settings import Settings, load_settings

DEFAULT_REGION = "us-east-1"


def client_config(**overrides: Any) -> Config:
    """The botocore `Config` every client of the service uses (`overrides` are merged over it)."""
    base = Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": 5},
    )
    return base.merge(Config(**overrides)) if overrides else base


def client(
    service: str, settings: Settings | None = None, *, botocore_session: Any = None, **kwargs: Any
) -> Any:
    """A boto3 client for `service` with the service's configuration; `kwargs` go to `boto3.client`.
    `botocore_session`: one whose credentials the client uses (e.g. refreshable ones of its own).

    Typed `Any` so callers can annotate the result with the `mypy_boto3_*` type they need.
    """
    if service == "s3" and settings is not None and settings.s3_endpoint_url and "endpoint_url" not in kwargs:
        kwargs["endpoint_url"] = settings.s3_endpoint_url
    kwargs.setdefault("config", client_config())
    if service == "s3":
        # Presigned URLs (upload sessions' parts) with SigV4: botocore would presign with SigV2, which
        # S3 refuses for buckets made since 2020 (requests themselves are SigV4 already).
        kwargs["config"] = kwargs["config"].merge(Config(signature_version="s3v4"))
    if "region_name" not in kwargs:
        # An explicit AWS region wins; the default keeps a fresh machine (and emulators) working.
        kwargs["region_name"] = (settings or load_settings(Settings)).aws_region or DEFAULT_REGION
    # A session of its own: boto3's default session is not safe to share between threads.
    session: Any = boto3.session.Session(botocore_session=botocore_session)
    return session.client(service, **kwargs)
