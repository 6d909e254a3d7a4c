"""Checksum status of a file and counts for an area, from the database."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from starlette.testclient import TestClient

from support.api_helpers import problem_of
from support.factories import make_checksum, make_file
from upload_api.context import ApiContext
from upload_common.models import UploadArea
from upload_common.statuses import ChecksumStatus


def _area(client: TestClient, auth: dict[str, str]) -> str:
    area_uuid = str(uuid.uuid4())
    client.post(f"/v1/area/{area_uuid}", headers=auth)
    return area_uuid


def test_file_checksum_follows_the_newest_run_of_the_current_version(
    client: TestClient, auth: dict[str, str], api_context: ApiContext
) -> None:
    area_uuid = _area(client, auth)
    with api_context.sessions.begin() as session:
        area = session.scalars(select(UploadArea).where(UploadArea.uuid == area_uuid)).one()
        old = make_file(session, area, name="r1.fastq", etag="old")
        make_checksum(session, old, status=ChecksumStatus.CHECKSUMMED)
        current = make_file(session, area, name="r1.fastq", etag="new")
        make_checksum(session, current, status=ChecksumStatus.ABORTED)
        make_checksum(session, current, status=ChecksumStatus.CHECKSUMMING)
        make_file(session, area, name="r2.fastq")
    assert client.get(f"/v1/area/{area_uuid}/r1.fastq/checksum").json() == {
        "checksum_status": "CHECKSUMMING",
        "checksums": None,
    }
    assert client.get(f"/v1/area/{area_uuid}/r2.fastq/checksum").json()["checksum_status"] == "UNSCHEDULED"
    missing = client.get(f"/v1/area/{area_uuid}/r3.fastq/checksum")
    assert missing.status_code == 404
    problem_of(missing)


def test_area_counts_count_each_file_once(
    client: TestClient, auth: dict[str, str], api_context: ApiContext
) -> None:
    area_uuid = _area(client, auth)
    with api_context.sessions.begin() as session:
        area = session.scalars(select(UploadArea).where(UploadArea.uuid == area_uuid)).one()
        done = make_file(session, area, name="done")
        make_checksum(session, done, status=ChecksumStatus.ABORTED)
        make_checksum(session, done, status=ChecksumStatus.CHECKSUMMED)  # the newest run counts
        make_checksum(session, make_file(session, area, name="running"), status=ChecksumStatus.CHECKSUMMING)
        make_checksum(session, make_file(session, area, name="broken"), status=ChecksumStatus.FAILED)
        make_file(session, area, name="waiting")
        superseded = make_file(session, area, name="twice", etag="v1")
        make_checksum(session, superseded, status=ChecksumStatus.CHECKSUMMED)
        make_file(session, area, name="twice", etag="v2")  # current version, not yet scheduled
    assert client.get(f"/v1/area/{area_uuid}/checksums").json() == {
        "TOTAL_NUM_FILES": 5,
        "CHECKSUMMED": 1,
        "CHECKSUMMING": 1,
        "CHECKSUMMING_UNSCHEDULED": 2,
        "FAILED": 1,
    }


def test_empty_area_counts(client: TestClient, auth: dict[str, str]) -> None:
    area_uuid = _area(client, auth)
    assert client.get(f"/v1/area/{area_uuid}/checksums").json() == {
        "TOTAL_NUM_FILES": 0,
        "CHECKSUMMED": 0,
        "CHECKSUMMING": 0,
        "CHECKSUMMING_UNSCHEDULED": 0,
    }
    assert client.get(f"/v1/area/{uuid.uuid4()}/checksums").status_code == 404
