"""Choose the credential issuer from settings: STS when a submitter role is set and objects live in S3."""

from __future__ import annotations

from upload_common import boto_clients
from upload_common.credentials.base import CredentialIssuer
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
