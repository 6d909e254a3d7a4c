"""The workers' code with the credentials of the roles Terraform gives their Lambdas, in an
IAM-enforcing moto: the checksum worker (inline checksum), the deletion worker, the checksum reaper,
reconciliation, the health report and the area expiry sweep."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from starlette.testclient import TestClient

from iam.conftest import API_KEY, Components
from iam.emulator import REGION, StageIam, calls_of_this_test, enforced
from support.checksums import reference_checksums
from support.factories import make_area, make_checksum, make_file
from upload_api.workers.deletion import handle_deletion_message
from upload_api.workers.expiry_sweep import sweep_expired_areas
from upload_checksum import lambda_handlers as lambda_entry
from upload_checksum.reaper import reap
from upload_checksum.worker import Outcome, handle_record
from upload_common.checksum_tags import checksum_tags
from upload_common.domain import areas
from upload_common.health_report import compute_health_report
from upload_common.jobs.factory import make_job_runner
from upload_common.models import utcnow
from upload_common.statuses import AreaStatus

pytestmark = pytest.mark.slow  # the applied Terraform stage it needs takes minutes (once per session)

AUTH = {"Api-Key": API_KEY}


def s3_event(area: str, name: str, size: int) -> str:
    """An S3 `ObjectCreated:Put` notification, as S3 sends it to the checksum queue."""
    obj = {"key": quote_plus(f"{area}/{name}", safe="/"), "size": size}
    return json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": obj}}]})


def received(queue_url: str) -> list[str]:
    """The queue's messages, as the Lambda event source mapping receives them (with the Lambda service's
    own permissions, not the function's code)."""
    sqs: Any = boto3.client("sqs", region_name=REGION)
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [m["Body"] for m in answer.get("Messages", [])]


def refusals() -> list[Any]:
    return [c for c in calls_of_this_test() if not c.allowed]


def new_area(client: TestClient) -> str:
    area = str(uuid.uuid4())
    assert client.post(f"/v1/area/{area}", headers=AUTH).status_code == 201
    return area


def test_checksum_worker_reads_and_tags_an_uploaded_object(
    client: TestClient, components: Components, aws: StageIam
) -> None:
    with enforced():
        area = new_area(client)
    data = b"@r1\nACGT\n+\n!!!!\n" * 100
    # The submitter's upload (tests/iam/test_submitter.py checks those credentials).
    boto3.client("s3", region_name=REGION).put_object(Bucket=aws.bucket, Key=f"{area}/r1.fastq", Body=data)
    worker = components.context("checksum worker (inline)", "upload-local-checksum")
    with enforced():
        assert handle_record(worker, s3_event(area, "r1.fastq", len(data))) == [Outcome.CHECKSUMMED]
    assert worker.store.get_tags(f"{area}/r1.fastq") == checksum_tags(reference_checksums(data), "hca-dss-")
    assert refusals() == []


def test_deletion_worker_lists_and_deletes_the_area(
    client: TestClient, components: Components, aws: StageIam, api_context: Any
) -> None:
    with enforced():
        area = new_area(client)
    s3: Any = boto3.client("s3", region_name=REGION)
    for name in ("r1.fastq", "r2.fastq"):
        s3.put_object(Bucket=aws.bucket, Key=f"{area}/{name}", Body=b"ACGT")
    with enforced():
        assert client.delete(f"/v1/area/{area}", headers=AUTH).status_code == 202
    (body,) = received(f"{api_context.settings.queue_url}-deletion")
    worker = components.context("deletion worker", "upload-local-deletion")
    with enforced():
        handle_deletion_message(worker, body)
    assert s3.list_objects_v2(Bucket=aws.bucket, Prefix=f"{area}/")["KeyCount"] == 0
    with worker.sessions() as session:
        found = areas.find_area(session, area)
        assert found is not None
        assert found.status is AreaStatus.DELETED
    assert refusals() == []


def test_reaper_asks_batch_about_a_stalled_checksum_job(components: Components, aws: StageIam) -> None:
    reaper = components.context("checksum reaper", "upload-local-checksum-reaper")
    reaper.job_runner = make_job_runner(reaper.settings)
    components.again("upload-local-checksum-reaper")
    with reaper.sessions.begin() as session:
        area = make_area(session, bucket=aws.bucket)
        make_checksum(session, make_file(session, area), job_id="a-job-batch-no-longer-knows")
    with enforced():
        report = reap(reaper, now=utcnow() + timedelta(days=1))
    assert report.failed == 1
    assert refusals() == []
    used = {c.action for c in calls_of_this_test()}
    assert "batch:DescribeJobs" in used


def test_reconcile_lists_the_area_queues_what_was_lost_and_reverifies(
    client: TestClient, components: Components, aws: StageIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"@r1\nACGT\n+\n!!!!\n"
    with enforced():
        area = new_area(client)
        stored = client.put(
            f"/v1/area/{area}/R1.fastq",
            headers={**AUTH, "Content-Type": "text/plain; dcp-type=data"},
            content=data,
        )
        assert stored.status_code == 201, stored.text
    # An object whose event was lost (stored with the submitter's credentials: test_submitter.py).
    boto3.client("s3", region_name=REGION).put_object(Bucket=aws.bucket, Key=f"{area}/lost.fastq", Body=data)
    reconciler = components.context("reconcile", "upload-local-reconcile")
    monkeypatch.setattr(lambda_entry, "_context", lambda: reconciler)
    with enforced():  # the function's scheduled event, invoked by hand with a sample (as its docstring says)
        report = lambda_entry.reconcile_handler({"area": area, "verify_sample": 1}, None)
    assert (report["never_recorded"], report["verified"], report["mismatched"]) == (1, 1, 0)
    queued = [json.loads(body) for body in received(f"{reconciler.settings.queue_url}-checksum")]
    assert {"area_uuid": area, "name": "lost.fastq"}.items() <= queued[-1].items()
    assert refusals() == []
    assert {"s3:ListBucket", "s3:GetObject", "sqs:SendMessage"} <= {c.action for c in calls_of_this_test()}


def test_health_report_reads_the_dead_letter_depths_and_nothing_else(
    components: Components, aws: StageIam
) -> None:
    reporter = components.context("health report", "upload-local-health-report")
    with enforced():
        report = compute_health_report(reporter)
    assert report.unreadable == {}
    assert set(report.dead_letters) == {"checksum", "deletion", "validation"}
    assert refusals() == []
    assert {c.action for c in calls_of_this_test()} == {"sqs:GetQueueAttributes"}


def test_checksum_worker_deletes_an_object_that_reached_an_area_being_deleted(
    client: TestClient, components: Components, aws: StageIam
) -> None:
    with enforced():
        area = new_area(client)
        assert client.delete(f"/v1/area/{area}", headers=AUTH).status_code == 202
    # Written with credentials issued before the deletion began (the deletion worker has not run yet).
    s3: Any = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=aws.bucket, Key=f"{area}/late.fastq", Body=b"ACGT")
    worker = components.context("checksum worker (inline)", "upload-local-checksum")
    with enforced():
        assert handle_record(worker, s3_event(area, "late.fastq", 4)) == [Outcome.REMOVED]
    assert s3.list_objects_v2(Bucket=aws.bucket, Prefix=f"{area}/")["KeyCount"] == 0
    assert refusals() == []


def test_area_expiry_sweep_queues_the_deletion_of_an_expired_area(
    client: TestClient, components: Components, aws: StageIam, api_context: Any
) -> None:
    area = str(uuid.uuid4())
    with enforced():
        assert client.post(f"/v1/area/{area}", headers=AUTH, json={"ttl_seconds": 2}).status_code == 201
    sweeper = components.context("area expiry sweep", "upload-local-area-expiry")
    with enforced():
        result = sweep_expired_areas(sweeper, now=utcnow() + timedelta(minutes=1))
    assert area in result.to_delete
    assert json.dumps({"type": "area_deletion", "area_uuid": area}) in received(
        f"{api_context.settings.queue_url}-deletion"
    )
    assert refusals() == []
    assert "sqs:SendMessage" in {
        c.action for c in calls_of_this_test() if c.role.startswith("upload-local-area-expiry-")
    }
