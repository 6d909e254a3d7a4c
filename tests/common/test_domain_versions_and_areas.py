"""The domain rules about areas and file versions, on PostgreSQL and SQLite (`db_session`)."""

from __future__ import annotations

import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from support.factories import make_area, make_file
from support.scratch_database import scratch_database
from upload_common.db import make_engine, make_session_factory
from upload_common.domain import areas
from upload_common.domain.versions import (
    current_version,
    current_versions,
    object_key,
    record_version,
    record_version_row,
    split_object_key,
    version_with_etag,
)
from upload_common.errors import AreaDeletedError, AreaLockedError, AreaNotFoundError, ConflictError
from upload_common.models import FileVersion
from upload_common.statuses import AreaStatus, FileOrigin, FileStatus
from upload_common.storage import ObjectInfo
from upload_common.storage.base import store_order


def _info(
    etag: str, *, size: int = 3, metadata: dict[str, str] | None = None, order: int | None = None
) -> ObjectInfo:
    return ObjectInfo(
        key="ignored",
        size=size,
        etag=etag,
        last_modified=datetime(2026, 1, 1, tzinfo=UTC),
        content_type="text/plain; dcp-type=data",
        metadata=metadata or {},
        store_order=store_order(format(order, "x")) if order is not None else None,
    )


def _current_etags(session: Session, area_id: int) -> dict[str, str]:
    return {v.name: v.etag for v in session.scalars(current_versions(area_id))}


def test_the_current_version_is_the_one_the_store_holds_for_one_file_and_for_the_listing(
    db_session: Session,
) -> None:
    area = make_area(db_session)
    old = record_version(db_session, area.id, "a.txt", _info("1" * 32), origin=FileOrigin.STORE)
    new = record_version(db_session, area.id, "a.txt", _info("2" * 32), origin=FileOrigin.STORE)
    other = record_version(db_session, area.id, "b.txt", _info("3" * 32), origin=FileOrigin.STORE)

    assert current_version(db_session, area.id, "a.txt") is new
    assert current_version(db_session, area.id, "missing") is None
    listed = db_session.scalars(current_versions(area.id).order_by(FileVersion.name)).all()
    assert [v.id for v in listed] == [new.id, other.id]
    assert (old.current, new.current) == (False, True)


def test_the_store_order_decides_which_version_is_current_never_the_arrival(db_session: Session) -> None:
    area = make_area(db_session)
    a, b = "a" * 32, "b" * 32

    def seen(etag: str, order: int | None, *, held: bool) -> FileVersion:
        return record_version_row(
            db_session,
            area.id,
            "r.fastq",
            etag,
            lambda: FileVersion(area_id=area.id, name="r.fastq", etag=etag, size=1),
            held=held,
            store_order=store_order(format(order, "x")) if order is not None else None,
        )

    seen(b, 2, held=True)
    seen(a, 1, held=False)  # A's event, late: the store holds B
    seen(a, 1, held=True)  # ... and with a HEAD that was stale: B was written after A
    seen(a, None, held=False)
    assert _current_etags(db_session, area.id) == {"r.fastq": b}
    seen(a, 3, held=True)  # A written again after B (A, B, A): the same row, current again
    assert _current_etags(db_session, area.id) == {"r.fastq": a}
    assert seen(a, None, held=False).store_order == store_order("3")
    seen(b, 2, held=True)  # B's event redelivered, with a stale HEAD
    seen(a, 1, held=True)  # the first write of A: its row keeps the later order
    assert _current_etags(db_session, area.id) == {"r.fastq": a}
    count = db_session.scalars(select(FileVersion).where(FileVersion.area_id == area.id)).all()
    assert len(count) == 2


def test_without_a_known_order_what_the_store_holds_now_is_current(db_session: Session) -> None:
    area = make_area(db_session)
    record_version(db_session, area.id, "s3.txt", _info("1" * 32, order=5), origin=FileOrigin.STORE)
    record_version(db_session, area.id, "s3.txt", _info("2" * 32), origin=FileOrigin.API)  # a HEAD on S3
    assert _current_etags(db_session, area.id) == {"s3.txt": "2" * 32}


@pytest.mark.parametrize("status", [FileStatus.REJECTED, FileStatus.DELETED])
def test_rejected_and_deleted_versions_are_never_current(db_session: Session, status: FileStatus) -> None:
    area = make_area(db_session)
    kept = record_version(db_session, area.id, "k", _info("1" * 32), origin=FileOrigin.STORE)
    record_version_row(
        db_session,
        area.id,
        "k",
        "2" * 32,
        lambda: FileVersion(area_id=area.id, name="k", etag="2" * 32, size=1, status=status, reason="why"),
        held=False,
    )
    assert current_version(db_session, area.id, "k") is kept
    # Held by the store now, it has taken the place of the current version: the file has none.
    unkept = record_version_row(db_session, area.id, "k", "2" * 32, lambda: kept, held=True)
    assert (unkept.current, kept.current) == (False, False)
    assert current_version(db_session, area.id, "k") is None


def test_a_never_current_version_does_not_displace_a_later_current_one(db_session: Session) -> None:
    area = make_area(db_session)
    later = record_version(db_session, area.id, "k", _info("1" * 32, order=0x9F), origin=FileOrigin.STORE)
    record_version_row(
        db_session,
        area.id,
        "k",
        "2" * 32,
        lambda: FileVersion(area_id=area.id, name="k", etag="2" * 32, size=1, status=FileStatus.REJECTED),
        held=True,
        store_order=store_order("1F"),
    )
    assert current_version(db_session, area.id, "k") is later


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


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (AreaStatus.UNLOCKED, None),
        (AreaStatus.LOCKED, None),  # locked while the body streamed: the upload began before
        (AreaStatus.DELETION_QUEUED, ConflictError),
        (AreaStatus.DELETING, ConflictError),
        (AreaStatus.DELETED, AreaNotFoundError),
    ],
)
def test_a_finished_upload_is_kept_unless_the_deletion_of_its_area_began(
    db_session: Session, status: AreaStatus, error: type[Exception] | None
) -> None:
    area = make_area(db_session, status=status)
    if error is None:
        assert areas.area_for_finished_upload(db_session, area.uuid) is area
    else:
        with pytest.raises(error):
            areas.area_for_finished_upload(db_session, area.uuid)


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
    assert version.current is False  # a deleted area has no current files
    assert areas.begin_deletion(db_session, area.uuid) is False  # a redelivered message: nothing to do
    assert areas.complete_deletion(db_session, area.uuid) is True
    with pytest.raises(AreaNotFoundError):
        areas.set_lock(db_session, area.uuid, locked=True)


def test_concurrent_recorders_leave_exactly_one_current_version_the_latest(postgres_url: str) -> None:
    """Writers of one file on their own connections, released at once: they take turns (PostgreSQL)."""
    writers = 6
    with scratch_database(postgres_url) as url:
        engine = make_engine(url)
        try:
            sessions = make_session_factory(engine)
            with sessions.begin() as session:
                area_id = make_area(session).id
            barrier = threading.Barrier(writers)

            def record(name: str, order: int) -> None:
                barrier.wait(timeout=60)
                with sessions.begin() as session:
                    info = _info(f"{order:032x}", order=order)
                    record_version(session, area_id, name, info, origin=FileOrigin.STORE)

            names = [f"race-{round_}.bin" for round_ in range(5)]
            for name in names:
                with ThreadPoolExecutor(writers) as pool:
                    list(pool.map(functools.partial(record, name), range(1, writers + 1)))
            with sessions() as session:
                currents = session.execute(
                    select(FileVersion.name, FileVersion.etag).where(FileVersion.current.is_(True))
                ).all()
        finally:
            engine.dispose()
    assert sorted(currents) == [(name, f"{writers:032x}") for name in names]
