"""Upload areas: create, look up, lock, queue for deletion, issue credentials (rules: `domain.areas`)."""

from __future__ import annotations

from typing import Any

from upload_api.context import ApiContext
from upload_common import messages
from upload_common.credentials import UploadCredentials
from upload_common.domain import area_reports, areas
from upload_common.domain.expiry import ExpiryChoice, expiry_at_creation, set_expiry
from upload_common.errors import CredentialsNotOfferedError
from upload_common.models import utcnow
from upload_common.statuses import AreaStatus


def create_area(context: ApiContext, area_uuid: str, expiry: ExpiryChoice | None = None) -> str:
    """Create the area (idempotent) and return its URI; a deleted area is never revived. It expires
    as `expiry` says, else after UPLOAD_AREA_TTL_SECONDS (`upload_common.domain.expiry`)."""
    expires_at = expiry_at_creation(utcnow(), context.settings.area_ttl_seconds, expiry)
    with context.sessions.begin() as session:
        areas.create_area(session, area_uuid, bucket=context.bucket, expires_at=expires_at)
    return context.area_uri(area_uuid)


def area_summary(context: ApiContext, area_uuid: str) -> dict[str, Any]:
    """The area's status, expiry and counts (`upload_common.domain.area_reports.area_summary`)."""
    with context.sessions() as session:
        return area_reports.area_summary(session, areas.existing_area(session, area_uuid))


def set_area_expiry(context: ApiContext, area_uuid: str, expiry: ExpiryChoice) -> dict[str, Any]:
    """Give the area a new expiry; its summary afterwards."""
    with context.sessions.begin() as session:
        set_expiry(session, area_uuid, expiry)
    return area_summary(context, area_uuid)


def area_exists(context: ApiContext, area_uuid: str) -> bool:
    with context.sessions() as session:
        return areas.is_existing(session, area_uuid)


def queue_deletion(context: ApiContext, area_uuid: str) -> AreaStatus:
    """Mark the area DELETION_QUEUED and queue it for the deletion worker.

    The message is sent after the commit (the embedded queue lives in the same database, and SQLite
    allows one writer). Asking again while the area is DELETION_QUEUED or DELETING sends the message
    again, which resumes a deletion whose message was lost; the worker is idempotent.
    """
    with context.sessions.begin() as session:
        status = areas.queue_deletion(session, area_uuid)
    context.queue("deletion").send(messages.area_deletion(area_uuid))
    return status


def lock_area(context: ApiContext, area_uuid: str, *, reason: str | None = None) -> None:
    with context.sessions.begin() as session:
        areas.set_lock(session, area_uuid, locked=True, reason=reason)


def unlock_area(context: ApiContext, area_uuid: str) -> None:
    with context.sessions.begin() as session:
        areas.set_lock(session, area_uuid, locked=False)


def issue_credentials(context: ApiContext, area_uuid: str) -> UploadCredentials:
    """Credentials that can only put objects into this area (refused while it is locked)."""
    with context.sessions() as session:
        areas.writable_area(session, area_uuid)
    if context.credential_issuer is None:
        raise CredentialsNotOfferedError(
            "this deployment does not issue upload credentials: store files with "
            f"PUT /v1/area/{area_uuid}/<filename> instead"
        )
    return context.credential_issuer.issue(area_uuid)
