"""An area's manifest: the files ingest expects, each one's verdict, and the area's completeness.

A manifest lists each expected file once: its name (the file-name rules), its size, and optionally its
sha256 and crc32c. Putting a manifest replaces the previous one whole, in one transaction. Each expected
file gets one verdict, from its *current* version (`upload_common.domain.versions`), the first that
applies in this order:

- `missing`: the area has no current version of that name;
- `size_mismatch`: the current version's size differs from the manifest's;
- `pending`: its checksums are not known yet (being computed, or the last run failed and waits for a
  re-run);
- `corrupt`: the service's checksums disagree with those the client declared on upload (CORRUPT);
- `checksum_mismatch`: the service's sha256 or crc32c differs from the one the manifest gives;
- `invalid`: the latest validation that included the current version ended FAILED, or VALIDATED with
  an exit code other than 0;
- `verified`: none of the above: stored, checksummed, matching, and not found invalid.

The area is *complete* when every expected file is `verified`. Extra files (current files the manifest
does not list) do not change that. Verdicts are computed by the database (one query with joins), never
file by file in Python; each entry's `verified` mark, brought up to date for the entries a change
concerns, makes "is every file verified" one indexed lookup at each file event.

Completeness is settled again, in the same transaction, by every change that can move it: a checksum
recorded, a validation finished, a version made current (a file replaced) and a manifest put
(`settle_completeness`). The area row keeps the last verdict (`manifest_complete`), so the change that
flips it queues `area_complete` or `area_incomplete` exactly once, however often events are repeated.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from upload_common.domain.areas import BEING_DELETED, existing_area, refuse_if_sealed
from upload_common.domain.outbox import notify_area_event
from upload_common.domain.validations import of_newest_validation_of_version, validation_failed
from upload_common.domain.versions import advisory_lock_key
from upload_common.errors import ConflictError, InvalidInputError
from upload_common.models import FileVersion, ManifestEntry, UploadArea
from upload_common.statuses import FileStatus, NotificationType

MAX_ENTRIES = 100_000
INSERT_BATCH = 1_000  # rows per INSERT: bounded memory whatever the manifest's length
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_CRC32C = re.compile(r"^[0-9a-fA-F]{8}$")
_DUPLICATES_NAMED = 20  # a 400 names at most this many duplicated names (and says how many there are)


class Verdict(enum.StrEnum):
    MISSING = "missing"
    SIZE_MISMATCH = "size_mismatch"
    PENDING = "pending"
    CORRUPT = "corrupt"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    INVALID = "invalid"
    VERIFIED = "verified"


@dataclass(frozen=True)
class ExpectedFile:
    """One entry of a manifest, as checked by `expected_file`."""

    name: str
    size: int
    sha256: str | None = None
    crc32c: str | None = None


def expected_file(entry: Any, position: int) -> ExpectedFile:
    """The manifest entry at `position`, or `InvalidInputError` saying what is wrong with it. The
    caller has checked the name against the file-name rules."""
    where = f"files[{position}]"
    if not isinstance(entry, dict):
        raise InvalidInputError(f"{where} must be an object with name and size")
    unknown = set(entry) - {"name", "size", "sha256", "crc32c"}
    if unknown:
        raise InvalidInputError(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    name, size = entry.get("name"), entry.get("size")
    if not isinstance(name, str):
        raise InvalidInputError(f"{where}.name must be a string")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInputError(f"{where}.size must be an integer >= 0")
    digests: dict[str, str | None] = {}
    for field, pattern, what in (("sha256", _SHA256, "64"), ("crc32c", _CRC32C, "8")):
        value = entry.get(field)
        if value is not None and (not isinstance(value, str) or not pattern.fullmatch(value)):
            raise InvalidInputError(f"{where}.{field} must be {what} hex digits")
        digests[field] = value.lower() if isinstance(value, str) else None
    return ExpectedFile(name=name, size=size, sha256=digests["sha256"], crc32c=digests["crc32c"])


def manifest_area(session: Session, area_uuid: str) -> UploadArea:
    """The area, locked, if its manifest may be put now: it exists, is not sealed nor being deleted.
    (A locked area takes a manifest: the manifest says what ingest expects, it stores nothing.)"""
    area = existing_area(session, area_uuid, for_update=True)
    refuse_if_sealed(area)
    if area.status in BEING_DELETED:
        raise ConflictError(f"upload area {area_uuid} is being deleted")
    return area


def replace_manifest(session: Session, area: UploadArea, entries: Iterable[ExpectedFile]) -> int:
    """Make `entries` the area's manifest (the previous one goes), in the caller's transaction, and
    settle its completeness; returns how many files it expects. `entries` is consumed in batches
    (never held whole); more than `MAX_ENTRIES`, none, or a name twice: `InvalidInputError` (the caller
    rolls back, so the previous manifest stays)."""
    session.execute(delete(ManifestEntry).where(ManifestEntry.area_id == area.id))
    count = 0
    iterator = iter(entries)
    while batch := list(islice(iterator, INSERT_BATCH)):
        count += len(batch)
        if count > MAX_ENTRIES:
            raise InvalidInputError(f"a manifest lists at most {MAX_ENTRIES} files")
        session.execute(
            insert(ManifestEntry),
            [
                {"area_id": area.id, "name": e.name, "size": e.size, "sha256": e.sha256, "crc32c": e.crc32c}
                for e in batch
            ],
        )
    if count == 0:
        raise InvalidInputError("a manifest lists at least one file")
    _refuse_duplicates(session, area.id)
    # Settled against the previous verdict: a complete area that a new manifest breaks hears
    # area_incomplete; one that stays complete hears nothing new.
    settle_completeness(session, area.id, force=True)
    return count


def _refuse_duplicates(session: Session, area_id: int) -> None:
    duplicated = (
        select(ManifestEntry.name)
        .where(ManifestEntry.area_id == area_id)
        .group_by(ManifestEntry.name)
        .having(func.count() > 1)
    )
    total = session.scalar(select(func.count()).select_from(duplicated.subquery())) or 0
    if total:
        names = session.scalars(duplicated.order_by(ManifestEntry.name).limit(_DUPLICATES_NAMED)).all()
        more = f" (and {total - len(names)} more)" if total > len(names) else ""
        raise InvalidInputError(f"the manifest lists these names more than once: {', '.join(names)}{more}")


def has_manifest(session: Session, area_id: int) -> bool:
    return bool(session.scalar(select(exists().where(ManifestEntry.area_id == area_id))))


def _current() -> Any:
    return aliased(FileVersion, name="current_version")


def _verdict(current: Any) -> ColumnElement[str]:
    """The verdict of a manifest entry joined to the current version of its name (see the module)."""
    sha256 = current.checksums["sha256"].as_string()
    crc32c = current.checksums["crc32c"].as_string()
    differs = or_(
        and_(ManifestEntry.sha256.is_not(None), func.coalesce(sha256, "") != ManifestEntry.sha256),
        and_(ManifestEntry.crc32c.is_not(None), func.coalesce(crc32c, "") != ManifestEntry.crc32c),
    )
    newest_failed = of_newest_validation_of_version(current.id, validation_failed())
    return case(
        (current.id.is_(None), Verdict.MISSING.value),
        (current.size != ManifestEntry.size, Verdict.SIZE_MISMATCH.value),
        (current.status == FileStatus.UPLOADED, Verdict.PENDING.value),
        (current.status == FileStatus.CORRUPT, Verdict.CORRUPT.value),
        (differs, Verdict.CHECKSUM_MISMATCH.value),
        (func.coalesce(newest_failed, 0).cast(Integer) == 1, Verdict.INVALID.value),
        else_=Verdict.VERIFIED.value,
    )


def _entries_with_current(area_id: int, current: Any) -> Any:
    return (
        select(ManifestEntry)
        .outerjoin(
            current,
            and_(
                current.area_id == ManifestEntry.area_id,
                current.name == ManifestEntry.name,
                current.current.is_(True),
            ),
        )
        .where(ManifestEntry.area_id == area_id)
    )


def verdict_counts(session: Session, area_id: int) -> dict[str, int]:
    """How many expected files have each verdict (every verdict present, 0 when none)."""
    current = _current()
    verdict = _verdict(current).label("verdict")
    query = _entries_with_current(area_id, current).with_only_columns(verdict, func.count()).group_by(verdict)
    counts = dict.fromkeys((v.value for v in Verdict), 0)
    for name, count in session.execute(query):
        counts[name] = count
    return counts


def expected_files(session: Session, area_id: int, *, page_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Every expected file with its verdict and what is stored, in name order, streamed."""
    current = _current()
    query = (
        _entries_with_current(area_id, current)
        .with_only_columns(
            ManifestEntry.name,
            ManifestEntry.size,
            ManifestEntry.sha256,
            ManifestEntry.crc32c,
            _verdict(current).label("verdict"),
            current.size.label("stored_size"),
            current.checksums.label("stored_checksums"),
        )
        .order_by(ManifestEntry.name, ManifestEntry.id)
        .execution_options(yield_per=page_size)
    )
    for row in session.execute(query):
        yield {
            "name": row.name,
            "size": row.size,
            "sha256": row.sha256,
            "crc32c": row.crc32c,
            "verdict": row.verdict,
            "stored": None
            if row.stored_size is None
            else {"size": row.stored_size, "checksums": row.stored_checksums},
        }


def extra_files(session: Session, area_id: int, *, page_size: int = 1000) -> Iterator[dict[str, Any]]:
    """The area's current files the manifest does not list, in name order, streamed."""
    listed = exists().where(ManifestEntry.area_id == area_id, ManifestEntry.name == FileVersion.name)
    query = (
        select(FileVersion.name, FileVersion.size, FileVersion.checksums)
        .where(FileVersion.area_id == area_id, FileVersion.current.is_(True), ~listed)
        .order_by(FileVersion.name)
        .execution_options(yield_per=page_size)
    )
    for row in session.execute(query):
        yield {"name": row.name, "size": row.size, "checksums": row.checksums}


def _verified_entries(area_id: int) -> Any:
    """The ids of the area's expected files whose verdict is `verified` now."""
    current = _current()
    return (
        _entries_with_current(area_id, current)
        .with_only_columns(ManifestEntry.id)
        .where(_verdict(current) == Verdict.VERIFIED.value)
    )


def _mark_verified(session: Session, area_id: int, name: str | None) -> None:
    """Bring the `verified` marks up to date: of the entries of `name` (None: of every entry). The marks
    let completeness be one indexed lookup (`_incomplete`) instead of a pass over the whole manifest at
    every file event; the verdicts the API answers are always computed afresh."""
    scope = [ManifestEntry.area_id == area_id] + ([ManifestEntry.name == name] if name is not None else [])
    verified = _verified_entries(area_id)
    if name is not None:
        verified = verified.where(ManifestEntry.name == name)
    session.execute(
        update(ManifestEntry)
        .where(*scope)
        .values(verified=ManifestEntry.id.in_(verified.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )


def _incomplete(session: Session, area_id: int) -> bool:
    query = select(ManifestEntry.id).where(
        ManifestEntry.area_id == area_id, ManifestEntry.verified.is_(False)
    )
    return session.execute(query.limit(1)).first() is not None


def settle_completeness(
    session: Session, area_id: int, name: str | None = None, *, force: bool = False
) -> None:
    """Settle the area's completeness after a change to the file `name` (None: to any), in the
    caller's transaction; queue `area_complete` / `area_incomplete` when it flips. Nothing to do when
    the area has no manifest or the manifest does not list `name`.

    Callers that change the same area take turns (`_lock_completeness`) so that two changes cannot both
    see the old verdict and both notify."""
    area = session.get(UploadArea, area_id)
    if area is None or (area.manifest_complete is None and not force):
        return
    if name is not None and not session.scalar(
        select(exists().where(ManifestEntry.area_id == area_id, ManifestEntry.name == name))
    ):
        return
    _lock_completeness(session, area)
    session.refresh(area, attribute_names=["manifest_complete"])
    if area.manifest_complete is None and not force:
        return  # its manifest went meanwhile (cannot today: manifests are replaced, never removed)
    session.flush()
    _mark_verified(session, area_id, None if force else name)
    complete = not _incomplete(session, area_id)
    if complete == area.manifest_complete:
        return
    was_complete = area.manifest_complete
    area.manifest_complete = complete
    counts = verdict_counts(session, area_id)
    payload = {"upload_area_id": area.uuid, "expected_files": sum(counts.values()), "verdicts": counts}
    if complete:
        notify_area_event(session, NotificationType.AREA_COMPLETE, payload)
    elif was_complete:  # a first verdict of "incomplete" is no news: only losing completeness is
        notify_area_event(session, NotificationType.AREA_INCOMPLETE, payload)


def _lock_completeness(session: Session, area: UploadArea) -> None:
    """Take the area's completeness turn until the transaction ends: on PostgreSQL a transaction-scoped
    advisory lock of its own (not the area row: uploads lock the area row, then the file; the checksum
    worker the file, then this; sharing the row would let the two wait on each other), on SQLite the
    single writer the transaction holds already."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    session.execute(select(func.pg_advisory_xact_lock(advisory_lock_key(f"completeness:{area.uuid}"))))
