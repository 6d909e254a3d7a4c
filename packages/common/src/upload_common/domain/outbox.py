"""The notification outbox: rows written in the same transaction as the change that causes them.

A dispatcher delivers them later to the ingestion service (`UPLOAD_INGEST_URL` + target), so no
request or worker ever waits on ingest.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from upload_common.models import FileVersion, Notification
from upload_common.statuses import FileOrigin, FileStatus, NotificationType

FILE_UPLOADED_TARGET = "/messaging/fileUploadInfo"
FILE_VALIDATED_TARGET = "/messaging/fileValidationResult"
FAILED = "FAILED"  # the status `file_uploaded` reports when checksumming failed


def notify_file_uploaded(
    session: Session, version: FileVersion, file_info: dict[str, Any], *, reason: str | None = None
) -> Notification:
    """Queue `file_uploaded` for a version whose checksumming ended; `origin` tells the receiver how
    it arrived. Every version the service sees ends with exactly one such notification.

    `status` says how it ended: `CHECKSUMMED`; `CORRUPT` (`corrupt` is true: the checksums the client
    declared disagree with the computed ones); `FAILED` (its checksums could not be computed; `reason`
    says why, `checksums` is null); `REJECTED` (stored under a name the service refuses; `reason`).
    """
    payload = dict(file_info)
    payload["origin"] = FileOrigin(version.origin).value
    payload["corrupt"] = version.status is FileStatus.CORRUPT
    payload["status"] = (
        FAILED if reason is not None and version.status is FileStatus.UPLOADED else version.status.value
    )
    if reason is not None:
        payload["reason"] = reason
    notification = Notification(
        id=uuid.uuid4(),
        event_type=NotificationType.FILE_UPLOADED,
        target=FILE_UPLOADED_TARGET,
        payload=payload,
        file_id=version.id,
    )
    session.add(notification)
    return notification


def notify_file_validated(
    session: Session, *, file_id: int, validation_id: uuid.UUID, results: dict[str, Any]
) -> Notification:
    """Queue `file_validated` for one file of a finished validation (one per file, as the seed sent)."""
    notification = Notification(
        id=uuid.uuid4(),
        event_type=NotificationType.FILE_VALIDATED,
        target=FILE_VALIDATED_TARGET,
        payload=dict(results),
        file_id=file_id,
        validation_id=validation_id,
    )
    session.add(notification)
    return notification
