"""A validation's staging credentials (the staging role narrowed by the API to the validation's objects)
read exactly those objects; the validation job's own role reads nothing. IAM-enforcing moto."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from iam.conftest import API_KEY, SECRET_KEY, VALIDATOR_PREFIX, as_batch_job, role_client, served
from iam.emulator import REGION, StageIam, calls_of_this_test, enforced, record_component
from upload_api.context import ApiContext
from upload_batch_validator.harness import validate
from upload_batch_validator.settings import load_harness_settings
from upload_batch_validator.staging_credentials import staging_session
from upload_common.callback_tokens import job_token
from upload_common.models import Validation
from upload_common.statuses import ValidationStatus

pytestmark = pytest.mark.slow  # the applied Terraform stage it needs takes minutes (once per session)

AUTH = {"Api-Key": API_KEY}
DATA = b"@r1\nACGT\n+\nIIII\n"


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


def area_with_files(client: TestClient) -> str:
    """An area with R1.fastq (which the validations here name) and other.fastq (which they do not)."""
    area = str(uuid.uuid4())
    assert client.post(f"/v1/area/{area}", headers=AUTH).status_code == 201
    for name in ("R1.fastq", "other.fastq"):
        headers = {**AUTH, "Content-Type": "text/plain; dcp-type=data"}
        stored = client.put(f"/v1/area/{area}/{name}", headers=headers, content=DATA)
        assert stored.status_code == 201, stored.text
    return area


def test_staging_credentials_read_only_the_validations_files(
    client: TestClient, api_context: ApiContext, aws: StageIam
) -> None:
    record_component("validation staging (issued credentials)", aws.role_named("upload-local-staging-"))
    with enforced():
        area = area_with_files(client)
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
        assert s3.get_object(Bucket=aws.bucket, Key=f"{area}/R1.fastq")["Body"].read() == DATA
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


def test_the_harness_stages_with_the_credentials_it_asks_the_api_for(
    client: TestClient,
    api_context: ApiContext,
    aws: StageIam,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The harness's own code (`upload_batch_validator.harness.validate`): it asks the API served on
    127.0.0.1 for staging credentials with the job's token, stages the validation's file with them while
    the process holds the validation job role's (which grant nothing), runs the validator, reports."""
    staging_role = aws.role_named("upload-local-staging-")
    record_component("validation staging (harness)", staging_role)
    job_role = aws.role_named("upload-local-validation-job-")
    record_component("validation job", job_role)
    with enforced():
        area = area_with_files(client)
        validation_id = scheduled_validation(client, api_context, area, ["R1.fastq"])
    token = job_token(SECRET_KEY, "validation", validation_id, int(time.time()) + 600)
    with served(api_context) as base:
        # The variables the scheduler gives the job (upload_api.workers.scheduler), and the job role's credentials.
        job_environment = {
            "UPLOAD_VALIDATION_ID": validation_id,
            "UPLOAD_CALLBACK_URL": f"{base}/v1/area/{area}/update_validation/{validation_id}",
            "UPLOAD_CALLBACK_TOKEN": token,
            "UPLOAD_STAGING_CREDENTIALS_URL": f"{base}/v2/areas/{area}/validations/{validation_id}/staging-credentials",
            "UPLOAD_STAGING_DIR": str(tmp_path),
            "UPLOAD_JOB_ID": "job-1",
        }
        as_batch_job(job_role, job_environment, monkeypatch)
        settings = load_harness_settings(reporting=True)
        with enforced():
            # The harness's credentials (its session), for what its validation does not name.
            s3: Any = staging_session(
                settings.staging_credentials_url or "", settings.reporter(settings.callback_url)
            ).create_client("s3", region_name=REGION)
            refused(s3.get_object, Bucket=aws.bucket, Key=f"{area}/other.fastq")
            outcome = validate(
                [f"s3://{aws.bucket}/{area}/R1.fastq"],
                command=["cat"],
                timeout=60,
                settings=settings,
                reporter=settings.reporter(settings.callback_url),
            )
    assert (outcome.status, outcome.results["stdout"]) == ("VALIDATED", DATA.decode()), outcome.results
    with api_context.sessions() as session:
        validation = session.get(Validation, uuid.UUID(validation_id))
        assert validation is not None
        assert validation.status is ValidationStatus.VALIDATED
    staged = {(c.role, c.action, c.resource.rsplit("/", 1)[-1], c.allowed) for c in calls_of_this_test()}
    assert (staging_role.name, "s3:GetObject", "R1.fastq", True) in staged
    assert [c for c in calls_of_this_test() if not c.allowed and c.resource.endswith("R1.fastq")] == []
    assert {c.role for c in calls_of_this_test()} & {job_role.name} == set()
