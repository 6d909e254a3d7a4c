"""The notification outbox: rows written in the same transaction as the change that causes them.

A dispatcher delivers them later to the ingestion service (`UPLOAD_INGEST_URL` + target), so no
request or worker ever waits on ingest.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from upload_common.models import FileVersion, Notification
from upload_common.statuses import FileOrigin, NotificationType

FILE_UPLOADED_TARGET = "/messaging/fileUploadInfo"
FILE_VALIDATED_TARGET = "/messaging/fileValidationResult"


def notify_file_uploaded(session: Session, version: FileVersion, file_info: dict[str, Any]) -> Notification:
    """Queue `file_uploaded` for a checksummed version; `origin` tells the receiver how it arrived.

    `corrupt` is true when the checksums the client declared disagree with the computed ones.
    """
    payload = dict(file_info)
    payload["origin"] = FileOrigin(version.origin).value
    payload["corrupt"] = version.status == "CORRUPT"
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
