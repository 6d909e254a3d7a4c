"""Factories that build rows with sensible defaults; tests override only what they care about.

Each factory adds its row, flushes it (ids and defaults assigned, constraints checked) and reads it back
from the database, so a test sees the row as production code would load it (pypi/warehouse's factories
flush and expire; here the row is refreshed instead, so it stays readable after its session closes).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.orm import Session

from upload_common.models import (
    ChecksumRun,
    FileVersion,
    Notification,
    UploadArea,
    UploadSession,
    Validation,
    ValidationFile,
)
from upload_common.statuses import (
    AreaStatus,
    ChecksumStatus,
    NotificationType,
    UploadSessionStatus,
    ValidationStatus,
)

Row = TypeVar("Row")


def _persisted(session: Session, row: Row) -> Row:
    """`row` added, flushed and read back from the database."""
    session.add(row)
    session.flush()
    session.refresh(row)
    return row


def make_area(session: Session, **fields: Any) -> UploadArea:
    values: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "bucket": "test-bucket",
        "status": AreaStatus.UNLOCKED,
    }
    return _persisted(session, UploadArea(**(values | fields)))


def make_file(session: Session, area: UploadArea | None = None, **fields: Any) -> FileVersion:
    area = area or make_area(session)
    values: dict[str, Any] = {
        "area_id": area.id,
        "name": f"file-{uuid.uuid4().hex[:8]}.fastq",
        "size": 3,
        "etag": uuid.uuid4().hex,
        "content_type": 'application/octet-stream; dcp-type="data"',
        "current": True,  # the newest version made is the current one, unless the test says otherwise
    }
    values |= fields
    if values["current"]:  # at most one current version per file, as the domain keeps it
        session.execute(
            update(FileVersion)
            .where(FileVersion.area_id == values["area_id"], FileVersion.name == values["name"])
            .values(current=False)
        )
    return _persisted(session, FileVersion(**values))


def make_checksum(session: Session, file: FileVersion | None = None, **fields: Any) -> ChecksumRun:
    file = file or make_file(session)
    return _persisted(
        session, ChecksumRun(**({"file_id": file.id, "status": ChecksumStatus.SCHEDULED} | fields))
    )


def make_validation(session: Session, files: list[FileVersion] | None = None, **fields: Any) -> Validation:
    files = files if files is not None else [make_file(session)]
    area_id = files[0].area_id if files else make_area(session).id
    values: dict[str, Any] = {
        "area_id": area_id,
        "status": ValidationStatus.SCHEDULING_QUEUED,
        "image": "dcp-upload/validator-json",
        "environment": {},
    }
    rows = [ValidationFile(file_id=file.id, position=position) for position, file in enumerate(files)]
    return _persisted(session, Validation(**(values | fields), files=rows))


def make_notification(session: Session, **fields: Any) -> Notification:
    values: dict[str, Any] = {
        "event_type": NotificationType.FILE_UPLOADED,
        "target": "/messaging/fileUploadInfo",
        "payload": {"upload_area_id": "x"},
    }
    return _persisted(session, Notification(**(values | fields)))


def make_upload_session(session: Session, area: UploadArea | None = None, **fields: Any) -> UploadSession:
    area = area or make_area(session)
    values: dict[str, Any] = {
        "area_id": area.id,
        "name": f"file-{uuid.uuid4().hex[:8]}",
        "size": 10,
        "part_size": 64 * 1024 * 1024,
        "store_upload_id": uuid.uuid4().hex,
        "status": UploadSessionStatus.OPEN,
        "expires_at": datetime.now(UTC) + timedelta(days=7),
    }
    return _persisted(session, UploadSession(**(values | fields)))
