"""A validation's staging credentials (the staging role narrowed by the API to the validation's objects)
read exactly those objects; the validation job's own role reads nothing. IAM-enforcing moto."""

from __future__ import annotations

import time
import uuid
from typing import Any

import boto3
import botocore.exceptions
import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from iam.conftest import API_KEY, SECRET_KEY, VALIDATOR_PREFIX, role_client
from iam.emulator import REGION, StageIam, calls_of_this_test, enforced, record_component
from upload_api.context import ApiContext
from upload_common.callback_tokens import job_token
from upload_common.models import Validation
from upload_common.statuses import ValidationStatus

pytestmark = pytest.mark.slow  # the applied Terraform stage it needs takes minutes (once per session)

AUTH = {"Api-Key": API_KEY}


def refused(call: Any, **arguments: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        call(**arguments)


def scheduled_validation(client: TestClient, api_context: ApiContext, area: str, names: list[str]) -> str:
    """A validation of `names` that its job (which staging credentials are for) is about to run."""
    body = {"validator_image": f"{VALIDATOR_PREFIX}validator:1", "files": names}
    answer = client.put(f"/v1/area/{area}/validate", json=body, headers=AUTH)
    assert answer.status_code in {200, 201, 202}, answer.text
    validation_id: str = answer.json()["validation_id"]
    with api_context.sessions.begin() as session:
        session.execute(
            update(Validation)
            .where(Validation.id == uuid.UUID(validation_id))
            .values(status=ValidationStatus.SCHEDULED, job_id="job-1")
        )
    return validation_id


def test_staging_credentials_read_only_the_validations_files(
    client: TestClient, api_context: ApiContext, aws: StageIam
) -> None:
    record_component("validation staging (issued credentials)", aws.role_named("upload-local-staging-"))
    area = str(uuid.uuid4())
    with enforced():
        assert client.post(f"/v1/area/{area}", headers=AUTH).status_code == 201
        for name in ("R1.fastq", "other.fastq"):
            stored = client.put(
                f"/v1/area/{area}/{name}",
                headers={**AUTH, "Content-Type": "text/plain; dcp-type=data"},
                content=b"@r1\nACGT\n+\nIIII\n",
            )
            assert stored.status_code == 201, stored.text
        validation_id = scheduled_validation(client, api_context, area, ["R1.fastq"])
        token = job_token(SECRET_KEY, "validation", validation_id, int(time.time()) + 600)
        answer = client.post(
            f"/v2/areas/{area}/validations/{validation_id}/staging-credentials",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 201, answer.text
        credentials = answer.json()
        s3: Any = boto3.client(
            "s3",
            region_name=REGION,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        assert (
            s3.get_object(Bucket=aws.bucket, Key=f"{area}/R1.fastq")["Body"].read() == b"@r1\nACGT\n+\nIIII\n"
        )
        refused(s3.get_object, Bucket=aws.bucket, Key=f"{area}/other.fastq")
        refused(s3.put_object, Bucket=aws.bucket, Key=f"{area}/R1.fastq", Body=b"changed")
        refused(s3.get_object_tagging, Bucket=aws.bucket, Key=f"{area}/R1.fastq")
        refused(s3.list_objects_v2, Bucket=aws.bucket, Prefix=f"{area}/")
    denials = {(c.action, c.resource.rsplit("/", 1)[-1]) for c in calls_of_this_test() if not c.allowed}
    assert denials == {
        ("s3:GetObject", "other.fastq"),
        ("s3:PutObject", "R1.fastq"),
        ("s3:GetObjectTagging", "R1.fastq"),
        ("s3:ListBucket", f"arn:aws:s3:::{aws.bucket}"),
    }


def test_the_validation_jobs_role_grants_nothing(aws: StageIam) -> None:
    role = aws.role_named("upload-local-validation-job-")
    record_component("validation job", role)
    assert role.granted_actions() == set()
    boto3.client("s3", region_name=REGION).put_object(Bucket=aws.bucket, Key="area/R1.fastq", Body=b"ACGT")
    s3: Any = role_client("s3", role)
    with enforced():
        refused(s3.get_object, Bucket=aws.bucket, Key="area/R1.fastq")
        refused(s3.list_objects_v2, Bucket=aws.bucket)
