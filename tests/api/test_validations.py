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
from support.waiting import wait_until
from upload_api.context import ApiContext
from upload_api.workers.scheduler import handle_scheduling_message, schedule
from upload_api.workers.validation_sweep import sweep
from upload_common.callback_tokens import job_token
from upload_common.errors import JobRunnerError
from upload_common.jobs import JobState
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
    # A stand-in validator image that records its arguments and exits with the code it is given.
    runner = LocalJobRunner(
        tmp_path / "jobs",
        {IMAGE: ["sh", "-c", f'{DUMP_ENVIRONMENT}; echo "$@"; exit "${{EXIT_CODE:-0}}"', "validator"]},
        sandbox=False,
    )
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
    assert env["EXIT_CODE"] == "3"
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
