"""Choose the credential issuers from settings: STS when a submitter (staging) role is set and objects
live in S3."""

from __future__ import annotations

from upload_common import boto_clients
from upload_common.credentials.base import CredentialIssuer
from upload_common.credentials.staging import StagingCredentialIssuer
from upload_common.credentials.sts import StsCredentialIssuer
from upload_common.settings import Settings
from upload_common.storage import S3ObjectStore, open_store


def make_credential_issuer(settings: Settings) -> CredentialIssuer | None:
    """None when credentials are not offered (no `UPLOAD_SUBMITTER_ROLE_ARN`, or a local store)."""
    if not settings.submitter_role_arn:
        return None
    store = open_store(settings)
    if not isinstance(store, S3ObjectStore):
        return None
    return StsCredentialIssuer(
        settings.submitter_role_arn,
        store.bucket,
        boto_clients.client("sts", settings),
        duration_seconds=settings.credentials_duration_seconds,
    )


def make_staging_issuer(settings: Settings) -> StagingCredentialIssuer | None:
    """None when validation jobs stage with their own credentials (no `UPLOAD_STAGING_ROLE_ARN`, or a
    local store)."""
    if not settings.staging_role_arn:
        return None
    store = open_store(settings)
    if not isinstance(store, S3ObjectStore):
        return None
    sts = boto_clients.client("sts", settings)
    return StagingCredentialIssuer(settings.staging_role_arn, store.bucket, sts)
