"""What an area holds, in aggregate (the summary) and file by file (the report), read from the database.

- The summary (GET /v2/areas/{uuid}) counts the current versions by `FileState` and by the state of
  their newest validation in two aggregate queries; `REJECTED` counts the area's refused versions
  (never current: `upload_common.domain.versions`), which are not in `files` and `bytes`.
- The report (GET /v2/areas/{uuid}/report) reads the current versions a page at a time in name order
  (keyset: each page starts after the last name of the one before), one query per page, so that its
  memory does not grow with the area. Each page is its own short transaction: a file changed while the
  report streams appears as it is when its page is read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from upload_common.domain.file_states import file_state_column
from upload_common.domain.validations import latest_validation_id_column
from upload_common.domain.versions import is_current
from upload_common.models import FileVersion, Notification, UploadArea, Validation
from upload_common.statuses import AreaStatus, FileState, FileStatus, NotificationType, ValidationStatus

NOT_VALIDATED = "NOT_VALIDATED"
CHECKSUM_NAMES = ("sha1", "sha256", "crc32c", "s3_etag")
REPORT_FIELDS = (
    "name",
    "size",
    *CHECKSUM_NAMES,
    "state",
    "validation_status",
    "validation_exit_code",
    "notification_status",
)
REPORT_PAGE_SIZE = 1000


def area_summary(session: Session, area: UploadArea) -> dict[str, Any]:
    """The area's status, dates and counts (see the module's docstring)."""
    versions = (
        select(FileVersion.size, file_state_column())
        .where(
            FileVersion.area_id == area.id,
            or_(is_current(), FileVersion.status == FileStatus.REJECTED),
        )
        .subquery()
    )
    states: dict[str, int] = dict.fromkeys(FileState, 0)
    files = total_bytes = 0
    for state, count, size in session.execute(
        select(versions.c.state, func.count(), func.coalesce(func.sum(versions.c.size), 0)).group_by(
            versions.c.state
        )
    ):
        states[state] = count
        if state != FileState.REJECTED:
            files += count
            total_bytes += int(size)

    latest = (
        select(latest_validation_id_column().label("validation_id"))
        .select_from(FileVersion)
        .where(FileVersion.area_id == area.id, is_current())
        .subquery()
    )
    validations: dict[str, int] = {NOT_VALIDATED: 0} | dict.fromkeys(ValidationStatus, 0)
    for status, count in session.execute(
        select(Validation.status, func.count())
        .select_from(latest.outerjoin(Validation, Validation.id == latest.c.validation_id))
        .group_by(Validation.status)
    ):
        validations[NOT_VALIDATED if status is None else ValidationStatus(status).value] += count
    return {
        "upload_area_id": area.uuid,
        "status": area.status.value,
        "locked": area.status is AreaStatus.LOCKED,
        "lock_reason": area.lock_reason,
        "sealed": area.status is AreaStatus.SEALED,
        "sealed_at": _iso(area.sealed_at),
        "created_at": area.created_at.isoformat(),
        "updated_at": area.updated_at.isoformat(),
        "expires_at": _iso(area.expires_at),
        "expiry_warned_at": _iso(area.expiry_warned_at),
        "files": files,
        "bytes": total_bytes,
        "file_states": {str(state): count for state, count in states.items()},
        "validation_states": {str(status): count for status, count in validations.items()},
    }


def report_page(session: Session, area_id: int, *, after: str | None, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` report rows (`REPORT_FIELDS`) of the area's current files whose names sort after
    `after`, in name order; one query."""
    notification_status = (
        select(Notification.status)
        .where(
            Notification.file_id == FileVersion.id, Notification.event_type == NotificationType.FILE_UPLOADED
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(1)
        .correlate(FileVersion)
        .scalar_subquery()
    )
    page = select(
        FileVersion.name,
        FileVersion.size,
        FileVersion.checksums,
        file_state_column(),
        latest_validation_id_column().label("validation_id"),
        notification_status.label("notification_status"),
    ).where(FileVersion.area_id == area_id, is_current())
    if after is not None:
        page = page.where(FileVersion.name > after)
    rows = page.order_by(FileVersion.name).limit(limit).subquery()
    query = (
        select(
            rows.c.name,
            rows.c.size,
            rows.c.checksums,
            rows.c.state,
            Validation.status,
            Validation.results["exit_code"].as_integer(),
            rows.c.notification_status,
        )
        .select_from(rows.outerjoin(Validation, Validation.id == rows.c.validation_id))
        .order_by(rows.c.name)
    )
    report: list[dict[str, Any]] = []
    for name, size, checksums, state, validation_status, exit_code, notified in session.execute(query):
        sums = checksums or {}
        report.append(
            {
                "name": name,
                "size": size,
                **{key: sums.get(key) for key in CHECKSUM_NAMES},
                "state": state,
                "validation_status": ValidationStatus(validation_status).value if validation_status else None,
                "validation_exit_code": exit_code,
                "notification_status": str(notified) if notified is not None else None,
            }
        )
    return report


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
