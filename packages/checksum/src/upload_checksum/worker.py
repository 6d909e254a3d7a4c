"""The per-record function of the checksum queue: checksum each new file version exactly once.

Who does the work is decided by `upload_common.domain.checksum_runs.claim_checksum_run` (idempotent
per (area, name, ETag)); what is recorded, by `upload_common.domain.checksum_results`. This module is
the edge: it reads the store, computes, tags, deletes what deletion wins over, and turns the decision
into an `Outcome`.

Each record of a message is handled on its own: one that can never be processed is logged and dropped
alone; one that fails for a reason that may pass (the store, the database) makes the whole message come
back once the others are done, and those others are then no-ops (every step is idempotent).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from enum import StrEnum

from upload_checksum.events import ObjectEvent, UnreadableRecord, parse_events
from upload_checksum.jobs import submit_checksum_job
from upload_common import messages
from upload_common.checksum_tags import tags_hold, write_checksum_tags
from upload_common.checksums import Checksums, checksum_object
from upload_common.domain.checksum_results import record_checksum_result
from upload_common.domain.checksum_runs import (
    Claim,
    Known,
    RefusedObject,
    SeenObject,
    Skip,
    beat,
    claim_checksum_run,
    finish_run,
    record_refused_object,
    stale_period,
)
from upload_common.domain.versions import lock_file, object_key, split_object_key
from upload_common.errors import ContentChangedError, InvalidInputError, ObjectNotFoundError
from upload_common.models import ChecksumRun, FileVersion
from upload_common.service_context import ServiceContext
from upload_common.statuses import ChecksumStatus
from upload_common.storage import ObjectInfo

logger = logging.getLogger(__name__)

HEARTBEATS_PER_STALE_PERIOD = 6  # a live worker beats several times before its run could look stale
PROGRESS_LOG_SECONDS = 10.0


class Outcome(StrEnum):
    CHECKSUMMED = "checksummed"
    CORRUPT = "corrupt"  # checksummed, and the client's declared checksum disagrees
    RETAGGED = "retagged"  # known checksums re-applied as tags, nothing recomputed
    ALREADY_DONE = Skip.ALREADY_DONE.value
    IN_PROGRESS = Skip.IN_PROGRESS.value  # another worker (or a job) holds this version
    JOB_SUBMITTED = "job_submitted"
    ABORTED = Skip.ABORTED.value
    IGNORED = Skip.IGNORED.value  # the object or its area is gone
    REMOVED = Skip.REMOVE.value  # the area's deletion has begun: the object was deleted (deletion wins)
    # Stored under a name the service refuses, or written while its area was locked: recorded, notified.
    REJECTED = Skip.REJECTED.value
    DROPPED = "dropped"  # a record that can never be processed (logged)


def handle_record(
    context: ServiceContext, body: str, *, inline_max_bytes: int | None = None
) -> list[Outcome]:
    """Process one queue message, each record on its own (see the module's docstring).
    `inline_max_bytes`: larger files go to a checksum job (None: no limit)."""
    outcomes: list[Outcome] = []
    retry: Exception | None = None
    for record in parse_events(body):
        try:
            outcomes.append(_process_record(context, record, inline_max_bytes))
        except InvalidInputError as exc:
            logger.error("dropping a record that cannot be processed: %s", exc)
            outcomes.append(Outcome.DROPPED)
        except Exception as exc:  # noqa: BLE001 - kept, and raised once the other records are done
            logger.warning("a record failed; its message will come back: %r", exc)
            retry = retry or exc
    if retry is not None:
        raise retry
    return outcomes


def _process_record(
    context: ServiceContext, record: ObjectEvent | UnreadableRecord, inline_max_bytes: int | None
) -> Outcome:
    if isinstance(record, UnreadableRecord):
        logger.error("dropping a record that cannot be processed: %s", record.reason)
        return Outcome.DROPPED
    if record.refused is not None:
        return _refused(context, record, record.refused)
    return process_object(context, record, inline_max_bytes=inline_max_bytes)


def process_object(
    context: ServiceContext, event: ObjectEvent, *, inline_max_bytes: int | None = None
) -> Outcome:
    key = object_key(event.area_uuid, event.name)
    with context.sessions.begin() as session:
        # The HEAD comes after the lock, so it sees the store no earlier than any recorder before us:
        # what it shows may become current (`upload_common.domain.versions`).
        lock_file(session, event.area_uuid, event.name)
        try:
            head = context.store.head(key)
        except ObjectNotFoundError:
            logger.info("%s: no longer stored; nothing to checksum", key)
            return Outcome.IGNORED
        use_job = (
            inline_max_bytes is not None and head.size > inline_max_bytes and context.job_runner is not None
        )
        seen = SeenObject(
            event.area_uuid,
            event.name,
            event.etag or head.etag,
            head,
            event.size,
            event.store_order,
            event_time=event.event_time,
            url=context.store.object_url(key),
        )
        claim = claim_checksum_run(session, seen, for_job=use_job, stale_after=stale_period(context.settings))
    if claim is Skip.REMOVE:
        return _remove(context, key)
    if isinstance(claim, Skip):
        return Outcome(claim.value)
    if isinstance(claim, Known):
        return _retag(context, key, head, claim.checksums)
    if use_job:
        submit_checksum_job(context, claim.run_id, event.area_uuid, key, head)
        return Outcome.JOB_SUBMITTED
    return _checksum_inline(context, claim, key, head)


def _refused(context: ServiceContext, event: ObjectEvent, reason: str) -> Outcome:
    """Record (and notify) an object stored under a name the service refuses, once."""
    key = object_key(event.area_uuid, event.name)
    refused = RefusedObject(
        event.area_uuid, event.name, event.etag or "", event.size or 0, reason, event.store_order
    )
    with context.sessions.begin() as session:
        # `object_url` refuses such a name; the URL says where the object is all the same.
        skip = record_refused_object(session, refused, url=f"{context.store.url}/{key}")
    return _remove(context, key) if skip is Skip.REMOVE else Outcome(skip.value)


def _remove(context: ServiceContext, key: str) -> Outcome:
    """Deletion wins: the object reached an area whose deletion has begun (recorded by the claim)."""
    context.store.delete_many([key])
    logger.warning("%s: its upload area is being deleted or was deleted; the object was deleted", key)
    return Outcome.REMOVED


def _retag(context: ServiceContext, key: str, head: ObjectInfo, known: Mapping[str, str]) -> Outcome:
    """Re-apply the version's known checksums as tags (an identical re-upload erases them)."""
    prefix = context.settings.checksum_tag_prefix
    if tags_hold(context.store.get_tags(key), known, prefix):
        return Outcome.ALREADY_DONE
    write_checksum_tags(context.store, key, known, prefix)
    _requeue_if_replaced(context, key, head)
    return Outcome.RETAGGED


def _checksum_inline(context: ServiceContext, claim: Claim, key: str, head: ObjectInfo) -> Outcome:
    heartbeat = _Heartbeat(context, claim.run_id, key, head.size)
    try:
        checksums = checksum_object(context.store, key, expected_etag=head.etag, progress=heartbeat)
    except (ContentChangedError, ObjectNotFoundError) as exc:
        with context.sessions.begin() as session:
            finish_run(session, claim.run_id, ChecksumStatus.ABORTED, reason=str(exc))
        logger.info("%s: aborted: %s", key, exc)
        return Outcome.ABORTED
    write_checksum_tags(context.store, key, checksums, context.settings.checksum_tag_prefix)
    _requeue_if_replaced(context, key, head)
    return _record(context, claim, key, checksums)


def _requeue_if_replaced(context: ServiceContext, key: str, head: ObjectInfo) -> None:
    """A newer version arrived while tagging: the tags may sit on it. Its own event re-tags it; make
    sure that event exists even if this replacement raced ahead of it."""
    if context.store.head(key).etag != head.etag:
        context.queue("checksum").send(messages.file_uploaded(*split_object_key(key)))


def _record(context: ServiceContext, claim: Claim, key: str, checksums: Checksums) -> Outcome:
    with context.sessions.begin() as session:
        version = session.get(FileVersion, claim.version_id, with_for_update=True)
        run = session.get(ChecksumRun, claim.run_id, with_for_update=True)
        if version is None or run is None:
            return Outcome.IGNORED
        verdict = record_checksum_result(
            session, version, run, checksums.as_dict(), url=context.store.object_url(key)
        )
        size = version.size
    if not verdict.recorded:
        return Outcome.ALREADY_DONE
    if verdict.corrupt:
        logger.warning(
            "%s: computed checksums disagree with the client's %s: likely corrupted in transit",
            key,
            verdict.mismatches,
        )
        return Outcome.CORRUPT
    logger.info("%s: checksummed (%d bytes)", key, size)
    return Outcome.CHECKSUMMED


class _Heartbeat:
    """Progress callback: keeps the run's heartbeat fresh and logs progress of long checksums."""

    def __init__(self, context: ServiceContext, run_id: uuid.UUID, key: str, size: int) -> None:
        self._context = context
        self._run_id = run_id
        self._key = key
        self._size = size
        self._last_beat = self._last_log = time.monotonic()
        self._interval = stale_period(context.settings).total_seconds() / HEARTBEATS_PER_STALE_PERIOD

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last_beat >= self._interval:
            self._last_beat = now
            with self._context.sessions.begin() as session:
                beat(session, self._run_id)
        if now - self._last_log >= PROGRESS_LOG_SECONDS:
            self._last_log = now
            share = 100 * done / max(self._size, 1)
            logger.info("%s: %d of %d bytes checksummed (%.0f%%)", self._key, done, self._size, share)
