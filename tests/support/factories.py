"""Factories that build rows with sensible defaults; tests override only what they care about."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from upload_common.models import (
    ChecksumRun,
    FileVersion,
    Notification,
    UploadArea,
    Validation,
    ValidationFile,
)
from upload_common.statuses import (
    AreaStatus,
    ChecksumStatus,
    NotificationType,
    ValidationStatus,
)


def make_area(session: Session, **fields: Any) -> UploadArea:
    values: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "bucket": "test-bucket",
        "status": AreaStatus.UNLOCKED,
    }
    area = UploadArea(**(values | fields))
    session.add(area)
    session.flush()
    return area


def make_file(session: Session, area: UploadArea | None = None, **fields: Any) -> FileVersion:
    area = area or make_area(session)
    values: dict[str, Any] = {
        "area_id": area.id,
        "name": f"file-{uuid.uuid4().hex[:8]}.fastq",
        "size": 3,
        "etag": uuid.uuid4().hex,
        "content_type": 'application/octet-stream; dcp-type="data"',
    }
    file = FileVersion(**(values | fields))
    session.add(file)
    session.flush()
    return file


def make_checksum(session: Session, file: FileVersion | None = None, **fields: Any) -> ChecksumRun:
    file = file or make_file(session)
    run = ChecksumRun(**({"file_id": file.id, "status": ChecksumStatus.SCHEDULED} | fields))
    session.add(run)
    session.flush()
    return run


def make_validation(session: Session, files: list[FileVersion] | None = None, **fields: Any) -> Validation:
    files = files if files is not None else [make_file(session)]
    area_id = files[0].area_id if files else make_area(session).id
    values: dict[str, Any] = {
        "area_id": area_id,
        "status": ValidationStatus.SCHEDULING_QUEUED,
        "image": "dcp-upload/validator-json",
        "environment": {},
    }
    validation = Validation(**(values | fields))
    session.add(validation)
    session.flush()
    for position, file in enumerate(files):
        session.add(ValidationFile(validation_id=validation.id, file_id=file.id, position=position))
    session.flush()
    return validation


def make_notification(session: Session, **fields: Any) -> Notification:
    values: dict[str, Any] = {
        "event_type": NotificationType.FILE_UPLOADED,
        "target": "/messaging/fileUploadInfo",
        "payload": {"upload_area_id": "x"},
    }
    notification = Notification(**(values | fields))
    session.add(notification)
    session.flush()
    return notification
