"""`CredentialIssuer` through STS AssumeRole with a session policy narrowed to the area."""

from __future__ import annotations

import logging
from datetime import UTC
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from upload_common.area_ids import check_area_id
from upload_common.credentials.arns import role_partition
from upload_common.credentials.base import CredentialIssuer, UploadCredentials
from upload_common.credentials.policy import area_session_policy, packed_policy
from upload_common.errors import ConfigurationError, CredentialsDurationError, CredentialsError
from upload_common.settings import CREDENTIALS_DURATION_LIMITS, credentials_duration_problem

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

logger = logging.getLogger(__name__)

MIN_DURATION, MAX_DURATION = CREDENTIALS_DURATION_LIMITS
DEFAULT_DURATION = MIN_DURATION  # short sessions: a client refreshes them (POST …/credentials again)
DURATION_VARIABLE = "UPLOAD_CREDENTIALS_DURATION_SECONDS"


def check_duration(seconds: int) -> int:
    """`seconds` if STS can grant it to a chained role, else a `ConfigurationError` saying why."""
    problem = credentials_duration_problem(seconds)
    if problem is not None:
        raise ConfigurationError(f"{DURATION_VARIABLE}: {problem}; got {seconds}")
    return seconds


def assume_role(
    client: STSClient, role_arn: str, *, session_name: str, policy: dict[str, Any], duration_seconds: int
) -> UploadCredentials:
    """Credentials of `role_arn` narrowed by the session `policy`: the one place the service assumes
    roles. botocore's errors pass (each caller says what it was issuing)."""
    response = client.assume_role(
        RoleArn=role_arn,
        RoleSessionName=session_name,
        Policy=packed_policy(policy),
        DurationSeconds=duration_seconds,
    )
    credentials = response["Credentials"]
    return UploadCredentials(
        access_key_id=credentials["AccessKeyId"],
        secret_access_key=credentials["SecretAccessKey"],
        session_token=credentials["SessionToken"],
        expiration=credentials["Expiration"].astimezone(UTC),
    )


class StsCredentialIssuer(CredentialIssuer):
    """Assumes `role_arn` for each request; the role's own policy must allow at least what the session
    policy allows (the effective permissions are the intersection). Every ARN in the session policy is
    in the role's partition. A malformed role ARN or a duration STS cannot grant is a
    `ConfigurationError` at construction (start-up)."""

    def __init__(
        self, role_arn: str, bucket: str, client: STSClient, duration_seconds: int = DEFAULT_DURATION
    ) -> None:
        self._partition = role_partition(role_arn)
        self._role_arn = role_arn
        self._bucket = bucket
        self._sts = client
        self._duration = check_duration(duration_seconds)
        self._duration_refusal_logged = False

    def issue(self, area_uuid: str) -> UploadCredentials:
        area = check_area_id(area_uuid)
        policy = area_session_policy(self._bucket, area, partition=self._partition)
        try:
            return assume_role(
                self._sts,
                self._role_arn,
                # 43 characters of [a-z0-9-]: within STS's limits; names the area in CloudTrail.
                session_name=f"upload-{area}",
                policy=policy,
                duration_seconds=self._duration,
            )
        except ClientError as exc:
            if _refuses_duration(exc):
                raise self._duration_refused() from None
            raise CredentialsError(f"could not assume {self._role_arn} for area {area}: {exc}") from None
        except BotoCoreError as exc:
            raise CredentialsError(f"could not assume {self._role_arn} for area {area}: {exc}") from None

    def _duration_refused(self) -> CredentialsDurationError:
        """What to configure, said to the caller each time and logged once per process (it is the same
        misconfiguration every time, and the API's 5xx alarm counts the rest)."""
        error = CredentialsDurationError(
            f"upload credentials are misconfigured: STS refuses sessions of {self._duration} s for the "
            f"submitter role; lower {DURATION_VARIABLE} or raise the role's maximum session duration "
            f"(Terraform: credentials_duration_seconds sets both)"
        )
        if not self._duration_refusal_logged:
            self._duration_refusal_logged = True
            logger.error("%s (role %s)", error, self._role_arn)
        return error


def _refuses_duration(exc: ClientError) -> bool:
    """STS's answer to a DurationSeconds above the role's MaxSessionDuration or the role-chaining cap."""
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationError" and "DurationSeconds" in str(error.get("Message", ""))
