"""What a job needs to reach the object store, and nothing else of the service's environment."""

from __future__ import annotations

import os

from upload_common.settings import Settings

_SETTINGS = ("storage_url", "s3_endpoint_url", "checksum_tag_prefix")
# On the local runner a job has no role of its own: it reaches S3 (or an emulator) with the service's
# credentials. On AWS Batch the job role provides them, and none are passed.
_AWS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_EC2_METADATA_DISABLED",
)


_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def store_access_environment(settings: Settings, *, credentials: bool = True) -> dict[str, str]:
    """The store's settings, and on the local runner with S3 the service's AWS variables; without
    `credentials` (a job that asks for credentials of its own) no keys, only region and endpoints."""
    environment = {
        f"UPLOAD_{name.upper()}": str(getattr(settings, name))
        for name in _SETTINGS
        if getattr(settings, name)
    }
    if settings.job_runner == "local" and settings.storage_url.startswith("s3://"):
        names = [name for name in _AWS if credentials or name not in _KEYS]
        environment.update({name: os.environ[name] for name in names if os.environ.get(name)})
    return environment
