"""File versions: one row per (area, name, ETag), and the rule for which one is current.

The current version of a file is the row with `current` set, at most one per (area, name), and the order
of versions comes from the store, never from the order in which events or requests arrive:

- a version becomes current when the store holds it now (the caller saw its ETag in a HEAD, or has just
  written it), unless the current version is later in the store's order (`store_order`: S3's event
  sequencer, the local store's counter; compared only when both are known), which means that what the
  caller saw is already stale;
- recording a version the store no longer holds never makes it current;
- the same ETag written again (A, B, A) is the same row: it takes the later store order and becomes
  current again when the store holds it;
- REJECTED and DELETED versions are never current: they are not files of the area (not listed, not
  counted). When the store holds such a version now, it replaced the current one in the store, so the
  file has no current version (unless the current one is later in the store's order).

Recorders of one file take turns (`lock_file`): on PostgreSQL a transaction-scoped advisory lock per
object key, on SQLite the database's single writer (BEGIN IMMEDIATE), which the same call starts. A HEAD
made after `lock_file` therefore sees the store no earlier than any recorder before it did.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from upload_common.declared_checksums import declared_checksums
from upload_common.models import FileVersion, UploadArea
from upload_common.statuses import FileOrigin, FileStatus
from upload_common.storage.base import ObjectInfo

NEVER_CURRENT = frozenset({FileStatus.REJECTED, FileStatus.DELETED})


def is_current() -> ColumnElement[bool]:
    """True for the current version of its file (see the module's docstring)."""
    return FileVersion.current.is_(True)


def current_versions(area_id: int) -> Select[FileVersion]:
    """The current version of every file of the area (unordered; callers order and page)."""
    return select(FileVersion).where(FileVersion.area_id == area_id, is_current())


def current_version(session: Session, area_id: int, name: str) -> FileVersion | None:
    """The current version of the file, or None when no version of it is current."""
    return session.scalars(current_versions(area_id).where(FileVersion.name == name)).one_or_none()


def version_with_etag(
    session: Session, area_id: int, name: str, etag: str, *, for_update: bool = False
) -> FileVersion | None:
    """The recorded version of the file with this ETag, or None."""
    query = select(FileVersion).where(
        FileVersion.area_id == area_id, FileVersion.name == name, FileVersion.etag == etag
    )
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def lock_file(session: Session, area_uuid: str, name: str) -> None:
    """Make the caller the only recorder of the file's versions until its transaction ends. Asking
    again in the same transaction costs nothing (the worker locks before its HEAD, then records)."""
    connection = session.connection()  # begins the transaction: on SQLite that takes the write lock
    if connection.dialect.name != "postgresql":
        return
    key = object_key(area_uuid, name)
    held: dict[str, object] = session.info.setdefault("upload_file_locks", {})
    transaction = session.get_transaction()
    if held.get(key) is not transaction:
        session.execute(select(func.pg_advisory_xact_lock(advisory_lock_key(key))))
        held[key] = transaction


def new_file_version(area_id: int, name: str, info: ObjectInfo, *, origin: FileOrigin) -> FileVersion:
    """The row of a version first seen as `info` (declared checksums taken from its metadata)."""
    return FileVersion(
        area_id=area_id,
        name=name,
        size=info.size,
        etag=info.etag,
        content_type=info.content_type,
        last_modified=info.last_modified,
        client_checksums=declared_checksums(info.metadata),
        origin=origin,
        status=FileStatus.UPLOADED,
        store_order=info.store_order,
    )


def record_version(
    session: Session,
    area_id: int,
    name: str,
    info: ObjectInfo,
    *,
    origin: FileOrigin,
    for_update: bool = False,
) -> FileVersion:
    """The version the store holds as `info` (a HEAD, or what the caller has just written), recorded
    now if it was not yet (exactly once, also when another process records it at the same moment), and
    current unless the store wrote the current version after it."""
    return record_version_row(
        session,
        area_id,
        name,
        info.etag,
        lambda: new_file_version(area_id, name, info, origin=origin),
        held=True,
        store_order=info.store_order,
        for_update=for_update,
    )


def record_version_row(
    session: Session,
    area_id: int,
    name: str,
    etag: str,
    build: Callable[[], FileVersion],
    *,
    held: bool,
    store_order: str | None = None,
    for_update: bool = False,
) -> FileVersion:
    """The version with this ETag, or the row `build()` makes; then the current version is settled.

    `held`: the store holds this version now. `store_order`: where the store put this write among the
    writes of the key, when known. The row is inserted in a savepoint so that a concurrent insert of
    the same version is read back instead of failing the transaction.
    """
    area = session.get(UploadArea, area_id)
    if area is not None:
        lock_file(session, area.uuid, name)
    version = version_with_etag(session, area_id, name, etag, for_update=for_update)
    if version is None:
        try:
            with session.begin_nested():
                version = build()
                session.add(version)
        except IntegrityError:
            version = version_with_etag(session, area_id, name, etag, for_update=for_update)
            if version is None:
                raise
    if store_order is not None and (version.store_order is None or store_order > version.store_order):
        version.store_order = store_order  # the same bytes written again, later
    if held:
        _make_current(session, version)
    return version


def _make_current(session: Session, version: FileVersion) -> None:
    """Make `version`, which the store holds now, current, unless the store wrote the current one later.
    A version that is never current still takes the place of the current one: then none is current."""
    if version.current:
        return
    others = session.scalars(
        current_versions(version.area_id).where(FileVersion.name == version.name).with_for_update()
    ).all()
    if any(_later(other.store_order, version.store_order) for other in others):
        return  # whoever saw `version` in the store saw it before the current one was written
    for other in others:
        other.current = False
    version.current = version.status not in NEVER_CURRENT
    session.flush()
    # A file replaced changes its manifest verdict (imported here: manifests build on this module).
    from upload_common.domain.manifests import settle_completeness  # noqa: PLC0415

    settle_completeness(session, version.area_id, version.name)


def _later(order: str | None, than: str | None) -> bool:
    return order is not None and than is not None and order > than


def mark_versions_deleted(session: Session, area_id: int) -> None:
    """Every version of the area is DELETED (its objects are gone; the rows are kept), none current."""
    session.execute(
        update(FileVersion)
        .where(FileVersion.area_id == area_id, FileVersion.status != FileStatus.DELETED)
        .values(status=FileStatus.DELETED, current=False)
    )


def object_key(area_uuid: str, name: str) -> str:
    """The store key of a file: `<area uuid>/<name>` (the area's prefix is its uuid)."""
    return f"{area_uuid}/{name}"


def split_object_key(key: str) -> tuple[str, str]:
    """`(area uuid, name)` of a file's store key."""
    area_uuid, _, name = key.partition("/")
    return area_uuid, name


def advisory_lock_key(key: str) -> int:
    """The key of a PostgreSQL advisory lock named `key` (files here; an area's completeness turn)."""
    # PostgreSQL's advisory locks take one signed 64-bit key; two keys sharing one only wait for each other.
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
