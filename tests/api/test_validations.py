"""Validation through the API: scheduling (one job per validation), the harness's reports, the sweep."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from support.api_helpers import drain, problem_of
from support.jobs import DUMP_ENVIRONMENT, job_environment
from support.moto_batch import ECR_REGISTRY, JOB_QUEUE, MotoBatch, ecr_image
from support.waiting import wait_until
from upload_api.app import create_app
from upload_api.context import ApiContext
from upload_api.workers.scheduler import handle_scheduling_message, schedule, validation_job_runner
from upload_api.workers.validation_sweep import sweep
from upload_common.callback_tokens import job_token
from upload_common.errors import ConfigurationError, JobRunnerError
from upload_common.jobs import JobState
from upload_common.jobs.batch import BatchJobRunner
from upload_common.jobs.local import LocalJobRunner
from upload_common.models import Notification, Validation, ValidationFile, utcnow
from upload_common.statuses import ValidationStatus

IMAGE = "dcp-upload/validator-fastq"
FASTQ = b"@r1\nACGT\n+\n!!!!\n"


@pytest.fixture
def area(client: TestClient, auth: dict[str, str]) -> str:
    area_uuid = str(uuid.uuid4())
    client.post(f"/v1/area/{area_uuid}", headers=auth)
    for name in ("R1.fastq", "R2.fastq", "dir/R 3.fastq"):
        client.put(
            f"/v1/area/{area_uuid}/{name.replace('/', '%2F').replace(' ', '%20')}",
            headers={**auth, "Content-Type": "text/plain; dcp-type=data"},
            content=FASTQ,
        )
    return area_uuid


@pytest.fixture
def runner(api_context: ApiContext, tmp_path: Path) -> LocalJobRunner:
    # A stand-in validator image that records its arguments and exits with the code it is given: the
    # caller's EXIT_CODE, which reaches a job only inside UPLOAD_VALIDATOR_ENVIRONMENT (compact JSON).
    exit_code = """sed -n 's/.*"EXIT_CODE":"\\([0-9]*\\)".*/\\1/p'"""
    code = f'code=$(printf %s "$UPLOAD_VALIDATOR_ENVIRONMENT" | {exit_code})'
    script = f'{DUMP_ENVIRONMENT}; echo "$@"; {code}; exit "${{code:-0}}"'
    runner = LocalJobRunner(tmp_path / "jobs", {IMAGE: ["sh", "-c", script, "validator"]}, sandbox=False)
    api_context.job_runner = runner
    return runner


def validate(
    client: TestClient, auth: dict[str, str], area: str, body: dict[str, Any], name: str = "R1.fastq"
) -> Any:
    return client.put(f"/v1/area/{area}/{name}/validate", json=body, headers=auth)


def test_validate_records_the_validation_and_queues_it(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    response = validate(client, auth, area, {"validator_image": IMAGE, "environment": {"MODE": "strict"}})
    assert response.status_code == 200
    validation_id = response.json()["validation_id"]
    with api_context.sessions() as session:
        validation = session.get(Validation, uuid.UUID(validation_id))
        assert validation is not None
        assert (validation.status, validation.image, validation.environment) == (
            ValidationStatus.SCHEDULING_QUEUED,
            IMAGE,
            {"MODE": "strict"},
        )
    assert [json.loads(b) for b in drain(api_context.queue("validation"))] == [
        {"type": "validation_scheduling", "validation_id": validation_id}
    ]
    info = client.get(f"/v1/area/{area}/R1.fastq/validate").json()
    assert (info["validation_status"], info["validation_results"]) == ("SCHEDULING_QUEUED", "N/A")


def test_multi_file_validation_keeps_the_order(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    body = {"validator_image": IMAGE, "files": ["R2.fastq", "dir/R 3.fastq", "R1.fastq"]}
    validation_id = client.put(f"/v1/area/{area}/validate", json=body, headers=auth).json()["validation_id"]
    with api_context.sessions() as session:
        rows = session.execute(
            select(ValidationFile.position, ValidationFile.file_id).where(
                ValidationFile.validation_id == uuid.UUID(validation_id)
            )
        ).all()
        from upload_common.models import FileVersion  # noqa: PLC0415

        names = [session.get(FileVersion, file_id).name for _, file_id in sorted(rows)]  # type: ignore[union-attr]
    assert names == ["R2.fastq", "dir/R 3.fastq", "R1.fastq"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({}, 400, "validator_image"),
        ({"validator_image": IMAGE, "environment": {"UPLOAD_CALLBACK_URL": "x"}}, 400, "reserved"),
        ({"validator_image": IMAGE, "environment": {"A": 1}}, 400, ""),
    ],
)
def test_bad_validation_requests(
    client: TestClient, auth: dict[str, str], area: str, body: dict[str, Any], status: int, detail: str
) -> None:
    response = validate(client, auth, area, body)
    assert response.status_code == status
    assert detail in problem_of(response).get("detail", "")


def test_validate_needs_the_key_the_area_and_the_files(
    client: TestClient, auth: dict[str, str], area: str
) -> None:
    assert (
        client.put(f"/v1/area/{area}/R1.fastq/validate", json={"validator_image": IMAGE}).status_code == 401
    )
    assert validate(client, auth, str(uuid.uuid4()), {"validator_image": IMAGE}).status_code == 404
    assert validate(client, auth, area, {"validator_image": IMAGE}, name="missing.fastq").status_code == 404
    body = {"validator_image": IMAGE, "files": ["R1.fastq", "missing.fastq"]}
    assert client.put(f"/v1/area/{area}/validate", json=body, headers=auth).status_code == 404
    body = {"validator_image": IMAGE, "files": ["R1.fastq", "R1.fastq"]}
    assert client.put(f"/v1/area/{area}/validate", json=body, headers=auth).status_code == 400


def test_size_gate(client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext) -> None:
    api_context.settings = api_context.settings.model_copy(update={"validation_max_bytes": len(FASTQ) * 2})
    body = {"validator_image": IMAGE, "files": ["R1.fastq", "R2.fastq"]}
    response = client.put(f"/v1/area/{area}/validate", json=body, headers=auth)
    assert response.status_code == 400
    assert "add up to" in problem_of(response)["detail"]
    assert validate(client, auth, area, {"validator_image": IMAGE}).status_code == 200


def test_a_redelivered_scheduling_message_submits_one_job(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext, runner: LocalJobRunner
) -> None:
    validate(client, auth, area, {"validator_image": IMAGE, "environment": {"EXIT_CODE": "3"}})
    [body] = drain(api_context.queue("validation"))
    for _ in range(3):
        handle_scheduling_message(api_context, body)
    jobs = list((runner.state_dir).iterdir())
    assert len(jobs) == 1
    spec = json.loads((jobs[0] / "spec.json").read_text())
    env = job_environment(runner, jobs[0].name)
    validation_id = json.loads(body)["validation_id"]
    assert env["UPLOAD_VALIDATION_ID"] == validation_id
    assert env["UPLOAD_CALLBACK_URL"].endswith(f"/v1/area/{area}/update_validation/{validation_id}")
    # The caller's variables travel in one variable that only the harness reads, never at the top.
    assert "EXIT_CODE" not in env
    assert json.loads(env["UPLOAD_VALIDATOR_ENVIRONMENT"]) == {"EXIT_CODE": "3"}
    assert spec["argv"][-1] == api_context.store.url + f"/{area}/R1.fastq"
    with api_context.sessions() as session:
        validation = session.get(Validation, uuid.UUID(validation_id))
        assert validation is not None
        assert (validation.status, validation.job_id) == (ValidationStatus.SCHEDULED, jobs[0].name)


def report(
    client: TestClient, area: str, validation_id: str, body: dict[str, Any], token: str | None = None
) -> Any:
    token = token or job_token("test-server-secret", "validation", validation_id, int(time.time()) + 3600)
    return client.post(
        f"/v1/area/{area}/update_validation/{validation_id}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_harness_reports_and_one_notification_per_file(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    body = {
        "validator_image": IMAGE,
        "files": ["R1.fastq", "R2.fastq"],
        "original_validation_id": "first-try",
    }
    validation_id = client.put(f"/v1/area/{area}/validate", json=body, headers=auth).json()["validation_id"]
    assert report(client, area, validation_id, {"status": "VALIDATING"}, token="wrong").status_code == 401
    other = job_token("test-server-secret", "validation", str(uuid.uuid4()), int(time.time()) + 3600)
    assert report(client, area, validation_id, {"status": "VALIDATING"}, token=other).status_code == 401
    # The scheduler has not run: a report now is out of order.
    assert report(client, area, validation_id, {"status": "VALIDATING"}).status_code == 409
    with api_context.sessions.begin() as session:
        session.execute(update(Validation).values(status="SCHEDULED", job_id="job-1"))
    assert report(client, area, validation_id, {"status": "VALIDATING", "job_id": "job-1"}).status_code == 204
    results = {
        "exit_code": 1,
        "status": "completed",
        "stdout": "invalid: R2.fastq record 3",
        "stderr": "",
        "duration_s": 0.1,
    }
    done = {"status": "VALIDATED", "job_id": "job-1", "payload": results}
    assert report(client, area, validation_id, done).status_code == 204
    assert report(client, area, validation_id, done).status_code == 204  # redelivered: no-op
    info = client.get(f"/v1/area/{area}/R2.fastq/validate").json()
    assert info == {
        "validation_status": "VALIDATED",
        "validation_results": "invalid: R2.fastq record 3",
        "validation_id": validation_id,
        "exit_code": 1,
        "image_digest": None,  # set by the scheduler, which did not run here
    }
    with api_context.sessions() as session:
        notes = session.scalars(select(Notification).where(Notification.event_type == "file_validated")).all()
    assert len(notes) == 2
    assert {note.payload["validation_id"] for note in notes} == {"first-try"}  # ingest's correlation id
    assert notes[0].payload["names"] == ["R1.fastq", "R2.fastq"]
    assert client.get(f"/v1/area/{area}/validations").json() == {
        "SCHEDULED": 0,
        "VALIDATING": 0,
        "VALIDATED": 1,
    }


def test_sweep_fails_a_validation_whose_job_failed(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext, runner: LocalJobRunner
) -> None:
    validate(client, auth, area, {"validator_image": IMAGE, "environment": {"EXIT_CODE": "9"}})
    [body] = drain(api_context.queue("validation"))
    job_id = schedule(api_context, json.loads(body)["validation_id"])
    assert job_id is not None
    wait_until(lambda: runner.describe(job_id).state is JobState.FAILED, what="the job to fail")
    assert sweep(api_context, now=utcnow() + timedelta(minutes=10)).failed == 1
    info = client.get(f"/v1/area/{area}/R1.fastq/validate").json()
    assert info["validation_status"] == "FAILED"
    with api_context.sessions() as session:
        validation = session.scalars(select(Validation)).one()
        assert validation.reason is not None
        assert f"job {job_id} failed" in validation.reason
        note = session.scalars(select(Notification).where(Notification.event_type == "file_validated")).one()
        assert note.payload["status"] == "failed"


def test_sweep_requeues_a_lost_scheduling_message(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    validation_id = validate(client, auth, area, {"validator_image": IMAGE}).json()["validation_id"]
    drain(api_context.queue("validation"))  # the message is lost
    assert sweep(api_context).requeued == 0  # too early to call it lost
    assert sweep(api_context, now=utcnow() + timedelta(minutes=10)).requeued == 1
    assert [json.loads(b)["validation_id"] for b in drain(api_context.queue("validation"))] == [validation_id]


def validation_row(context: ApiContext, validation_id: str) -> Validation:
    with context.sessions() as session:
        validation = session.get(Validation, uuid.UUID(validation_id))
        assert validation is not None
        return validation


def failed_notifications(context: ApiContext) -> list[Notification]:
    with context.sessions() as session:
        return list(
            session.scalars(select(Notification).where(Notification.event_type == "file_validated")).all()
        )


def test_a_job_the_runner_refuses_fails_the_validation_at_once(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext, runner: LocalJobRunner
) -> None:
    # Allowed, but the local runner has no command for it.
    allowed = {"validator_images": (IMAGE, "quay.io/nobody/unknown:1")}
    api_context.settings = api_context.settings.model_copy(update=allowed)
    validate(client, auth, area, {"validator_image": "quay.io/nobody/unknown:1"})
    [body] = drain(api_context.queue("validation"))
    validation_id = json.loads(body)["validation_id"]

    handle_scheduling_message(api_context, body)  # returns: the message is done with
    handle_scheduling_message(api_context, body)  # redelivered: changes nothing

    validation = validation_row(api_context, validation_id)
    assert (validation.status, validation.scheduling_attempts) == (ValidationStatus.FAILED, 1)
    assert validation.reason is not None
    assert validation.reason.startswith("the job could not be submitted (it was refused): ")
    assert "no local command for image 'quay.io/nobody/unknown:1'" in validation.reason
    [note] = failed_notifications(api_context)
    assert (note.payload["status"], note.payload["exception"]) == ("failed", validation.reason)
    assert client.get(f"/v1/area/{area}/R1.fastq/validate").json()["validation_status"] == "FAILED"
    assert not runner.state_dir.exists()  # no job was started


def test_a_submission_that_fails_is_retried_then_the_validation_fails(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext, tmp_path: Path
) -> None:
    # The runner cannot write its state (a file where its directory should be): a fault that may pass.
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    api_context.job_runner = LocalJobRunner(blocked / "jobs", {IMAGE: ["true"]}, sandbox=False)
    api_context.settings = api_context.settings.model_copy(update={"validation_scheduling_max_attempts": 3})
    validate(client, auth, area, {"validator_image": IMAGE})
    [body] = drain(api_context.queue("validation"))
    validation_id = json.loads(body)["validation_id"]

    for attempt in (1, 2):  # raised: the message is delivered again
        with pytest.raises(JobRunnerError, match="could not start local job"):
            handle_scheduling_message(api_context, body)
        validation = validation_row(api_context, validation_id)
        assert (validation.status, validation.scheduling_attempts) == (
            ValidationStatus.SCHEDULING_QUEUED,
            attempt,
        )
        assert failed_notifications(api_context) == []
    handle_scheduling_message(api_context, body)  # the last attempt: FAILED, the message done with

    validation = validation_row(api_context, validation_id)
    assert (validation.status, validation.scheduling_attempts) == (ValidationStatus.FAILED, 3)
    assert validation.reason is not None
    assert validation.reason.startswith("the job could not be submitted (after 3 attempt(s)): ")
    [note] = failed_notifications(api_context)
    assert note.payload["status"] == "failed"


def test_a_submission_that_failed_once_succeeds_when_retried(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext, runner: LocalJobRunner
) -> None:
    validate(client, auth, area, {"validator_image": IMAGE})
    [body] = drain(api_context.queue("validation"))
    validation_id = json.loads(body)["validation_id"]
    blocked = runner.state_dir.parent / "blocked"
    blocked.write_text("")
    api_context.job_runner = LocalJobRunner(blocked / "jobs", {IMAGE: ["true"]}, sandbox=False)
    with pytest.raises(JobRunnerError):
        handle_scheduling_message(api_context, body)
    api_context.job_runner = runner  # the fault passed

    handle_scheduling_message(api_context, body)

    validation = validation_row(api_context, validation_id)
    assert (validation.status, validation.scheduling_attempts) == (ValidationStatus.SCHEDULED, 2)
    assert failed_notifications(api_context) == []


def test_the_sweeps_requeues_count_as_attempts_and_end_in_failed(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    api_context.settings = api_context.settings.model_copy(update={"validation_scheduling_max_attempts": 2})
    validation_id = validate(client, auth, area, {"validator_image": IMAGE}).json()["validation_id"]
    drain(api_context.queue("validation"))  # lost: no scheduler ever sees it
    later = utcnow()
    for attempt in (1, 2):
        later += timedelta(minutes=10)
        assert sweep(api_context, now=later).requeued == 1
        assert [json.loads(b)["validation_id"] for b in drain(api_context.queue("validation"))] == [
            validation_id
        ]  # and lost again
        assert validation_row(api_context, validation_id).scheduling_attempts == attempt

    report = sweep(api_context, now=later + timedelta(minutes=10))

    assert (report.requeued, report.failed) == (0, 1)
    validation = validation_row(api_context, validation_id)
    assert validation.status is ValidationStatus.FAILED
    assert validation.reason == "the job could not be submitted after 2 attempt(s)"
    [note] = failed_notifications(api_context)
    assert (note.payload["status"], note.payload["validation_id"]) == ("failed", validation_id)
    assert drain(api_context.queue("validation")) == []


def _validations(context: ApiContext) -> list[Validation]:
    with context.sessions() as session:
        return list(session.scalars(select(Validation)).all())


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("x; rm -rf /", "is not a valid image reference"),
        ("Evil/Image:latest", "is not a valid image reference (bad path component 'Image'"),
        (f"{IMAGE}@sha256:1234", "a digest is sha256: and 64 lowercase hex digits"),
        ("evil/image:latest", "is not allowed; the allowed images are: "),
        (f"{IMAGE}:1", "is not allowed"),  # another tag of a listed name
    ],
)
def test_an_image_malformed_or_not_allowed_is_refused_when_asked_for(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext, image: str, problem: str
) -> None:
    single = validate(client, auth, area, {"validator_image": image})
    multi = client.put(
        f"/v1/area/{area}/validate", json={"validator_image": image, "files": ["R1.fastq"]}, headers=auth
    )

    for response in (single, multi):
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert problem in problem_of(response)["detail"]
    if "not allowed" in problem:  # the answer lists what is allowed (no secret)
        assert "dcp-upload/validator-json" in problem_of(single)["detail"]
    assert _validations(api_context) == []
    assert drain(api_context.queue("validation")) == []


def test_a_prefix_entry_admits_the_images_under_it_and_only_those(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    prefix = "123456789012.dkr.ecr.us-east-1.amazonaws.com/dcp-upload-validators/"
    api_context.settings = api_context.settings.model_copy(update={"validator_images": (prefix,)})

    assert validate(client, auth, area, {"validator_image": f"{prefix}x:1"}).status_code == 200
    assert validate(client, auth, area, {"validator_image": f"{prefix}team/y"}).status_code == 200
    outside = validate(client, auth, area, {"validator_image": f"{prefix.rstrip('/')}-evil/x:1"})
    assert outside.status_code == 400
    assert f"the allowed images are: {prefix} " in problem_of(outside)["detail"]
    # A list that is set replaces the default (the local validators).
    assert validate(client, auth, area, {"validator_image": IMAGE}).status_code == 400


def test_a_digest_may_pin_a_listed_image(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    pinned = f"{IMAGE}@sha256:{'a' * 64}"

    response = validate(client, auth, area, {"validator_image": pinned})

    assert response.status_code == 200
    assert validation_row(api_context, response.json()["validation_id"]).image == pinned


def test_the_scheduler_refuses_an_image_removed_from_the_list(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext, runner: LocalJobRunner
) -> None:
    validation_id = validate(client, auth, area, {"validator_image": IMAGE}).json()["validation_id"]
    [body] = drain(api_context.queue("validation"))
    api_context.settings = api_context.settings.model_copy(
        update={"validator_images": ("quay.io/hca/other-validator:1",)}
    )

    handle_scheduling_message(api_context, body)

    validation = validation_row(api_context, validation_id)
    assert (validation.status, validation.image_digest) == (ValidationStatus.FAILED, None)
    assert validation.reason is not None
    assert validation.reason.startswith(
        "the job could not be submitted (it was refused): the image is no longer allowed: "
        f"validator image '{IMAGE}' is not allowed"
    )
    [note] = failed_notifications(api_context)
    assert (note.payload["status"], note.payload["image_digest"]) == ("failed", None)
    assert not runner.state_dir.exists()  # nothing ran


def test_the_digest_of_what_the_job_ran_is_recorded_not_what_the_job_says(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext, runner: LocalJobRunner
) -> None:
    validation_id = validate(client, auth, area, {"validator_image": IMAGE}).json()["validation_id"]
    [body] = drain(api_context.queue("validation"))

    job_id = schedule(api_context, json.loads(body)["validation_id"])

    assert job_id is not None
    wait_until(lambda: runner.describe(job_id).state.final, what="the job to end")
    assert runner.describe(job_id).state is JobState.SUCCEEDED
    digest = runner.resolve_image(IMAGE).digest  # the stand-in validator's command (see `runner`)
    assert validation_row(api_context, validation_id).image_digest == digest
    assert client.get(f"/v1/area/{area}/R1.fastq/validate").json()["image_digest"] == digest
    # The job is untrusted: a digest in its report changes nothing.
    forged = {"exit_code": 0, "status": "completed", "stdout": "", "image_digest": f"sha256:{'f' * 64}"}
    assert report(client, area, validation_id, {"status": "VALIDATING", "job_id": job_id}).status_code == 204
    done = {"status": "VALIDATED", "job_id": job_id, "payload": forged}
    assert report(client, area, validation_id, done).status_code == 204
    [note] = failed_notifications(api_context)  # file_validated, VALIDATED here
    assert (note.payload["status"], note.payload["image_digest"]) == ("completed", digest)
    info = client.get(f"/v1/area/{area}/R1.fastq/validate").json()
    assert (info["validation_status"], info["image_digest"]) == ("VALIDATED", digest)


def test_on_batch_the_digest_ecr_gives_is_recorded_and_the_job_runs_by_it(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    batch = MotoBatch()  # in the `aws` fixture's moto
    image, digest = ecr_image("dcp-upload-validators/fastq", "1.0")
    api_context.settings = api_context.settings.model_copy(
        update={"job_runner": "aws-batch", "validator_images": (f"{ECR_REGISTRY}/dcp-upload-validators/",)}
    )
    api_context.job_runner = BatchJobRunner(batch.client, JOB_QUEUE, batch.role_arn, "upload-test")
    validation_id = validate(client, auth, area, {"validator_image": image}).json()["validation_id"]
    [body] = drain(api_context.queue("validation"))

    job_id = schedule(api_context, json.loads(body)["validation_id"])

    assert job_id is not None
    validation = validation_row(api_context, validation_id)
    assert (validation.status, validation.image, validation.image_digest) == (
        ValidationStatus.SCHEDULED,
        image,
        digest,
    )
    job = batch.client.describe_jobs(jobs=[job_id])["jobs"][0]
    [definition] = batch.client.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])[
        "jobDefinitions"
    ]
    assert (
        definition["containerProperties"]["image"] == f"{ECR_REGISTRY}/dcp-upload-validators/fastq@{digest}"
    )


def test_on_aws_batch_the_api_and_the_scheduler_do_not_start_without_an_allow_list(
    api_context: ApiContext,
) -> None:
    api_context.settings = api_context.settings.model_copy(
        update={"job_runner": "aws-batch", "batch_job_queue": JOB_QUEUE}
    )

    for start in (lambda: create_app(api_context), lambda: validation_job_runner(api_context.settings)):
        with pytest.raises(ConfigurationError, match="UPLOAD_VALIDATOR_IMAGES must be set when"):
            start()


HOST_TERMINATED = "Host EC2 (instance i-0123456789abcdef0) terminated."


def batch_validation(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> tuple[MotoBatch, str]:
    """A validation to be run on (moto's) AWS Batch, queued but not scheduled yet."""
    batch = MotoBatch()  # in the `aws` fixture's moto
    image, _ = ecr_image("dcp-upload-validators/fastq", "1.0")
    api_context.settings = api_context.settings.model_copy(
        update={
            "job_runner": "aws-batch",
            "validator_images": (f"{ECR_REGISTRY}/dcp-upload-validators/",),
            "validation_scheduling_max_attempts": 3,
        }
    )
    api_context.job_runner = BatchJobRunner(batch.client, JOB_QUEUE, batch.role_arn, "upload-test")
    validation_id = validate(client, auth, area, {"validator_image": image}).json()["validation_id"]
    drain(api_context.queue("validation"))
    return batch, validation_id


def test_a_job_lost_to_a_spot_interruption_is_submitted_again_until_out_of_attempts(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    batch, validation_id = batch_validation(client, auth, area, api_context)
    jobs: list[str] = []
    while True:
        job_id = schedule(api_context, validation_id)
        assert job_id is not None
        assert job_id not in jobs  # a new job each time
        jobs.append(job_id)
        batch.fail(job_id, HOST_TERMINATED)  # Batch's own retries were used up too

        report = sweep(api_context, now=utcnow() + timedelta(minutes=10))

        validation = validation_row(api_context, validation_id)
        if report.requeued == 0:
            break
        assert (validation.status, validation.job_id) == (ValidationStatus.SCHEDULING_QUEUED, None)
        assert validation.reason is not None
        assert f"job {job_id} was interrupted: {HOST_TERMINATED}" in validation.reason
        assert [json.loads(b)["validation_id"] for b in drain(api_context.queue("validation"))] == [
            validation_id
        ]
    # Every submission and every resubmission counts against validation_scheduling_max_attempts.
    assert (report.failed, validation.status, validation.scheduling_attempts) == (
        1,
        ValidationStatus.FAILED,
        3,
    )
    assert len(jobs) == 2
    [note] = failed_notifications(api_context)
    assert note.payload["status"] == "failed"
    assert f"job {jobs[-1]} was interrupted" in note.payload["exception"]


def test_an_application_failure_on_batch_is_not_submitted_again(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    batch, validation_id = batch_validation(client, auth, area, api_context)
    job_id = schedule(api_context, validation_id)
    assert job_id is not None
    batch.play(job_id, ["exit", "3"])

    report = sweep(api_context, now=utcnow() + timedelta(minutes=10))

    assert (report.requeued, report.failed) == (0, 1)
    validation = validation_row(api_context, validation_id)
    assert validation.status is ValidationStatus.FAILED
    assert f"job {job_id} failed" in (validation.reason or "")
    assert drain(api_context.queue("validation")) == []


def test_a_vanished_validation_job_is_submitted_again(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    batch, validation_id = batch_validation(client, auth, area, api_context)
    job_id = schedule(api_context, validation_id)
    assert job_id is not None
    from moto.batch.models import batch_backends  # noqa: PLC0415 - moto's own record of the jobs
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415

    del batch_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]._jobs[job_id]  # Batch forgot the job

    assert sweep(api_context, now=utcnow() + timedelta(minutes=10)).requeued == 1
    validation = validation_row(api_context, validation_id)
    assert (validation.status, validation.job_id) == (ValidationStatus.SCHEDULING_QUEUED, None)
    assert batch.client.describe_jobs(jobs=[job_id])["jobs"] == []
