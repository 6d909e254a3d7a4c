"""Checksum runs: who checksums a file version, exactly once per version.

The version row is the claim: `claim_checksum_run` decides, under the version's row lock, whether the
caller checksums it now (a `Claim`), only re-applies known checksums (`Known`), or does nothing (a
`Skip` saying why). A run whose heartbeat went stale (its worker died) is taken over; an event for a
version that is no longer the stored one ends as an ABORTED run.
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

from upload_common.domain.areas import processed_area
from upload_common.domain.state_machines import transition_checksum
from upload_common.domain.versions import new_file_version, record_version_row
from upload_common.models import ChecksumRun, FileVersion, utcnow
from upload_common.settings import Settings
from upload_common.statuses import ChecksumStatus, FileOrigin, FileStatus
from upload_common.storage.base import ObjectInfo

logger = logging.getLogger(__name__)

FINISHED_VERSION = frozenset({FileStatus.CHECKSUMMED, FileStatus.CORRUPT})


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

    IGNORED = "ignored"  # the area is unknown or being deleted, or the version was deleted
    ALREADY_DONE = "already_done"
    IN_PROGRESS = "in_progress"  # another worker (or a job) holds this version
    ABORTED = "aborted"  # the event is for a version that is no longer the stored one


@dataclass(frozen=True)
class SeenObject:
    """An object as an event names it and as the store holds it now."""

    area_uuid: str
    name: str
    etag: str  # the version the event is about
    stored: ObjectInfo  # what the store holds under the name now
    event_size: int | None = None


def claim_checksum_run(  # noqa: PLR0911 - one decision table, one return per outcome
    session: Session, seen: SeenObject, *, for_job: bool, stale_after: timedelta
) -> Claim | Known | Skip:
    """Decide who checksums the version `seen` names (see the module's docstring). A claimed inline
    run is CHECKSUMMING; a run claimed for a job stays SCHEDULED until the job reports."""
    area = processed_area(session, seen.area_uuid)
    if area is None:
        logger.info("%s/%s: area is unknown or being deleted; ignored", seen.area_uuid, seen.name)
        return Skip.IGNORED
    current = seen.etag == seen.stored.etag
    version = record_version_row(
        session,
        area.id,
        seen.name,
        seen.etag,
        lambda: _version_seen(area.id, seen, current=current),
        for_update=True,
    )
    if version.status in FINISHED_VERSION:
        return Known(dict(version.checksums or {})) if current else Skip.ALREADY_DONE
    if version.status is FileStatus.DELETED:
        return Skip.IGNORED
    if not current:
        aborted = ChecksumRun(file_id=version.id, status=ChecksumStatus.SCHEDULED)
        transition_checksum(aborted, ChecksumStatus.ABORTED, reason=f"replaced by version {seen.stored.etag}")
        session.add(aborted)
        return Skip.ABORTED
    run = latest_run(session, version.id)
    if run is not None and run.status is ChecksumStatus.SCHEDULED and run.job_id:
        return Skip.IN_PROGRESS
    if run is not None and run.status is ChecksumStatus.CHECKSUMMING:
        if not is_stale(run, stale_after):
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


def is_stale(run: ChecksumRun, stale_after: timedelta, *, now: datetime | None = None) -> bool:
    """True when the run's heartbeat (its last update) is older than `stale_after`."""
    return run.updated_at <= (now or utcnow()) - stale_after


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


def _version_seen(area_id: int, seen: SeenObject, *, current: bool) -> FileVersion:
    if current:
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
