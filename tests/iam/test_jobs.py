"""The checksum worker's job path and the checksum job itself, each with the role Terraform gives it, in
an IAM-enforcing moto: a file above the inline threshold makes the worker register the job definition and
submit the job (Batch checked by action only, and `iam:PassRole` not at all: see README.md); the job's
own entry point (`upload-checksum run`) then reads and tags the object with the checksum job role named
by that definition, and reports to the API served on 127.0.0.1."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import botocore.exceptions
import pytest
from starlette.testclient import TestClient

from iam.conftest import API_KEY, Components, as_batch_job, job_queue, role_client, served
from iam.emulator import REGION, StageIam, calls_of_this_test, enforced, record_component
from iam.test_workers import s3_event
from support.checksums import reference_checksums
from upload_api.context import ApiContext
from upload_checksum.cli import main as upload_checksum
from upload_checksum.worker import Outcome, handle_record
from upload_common.checksum_tags import checksum_tags
from upload_common.jobs.factory import make_job_runner
from upload_common.models import ChecksumRun
from upload_common.statuses import ChecksumStatus

pytestmark = pytest.mark.slow  # the applied Terraform stage it needs takes minutes (once per session)

AUTH = {"Api-Key": API_KEY}
INLINE_MAX_BYTES = 1000  # a deployment's var.checksum_inline_max_bytes, small so a small file goes to a job
CHECKSUM_IMAGE = "quay.io/example/checksum@sha256:" + "0" * 64


def refused(call: Any, **arguments: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        call(**arguments)


def test_a_large_file_goes_to_a_checksum_job_that_reads_tags_and_reports(
    client: TestClient,
    components: Components,
    api_context: ApiContext,
    aws: StageIam,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with enforced():
        area = str(uuid.uuid4())
        assert client.post(f"/v1/area/{area}", headers=AUTH).status_code == 201
    data = b"@r1\nACGT\n+\n!!!!\n" * 200  # above INLINE_MAX_BYTES
    s3: Any = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=aws.bucket, Key=f"{area}/big.fastq", Body=data)

    with served(api_context) as base:
        # The worker as its Lambda handler builds it (`lambda_handlers._context`): a Batch runner.
        worker = components.context(
            "checksum worker (job path)",
            "upload-local-checksum",
            UPLOAD_CHECKSUM_INLINE_MAX_BYTES=str(INLINE_MAX_BYTES),
            UPLOAD_CHECKSUM_JOB_IMAGE=CHECKSUM_IMAGE,
            UPLOAD_PUBLIC_URL=base,  # the API Gateway URL of a deployment
        )
        job_queue(aws, worker.settings.batch_job_queue or "")
        worker.job_runner = make_job_runner(worker.settings)
        components.again("upload-local-checksum")
        limit = worker.settings.checksum_inline_max_bytes
        with enforced():
            outcome = handle_record(worker, s3_event(area, "big.fastq", len(data)), inline_max_bytes=limit)
        assert outcome == [Outcome.JOB_SUBMITTED]
        worker_calls = {c.action for c in calls_of_this_test() if c.role == worker_role(aws)}
        assert {"batch:RegisterJobDefinition", "batch:SubmitJob"} <= worker_calls

        # What Batch would start: the submitted job's command and environment, with the definition's role.
        batch: Any = boto3.client("batch", region_name=REGION)
        (job,) = batch.describe_jobs(jobs=[submitted_job(worker)])["jobs"]
        (definition,) = batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])[
            "jobDefinitions"
        ]
        job_role = aws.role_named("upload-local-checksum-job-")
        assert definition["containerProperties"]["jobRoleArn"] == job_role.arn
        record_component("checksum job", job_role)
        environment = {e["name"]: e["value"] for e in job["container"]["environment"]}
        as_batch_job(job_role, environment, monkeypatch)
        with enforced():
            assert upload_checksum(job["container"]["command"]) == 0

    with worker.sessions() as session:
        run = session.query(ChecksumRun).filter_by(job_id=job["jobId"]).one()
        assert run.status is ChecksumStatus.CHECKSUMMED
    assert worker.store.get_tags(f"{area}/big.fastq") == checksum_tags(reference_checksums(data), "hca-dss-")
    assert [c for c in calls_of_this_test() if not c.allowed] == []
    job_calls = {c.action for c in calls_of_this_test() if c.role == job_role.name}
    assert {"s3:GetObject", "s3:PutObjectTagging"} <= job_calls


def worker_role(stage: StageIam) -> str:
    return stage.role_of("upload-local-checksum").name


def submitted_job(worker: ApiContext) -> str:
    with worker.sessions() as session:
        run = session.query(ChecksumRun).filter(ChecksumRun.job_id.is_not(None)).one()
        assert run.job_id
        return run.job_id


def test_the_checksum_job_role_reads_and_tags_objects_and_nothing_else(aws: StageIam) -> None:
    role = aws.role_named("upload-local-checksum-job-")
    record_component("checksum job", role)
    s3: Any = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=aws.bucket, Key="area/R1.fastq", Body=b"ACGT")
    s3.create_bucket(Bucket="another-bucket")
    s3.put_object(Bucket="another-bucket", Key="R1.fastq", Body=b"ACGT")
    job: Any = role_client("s3", role)
    with enforced():
        assert job.get_object(Bucket=aws.bucket, Key="area/R1.fastq")["Body"].read() == b"ACGT"
        refused(job.delete_object, Bucket=aws.bucket, Key="area/R1.fastq")
        refused(job.put_object, Bucket=aws.bucket, Key="area/R1.fastq", Body=b"changed")
        refused(job.list_objects_v2, Bucket=aws.bucket)
        refused(job.get_object, Bucket="another-bucket", Key="R1.fastq")
        refused(job.put_object_tagging, Bucket="another-bucket", Key="R1.fastq", Tagging={"TagSet": []})
