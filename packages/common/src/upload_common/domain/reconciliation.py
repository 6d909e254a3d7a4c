"""Reconciliation: which stored objects the service never processed, and which versions to re-verify.

A stored object is compared with the recorded versions by (area, name, ETag). It is *pending* (its
`file_uploaded` message must be queued) when
- no version with its ETag was recorded (its event was lost), or
- its version is UPLOADED with no finished run and no live one: no run at all, a last run ABORTED
  although it is the stored version, or a run whose heartbeat went stale, or
- its version is checksummed but not current (`versions.is_current`): the same bytes were stored again
  after another version (A, B, A) and that event was lost.
A version held by a live run (a CHECKSUMMING run with a fresh heartbeat, a SCHEDULED run with a job or
a fresh one) is being processed; a finished one (current CHECKSUMMED or CORRUPT, a FAILED run,
REJECTED) is left alone. Queuing a pending version twice is harmless: the checksum worker is
idempotent per version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import ARRAY, ColumnElement, Integer, Select, String, any_, func, literal, select
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.types import TypeEngine

from upload_common.checksums.result import CHECKSUM_NAMES
from upload_common.domain.areas import PROCESSED
from upload_common.domain.checksum_runs import FINISHED_VERSION, is_latest_run, is_stale
from upload_common.domain.versions import is_current
from upload_common.models import ChecksumRun, FileVersion, UploadArea
from upload_common.statuses import ChecksumStatus, FileStatus


class Pending(StrEnum):
    """Why a stored object's checksum is queued again."""

    NEVER_RECORDED = "never_recorded"  # the service never heard of this version
    NEVER_FINISHED = "never_finished"  # recorded, but no run finished and none is live
    NOT_CURRENT = "not_current"  # checksummed, stored again, and another version is still current


class RecordedVersion(NamedTuple):
    """A recorded version with its latest checksum run (None: it never had one, or it was not looked
    up). A tuple: a reconciliation makes one per stored object."""

    name: str
    etag: str
    status: FileStatus
    current: bool
    run_status: ChecksumStatus | None
    run_job_id: str | None
    run_updated_at: datetime | None


@dataclass(frozen=True)
class FinishedVersion:
    """A checksummed version: what the stored bytes must still hash to."""

    area_uuid: str
    name: str
    etag: str
    size: int
    checksums: Mapping[str, str]


def processed_areas_page(session: Session, *, after_id: int, limit: int) -> list[tuple[int, str]]:
    """`(id, uuid)` of up to `limit` areas whose files are processed (UNLOCKED, LOCKED), by id."""
    rows = session.execute(
        select(UploadArea.id, UploadArea.uuid)
        .where(UploadArea.status.in_(PROCESSED), UploadArea.id > after_id)
        .order_by(UploadArea.id)
        .limit(limit)
    )
    return [(area_id, area_uuid) for area_id, area_uuid in rows]


_NO_RUN = (None, None, None)


def recorded_versions(
    session: Session, area_id: int, names: Sequence[str]
) -> dict[tuple[str, str], RecordedVersion]:
    """Every recorded version of these files of the area, by (name, ETag); the latest run is looked
    up only for UPLOADED versions (the others are decided by their status alone)."""
    if not names:
        return {}
    versions = session.execute(
        select(FileVersion.id, FileVersion.name, FileVersion.etag, FileVersion.status, is_current()).where(
            FileVersion.area_id == area_id, _one_of(session, FileVersion.name, names, String)
        )
    ).all()
    runs = _latest_runs(session, [row[0] for row in versions if row[3] is FileStatus.UPLOADED])
    return {
        (name, etag): RecordedVersion(name, etag, status, bool(current), *runs.get(version_id, _NO_RUN))
        for version_id, name, etag, status, current in versions
    }


def _latest_runs(
    session: Session, version_ids: Sequence[int]
) -> dict[int, tuple[ChecksumStatus, str | None, datetime]]:
    """The latest run of each version: status, job id, heartbeat. A separate query, never a join:
    the latest-run rule inside an outer join's ON clause cannot become an anti-join, and without
    fresh statistics PostgreSQL then ran it as a subplan per row pair, for minutes."""
    if not version_ids:
        return {}
    rows = session.execute(
        select(ChecksumRun.file_id, ChecksumRun.status, ChecksumRun.job_id, ChecksumRun.updated_at).where(
            _one_of(session, ChecksumRun.file_id, version_ids, Integer), is_latest_run()
        )
    )
    return {file_id: (status, job_id, updated_at) for file_id, status, job_id, updated_at in rows}


def _one_of(
    session: Session, column: QueryableAttribute[Any], values: Sequence[Any], item_type: type[TypeEngine[Any]]
) -> ColumnElement[bool]:
    # PostgreSQL takes a page of values as one array parameter: a thousand separate parameters cost
    # more to render and parse than the query costs to run.
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(list(values), ARRAY(item_type)))
    return column.in_(values)


def pending_reason(
    recorded: RecordedVersion | None, *, stale_after: timedelta, now: datetime
) -> Pending | None:
    """Why the stored object whose version is `recorded` must be queued, or None (see the module)."""
    if recorded is None:
        return Pending.NEVER_RECORDED
    if recorded.status in FINISHED_VERSION:
        return None if recorded.current else Pending.NOT_CURRENT
    if recorded.status is FileStatus.UPLOADED and not _run_settled(recorded, stale_after, now):
        return Pending.NEVER_FINISHED
    return None  # settled, or refused or deleted (never checksummed)


def _run_settled(recorded: RecordedVersion, stale_after: timedelta, now: datetime) -> bool:
    """True when the version's latest run has finished or is live."""
    if recorded.run_status is None or recorded.run_status is ChecksumStatus.ABORTED:
        return False
    if recorded.run_status in (ChecksumStatus.CHECKSUMMED, ChecksumStatus.FAILED):
        return True  # a FAILED run is final (and notified); an operator re-runs it on purpose
    if recorded.run_status is ChecksumStatus.SCHEDULED and recorded.run_job_id:
        return True  # a job holds it; the reaper follows the job
    # A run without a job is live while its heartbeat is fresh (the reaper's and the worker's rule).
    heartbeat = recorded.run_updated_at
    return heartbeat is not None and not is_stale(heartbeat, stale_after, now=now)


def finished_version_count(session: Session, *, area_id: int | None = None) -> int:
    """How many current versions of processed areas are checksummed (or corrupt)."""
    return session.scalar(select(func.count()).select_from(_finished(area_id).subquery())) or 0


def sample_finished_versions(session: Session, size: int, *, area_id: int | None = None) -> list[int]:
    """The ids of `size` current checksummed versions of processed areas, drawn at random."""
    return list(session.scalars(_finished(area_id).order_by(func.random()).limit(size)))


def finished_versions(session: Session, version_ids: Sequence[int]) -> list[FinishedVersion]:
    """The versions with these ids, with their areas' uuids and their recorded checksums."""
    rows = session.execute(
        select(UploadArea.uuid, FileVersion.name, FileVersion.etag, FileVersion.size, FileVersion.checksums)
        .join(UploadArea, FileVersion.area_id == UploadArea.id)
        .where(FileVersion.id.in_(version_ids))
        .order_by(FileVersion.id)
    )
    return [
        FinishedVersion(area, name, etag, size, dict(checksums or {}))
        for area, name, etag, size, checksums in rows
    ]


def checksum_mismatches(recorded: Mapping[str, str], computed: Mapping[str, str]) -> list[str]:
    """The names of the checksums whose recomputed value is not the recorded one (a missing recorded
    value counts: a finished version always has all four)."""
    return [name for name in CHECKSUM_NAMES if recorded.get(name) != computed.get(name)]


def _finished(area_id: int | None) -> Select[int]:
    query = (
        select(FileVersion.id)
        .join(UploadArea, FileVersion.area_id == UploadArea.id)
        .where(
            UploadArea.status.in_(PROCESSED),
            FileVersion.status.in_(FINISHED_VERSION),
            is_current(),
        )
    )
    return query if area_id is None else query.where(FileVersion.area_id == area_id)
