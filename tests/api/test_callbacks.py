"""`update_checksum`: only the job holding the record's unexpired token may report, and reports are
idempotent."""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from support.api_helpers import problem_of
from support.factories import make_checksum, make_file
from upload_api.context import ApiContext
from upload_common.callback_tokens import CallbackKind, job_token
from upload_common.models import ChecksumRun, FileVersion, Notification, UploadArea
from upload_common.statuses import ChecksumStatus

CHECKSUMS = {
    "sha1": hashlib.sha1(b"x").hexdigest(),  # noqa: S324
    "sha256": hashlib.sha256(b"x").hexdigest(),
    "crc32c": "00000000",
    "s3_etag": hashlib.md5(b"x").hexdigest(),  # noqa: S324
}


def token_for(record: str, kind: CallbackKind = "checksum", *, expires_in: float = 3600) -> str:
    return job_token("test-server-secret", kind, record, int(time.time() + expires_in))


@pytest.fixture
def run(client: TestClient, auth: dict[str, str], api_context: ApiContext) -> tuple[str, str]:
    area_uuid = str(uuid.uuid4())
    client.post(f"/v1/area/{area_uuid}", headers=auth)
    with api_context.sessions.begin() as session:
        area = session.scalars(select(UploadArea).where(UploadArea.uuid == area_uuid)).one()
        checksum = make_checksum(
            session, make_file(session, area, name="big.bam", client_checksums={"crc32c": "00000000"})
        )
        return area_uuid, str(checksum.id)


def report(
    client: TestClient, area_uuid: str, record: str, token: str | None, body: dict[str, object]
) -> object:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(f"/v1/area/{area_uuid}/update_checksum/{record}", json=body, headers=headers)


def test_reports_without_the_record_token_are_refused(client: TestClient, run: tuple[str, str]) -> None:
    area_uuid, record = run
    body = {"status": "CHECKSUMMING", "job_id": "j1"}
    assert report(client, area_uuid, record, None, body).status_code == 401
    assert report(client, area_uuid, record, "wrong", body).status_code == 401
    other = token_for(str(uuid.uuid4()))  # a valid token, for another record
    assert report(client, area_uuid, record, other, body).status_code == 401
    validation_token = token_for(record, "validation")
    assert report(client, area_uuid, record, validation_token, body).status_code == 401
    problem_of(report(client, area_uuid, record, other, body))


def test_an_expired_or_extended_token_is_refused(client: TestClient, run: tuple[str, str]) -> None:
    area_uuid, record = run
    body = {"status": "CHECKSUMMING", "job_id": "j1"}
    expired = report(client, area_uuid, record, token_for(record, expires_in=-1), body)
    assert expired.status_code == 401
    assert "expired" in problem_of(expired)["detail"]
    # Moving the expiry forward breaks the HMAC: refused as any forged token.
    valid = token_for(record)
    expiry, digest = valid.split(".")
    extended = report(client, area_uuid, record, f"{int(expiry) + 86400}.{digest}", body)
    assert extended.status_code == 401
    assert "expired" not in problem_of(extended).get("detail", "")
    assert report(client, area_uuid, record, valid, body).status_code == 204


def test_job_progress_then_result(client: TestClient, run: tuple[str, str], api_context: ApiContext) -> None:
    area_uuid, record = run
    token = token_for(record)
    assert (
        report(client, area_uuid, record, token, {"status": "CHECKSUMMING", "job_id": "j1"}).status_code
        == 204
    )
    done = {"status": "CHECKSUMMED", "job_id": "j1", "payload": {"checksums": CHECKSUMS}}
    assert report(client, area_uuid, record, token, done).status_code == 204
    assert report(client, area_uuid, record, token, done).status_code == 204  # redelivered: no-op
    with api_context.sessions() as session:
        checksum = session.get(ChecksumRun, uuid.UUID(record))
        assert checksum is not None
        assert (checksum.status, checksum.job_id) == (ChecksumStatus.CHECKSUMMED, "j1")
        version = session.get(FileVersion, checksum.file_id)
        assert version is not None
        assert version.checksums == CHECKSUMS
        assert version.status == "CHECKSUMMED"
        notes = session.scalars(select(Notification).where(Notification.file_id == version.id)).all()
        assert len(notes) == 1
        assert notes[0].payload["corrupt"] is False
    late = report(client, area_uuid, record, token, {"status": "CHECKSUMMING", "job_id": "j1"})
    assert late.status_code == 409
    problem_of(late)


def test_mismatch_with_the_declared_crc32c_marks_the_version_corrupt(
    client: TestClient, run: tuple[str, str], api_context: ApiContext
) -> None:
    area_uuid, record = run
    token = token_for(record)
    body = {"status": "CHECKSUMMED", "payload": {"checksums": CHECKSUMS | {"crc32c": "deadbeef"}}}
    assert report(client, area_uuid, record, token, body).status_code == 204
    with api_context.sessions() as session:
        version = session.scalars(
            select(FileVersion).join(ChecksumRun).where(ChecksumRun.id == uuid.UUID(record))
        ).one()
        assert version.status == "CORRUPT"
        note = session.scalars(select(Notification).where(Notification.file_id == version.id)).one()
        assert note.payload["corrupt"] is True


def test_failed_job_records_the_reason(
    client: TestClient, run: tuple[str, str], api_context: ApiContext
) -> None:
    area_uuid, record = run
    token = token_for(record)
    body = {"status": "FAILED", "job_id": "j9", "payload": {"reason": "container killed: OOM"}}
    assert report(client, area_uuid, record, token, body).status_code == 204
    with api_context.sessions() as session:
        checksum = session.get(ChecksumRun, uuid.UUID(record))
        assert checksum is not None
        assert (checksum.status, checksum.reason) == (ChecksumStatus.FAILED, "container killed: OOM")


@pytest.mark.parametrize(
    "body",
    [
        {"status": "DONE"},
        {"status": "SCHEDULED"},
        {"status": "CHECKSUMMED", "payload": {}},
        {"status": "CHECKSUMMED", "payload": {"checksums": CHECKSUMS | {"sha1": "xyz"}}},
        {"status": "CHECKSUMMED", "payload": {"checksums": CHECKSUMS | {"s3_etag": "abc-0"}}},
        {"job_id": "no status"},
    ],
)
def test_malformed_reports_are_400(client: TestClient, run: tuple[str, str], body: dict[str, object]) -> None:
    area_uuid, record = run
    response = report(client, area_uuid, record, token_for(record), body)
    assert response.status_code == 400
    problem_of(response)


def test_report_for_a_record_of_another_area_is_404(
    client: TestClient, auth: dict[str, str], run: tuple[str, str]
) -> None:
    _, record = run
    other_area = str(uuid.uuid4())
    client.post(f"/v1/area/{other_area}", headers=auth)
    token = token_for(record)
    assert report(client, other_area, record, token, {"status": "CHECKSUMMING"}).status_code == 404
