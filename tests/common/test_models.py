"""Model behaviour that must hold on both databases: types, constraints, cascades, time zones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from support.factories import make_area, make_checksum, make_file, make_validation
from upload_common.models import ChecksumRun, FileVersion, UploadArea, ValidationFile
from upload_common.statuses import AreaStatus


def test_timestamps_come_back_timezone_aware_utc(db_session: Session) -> None:
    paris = timezone(timedelta(hours=1))
    area = make_area(db_session, expires_at=datetime(2030, 1, 1, 12, 0, tzinfo=paris))
    db_session.expire(area)
    assert area.expires_at == datetime(2030, 1, 1, 11, 0, tzinfo=UTC)
    assert area.expires_at.utcoffset() == timedelta(0)
    assert area.created_at.tzinfo is not None


def test_naive_timestamps_are_refused(db_session: Session) -> None:
    with pytest.raises(StatementError, match="timezone-aware"):
        make_area(db_session, expires_at=datetime(2030, 1, 1))  # noqa: DTZ001 - the point of the test


def test_json_and_uuid_round_trip(db_session: Session) -> None:
    checksums = {"sha1": "a" * 40, "sha256": "b" * 64, "crc32c": "0000abcd", "s3_etag": "c" * 32 + "-3"}
    file = make_file(db_session, checksums=checksums, name="dir/sub dir/ünïcödé.fastq.gz")
    run = make_checksum(db_session, file)
    db_session.expire_all()
    loaded = db_session.get(FileVersion, file.id)
    assert loaded is not None
    assert loaded.checksums == checksums
    assert loaded.name == "dir/sub dir/ünïcödé.fastq.gz"
    assert isinstance(db_session.get(ChecksumRun, run.id), ChecksumRun)
    assert isinstance(run.id, uuid.UUID)


def test_one_row_per_file_version(db_session: Session) -> None:
    file = make_file(db_session)
    make_file(db_session, db_session.get(UploadArea, file.area_id), name=file.name, etag="other")
    with pytest.raises(IntegrityError):
        make_file(db_session, db_session.get(UploadArea, file.area_id), name=file.name, etag=file.etag)


def test_area_uuid_is_unique(db_session: Session) -> None:
    area = make_area(db_session)
    with pytest.raises(IntegrityError):
        make_area(db_session, uuid=area.uuid)


def test_unknown_status_is_refused(db_session: Session) -> None:
    db_session.add(UploadArea(uuid=str(uuid.uuid4()), bucket="b", status="CREATING"))
    with pytest.raises(StatementError):
        db_session.flush()


def test_check_constraint_guards_status_column_against_raw_sql(db_session: Session) -> None:
    with pytest.raises(IntegrityError):
        db_session.execute(
            text(
                "INSERT INTO upload_area (uuid, bucket, status, created_at, updated_at) "
                "VALUES ('x', 'b', 'CREATING', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )


def test_validation_files_keep_their_order(db_session: Session) -> None:
    area = make_area(db_session)
    r2 = make_file(db_session, area, name="R2.fastq")
    r1 = make_file(db_session, area, name="R1.fastq")
    validation = make_validation(db_session, [r2, r1])
    db_session.expire_all()
    rows = db_session.scalars(
        select(ValidationFile)
        .where(ValidationFile.validation_id == validation.id)
        .order_by(ValidationFile.position)
    ).all()
    assert [row.file.name for row in rows] == ["R2.fastq", "R1.fastq"]
    assert [vf.file.name for vf in validation.files] == ["R2.fastq", "R1.fastq"]


def test_deleting_an_area_row_cascades_in_the_database(db_session: Session) -> None:
    file = make_file(db_session)
    make_checksum(db_session, file)
    db_session.execute(text("DELETE FROM upload_area WHERE id = :id"), {"id": file.area_id})
    assert db_session.scalar(select(ChecksumRun).where(ChecksumRun.file_id == file.id)) is None


def test_new_area_defaults(db_session: Session) -> None:
    area = make_area(db_session)
    assert area.status is AreaStatus.UNLOCKED
    assert area.created_at <= datetime.now(UTC)
