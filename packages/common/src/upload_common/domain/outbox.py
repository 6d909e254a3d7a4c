"""The notification outbox: rows written in the same transaction as the change that causes them.

A dispatcher delivers them later to the ingestion service (`UPLOAD_INGEST_URL` + target), so no
request or worker ever waits on ingest.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from upload_common.models import FileVersion, Notification, UploadArea
from upload_common.statuses import FileOrigin, FileStatus, NotificationType

FILE_UPLOADED_TARGET = "/messaging/fileUploadInfo"
FILE_VALIDATED_TARGET = "/messaging/fileValidationResult"
AREA_EXPIRING_TARGET = "/messaging/areaExpiring"
FAILED = "FAILED"  # the status `file_uploaded` reports when checksumming failed
# The area lifecycle events (docs/notifications.md): every expected file verified, no longer so, sealed.
AREA_EVENT_TARGETS = {
    NotificationType.AREA_COMPLETE: "/messaging/areaComplete",
    NotificationType.AREA_INCOMPLETE: "/messaging/areaIncomplete",
    NotificationType.AREA_SEALED: "/messaging/areaSealed",
}


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


def notify_area_expiring(
    session: Session, area: UploadArea, *, expired: bool, not_before: datetime | None = None
) -> Notification:
    """Queue `area_expiring` for the area: `{"upload_area_id", "expires_at", "expired"}`. Sent once
    `UPLOAD_AREA_EXPIRY_WARNING_SECONDS` before its expiry (`expired` false), and again when it expired
    and its deletion was queued (`expired` true: the area and its files are being deleted).

    `not_before`: the earliest delivery time, so that the expiry is never delivered before a warning
    written in the same transaction (the dispatcher sends in `next_attempt_at` order).
    """
    payload = {
        "upload_area_id": area.uuid,
        "expires_at": area.expires_at.isoformat() if area.expires_at else None,
        "expired": expired,
    }
    notification = Notification(
        id=uuid.uuid4(),
        event_type=NotificationType.AREA_EXPIRING,
        target=AREA_EXPIRING_TARGET,
        payload=payload,
    )
    if not_before is not None:
        notification.next_attempt_at = not_before
    session.add(notification)
    session.flush()  # its next_attempt_at is set now: a later notification of the area sorts after it
    return notification


def notify_area_event(
    session: Session, event_type: NotificationType, payload: dict[str, Any]
) -> Notification:
    """Queue one of the area lifecycle events of `AREA_EVENT_TARGETS`, with its `event` named in the
    payload (a receiver may serve them all on one URL)."""
    notification = Notification(
        id=uuid.uuid4(),
        event_type=event_type,
        target=AREA_EVENT_TARGETS[event_type],
        payload={"event": event_type.value, **payload},
    )
    session.add(notification)
    return notification
