"""Reconciliation: find the stored objects the service never processed, and re-verify stored bytes.

`reconcile` walks the areas whose files are processed (UNLOCKED, LOCKED). For each area it lists the
store page by page and looks up each page's names in the database (one query per page), so memory
stays bounded by a page whatever the area's size; the versions the rules of
`upload_common.domain.reconciliation` call pending are queued as `file_uploaded` messages. With a
sample size it then re-reads a random sample of checksummed versions and compares their checksums
with the recorded ones: a mismatch is logged loudly, counted and named in the report; nothing is
changed in the database.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from upload_common import messages
from upload_common.checksums import checksum_object
from upload_common.domain.areas import processed_area
from upload_common.domain.checksum_runs import stale_period
from upload_common.domain.reconciliation import (
    FinishedVersion,
    Pending,
    checksum_mismatches,
    finished_version_count,
    finished_versions,
    pending_reason,
    processed_areas_page,
    recorded_versions,
    sample_finished_versions,
)
from upload_common.domain.seals import is_service_name
from upload_common.domain.versions import object_key, split_object_key
from upload_common.errors import (
    AreaNotFoundError,
    ContentChangedError,
    InvalidInputError,
    ObjectNotFoundError,
)
from upload_common.models import utcnow
from upload_common.queues import MessageQueue
from upload_common.service_context import ServiceContext
from upload_common.storage import ObjectInfo

logger = logging.getLogger(__name__)

PAGE_SIZE = 1000  # store listing pages, names per database query, areas per query
SEND_BATCH = 100  # messages sent per call
VERIFY_PAGE = 100  # sampled versions loaded per query

Item = TypeVar("Item")


@dataclass
class ReconcileReport:
    """What a reconciliation found; `verified` counts the versions re-read and compared."""

    dry_run: bool = False
    areas: int = 0
    objects_listed: int = 0
    never_recorded: int = 0
    never_finished: int = 0
    not_current: int = 0
    verified: int = 0
    mismatched: int = 0
    not_verified: int = 0  # sampled, but replaced, removed or too large to re-read here
    mismatches: list[str] = field(default_factory=list)  # the keys whose bytes no longer match

    def count(self, reason: Pending) -> None:
        """One more pending version; its counter is the field named as the reason's value."""
        setattr(self, reason.value, getattr(self, reason.value) + 1)

    @property
    def versions_queued(self) -> int:
        """Pending versions queued (in a dry run: that would have been queued)."""
        return self.never_recorded + self.never_finished + self.not_current

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"versions_queued": self.versions_queued}

    def summary(self) -> str:
        queued = "would be queued" if self.dry_run else "queued"
        return (
            f"reconcile: {self.areas} areas, {self.objects_listed} objects listed, "
            f"{self.versions_queued} versions {queued} ({self.never_recorded} never recorded, "
            f"{self.never_finished} never finished, {self.not_current} not current); "
            f"{self.verified} verified, "
            f"{self.mismatched} mismatched, {self.not_verified} not verified"
        )


def reconcile(
    context: ServiceContext,
    *,
    area_uuid: str | None = None,
    dry_run: bool = False,
    verify_sample: float = 0,
    verify_max_bytes: int | None = None,
    page_size: int = PAGE_SIZE,
) -> ReconcileReport:
    """Queue every stored version never processed (all processed areas, or `area_uuid`'s), then
    re-verify `verify_sample` versions (a count, or a fraction below 1; 0: none). Versions above
    `verify_max_bytes` are not re-read (a Lambda has 15 minutes)."""
    sample = _checked_sample(verify_sample)
    report = ReconcileReport(dry_run=dry_run)
    only = _processed_area(context, area_uuid) if area_uuid else None
    areas = [only] if only else _all_areas(context, page_size)
    sender = None if dry_run else _Sender(context.queue("checksum"))
    for area in areas:
        _reconcile_area(context, area, report, sender, page_size)
    if sender is not None:
        sender.flush()
    if sample:
        verify(context, sample, report, area_id=only[0] if only else None, max_bytes=verify_max_bytes)
    (logger.error if report.mismatched else logger.info)("%s", report.summary())
    return report


def _reconcile_area(
    context: ServiceContext,
    area: tuple[int, str],
    report: ReconcileReport,
    sender: _Sender | None,
    page_size: int,
) -> None:
    area_id, uuid = area
    report.areas += 1
    # The service's own objects (a sealed area's inventory) are no files: never checksummed.
    listing = (
        info
        for info in context.store.list(f"{uuid}/", page_size=page_size)
        if not _is_service_object(info.key)
    )
    stale_after = stale_period(context.settings)
    for name, reason in classify_listing(
        context.sessions, area_id, listing, page_size=page_size, stale_after=stale_after
    ):
        report.objects_listed += 1
        if reason is None:
            continue
        report.count(reason)
        if sender is not None:
            sender.send(messages.file_uploaded(uuid, name))


def _is_service_object(key: str) -> bool:
    return is_service_name(split_object_key(key)[1])


def classify_listing(
    sessions: sessionmaker[Session],
    area_id: int,
    listing: Iterable[ObjectInfo],
    *,
    page_size: int = PAGE_SIZE,
    stale_after: timedelta,
    now: datetime | None = None,
) -> Iterator[tuple[str, Pending | None]]:
    """`(name, why it is pending or None)` of every object of the area's `listing`, in its order.

    One short database query per page of `page_size` objects: neither the listing nor the area's
    versions are ever held whole.
    """
    for page in _pages(listing, page_size):
        names = [split_object_key(info.key)[1] for info in page]
        with sessions() as session:
            recorded = recorded_versions(session, area_id, names)
        checked_at = now or utcnow()
        for name, info in zip(names, page, strict=True):
            version = recorded.get((name, info.etag))
            yield name, pending_reason(version, stale_after=stale_after, now=checked_at)


def verify(
    context: ServiceContext,
    sample: float,
    report: ReconcileReport,
    *,
    area_id: int | None = None,
    max_bytes: int | None = None,
) -> None:
    """Re-read `sample` random checksummed versions (a count, or a fraction below 1) and compare."""
    with context.sessions() as session:
        if sample < 1:
            sample = math.ceil(sample * finished_version_count(session, area_id=area_id))
        version_ids = sample_finished_versions(session, int(sample), area_id=area_id)
    for chunk in _pages(version_ids, VERIFY_PAGE):
        with context.sessions() as session:
            versions = finished_versions(session, chunk)
        for version in versions:
            _verify_one(context, version, report, max_bytes)


def _verify_one(
    context: ServiceContext, version: FinishedVersion, report: ReconcileReport, max_bytes: int | None
) -> None:
    key = object_key(version.area_uuid, version.name)
    if max_bytes is not None and version.size > max_bytes:
        report.not_verified += 1
        return
    try:
        # Only the recorded version is compared: another ETag is another version, not damage.
        computed = checksum_object(context.store, key, expected_etag=version.etag)
    except (ContentChangedError, ObjectNotFoundError) as exc:
        report.not_verified += 1
        logger.info("%s: not verified: %s", key, exc)
        return
    report.verified += 1
    wrong = checksum_mismatches(version.checksums, computed.as_dict())
    if wrong:
        report.mismatched += 1
        report.mismatches.append(key)
        logger.error(
            "%s: the stored bytes of version %s no longer match the recorded %s",
            key,
            version.etag,
            ", ".join(wrong),
        )


def _checked_sample(sample: float) -> float:
    if not (sample == 0 or 0 < sample < 1 or (sample >= 1 and sample == int(sample))):
        raise InvalidInputError(
            "the verification sample must be a whole number of files or a fraction between 0 and 1,"
            f" not {sample}"
        )
    return sample


def _processed_area(context: ServiceContext, area_uuid: str) -> tuple[int, str]:
    with context.sessions() as session:
        area = processed_area(session, area_uuid)
        if area is None:
            raise AreaNotFoundError(
                f"no upload area {area_uuid} whose files are processed (UNLOCKED or LOCKED)"
            )
        return area.id, area.uuid


def _all_areas(context: ServiceContext, page_size: int) -> Iterator[tuple[int, str]]:
    after_id = 0
    while True:
        with context.sessions() as session:
            page = processed_areas_page(session, after_id=after_id, limit=page_size)
        yield from page
        if len(page) < page_size:
            return
        after_id = page[-1][0]


def _pages(items: Iterable[Item], size: int) -> Iterator[Sequence[Item]]:
    iterator = iter(items)
    while page := list(islice(iterator, size)):
        yield page


class _Sender:
    """Sends messages in batches, so that 100k queued versions are a thousand calls, not 100k."""

    def __init__(self, queue: MessageQueue) -> None:
        self._queue = queue
        self._bodies: list[str] = []

    def send(self, body: str) -> None:
        self._bodies.append(body)
        if len(self._bodies) >= SEND_BATCH:
            self.flush()

    def flush(self) -> None:
        if self._bodies:
            self._queue.send_batch(self._bodies)
            self._bodies = []
