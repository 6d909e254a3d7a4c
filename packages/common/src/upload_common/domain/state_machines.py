"""The state machines of DESIGN §3: one function per machine applies a transition or refuses it.

A transition to the status a record already has is a no-op (returns False), so that a redelivered
message changes nothing; any other transition not in the table raises `IllegalTransitionError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from upload_common.errors import IllegalTransitionError
from upload_common.models import (
    ChecksumRun,
    FileVersion,
    Notification,
    UploadArea,
    UploadSession,
    Validation,
    utcnow,
)
from upload_common.statuses import (
    AreaStatus,
    ChecksumStatus,
    FileStatus,
    NotificationStatus,
    UploadSessionStatus,
    ValidationStatus,
)

_E = TypeVar("_E", bound=StrEnum)

AREA_TRANSITIONS: Mapping[AreaStatus, frozenset[AreaStatus]] = {
    AreaStatus.UNLOCKED: frozenset({AreaStatus.LOCKED, AreaStatus.SEALED, AreaStatus.DELETION_QUEUED}),
    AreaStatus.LOCKED: frozenset({AreaStatus.UNLOCKED, AreaStatus.SEALED, AreaStatus.DELETION_QUEUED}),
    # A seal is for good: a SEALED area is never unlocked (nor locked: it is frozen already), only deleted.
    AreaStatus.SEALED: frozenset({AreaStatus.DELETION_QUEUED}),
    AreaStatus.DELETION_QUEUED: frozenset({AreaStatus.DELETING}),
    # DELETING -> DELETION_QUEUED: a deletion that ran out of time re-queues itself and resumes.
    AreaStatus.DELETING: frozenset({AreaStatus.DELETION_QUEUED, AreaStatus.DELETED}),
    AreaStatus.DELETED: frozenset(),
}

FILE_TRANSITIONS: Mapping[FileStatus, frozenset[FileStatus]] = {
    FileStatus.UPLOADED: frozenset({FileStatus.CHECKSUMMED, FileStatus.CORRUPT, FileStatus.DELETED}),
    FileStatus.CHECKSUMMED: frozenset({FileStatus.DELETED}),
    FileStatus.CORRUPT: frozenset({FileStatus.DELETED}),
    FileStatus.DELETED: frozenset(),
    # Recorded as REJECTED when first seen (its name is refused, or it was written while its area was
    # locked); REJECTED -> UPLOADED: the same bytes written again once the area is unlocked.
    FileStatus.REJECTED: frozenset({FileStatus.UPLOADED, FileStatus.DELETED}),
}

CHECKSUM_TRANSITIONS: Mapping[ChecksumStatus, frozenset[ChecksumStatus]] = {
    # SCHEDULED -> CHECKSUMMED: the job found the service's own tags already on this version.
    ChecksumStatus.SCHEDULED: frozenset(
        {
            ChecksumStatus.CHECKSUMMING,
            ChecksumStatus.CHECKSUMMED,
            ChecksumStatus.ABORTED,
            ChecksumStatus.FAILED,
        }
    ),
    # CHECKSUMMING -> SCHEDULED: the reaper re-queues a run that stalled.
    ChecksumStatus.CHECKSUMMING: frozenset(
        {ChecksumStatus.SCHEDULED, ChecksumStatus.CHECKSUMMED, ChecksumStatus.ABORTED, ChecksumStatus.FAILED}
    ),
    ChecksumStatus.CHECKSUMMED: frozenset(),
    ChecksumStatus.ABORTED: frozenset(),
    ChecksumStatus.FAILED: frozenset(),
}

VALIDATION_TRANSITIONS: Mapping[ValidationStatus, frozenset[ValidationStatus]] = {
    ValidationStatus.SCHEDULING_QUEUED: frozenset({ValidationStatus.SCHEDULED, ValidationStatus.FAILED}),
    # SCHEDULED -> VALIDATED: the VALIDATING report was lost or arrives after the result.
    # SCHEDULED/VALIDATING -> SCHEDULING_QUEUED: its job was lost with its host; a new job is submitted.
    ValidationStatus.SCHEDULED: frozenset(
        {
            ValidationStatus.VALIDATING,
            ValidationStatus.VALIDATED,
            ValidationStatus.FAILED,
            ValidationStatus.SCHEDULING_QUEUED,
        }
    ),
    ValidationStatus.VALIDATING: frozenset(
        {ValidationStatus.VALIDATED, ValidationStatus.FAILED, ValidationStatus.SCHEDULING_QUEUED}
    ),
    ValidationStatus.VALIDATED: frozenset(),
    ValidationStatus.FAILED: frozenset(),
}

NOTIFICATION_TRANSITIONS: Mapping[NotificationStatus, frozenset[NotificationStatus]] = {
    NotificationStatus.PENDING: frozenset({NotificationStatus.DELIVERED, NotificationStatus.FAILED}),
    NotificationStatus.DELIVERED: frozenset(),
    # FAILED -> PENDING: an operator asks for redelivery.
    NotificationStatus.FAILED: frozenset({NotificationStatus.PENDING}),
}


UPLOAD_SESSION_TRANSITIONS: Mapping[UploadSessionStatus, frozenset[UploadSessionStatus]] = {
    UploadSessionStatus.OPEN: frozenset(
        {UploadSessionStatus.COMPLETED, UploadSessionStatus.ABORTED, UploadSessionStatus.EXPIRED}
    ),
    UploadSessionStatus.COMPLETED: frozenset(),
    UploadSessionStatus.ABORTED: frozenset(),
    UploadSessionStatus.EXPIRED: frozenset(),
}


def _check(machine: str, table: Mapping[_E, frozenset[_E]], current: _E, requested: _E) -> bool:
    if requested == current:
        return False
    if requested not in table[current]:
        raise IllegalTransitionError(machine, current.value, requested.value)
    return True


def transition_area(area: UploadArea, to: AreaStatus, *, reason: str | None = None) -> bool:
    """Move an upload area to `to`; `reason` is kept while the area is LOCKED. Locking and unlocking
    stamp the lock period (`locked_at`, `unlocked_at`); repeating either changes nothing. Sealing stamps
    `sealed_at` and opens a lock period that never ends (unless one is open already), so a store write
    made after the seal with credentials issued before it is REJECTED as one made while locked."""
    if not _check("upload_area", AREA_TRANSITIONS, area.status, to):
        return False
    if to is AreaStatus.SEALED:
        now = utcnow()
        if area.status is not AreaStatus.LOCKED or area.locked_at is None:
            area.locked_at, area.unlocked_at = now, None
        area.sealed_at = now
    area.status = to
    if to is AreaStatus.LOCKED:
        area.lock_reason = reason
        area.locked_at, area.unlocked_at = utcnow(), None
    elif to is AreaStatus.UNLOCKED:  # only ever from LOCKED
        area.lock_reason = None
        area.unlocked_at = utcnow()
    return True


def transition_file(file: FileVersion, to: FileStatus) -> bool:
    """Move a file version to `to`."""
    if not _check("file", FILE_TRANSITIONS, file.status, to):
        return False
    file.status = to
    return True


def transition_checksum(run: ChecksumRun, to: ChecksumStatus, *, reason: str | None = None) -> bool:
    """Move a checksum run to `to`, stamping when it started and ended."""
    if not _check("checksum", CHECKSUM_TRANSITIONS, run.status, to):
        return False
    run.status = to
    now = utcnow()
    if to is ChecksumStatus.CHECKSUMMING:
        run.started_at = now
    elif to is ChecksumStatus.SCHEDULED:
        run.started_at = None
    elif to in (ChecksumStatus.CHECKSUMMED, ChecksumStatus.ABORTED, ChecksumStatus.FAILED):
        run.ended_at = now
    if reason is not None:
        run.reason = reason
    return True


def transition_validation(validation: Validation, to: ValidationStatus, *, reason: str | None = None) -> bool:
    """Move a validation to `to`, stamping when it started and ended."""
    if not _check("validation", VALIDATION_TRANSITIONS, validation.status, to):
        return False
    validation.status = to
    now = utcnow()
    if to is ValidationStatus.VALIDATING:
        validation.started_at = now
    elif to in (ValidationStatus.VALIDATED, ValidationStatus.FAILED):
        validation.ended_at = now
    if reason is not None:
        validation.reason = reason
    return True


def transition_notification(
    notification: Notification, to: NotificationStatus, *, error: str | None = None
) -> bool:
    """Move a notification to `to`; `error` records why delivery failed."""
    if not _check("notification", NOTIFICATION_TRANSITIONS, notification.status, to):
        return False
    notification.status = to
    now = utcnow()
    if to is NotificationStatus.DELIVERED:
        notification.delivered_at = now
    elif to is NotificationStatus.PENDING:
        notification.attempts = 0
        notification.next_attempt_at = now
    if error is not None:
        notification.last_error = error
    return True


def transition_upload_session(upload: UploadSession, to: UploadSessionStatus) -> bool:
    """Move an upload session to `to`."""
    if not _check("upload_session", UPLOAD_SESSION_TRANSITIONS, upload.status, to):
        return False
    upload.status = to
    return True
