"""`CredentialIssuer` through STS AssumeRole with a session policy narrowed to the area."""

from __future__ import annotations

import json
from datetime import UTC
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from upload_common.area_ids import check_area_id
from upload_common.credentials.base import CredentialIssuer, UploadCredentials
from upload_common.credentials.policy import area_session_policy
from upload_common.errors import ConfigurationError, CredentialsError

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

MIN_DURATION = 900  # STS's limits on DurationSeconds
MAX_DURATION = 43200


class StsCredentialIssuer(CredentialIssuer):
    """Assumes `role_arn` for each request; the role's own policy must allow at least what the session
    policy allows (the effective permissions are the intersection)."""

    def __init__(self, role_arn: str, bucket: str, client: STSClient, duration_seconds: int = 3600) -> None:
        if not MIN_DURATION <= duration_seconds <= MAX_DURATION:
            raise ConfigurationError(
                f"UPLOAD_CREDENTIALS_DURATION_SECONDS: must be {MIN_DURATION}..{MAX_DURATION}, "
                f"got {duration_seconds}"
            )
        self._role_arn = role_arn
        self._bucket = bucket
        self._sts = client
        self._duration = duration_seconds

    def issue(self, area_uuid: str) -> UploadCredentials:
        area = check_area_id(area_uuid)
        try:
            response = self._sts.assume_role(
                RoleArn=self._role_arn,
                # 43 characters of [a-z0-9-]: within STS's limits; names the area in CloudTrail.
                RoleSessionName=f"upload-{area}",
                Policy=json.dumps(area_session_policy(self._bucket, area), separators=(",", ":")),
                DurationSeconds=self._duration,
            )
        except (BotoCoreError, ClientError) as exc:
            raise CredentialsError(f"could not assume {self._role_arn} for area {area}: {exc}") from None
        credentials = response["Credentials"]
        return UploadCredentials(
            access_key_id=credentials["AccessKeyId"],
            secret_access_key=credentials["SecretAccessKey"],
            session_token=credentials["SessionToken"],
            expiration=credentials["Expiration"].astimezone(UTC),
        )
