"""Scoped upload credentials: the `CredentialIssuer` interface, its STS implementation and its factory."""

from upload_common.credentials.base import CredentialIssuer, UploadCredentials
from upload_common.credentials.factory import make_credential_issuer
from upload_common.credentials.policy import area_session_policy
from upload_common.credentials.sts import StsCredentialIssuer

__all__ = [
    "CredentialIssuer",
    "StsCredentialIssuer",
    "UploadCredentials",
    "area_session_policy",
    "make_credential_issuer",
]
