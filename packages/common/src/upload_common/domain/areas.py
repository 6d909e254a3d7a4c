"""Upload areas: which exist, which accept files, which are still processed; their lifecycle.

Three rules, each in one function:
- an area *exists* until it is DELETED (`existing_area`): its files can be read;
- an area is *writable* while UNLOCKED (`writable_area`): files may be added, credentials issued,
  links and upload sessions made; never once SEALED (`upload_common.domain.seals`);
- an area is *processed* while UNLOCKED, LOCKED or SEALED (`processed_area`): its new versions are
  checksummed, except those written to the store while it was locked (`written_while_locked`:
  credentials issued before a lock still work until they expire; such a write is REJECTED and
  notified, never taken as a good file). Once its deletion is queued, deletion wins: every object that
  reaches it, whoever wrote it and whenever, is deleted by whoever sees it (the deletion worker, the
  checksum worker on its event, the API after a PUT that was streaming meanwhile:
  `area_for_finished_upload`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from upload_common.domain.state_machines import transition_area
from upload_common.domain.versions import mark_versions_deleted
from upload_common.errors import (
    AreaDeletedError,
    AreaLockedError,
    AreaNotFoundError,
    AreaSealedError,
    ConflictError,
)
from upload_common.models import UploadArea
from upload_common.statuses import AreaStatus

GONE = frozenset({AreaStatus.DELETED})
BEING_DELETED = frozenset({AreaStatus.DELETION_QUEUED, AreaStatus.DELETING})
# A SEALED area is processed so that a late store write (credentials issued before the seal) is
# recorded REJECTED and notified like one made while locked, never silently dropped.
PROCESSED = frozenset({AreaStatus.UNLOCKED, AreaStatus.LOCKED, AreaStatus.SEALED})


def find_area(session: Session, area_uuid: str, *, for_update: bool = False) -> UploadArea | None:
    """The area's row whatever its status, or None."""
    query = select(UploadArea).where(UploadArea.uuid == area_uuid)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def existing_area(session: Session, area_uuid: str, *, for_update: bool = False) -> UploadArea:
    """The area, unless it does not exist or was deleted (`AreaNotFoundError`)."""
    area = find_area(session, area_uuid, for_update=for_update)
    if area is None or area.status in GONE:
        raise AreaNotFoundError(f"no upload area {area_uuid}")
    return area


def writable_area(session: Session, area_uuid: str, *, for_update: bool = False) -> UploadArea:
    """The area, if files may be added to it now (`AreaLockedError`, `ConflictError` otherwise)."""
    area = existing_area(session, area_uuid, for_update=for_update)
    refuse_if_sealed(area)
    if area.status is AreaStatus.LOCKED:
        raise AreaLockedError(
            f"upload area {area_uuid} is locked" + (f": {area.lock_reason}" if area.lock_reason else "")
        )
    _refuse_if_being_deleted(area)
    return area


def processed_area(session: Session, area_uuid: str) -> UploadArea | None:
    """The area, if its new file versions are still processed; None when unknown or being deleted."""
    area = find_area(session, area_uuid)
    return area if area is not None and area.status in PROCESSED else None


def written_while_locked(area: UploadArea, written_at: datetime | None) -> bool:
    """True when the store wrote an object of the area at `written_at` during the area's most recent
    lock period (`locked_at` until `unlocked_at`, or until now while it is locked). Unknown time: False.

    Ingest locks an area while it reads it, so what changes under the lock is not what it read. An
    earlier lock period is not remembered: an event delayed past a whole later lock is judged by that one.
    """
    if written_at is None or area.locked_at is None:
        return False
    return written_at > area.locked_at and (area.unlocked_at is None or written_at < area.unlocked_at)


def written_after_unlock(area: UploadArea, written_at: datetime | None) -> bool:
    """True when the store wrote at `written_at` once the area's most recent lock period had ended: a
    new write, never a second look at one made during the lock."""
    return written_at is not None and area.unlocked_at is not None and written_at >= area.unlocked_at


def area_for_finished_upload(session: Session, area_uuid: str) -> UploadArea:
    """The area an upload that has just been stored is recorded in, locked until the caller's
    transaction ends so that its deletion cannot begin meanwhile. Once its deletion has begun
    (`ConflictError`) or ended (`AreaNotFoundError`) the caller deletes the object it wrote: the upload
    started before the deletion, but the deletion may not have seen it. (A lock taken while the body
    streamed does not refuse the upload: it began before the lock.)"""
    area = existing_area(session, area_uuid, for_update=True)
    _refuse_if_being_deleted(area)
    return area


def is_existing(session: Session, area_uuid: str) -> bool:
    area = find_area(session, area_uuid)
    return area is not None and area.status not in GONE


def create_area(
    session: Session, area_uuid: str, *, bucket: str, expires_at: datetime | None = None
) -> UploadArea:
    """Create the area, or return it if it exists (idempotent; an existing area keeps its expiry); a
    deleted area is never revived. `expires_at`: `upload_common.domain.expiry.expiry_at_creation`."""
    area = find_area(session, area_uuid, for_update=True)
    if area is None:
        area = UploadArea(uuid=area_uuid, bucket=bucket, status=AreaStatus.UNLOCKED, expires_at=expires_at)
        session.add(area)
        session.flush()
        return area
    if area.status in GONE:
        raise AreaDeletedError(f"upload area {area_uuid} was deleted and cannot be created again")
    _refuse_if_being_deleted(area)
    return area


def set_lock(session: Session, area_uuid: str, *, locked: bool, reason: str | None = None) -> None:
    """Lock the area against uploads (with an optional reason) or unlock it; repeating is a no-op."""
    area = existing_area(session, area_uuid, for_update=True)
    _refuse_if_being_deleted(area)
    if area.status is AreaStatus.SEALED:
        if locked:
            return  # frozen already, and for good
        refuse_if_sealed(area)
    transition_area(area, AreaStatus.LOCKED if locked else AreaStatus.UNLOCKED, reason=reason)


def queue_deletion(session: Session, area_uuid: str) -> AreaStatus:
    """Mark the area DELETION_QUEUED (a DELETING area stays so: its deletion resumes); the caller then
    sends the deletion message, also when asked again, so that a lost message is replaced."""
    area = existing_area(session, area_uuid, for_update=True)
    if area.status is not AreaStatus.DELETING:
        transition_area(area, AreaStatus.DELETION_QUEUED)
    return area.status


def begin_deletion(session: Session, area_uuid: str) -> bool:
    """Move a queued (or resumed) deletion to DELETING; False when there is nothing to delete (the
    area is unknown, already deleted, or the message outlived the request that sent it)."""
    area = find_area(session, area_uuid, for_update=True)
    if area is None or area.status not in BEING_DELETED:
        return False
    transition_area(area, AreaStatus.DELETING)
    return True


def pause_deletion(session: Session, area_uuid: str) -> bool:
    """Put a deletion that ran out of time back to DELETION_QUEUED; True when the caller must re-queue it."""
    area = find_area(session, area_uuid, for_update=True)
    if area is None or area.status is not AreaStatus.DELETING:
        return False
    transition_area(area, AreaStatus.DELETION_QUEUED)
    return True


def complete_deletion(session: Session, area_uuid: str) -> bool:
    """Once no object of the area is left: the area and its file versions are DELETED (rows kept).
    Returns whether the area is DELETED now."""
    area = find_area(session, area_uuid, for_update=True)
    if area is None or area.status is not AreaStatus.DELETING:
        return area is not None and area.status is AreaStatus.DELETED
    mark_versions_deleted(session, area.id)
    transition_area(area, AreaStatus.DELETED)
    return True


def refuse_if_sealed(area: UploadArea) -> None:
    """`AreaSealedError` when the area is sealed: nothing about its files changes any more."""
    if area.status is AreaStatus.SEALED:
        raise AreaSealedError(
            f"upload area {area.uuid} is sealed: its files are frozen for good (it cannot be unlocked)"
        )


def refuse_if_being_deleted(area: UploadArea) -> None:
    """`ConflictError` once the area's deletion has begun (it may still be read, not changed)."""
    _refuse_if_being_deleted(area)


def _refuse_if_being_deleted(area: UploadArea) -> None:
    if area.status in BEING_DELETED:
        raise ConflictError(f"upload area {area.uuid} is being deleted")
