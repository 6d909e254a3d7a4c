"""Staging credentials: what a validation's harness reads its files with.

STS AssumeRole of the staging role (`UPLOAD_STAGING_ROLE_ARN`, allowed `s3:GetObject` on the bucket),
narrowed by a session policy to the validation's own objects (`staging_session_policy`). The job's
own role has no S3 access at all, so its validator, even one that reached the job role's credentials,
reads nothing.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from upload_common.credentials.arns import role_partition
from upload_common.credentials.base import UploadCredentials
from upload_common.credentials.policy import staging_session_policy
from upload_common.credentials.sts import assume_role
from upload_common.errors import CredentialsError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_sts import STSClient

# STS's minimum: staging starts right after the harness asks, and it asks again before they expire.
STAGING_DURATION_SECONDS = 900


class StagingCredentialIssuer:
    """Issues credentials that read exactly the given objects of one area, for one validation."""

    def __init__(self, role_arn: str, bucket: str, client: STSClient) -> None:
        self._partition = role_partition(role_arn, variable="UPLOAD_STAGING_ROLE_ARN")
        self._role_arn = role_arn
        self._bucket = bucket
        self._sts = client

    def issue(self, area_uuid: str, validation_id: str, keys: Sequence[str]) -> UploadCredentials:
        """Credentials for `keys` (object keys of the area; `validation_id` names the session)."""
        policy = staging_session_policy(self._bucket, area_uuid, keys, partition=self._partition)
        session = f"staging-{uuid.UUID(validation_id)}"  # 44 characters: names the job in CloudTrail
        try:
            return assume_role(
                self._sts,
                self._role_arn,
                session_name=session,
                policy=policy,
                duration_seconds=STAGING_DURATION_SECONDS,
            )
        except (BotoCoreError, ClientError) as exc:
            raise CredentialsError(
                f"could not assume {self._role_arn} for validation {validation_id}: {exc}"
            ) from None
