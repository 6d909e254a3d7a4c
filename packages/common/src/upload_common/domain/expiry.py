"""When an area expires, and what happens then (DESIGN §3 `expires_at`; issue 19).

- A new area expires `UPLOAD_AREA_TTL_SECONDS` after its creation (0: never), unless its creation
  asks otherwise (`expires_at`, or `ttl_seconds` from now; `expires_at: null`: never); PATCH changes it.
- `area_expiring` (`expired: false`) is queued once, `UPLOAD_AREA_EXPIRY_WARNING_SECONDS` before the
  expiry (at once when less is left); a new `expires_at` is warned of again.
- At its expiry an UNLOCKED or LOCKED area is queued for deletion through the normal path
  (`upload_common.domain.areas.queue_deletion`; the caller sends the deletion message after the commit,
  as DELETE /v1/area/{uuid} does), and `area_expiring` (`expired: true`) is queued after the warning.
  Areas in any other status (being deleted, deleted, or a status this module does not know) are left
  alone.

The sweep takes `now` from its caller, so tests drive time instead of waiting for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from upload_common.domain.areas import existing_area, queue_deletion, refuse_if_being_deleted
from upload_common.domain.outbox import notify_area_expiring
from upload_common.errors import InvalidInputError
from upload_common.models import Notification, UploadArea, utcnow
from upload_common.statuses import AreaStatus

EXPIRABLE = frozenset({AreaStatus.UNLOCKED, AreaStatus.LOCKED})
# Longest lifetime a caller may ask for (a date past it is almost surely a mistake in the unit).
MAX_TTL_SECONDS = 10 * 366 * 24 * 3600
# An expired area whose deletion is still queued this long after: its message was lost; send it again.
RESEND_DELETION_AFTER = timedelta(minutes=15)
SWEEP_BATCH = 200


@dataclass(frozen=True)
class ExpiryChoice:
    """What a caller asked for: an expiry date (None: never), or a lifetime from now."""

    expires_at: datetime | None = None
    ttl_seconds: int | None = None

    def resolve(self, now: datetime) -> datetime | None:
        if self.ttl_seconds is not None:
            return now + timedelta(seconds=self.ttl_seconds)
        return self.expires_at


def expiry_choice(body: Mapping[str, object]) -> ExpiryChoice | None:
    """The choice in a request body `{"expires_at": ISO 8601 | null}` or `{"ttl_seconds": int}`; None
    when it names neither; `InvalidInputError` for both, a date without its zone, a lifetime < 1."""
    if "expires_at" in body and "ttl_seconds" in body:
        raise InvalidInputError("give expires_at or ttl_seconds, not both")
    if "ttl_seconds" in body:
        ttl = body["ttl_seconds"]
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_SECONDS:
            raise InvalidInputError(f"ttl_seconds must be a whole number of seconds, 1..{MAX_TTL_SECONDS}")
        return ExpiryChoice(ttl_seconds=ttl)
    if "expires_at" in body:
        raw = body["expires_at"]
        if raw is None:
            return ExpiryChoice(expires_at=None)
        if not isinstance(raw, str):
            raise InvalidInputError("expires_at must be an ISO 8601 date and time with its zone, or null")
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidInputError(f"expires_at is not an ISO 8601 date and time: {raw[:64]!r}") from None
        if parsed.tzinfo is None:
            raise InvalidInputError("expires_at must carry its zone (e.g. 2030-01-31T12:00:00Z)")
        return ExpiryChoice(expires_at=parsed.astimezone(UTC))
    return None


def expiry_at_creation(
    now: datetime, default_ttl_seconds: int, choice: ExpiryChoice | None
) -> datetime | None:
    """The expiry of an area created at `now`: the caller's choice, else the default TTL (0: never)."""
    if choice is not None:
        return _checked(choice.resolve(now), now)
    return now + timedelta(seconds=default_ttl_seconds) if default_ttl_seconds > 0 else None


def set_expiry(
    session: Session, area_uuid: str, choice: ExpiryChoice, *, now: datetime | None = None
) -> UploadArea:
    """Give the area a new expiry (PATCH /v2/areas/{uuid}); refused once its deletion has begun. A
    changed date clears the warning, so the new one is warned of in its turn."""
    now = now or utcnow()
    expires_at = _checked(choice.resolve(now), now)
    area = existing_area(session, area_uuid, for_update=True)
    refuse_if_being_deleted(area)
    if area.expires_at != expires_at:
        area.expires_at = expires_at
        area.expiry_warned_at = None
    return area


def _checked(expires_at: datetime | None, now: datetime) -> datetime | None:
    if expires_at is not None and expires_at <= now:
        raise InvalidInputError("expires_at is in the past: DELETE /v1/area/{uuid} deletes an area now")
    if expires_at is not None and expires_at > now + timedelta(seconds=MAX_TTL_SECONDS):
        raise InvalidInputError("expires_at is more than ten years away")
    return expires_at


@dataclass
class ExpirySweep:
    """What one sweep did: areas warned, and areas whose deletion the caller must send (queued now,
    or queued earlier by an expiry and still waiting: their message may have been lost)."""

    warned: list[str]
    to_delete: list[str]


def sweep_expiry(
    session: Session, *, now: datetime, warning_seconds: int, limit: int = SWEEP_BATCH
) -> ExpirySweep:
    """Warn the areas that expire within `warning_seconds`, and queue the deletion of expired ones."""
    result = ExpirySweep(warned=[], to_delete=[])
    if warning_seconds > 0:
        due = session.scalars(
            select(UploadArea)
            .where(
                UploadArea.status.in_(EXPIRABLE),
                UploadArea.expiry_warned_at.is_(None),
                UploadArea.expires_at > now,
                UploadArea.expires_at <= now + timedelta(seconds=warning_seconds),
            )
            .order_by(UploadArea.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for area in due:
            _warn(session, area, now)
            result.warned.append(area.uuid)
    expired = session.scalars(
        select(UploadArea)
        .where(UploadArea.status.in_(EXPIRABLE), UploadArea.expires_at <= now)
        .order_by(UploadArea.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for area in expired:
        warning = None
        if warning_seconds > 0 and area.expiry_warned_at is None:
            warning = _warn(session, area, now)  # expired between two sweeps: warned all the same, first
            result.warned.append(area.uuid)
        queue_deletion(session, area.uuid)
        not_before = warning.next_attempt_at + timedelta(microseconds=1) if warning is not None else None
        notify_area_expiring(session, area, expired=True, not_before=not_before)
        result.to_delete.append(area.uuid)
    stalled = session.scalars(
        select(UploadArea.uuid)
        .where(
            UploadArea.status == AreaStatus.DELETION_QUEUED,
            UploadArea.expires_at <= now,
            UploadArea.updated_at <= now - RESEND_DELETION_AFTER,
        )
        .limit(limit)
    ).all()
    result.to_delete.extend(uuid for uuid in stalled if uuid not in result.to_delete)
    return result


def _warn(session: Session, area: UploadArea, now: datetime) -> Notification:
    area.expiry_warned_at = now
    return notify_area_expiring(session, area, expired=False)
