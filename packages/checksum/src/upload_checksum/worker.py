"""The per-record function of the checksum queue: checksum each new file version exactly once.

Idempotent per (area, name, ETag): the file version row is the claim. A duplicate or redelivered
event finds the version checksummed (and only re-applies missing tags), or finds a live run (its
heartbeat is recent) and leaves it alone; a run whose worker died (stale heartbeat) is taken over.
An event for a version that is no longer the stored one, or content that changes while it is read,
ends as ABORTED without a notification: the newer version's own event does the work.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from upload_checksum.events import ObjectEvent, parse_events
from upload_checksum.jobs import submit_checksum_job
from upload_common import messages
from upload_common.checksum_tags import tags_hold, write_checksum_tags
from upload_common.checksums import Checksums, checksum_object
from upload_common.declared_checksums import mismatches
from upload_common.domain.outbox import notify_file_uploaded
from upload_common.domain.state_machines import transition_checksum, transition_file
from upload_common.errors import ContentChangedError, ObjectNotFoundError
from upload_common.fileinfo import file_info_of_version, new_file_version
from upload_common.models import ChecksumRun, FileVersion, UploadArea, utcnow
from upload_common.service_context import ServiceContext
from upload_common.settings import Settings
from upload_common.statuses import AreaStatus, ChecksumStatus, FileOrigin, FileStatus
from upload_common.storage import ObjectInfo

logger = logging.getLogger(__name__)

HEARTBEATS_PER_STALE_PERIOD = 6  # a live worker beats several times before its run could look stale
PROGRESS_LOG_SECONDS = 10.0
LIVE_AREA = (AreaStatus.UNLOCKED, AreaStatus.LOCKED)


class Outcome(StrEnum):
    CHECKSUMMED = "checksummed"
    CORRUPT = "corrupt"  # checksummed, and the client's declared checksum disagrees
    RETAGGED = "retagged"  # known checksums re-applied as tags, nothing recomputed
    ALREADY_DONE = "already_done"
    IN_PROGRESS = "in_progress"  # another worker (or a job) holds this version
    JOB_SUBMITTED = "job_submitted"
    ABORTED = "aborted"
    IGNORED = "ignored"  # the object or its area is gone


def handle_record(
    context: ServiceContext, body: str, *, inline_max_bytes: int | None = None
) -> list[Outcome]:
    """Process one queue message. `inline_max_bytes`: larger files go to a checksum job (None: no limit)."""
    return [process_object(context, event, inline_max_bytes=inline_max_bytes) for event in parse_events(body)]


def process_object(
    context: ServiceContext, event: ObjectEvent, *, inline_max_bytes: int | None = None
) -> Outcome:
    key = f"{event.area_uuid}/{event.name}"
    try:
        head = context.store.head(key)
    except ObjectNotFoundError:
        logger.info("%s: no longer stored; nothing to checksum", key)
        return Outcome.IGNORED
    use_job = inline_max_bytes is not None and head.size > inline_max_bytes and context.job_runner is not None
    claim = _claim(context, event, head, use_job=use_job)
    if isinstance(claim, Outcome):
        return claim
    if isinstance(claim, _Known):
        return _retag(context, key, head, claim.checksums)
    if use_job:
        submit_checksum_job(context, claim.run_id, event.area_uuid, key, head)
        return Outcome.JOB_SUBMITTED
    return _checksum_inline(context, claim, key, head)


@dataclass(frozen=True)
class _Claim:
    """This worker holds the version's checksum run."""

    run_id: uuid.UUID
    version_id: int


@dataclass(frozen=True)
class _Known:
    """The version was checksummed before: its checksums only need to be on the object."""

    checksums: Mapping[str, str]


def _claim(
    context: ServiceContext, event: ObjectEvent, head: ObjectInfo, *, use_job: bool
) -> _Claim | _Known | Outcome:
    etag = event.etag or head.etag
    for attempt in range(2):
        try:
            with context.sessions.begin() as session:
                return _claim_in(session, event, head, etag, use_job=use_job, settings=context.settings)
        except IntegrityError:
            if attempt:
                raise
            # Another worker created the same version row at the same moment: read it and decide again.
    raise AssertionError("unreachable")


def _claim_in(  # noqa: PLR0911 - one decision table, one return per outcome
    session: Session, event: ObjectEvent, head: ObjectInfo, etag: str, *, use_job: bool, settings: Settings
) -> _Claim | _Known | Outcome:
    area = session.scalars(select(UploadArea).where(UploadArea.uuid == event.area_uuid)).one_or_none()
    if area is None or area.status not in LIVE_AREA:
        logger.info("%s/%s: area is unknown or being deleted; ignored", event.area_uuid, event.name)
        return Outcome.IGNORED
    version = session.scalars(
        select(FileVersion)
        .where(FileVersion.area_id == area.id, FileVersion.name == event.name, FileVersion.etag == etag)
        .with_for_update()
    ).one_or_none()
    current = etag == head.etag
    if version is None:
        version = _new_version(area, event, head, etag, current=current)
        session.add(version)
        session.flush()
    if version.status in (FileStatus.CHECKSUMMED, FileStatus.CORRUPT):
        return _Known(dict(version.checksums or {})) if current else Outcome.ALREADY_DONE
    if version.status is FileStatus.DELETED:
        return Outcome.IGNORED
    run = session.scalars(
        select(ChecksumRun)
        .where(ChecksumRun.file_id == version.id)
        .order_by(ChecksumRun.created_at.desc())
        .limit(1)
    ).first()
    if not current:
        aborted = ChecksumRun(file_id=version.id, status=ChecksumStatus.SCHEDULED)
        transition_checksum(aborted, ChecksumStatus.ABORTED, reason=f"replaced by version {head.etag}")
        session.add(aborted)
        return Outcome.ABORTED
    if run is not None and run.status is ChecksumStatus.SCHEDULED and run.job_id:
        return Outcome.IN_PROGRESS
    if run is not None and run.status is ChecksumStatus.CHECKSUMMING:
        if run.updated_at > utcnow() - stale_after(settings):
            return Outcome.IN_PROGRESS
        logger.warning("%s/%s: taking over a stalled checksum run %s", event.area_uuid, event.name, run.id)
        run.started_at = utcnow()  # also refreshes the heartbeat (updated_at)
        return _Claim(run.id, version.id)
    if run is None or run.status is not ChecksumStatus.SCHEDULED:
        run = ChecksumRun(id=uuid.uuid4(), file_id=version.id, status=ChecksumStatus.SCHEDULED)
        session.add(run)
    if not use_job:
        transition_checksum(run, ChecksumStatus.CHECKSUMMING)
    session.flush()
    return _Claim(run.id, version.id)


def stale_after(settings: Settings) -> timedelta:
    """How long a CHECKSUMMING run may go without a heartbeat before it counts as abandoned."""
    return timedelta(seconds=settings.checksum_stale_after_seconds)


def _new_version(
    area: UploadArea, event: ObjectEvent, head: ObjectInfo, etag: str, *, current: bool
) -> FileVersion:
    if current:
        return new_file_version(area.id, event.name, head, origin=FileOrigin.STORE)
    # An older version, seen only in its event: its size is all that is known of it.
    size = event.size if event.size is not None else head.size
    return FileVersion(
        area_id=area.id,
        name=event.name,
        etag=etag,
        size=size,
        origin=FileOrigin.STORE,
        status=FileStatus.UPLOADED,
    )


def _retag(context: ServiceContext, key: str, head: ObjectInfo, known: Mapping[str, str]) -> Outcome:
    """Re-apply the version's known checksums as tags (an identical re-upload erases them)."""
    prefix = context.settings.checksum_tag_prefix
    if tags_hold(context.store.get_tags(key), known, prefix):
        return Outcome.ALREADY_DONE
    write_checksum_tags(context.store, key, known, prefix)
    if context.store.head(key).etag != head.etag:
        context.queue("checksum").send(messages.file_uploaded(*key.split("/", 1)))
    return Outcome.RETAGGED


def _checksum_inline(context: ServiceContext, claim: _Claim, key: str, head: ObjectInfo) -> Outcome:
    heartbeat = _Heartbeat(context, claim.run_id, key, head.size)
    try:
        checksums = checksum_object(context.store, key, expected_etag=head.etag, progress=heartbeat)
    except (ContentChangedError, ObjectNotFoundError) as exc:
        _finish_run(context, claim.run_id, ChecksumStatus.ABORTED, reason=str(exc))
        logger.info("%s: aborted: %s", key, exc)
        return Outcome.ABORTED
    write_checksum_tags(context.store, key, checksums, context.settings.checksum_tag_prefix)
    if context.store.head(key).etag != head.etag:
        # A newer version arrived while tagging: the tags may sit on it. Its own event re-tags it; make
        # sure that event exists even if this replacement raced ahead of it.
        context.queue("checksum").send(messages.file_uploaded(*key.split("/", 1)))
    return _record_result(context, claim, key, checksums)


def _record_result(context: ServiceContext, claim: _Claim, key: str, checksums: Checksums) -> Outcome:
    """Store the checksums, finish the run and queue the notification, in one transaction."""
    area_uuid = key.split("/", 1)[0]
    with context.sessions.begin() as session:
        version = session.get(FileVersion, claim.version_id, with_for_update=True)
        run = session.get(ChecksumRun, claim.run_id, with_for_update=True)
        if version is None or run is None:
            return Outcome.IGNORED
        transition_checksum(run, ChecksumStatus.CHECKSUMMED)
        if version.status is not FileStatus.UPLOADED:
            return Outcome.ALREADY_DONE
        computed = checksums.as_dict()
        version.checksums = computed
        disagree = mismatches(version.client_checksums, computed)
        transition_file(version, FileStatus.CORRUPT if disagree else FileStatus.CHECKSUMMED)
        session.flush()
        info = file_info_of_version(version, area_uuid=area_uuid, url=context.store.object_url(key))
        notify_file_uploaded(session, version, info)
    if disagree:
        logger.warning(
            "%s: computed checksums disagree with the client's %s: likely corrupted in transit", key, disagree
        )
        return Outcome.CORRUPT
    logger.info("%s: checksummed (%d bytes)", key, version.size)
    return Outcome.CHECKSUMMED


def _finish_run(context: ServiceContext, run_id: uuid.UUID, status: ChecksumStatus, *, reason: str) -> None:
    with context.sessions.begin() as session:
        run = session.get(ChecksumRun, run_id, with_for_update=True)
        if run is not None:
            transition_checksum(run, status, reason=reason)


class _Heartbeat:
    """Progress callback: keeps the run's heartbeat fresh and logs progress of long checksums."""

    def __init__(self, context: ServiceContext, run_id: uuid.UUID, key: str, size: int) -> None:
        self._context = context
        self._run_id = run_id
        self._key = key
        self._size = size
        self._last_beat = self._last_log = time.monotonic()
        self._interval = stale_after(context.settings).total_seconds() / HEARTBEATS_PER_STALE_PERIOD

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last_beat >= self._interval:
            self._last_beat = now
            with self._context.sessions.begin() as session:
                session.execute(
                    update(ChecksumRun).where(ChecksumRun.id == self._run_id).values(updated_at=utcnow())
                )
        if now - self._last_log >= PROGRESS_LOG_SECONDS:
            self._last_log = now
            share = 100 * done / max(self._size, 1)
            logger.info("%s: %d of %d bytes checksummed (%.0f%%)", self._key, done, self._size, share)
