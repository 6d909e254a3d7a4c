"""A validation's `environment` through the API: refused names answered 400 when asked for, checked again
when the job is built, and passed to the job packed in one variable."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from support.api_helpers import drain, problem_of
from upload_api.context import ApiContext
from upload_api.workers.scheduler import handle_scheduling_message
from upload_common.jobs.local import LocalJobRunner
from upload_common.models import Notification, Validation
from upload_common.statuses import ValidationStatus

IMAGE = "dcp-upload/validator-fastq"


@pytest.fixture
def area(client: TestClient, auth: dict[str, str]) -> str:
    area_uuid = str(uuid.uuid4())
    client.post(f"/v1/area/{area_uuid}", headers=auth)
    client.put(
        f"/v1/area/{area_uuid}/R1.fastq",
        headers={**auth, "Content-Type": "text/plain; dcp-type=data"},
        content=b"@r1\nACGT\n+\nIIII\n",
    )
    return area_uuid


def both_ways(client: TestClient, auth: dict[str, str], area: str, environment: dict[str, Any]) -> list[Any]:
    """The single-file and the multi-file request, with the same environment."""
    return [
        client.put(
            f"/v1/area/{area}/R1.fastq/validate",
            json={"validator_image": IMAGE, "environment": environment},
            headers=auth,
        ),
        client.put(
            f"/v1/area/{area}/validate",
            json={"validator_image": IMAGE, "files": ["R1.fastq"], "environment": environment},
            headers=auth,
        ),
    ]


def test_loader_interpreter_and_service_variables_are_refused_by_name(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    environment = {
        "PYTHONPATH": "/srv/storage/area",
        "LD_PRELOAD": "/x.so",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/x",
        "UPLOAD_CALLBACK_TOKEN": "t",
        "PATH": "/usr/bin",
        "MODE": "strict",
    }

    for response in both_ways(client, auth, area, environment):
        assert response.status_code == 400
        detail = problem_of(response)["detail"]
        assert detail == (
            "environment: reserved for the service, or unsafe for a validator (loader, interpreter, shell "
            "and path variables): AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, LD_PRELOAD, PATH, PYTHONPATH, "
            "UPLOAD_CALLBACK_TOKEN"
        )
    with api_context.sessions() as session:
        assert session.query(Validation).count() == 0
    assert drain(api_context.queue("validation")) == []


@pytest.mark.parametrize(
    ("environment", "problem"),
    [
        ({"BAD-NAME": "x"}, "names must match"),
        ({"V": "a\u0000b"}, "NUL"),  # refused where the body is read, and by the rule too
        ({"V": "x" * 2049}, "values must be at most 2048 characters"),
        ({f"V{i}": "" for i in range(65)}, "at most 64 variables"),
    ],
)
def test_malformed_or_oversized_environments_are_refused(
    client: TestClient, auth: dict[str, str], area: str, environment: dict[str, str], problem: str
) -> None:
    for response in both_ways(client, auth, area, environment):
        assert response.status_code == 400
        assert problem in problem_of(response)["detail"]


def test_a_stored_environment_refused_since_fails_the_validation_unrun(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext, tmp_path: Path
) -> None:
    runner = LocalJobRunner(tmp_path / "jobs", {IMAGE: ["true"]}, sandbox=False)
    api_context.job_runner = runner
    [response, _] = both_ways(client, auth, area, {"MODE": "strict"})
    validation_id = response.json()["validation_id"]
    drain(api_context.queue("validation"))
    # Recorded under an older rule (the seed refused nothing): what the scheduler finds in the row.
    with api_context.sessions.begin() as session:
        session.execute(
            update(Validation)
            .where(Validation.id == uuid.UUID(validation_id))
            .values(environment={"PYTHONPATH": "/srv/storage/area", "MODE": "strict"})
        )

    handle_scheduling_message(
        api_context, json.dumps({"type": "validation_scheduling", "validation_id": validation_id})
    )

    with api_context.sessions() as session:
        validation = session.get(Validation, uuid.UUID(validation_id))
        assert validation is not None
        assert validation.status is ValidationStatus.FAILED
        assert validation.reason is not None
        assert validation.reason.startswith(
            "the job could not be submitted (it was refused): its environment is no longer allowed: "
        )
        assert validation.reason.endswith("(loader, interpreter, shell and path variables): PYTHONPATH")
        note = session.query(Notification).filter(Notification.event_type == "file_validated").one()
        assert note.payload["status"] == "failed"
    assert not runner.state_dir.exists()  # no job was started
