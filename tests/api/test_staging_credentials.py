"""`POST /v2/areas/{uuid}/validations/{id}/staging-credentials`: the harness's credentials for its own
files, authorised by its job's token, while the validation may be staging; STS through moto, whose record
of each AssumeRole shows the session policy the API sent."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto.sts.models import sts_backends
from sqlalchemy import update
from starlette.testclient import TestClient

from support.api_helpers import problem_of
from upload_api.context import ApiContext
from upload_common.callback_tokens import job_token
from upload_common.credentials import StagingCredentialIssuer
from upload_common.models import Validation
from upload_common.statuses import ValidationStatus

IMAGE = "dcp-upload/validator-fastq"
ACCOUNT = "123456789012"
BUCKET = "upload-test-bucket"
SECRET = "test-server-secret"  # the API fixture's UPLOAD_SECRET_KEY
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}
# Names with IAM's wildcard and variable characters: each must name its one object in the policy.
NAMES = ["R1.fastq", "odd*name?.fastq", "dir/cost$1.fastq"]


@pytest.fixture
def staging_role(api_context: ApiContext) -> str:
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="upload-staging", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"][
        "Arn"
    ]
    api_context.staging_issuer = StagingCredentialIssuer(
        role, BUCKET, boto3.client("sts", region_name="us-east-1")
    )
    return str(role)


@pytest.fixture
def area(client: TestClient, auth: dict[str, str]) -> str:
    area_uuid = str(uuid.uuid4())
    client.post(f"/v1/area/{area_uuid}", headers=auth)
    for name in [*NAMES, "not-validated.fastq"]:
        response = client.put(
            f"/v1/area/{area_uuid}/{name.replace('/', '%2F').replace('?', '%3F')}",
            headers={**auth, "Content-Type": "text/plain; dcp-type=data"},
            content=b"@r1\nACGT\n+\nIIII\n",
        )
        assert response.status_code == 201, response.text
    return area_uuid


def validation_in(
    client: TestClient, auth: dict[str, str], area: str, context: ApiContext, status: ValidationStatus
) -> str:
    body = {"validator_image": IMAGE, "files": NAMES}
    validation_id: str = client.put(f"/v1/area/{area}/validate", json=body, headers=auth).json()[
        "validation_id"
    ]
    with context.sessions.begin() as session:
        session.execute(
            update(Validation)
            .where(Validation.id == uuid.UUID(validation_id))
            .values(status=status, job_id="job-1")
        )
    return validation_id


def token_of(validation_id: str, *, kind: str = "validation", expires_in: int = 3600) -> str:
    return job_token(SECRET, kind, validation_id, int(time.time()) + expires_in)  # type: ignore[arg-type]


def ask(client: TestClient, area: str, validation_id: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(f"/v2/areas/{area}/validations/{validation_id}/staging-credentials", headers=headers)


def recorded_session(access_key_id: str) -> Any:
    """moto's record of the AssumeRole call that issued these credentials."""
    assumed = sts_backends[ACCOUNT]["aws"].get_assumed_role_from_access_key(access_key_id)
    assert assumed is not None
    return assumed


@pytest.mark.parametrize("status", [ValidationStatus.SCHEDULED, ValidationStatus.VALIDATING])
def test_the_credentials_read_exactly_the_validations_objects(
    client: TestClient,
    auth: dict[str, str],
    area: str,
    api_context: ApiContext,
    staging_role: str,
    status: ValidationStatus,
) -> None:
    validation_id = validation_in(client, auth, area, api_context, status)

    response = ask(client, area, validation_id, token_of(validation_id))

    assert response.status_code == 201, response.text
    credentials = response.json()
    assert set(credentials) == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    lifetime = datetime.fromisoformat(credentials["Expiration"]) - datetime.now(UTC)
    assert 800 < lifetime.total_seconds() <= 900  # STS's minimum: the harness asks again to refresh
    session = recorded_session(credentials["AccessKeyId"])
    assert (session.role_arn, session.session_name) == (staging_role, f"staging-{validation_id}")
    assert json.loads(session.policy) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTheValidationsObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [
                    f"arn:aws:s3:::{BUCKET}/{area}/R1.fastq",
                    f"arn:aws:s3:::{BUCKET}/{area}/odd${{*}}name${{?}}.fastq",
                    f"arn:aws:s3:::{BUCKET}/{area}/dir/cost${{$}}1.fastq",
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    "status", [ValidationStatus.SCHEDULING_QUEUED, ValidationStatus.VALIDATED, ValidationStatus.FAILED]
)
def test_a_validation_that_is_not_staging_gets_none(
    client: TestClient,
    auth: dict[str, str],
    area: str,
    api_context: ApiContext,
    staging_role: str,
    status: ValidationStatus,
) -> None:
    validation_id = validation_in(client, auth, area, api_context, status)

    response = ask(client, area, validation_id, token_of(validation_id))

    assert response.status_code == 409
    assert problem_of(response)["detail"] == (
        f"validation {validation_id} is {status.value}: its job no longer stages files"
    )


def test_only_the_validations_own_token_is_accepted(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext, staging_role: str
) -> None:
    validation_id = validation_in(client, auth, area, api_context, ValidationStatus.SCHEDULED)
    other_id = validation_in(client, auth, area, api_context, ValidationStatus.SCHEDULED)
    other_area = str(uuid.uuid4())
    client.post(f"/v1/area/{other_area}", headers=auth)

    assert ask(client, area, validation_id, None).status_code == 401
    assert ask(client, area, validation_id, "not-a-token").status_code == 401
    assert ask(client, area, validation_id, token_of(other_id)).status_code == 401  # another validation's
    assert ask(client, area, validation_id, token_of(validation_id, kind="checksum")).status_code == 401
    expired = ask(client, area, validation_id, token_of(validation_id, expires_in=-1))
    assert (expired.status_code, problem_of(expired)["detail"]) == (401, "the callback token has expired")
    # Its own token, but asking about another area: the validation is not there.
    elsewhere = ask(client, other_area, validation_id, token_of(validation_id))
    assert elsewhere.status_code == 404
    assert problem_of(elsewhere)["detail"] == f"no validation {validation_id} in upload area {other_area}"
    assert sts_backends[ACCOUNT]["aws"].assumed_roles == []  # nothing was issued


def test_a_deployment_without_a_staging_role_issues_none(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    validation_id = validation_in(client, auth, area, api_context, ValidationStatus.SCHEDULED)

    response = ask(client, area, validation_id, token_of(validation_id))

    assert response.status_code == 403
    assert "no UPLOAD_STAGING_ROLE_ARN" in problem_of(response)["detail"]
