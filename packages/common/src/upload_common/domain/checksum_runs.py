"""Checksum runs: who checksums a file version, exactly once per version.

The version row is the claim: `claim_checksum_run` decides, under the version's row lock, whether the
caller checksums it now (a `Claim`), only re-applies known checksums (`Known`), or does nothing (a
`Skip` saying why). A run whose heartbeat went stale (its worker died) is taken over; an event for a
version that is not the current one (`upload_common.domain.versions`) ends as an ABORTED run.

Three kinds of objects are never checksummed, and all are recorded rather than dropped:
- deletion wins: an object of an area whose deletion has begun (or ended) is to be deleted by the caller
  (`Skip.REMOVE`), whoever wrote it and whenever; it is recorded as a DELETED version with the reason;
- an object stored under a name the service refuses (`record_refused_object`) is a REJECTED version with
  the reason, notified once;
- a new version the store wrote while its area was locked (`areas.written_while_locked`: credentials
  issued before the lock still work) is a REJECTED version, `WRITTEN_WHILE_LOCKED`, notified once; it
  takes the place of the file's current version (the store no longer holds that one). The same bytes
  written again after the unlock are taken as a good file after all.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from upload_common.domain.areas import PROCESSED, find_area, written_after_unlock, written_while_locked
from upload_common.domain.outbox import notify_file_uploaded
from upload_common.domain.state_machines import transition_checksum, transition_file
from upload_common.domain.versions import (
    lock_file,
    new_file_version,
    record_version,
    record_version_row,
    version_with_etag,
)
from upload_common.fileinfo import file_info_of_version
from upload_common.models import ChecksumRun, FileVersion, UploadArea, utcnow
from upload_common.settings import Settings
from upload_common.statuses import ChecksumStatus, FileOrigin, FileStatus
from upload_common.storage.base import ObjectInfo

logger = logging.getLogger(__name__)

FINISHED_VERSION = frozenset({FileStatus.CHECKSUMMED, FileStatus.CORRUPT})
WRITTEN_WHILE_LOCKED = "written while the area was locked"
# A run in these states has not ended: the reaper watches them, the health report counts the stuck ones.
UNFINISHED_RUNS = (ChecksumStatus.SCHEDULED, ChecksumStatus.CHECKSUMMING)


@dataclass(frozen=True)
class Claim:
    """The caller holds the version's checksum run and computes its checksums."""

    run_id: uuid.UUID
    version_id: int


@dataclass(frozen=True)
class Known:
    """The version was checksummed before: its checksums only need to be on the object."""

    checksums: Mapping[str, str]


class Skip(StrEnum):
    """Why nothing is to be done for this event."""

    IGNORED = "ignored"  # the area is unknown, or the version was deleted
    ALREADY_DONE = "already_done"
    IN_PROGRESS = "in_progress"  # another worker (or a job) holds this version
    ABORTED = "aborted"  # the event is for a version that is not the current one
    REMOVE = "removed"  # the area's deletion has begun: the caller deletes the object (recorded DELETED)
    REJECTED = "rejected"  # stored under a refused name: recorded REJECTED and notified


@dataclass(frozen=True)
class SeenObject:
    """An object as an event names it and as the store holds it now."""

    area_uuid: str
    name: str
    etag: str  # the version the event is about
    stored: ObjectInfo  # what the store holds under the name now (a HEAD made after `lock_file`)
    event_size: int | None = None
    store_order: str | None = None  # the event's (S3's sequencer), when it tells one
    event_time: datetime | None = None  # when the store wrote the version, per its event (S3's eventTime)
    url: str = ""  # the object's URL, for a notice about it

    def written_at(self) -> datetime | None:
        """When the store wrote this version: its event says (to the millisecond on S3), else the HEAD
        does, if it saw this very version (Last-Modified: whole seconds on S3)."""
        if self.event_time is not None:
            return self.event_time
        return self.stored.last_modified if self.etag == self.stored.etag else None


@dataclass(frozen=True)
class RefusedObject:
    """An object stored under a name the service refuses, as its event describes it."""

    area_uuid: str
    name: str
    etag: str
    size: int
    reason: str
    store_order: str | None = None


def claim_checksum_run(  # noqa: PLR0911 - one decision table, one return per outcome
    session: Session, seen: SeenObject, *, for_job: bool, stale_after: timedelta
) -> Claim | Known | Skip:
    """Decide who checksums the version `seen` names (see the module's docstring). A claimed inline
    run is CHECKSUMMING; a run claimed for a job stays SCHEDULED until the job reports."""
    area = find_area(session, seen.area_uuid)
    if area is None:
        logger.info("%s/%s: no such upload area; ignored", seen.area_uuid, seen.name)
        return Skip.IGNORED
    size = seen.event_size if seen.event_size is not None else seen.stored.size
    if area.status not in PROCESSED:
        return _deletion_wins(session, area, seen.name, seen.etag, size, seen.store_order)
    held = seen.etag == seen.stored.etag
    if _settle_locked_write(session, area, seen, held=held):
        return Skip.REJECTED
    version = record_version_row(
        session,
        area.id,
        seen.name,
        seen.etag,
        lambda: _version_seen(area.id, seen, held=held),
        held=held,
        store_order=_store_order_of(seen, held=held),
        for_update=True,
    )
    if not held:
        _record_now_stored(session, area, seen)
    if version.status in FINISHED_VERSION:
        return Known(dict(version.checksums or {})) if version.current else Skip.ALREADY_DONE
    if version.status in (FileStatus.DELETED, FileStatus.REJECTED):
        return Skip.IGNORED
    if not version.current:
        aborted = ChecksumRun(file_id=version.id, status=ChecksumStatus.SCHEDULED)
        replaced = f"replaced by version {seen.stored.etag}" if not held else "a later version is current"
        transition_checksum(aborted, ChecksumStatus.ABORTED, reason=replaced)
        session.add(aborted)
        return Skip.ABORTED
    run = latest_run(session, version.id)
    if run is not None and run.status is ChecksumStatus.SCHEDULED and run.job_id:
        return Skip.IN_PROGRESS
    if run is not None and run.status is ChecksumStatus.CHECKSUMMING:
        if not is_stale(run.updated_at, stale_after):
            return Skip.IN_PROGRESS
        logger.warning("%s/%s: taking over a stalled checksum run %s", seen.area_uuid, seen.name, run.id)
        run.started_at = utcnow()  # also refreshes the heartbeat (updated_at)
        return Claim(run.id, version.id)
    if run is None or run.status is not ChecksumStatus.SCHEDULED:
        run = ChecksumRun(id=uuid.uuid4(), file_id=version.id, status=ChecksumStatus.SCHEDULED)
        session.add(run)
    if not for_job:
        transition_checksum(run, ChecksumStatus.CHECKSUMMING)
    session.flush()
    return Claim(run.id, version.id)


def latest_run(session: Session, version_id: int) -> ChecksumRun | None:
    """The version's newest checksum run: the one its checksum status reports."""
    return session.scalars(
        select(ChecksumRun)
        .where(ChecksumRun.file_id == version_id)
        .order_by(ChecksumRun.created_at.desc(), ChecksumRun.id.desc())
        .limit(1)
    ).first()


def is_latest_run() -> ColumnElement[bool]:
    """`latest_run` as SQL, for counting over many versions at once."""
    newer = aliased(ChecksumRun)
    return ~exists().where(
        and_(
            newer.file_id == ChecksumRun.file_id,
            (newer.created_at > ChecksumRun.created_at)
            | and_(newer.created_at == ChecksumRun.created_at, newer.id > ChecksumRun.id),
        )
    )


def is_stale(heartbeat: datetime, stale_after: timedelta, *, now: datetime | None = None) -> bool:
    """True when a run's heartbeat (its `updated_at`) is older than `stale_after`: its worker is gone."""
    return heartbeat <= (now or utcnow()) - stale_after


def beat(session: Session, run_id: uuid.UUID) -> None:
    """Refresh the run's heartbeat: a live worker beats well within the stale period."""
    session.execute(update(ChecksumRun).where(ChecksumRun.id == run_id).values(updated_at=utcnow()))


def finish_run(session: Session, run_id: uuid.UUID, status: ChecksumStatus, *, reason: str) -> None:
    """End a run without checksums (ABORTED or FAILED) with the reason."""
    run = session.get(ChecksumRun, run_id, with_for_update=True)
    if run is not None:
        transition_checksum(run, status, reason=reason)


def attach_job(session: Session, run_id: uuid.UUID, job_id: str) -> None:
    """Record the job that now holds the run."""
    session.execute(update(ChecksumRun).where(ChecksumRun.id == run_id).values(job_id=job_id))


def record_refused_object(session: Session, refused: RefusedObject, *, url: str) -> Skip:
    """Record an object stored under a refused name as a REJECTED version with the reason, and notify
    it, once per version: `REJECTED` the first time, `ALREADY_DONE` after. `REMOVE` when its area's
    deletion has begun, `IGNORED` when there is no such area. `url`: the object's URL, for the notice."""
    area = find_area(session, refused.area_uuid)
    if area is None:
        logger.warning(
            "%s/%s: refused name in no known upload area; dropped", refused.area_uuid, refused.name
        )
        return Skip.IGNORED
    if area.status not in PROCESSED:
        return _deletion_wins(session, area, refused.name, refused.etag, refused.size, refused.store_order)
    lock_file(session, area.uuid, refused.name)
    if version_with_etag(session, area.id, refused.name, refused.etag) is not None:
        return Skip.ALREADY_DONE
    version = record_version_row(
        session,
        area.id,
        refused.name,
        refused.etag,
        lambda: _unkept(area, refused.name, refused.etag, refused.size, FileStatus.REJECTED, refused.reason),
        held=False,
        store_order=refused.store_order,
    )
    session.flush()
    info = file_info_of_version(version, area_uuid=area.uuid, url=url)
    notify_file_uploaded(session, version, info, reason=refused.reason)
    logger.warning(
        "%s/%s: stored under a refused name (%s); recorded", area.uuid, refused.name, refused.reason
    )
    return Skip.REJECTED


def _record_now_stored(session: Session, area: UploadArea, seen: SeenObject) -> None:
    """The store holds another version than the event's now: that one is current (recorded if it was
    not), unless it was written while the area was locked."""
    now_stored = SeenObject(area.uuid, seen.name, seen.stored.etag, seen.stored, url=seen.url)
    if not _settle_locked_write(session, area, now_stored, held=True):
        record_version(session, area.id, seen.name, seen.stored, origin=FileOrigin.STORE)


def _settle_locked_write(session: Session, area: UploadArea, seen: SeenObject, *, held: bool) -> bool:
    """True when `seen` is a version written while the area was locked: a new one is recorded REJECTED
    (`WRITTEN_WHILE_LOCKED`) and notified, once; either way it takes the current version's place when
    the store holds it. A version rejected so and written again after the unlock (the same bytes
    uploaded anew) becomes an ordinary version (False); a second look at the write made during the lock
    (a redelivered event, a HEAD) never does. A version recorded otherwise (by the API's own PUT, or
    written before the lock) is never rejected by a later write of the same bytes (False)."""
    lock_file(session, area.uuid, seen.name)
    known = version_with_etag(session, area.id, seen.name, seen.etag, for_update=True)
    rejected_before = (
        known is not None and known.status is FileStatus.REJECTED and known.reason == WRITTEN_WHILE_LOCKED
    )
    if known is not None and not rejected_before:
        return False
    if known is not None and written_after_unlock(area, seen.written_at()):
        transition_file(known, FileStatus.UPLOADED)
        known.reason = None
        logger.info("%s/%s: written again after the unlock; taken", area.uuid, seen.name)
        return False
    if known is None and not written_while_locked(area, seen.written_at()):
        return False

    def rejected() -> FileVersion:
        row = _version_seen(area.id, seen, held=held)
        row.status, row.reason = FileStatus.REJECTED, WRITTEN_WHILE_LOCKED
        return row

    version = record_version_row(
        session,
        area.id,
        seen.name,
        seen.etag,
        rejected,
        held=held,
        store_order=_store_order_of(seen, held=held),
    )
    if known is not None:
        return True  # seen again, or the same bytes again under the lock: notified already
    session.flush()
    notify_file_uploaded(
        session,
        version,
        file_info_of_version(version, area_uuid=area.uuid, url=seen.url),
        reason=WRITTEN_WHILE_LOCKED,
    )
    logger.warning(
        "%s/%s: written at %s, while the area was locked (since %s); recorded REJECTED",
        area.uuid,
        seen.name,
        seen.written_at(),
        area.locked_at,
    )
    return True


def _deletion_wins(  # noqa: PLR0917 - private helper: the object as its event names it
    session: Session, area: UploadArea, name: str, etag: str, size: int, store_order: str | None
) -> Skip:
    """The caller deletes an object of an area whose deletion has begun; recorded as a DELETED version
    (unless the version was recorded before: the deletion marks that one)."""
    reason = f"stored in upload area {area.uuid} after its deletion began; deleted"
    record_version_row(
        session,
        area.id,
        name,
        etag,
        lambda: _unkept(area, name, etag, size, FileStatus.DELETED, reason),
        held=False,
        store_order=store_order,
    )
    return Skip.REMOVE


def _unkept(  # noqa: PLR0917 - private helper with two callers
    area: UploadArea, name: str, etag: str, size: int, status: FileStatus, reason: str
) -> FileVersion:
    """The row of a version the service does not keep (never current, never checksummed)."""
    return FileVersion(
        area_id=area.id,
        name=name,
        etag=etag,
        size=size,
        origin=FileOrigin.STORE,
        status=status,
        reason=reason,
    )


def _store_order_of(seen: SeenObject, *, held: bool) -> str | None:
    """The event's store order, or the HEAD's when the HEAD saw this very version (the later of two)."""
    orders = [order for order in (seen.store_order, seen.stored.store_order if held else None) if order]
    return max(orders, default=None)


def _version_seen(area_id: int, seen: SeenObject, *, held: bool) -> FileVersion:
    if held:
        return new_file_version(area_id, seen.name, seen.stored, origin=FileOrigin.STORE)
    # An older version, seen only in its event: its size is all that is known of it.
    return FileVersion(
        area_id=area_id,
        name=seen.name,
        etag=seen.etag,
        size=seen.event_size if seen.event_size is not None else seen.stored.size,
        origin=FileOrigin.STORE,
        status=FileStatus.UPLOADED,
    )


def stale_period(settings: Settings) -> timedelta:
    """How long a CHECKSUMMING run may go without a heartbeat before it counts as abandoned."""
    return timedelta(seconds=settings.checksum_stale_after_seconds)
