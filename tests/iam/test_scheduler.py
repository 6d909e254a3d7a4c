"""The validation scheduler and the validation sweep with their Lambdas' roles: the scheduler resolves the
image in ECR and submits the job to AWS Batch, the sweep asks Batch about it; in an IAM-enforcing moto
(Batch and ECR checked by action only: see emulator.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import boto3
import pytest
from starlette.testclient import TestClient

from iam.conftest import API_KEY, Components, job_queue
from iam.emulator import REGION, StageIam, calls_of_this_test, enforced
from support.moto_batch import ECR_REGISTRY, ecr_image
from upload_api.workers.scheduler import handle_scheduling_message, validation_job_runner
from upload_api.workers.validation_sweep import sweep
from upload_common.models import Validation, utcnow
from upload_common.statuses import ValidationStatus

pytestmark = pytest.mark.slow  # the applied Terraform stage it needs takes minutes (once per session)

AUTH = {"Api-Key": API_KEY}
ALLOWED = f'["{ECR_REGISTRY}/"]'  # a deployment's var.validator_images (the local env lists none)


def test_scheduler_submits_the_job_and_the_sweep_checks_it(
    client: TestClient, components: Components, aws: StageIam
) -> None:
    reference, _digest = ecr_image("validator", "1")
    area = str(uuid.uuid4())
    with enforced():
        assert client.post(f"/v1/area/{area}", headers=AUTH).status_code == 201
        stored = client.put(
            f"/v1/area/{area}/R1.fastq",
            headers={**AUTH, "Content-Type": "text/plain; dcp-type=data"},
            content=b"@r1\nACGT\n+\nIIII\n",
        )
        assert stored.status_code == 201, stored.text
    # The API's own allow-list is the conftest's; this validation names an ECR image.
    api = components.context("api", "upload-local-api", UPLOAD_VALIDATOR_IMAGES=ALLOWED)
    from upload_api.app import create_app  # noqa: PLC0415 - the API again, with this allow-list

    with create_app(api).test_client() as api_client, enforced():
        answer = api_client.put(
            f"/v1/area/{area}/validate",
            json={"validator_image": reference, "files": ["R1.fastq"]},
            headers=AUTH,
        )
    assert answer.status_code in {200, 201, 202}, answer.text
    validation_id = answer.json()["validation_id"]
    sqs: Any = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=f"{api.settings.queue_url}-validation", MaxNumberOfMessages=10)[
        "Messages"
    ]
    (body,) = [m["Body"] for m in messages if validation_id in m["Body"]]

    scheduler = components.context(
        "validation scheduler", "upload-local-scheduler", UPLOAD_VALIDATOR_IMAGES=ALLOWED
    )
    job_queue(aws, scheduler.settings.batch_job_queue or "")
    scheduler.job_runner = validation_job_runner(scheduler.settings)
    components.again("upload-local-scheduler")  # clients the runner makes per call take these
    with enforced():
        handle_scheduling_message(scheduler, body)
    with scheduler.sessions() as session:
        validation = session.get(Validation, uuid.UUID(validation_id))
        assert validation is not None
        assert validation.status is ValidationStatus.SCHEDULED
        assert validation.job_id

    sweeper = components.context(
        "validation sweep", "upload-local-validation-sweep", UPLOAD_VALIDATOR_IMAGES=ALLOWED
    )
    sweeper.job_runner = validation_job_runner(sweeper.settings)
    components.again("upload-local-validation-sweep")
    with enforced():
        sweep(sweeper, now=utcnow() + timedelta(days=1))  # past every grace period: it asks Batch
    assert [c for c in calls_of_this_test() if not c.allowed] == []
    assert "batch:DescribeJobs" in {
        c.action for c in calls_of_this_test() if c.role.startswith("upload-local-validation-sweep-")
    }
