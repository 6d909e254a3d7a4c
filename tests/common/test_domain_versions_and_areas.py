"""The domain rules about areas and file versions, on PostgreSQL and SQLite (`db_session`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from support.factories import make_area, make_file
from upload_common.domain import areas
from upload_common.domain.versions import (
    current_version,
    current_versions,
    object_key,
    record_version,
    split_object_key,
    version_with_etag,
)
from upload_common.errors import AreaDeletedError, AreaLockedError, AreaNotFoundError, ConflictError
from upload_common.models import FileVersion
from upload_common.statuses import AreaStatus, FileOrigin, FileStatus
from upload_common.storage import ObjectInfo


def _info(etag: str, *, size: int = 3, metadata: dict[str, str] | None = None) -> ObjectInfo:
    return ObjectInfo(
        key="ignored",
        size=size,
        etag=etag,
        last_modified=datetime(2026, 1, 1, tzinfo=UTC),
        content_type="text/plain; dcp-type=data",
        metadata=metadata or {},
    )


def test_the_current_version_is_the_newest_for_one_file_and_for_the_listing(db_session: Session) -> None:
    area = make_area(db_session)
    old = make_file(db_session, area, name="a.txt", etag="1" * 32)
    new = make_file(db_session, area, name="a.txt", etag="2" * 32)
    other = make_file(db_session, area, name="b.txt", etag="3" * 32)

    assert current_version(db_session, area.id, "a.txt") is new
    assert current_version(db_session, area.id, "missing") is None
    listed = db_session.scalars(current_versions(area.id).order_by(FileVersion.name)).all()
    assert [v.id for v in listed] == [new.id, other.id]
    assert old.id not in {v.id for v in listed}


def test_record_version_records_a_version_once_with_its_declared_checksums(db_session: Session) -> None:
    area = make_area(db_session)
    info = _info("4" * 32, metadata={"crc32c": "1A2b3C", "other": "x"})

    first = record_version(db_session, area.id, "r.fastq", info, origin=FileOrigin.STORE)
    again = record_version(db_session, area.id, "r.fastq", info, origin=FileOrigin.API)

    assert again is first
    assert first.status is FileStatus.UPLOADED
    assert first.origin is FileOrigin.STORE
    assert first.client_checksums == {"crc32c": "001a2b3c"}
    assert version_with_etag(db_session, area.id, "r.fastq", "4" * 32) is first
    count = db_session.scalars(select(FileVersion).where(FileVersion.area_id == area.id)).all()
    assert len(count) == 1


def test_object_keys_put_the_area_first_and_split_back() -> None:
    key = object_key("deadbeef-dead-dead-dead-000000000001", "run 1/R1.fastq")
    assert key == "deadbeef-dead-dead-dead-000000000001/run 1/R1.fastq"
    assert split_object_key(key) == ("deadbeef-dead-dead-dead-000000000001", "run 1/R1.fastq")


@pytest.mark.parametrize(
    ("status", "exists", "writable", "processed"),
    [
        (AreaStatus.UNLOCKED, True, None, True),
        (AreaStatus.LOCKED, True, AreaLockedError, True),
        (AreaStatus.DELETION_QUEUED, True, ConflictError, False),
        (AreaStatus.DELETING, True, ConflictError, False),
        (AreaStatus.DELETED, False, AreaNotFoundError, False),
    ],
)
def test_which_areas_exist_accept_files_and_are_processed(
    db_session: Session,
    status: AreaStatus,
    exists: bool,
    writable: type[Exception] | None,
    processed: bool,
) -> None:
    area = make_area(db_session, status=status)

    assert areas.is_existing(db_session, area.uuid) is exists
    assert (areas.processed_area(db_session, area.uuid) is area) is processed
    if writable is None:
        assert areas.writable_area(db_session, area.uuid) is area
    else:
        with pytest.raises(writable):
            areas.writable_area(db_session, area.uuid)
    if exists:
        assert areas.existing_area(db_session, area.uuid) is area
    else:
        with pytest.raises(AreaNotFoundError):
            areas.existing_area(db_session, area.uuid)


def test_an_area_is_created_once_and_never_revived(db_session: Session) -> None:
    created = areas.create_area(db_session, "deadbeef-dead-dead-dead-000000000002", bucket="b")
    assert areas.create_area(db_session, created.uuid, bucket="b") is created
    created.status = AreaStatus.DELETED
    db_session.flush()
    with pytest.raises(AreaDeletedError):
        areas.create_area(db_session, created.uuid, bucket="b")


def test_deletion_goes_queued_deleting_deleted_and_marks_every_version(db_session: Session) -> None:
    area = make_area(db_session)
    version = make_file(db_session, area)

    assert areas.queue_deletion(db_session, area.uuid) is AreaStatus.DELETION_QUEUED
    assert areas.begin_deletion(db_session, area.uuid) is True
    assert areas.queue_deletion(db_session, area.uuid) is AreaStatus.DELETING  # resumes, stays DELETING
    assert areas.pause_deletion(db_session, area.uuid) is True
    assert areas.begin_deletion(db_session, area.uuid) is True
    assert areas.complete_deletion(db_session, area.uuid) is True
    db_session.refresh(version)

    assert area.status is AreaStatus.DELETED
    assert version.status is FileStatus.DELETED
    assert areas.begin_deletion(db_session, area.uuid) is False  # a redelivered message: nothing to do
    assert areas.complete_deletion(db_session, area.uuid) is True
    with pytest.raises(AreaNotFoundError):
        areas.set_lock(db_session, area.uuid, locked=True)
