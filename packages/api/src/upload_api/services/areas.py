"""Upload areas: create, look up, lock, queue for deletion, issue credentials."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from upload_api.context import ApiContext
from upload_common import messages
from upload_common.credentials import UploadCredentials
from upload_common.domain.state_machines import transition_area
from upload_common.errors import (
    AreaDeletedError,
    AreaLockedError,
    AreaNotFoundError,
    ConflictError,
    CredentialsNotOfferedError,
)
from upload_common.models import UploadArea
from upload_common.statuses import AreaStatus

GONE = (AreaStatus.DELETED,)
BEING_DELETED = (AreaStatus.DELETION_QUEUED, AreaStatus.DELETING)


def find_area(session: Session, area_uuid: str, *, for_update: bool = False) -> UploadArea | None:
    query = select(UploadArea).where(UploadArea.uuid == area_uuid)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def live_area(session: Session, area_uuid: str, *, for_update: bool = False) -> UploadArea:
    """The area, unless it does not exist or was deleted (`AreaNotFoundError`)."""
    area = find_area(session, area_uuid, for_update=for_update)
    if area is None or area.status in GONE:
        raise AreaNotFoundError(f"no upload area {area_uuid}")
    return area


def writable_area(session: Session, area_uuid: str) -> UploadArea:
    """The area, if files may be added to it now."""
    area = live_area(session, area_uuid)
    if area.status is AreaStatus.LOCKED:
        raise AreaLockedError(
            f"upload area {area_uuid} is locked" + (f": {area.lock_reason}" if area.lock_reason else "")
        )
    if area.status in BEING_DELETED:
        raise ConflictError(f"upload area {area_uuid} is being deleted")
    return area


def create_area(context: ApiContext, area_uuid: str) -> str:
    """Create the area (idempotent) and return its URI; a deleted area is never revived."""
    with context.sessions.begin() as session:
        area = find_area(session, area_uuid, for_update=True)
        if area is None:
            session.add(UploadArea(uuid=area_uuid, bucket=context.bucket, status=AreaStatus.UNLOCKED))
        elif area.status in GONE:
            raise AreaDeletedError(f"upload area {area_uuid} was deleted and cannot be created again")
        elif area.status in BEING_DELETED:
            raise ConflictError(f"upload area {area_uuid} is being deleted")
    return context.area_uri(area_uuid)


def area_exists(context: ApiContext, area_uuid: str) -> bool:
    with context.sessions() as session:
        area = find_area(session, area_uuid)
        return area is not None and area.status not in GONE


def queue_deletion(context: ApiContext, area_uuid: str) -> AreaStatus:
    """Mark the area DELETION_QUEUED and queue it for the deletion worker.

    The message is sent after the commit (the embedded queue lives in the same database, and SQLite
    allows one writer). Asking again while the area is DELETION_QUEUED or DELETING sends the message
    again, which resumes a deletion whose message was lost (a send that failed after the commit, a
    message dead-lettered mid-deletion); the worker is idempotent.
    """
    with context.sessions.begin() as session:
        area = live_area(session, area_uuid, for_update=True)
        if area.status is not AreaStatus.DELETING:
            transition_area(area, AreaStatus.DELETION_QUEUED)
        status = area.status
    context.queue("deletion").send(messages.area_deletion(area_uuid))
    return status


def lock_area(context: ApiContext, area_uuid: str, *, reason: str | None = None) -> None:
    _set_lock(context, area_uuid, AreaStatus.LOCKED, reason)


def unlock_area(context: ApiContext, area_uuid: str) -> None:
    _set_lock(context, area_uuid, AreaStatus.UNLOCKED, None)


def _set_lock(context: ApiContext, area_uuid: str, status: AreaStatus, reason: str | None) -> None:
    with context.sessions.begin() as session:
        area = live_area(session, area_uuid, for_update=True)
        if area.status in BEING_DELETED:
            raise ConflictError(f"upload area {area_uuid} is being deleted")
        transition_area(area, status, reason=reason)


def issue_credentials(context: ApiContext, area_uuid: str) -> UploadCredentials:
    """Credentials that can only put objects into this area (refused while it is locked)."""
    with context.sessions() as session:
        writable_area(session, area_uuid)
    if context.credential_issuer is None:
        raise CredentialsNotOfferedError(
            "this deployment does not issue upload credentials: store files with "
            f"PUT /v1/area/{area_uuid}/<filename> instead"
        )
    return context.credential_issuer.issue(area_uuid)
