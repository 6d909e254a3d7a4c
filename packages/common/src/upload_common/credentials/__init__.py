"""Scoped credentials: the `CredentialIssuer` interface (submitters') and its STS implementation, the
staging issuer (validation jobs'), their session policies and factories."""

from upload_common.credentials.arns import role_partition, s3_arn
from upload_common.credentials.base import CredentialIssuer, UploadCredentials
from upload_common.credentials.factory import make_credential_issuer, make_staging_issuer
from upload_common.credentials.policy import area_session_policy, staging_session_policy
from upload_common.credentials.staging import StagingCredentialIssuer
from upload_common.credentials.sts import StsCredentialIssuer

__all__ = [
    "CredentialIssuer",
    "StagingCredentialIssuer",
    "StsCredentialIssuer",
    "UploadCredentials",
    "area_session_policy",
    "make_credential_issuer",
    "make_staging_issuer",
    "role_partition",
    "s3_arn",
    "staging_session_policy",
]
