"""File versions: one row per (area, name, ETag), and the rule for which one is current.

The current version of a file is its newest recorded version (the highest row id); `is_current()`
is that rule as SQL, used both for one file and for whole listings and counts.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, Select, and_, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from upload_common.declared_checksums import declared_checksums
from upload_common.models import FileVersion
from upload_common.statuses import FileOrigin, FileStatus
from upload_common.storage.base import ObjectInfo


def is_current() -> ColumnElement[bool]:
    """True for a version that no newer version of the same file replaced."""
    newer = aliased(FileVersion)
    return ~exists().where(
        and_(
            newer.area_id == FileVersion.area_id,
            newer.name == FileVersion.name,
            newer.id > FileVersion.id,
        )
    )


def current_versions(area_id: int) -> Select[FileVersion]:
    """The current version of every file of the area (unordered; callers order and page)."""
    return select(FileVersion).where(FileVersion.area_id == area_id, is_current())


def current_version(session: Session, area_id: int, name: str) -> FileVersion | None:
    """The current version of the file, or None when no version of it was recorded."""
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
    """The version of the file stored as `info`, recorded now if it was not yet (exactly once, also
    when another process records it at the same moment: the loser reads the winner's row)."""
    return record_version_row(
        session,
        area_id,
        name,
        info.etag,
        lambda: new_file_version(area_id, name, info, origin=origin),
        for_update=for_update,
    )


def record_version_row(
    session: Session,
    area_id: int,
    name: str,
    etag: str,
    build: Callable[[], FileVersion],
    *,
    for_update: bool = False,
) -> FileVersion:
    """The version with this ETag, or the row `build()` makes, inserted in a savepoint so that a
    concurrent insert of the same version is read back instead of failing the transaction."""
    version = version_with_etag(session, area_id, name, etag, for_update=for_update)
    if version is not None:
        return version
    try:
        with session.begin_nested():
            version = build()
            session.add(version)
    except IntegrityError:
        version = version_with_etag(session, area_id, name, etag, for_update=for_update)
        if version is None:
            raise
    return version


def mark_versions_deleted(session: Session, area_id: int) -> None:
    """Every version of the area is DELETED (its objects are gone; the rows are kept)."""
    session.execute(
        update(FileVersion)
        .where(FileVersion.area_id == area_id, FileVersion.status != FileStatus.DELETED)
        .values(status=FileStatus.DELETED)
    )


def object_key(area_uuid: str, name: str) -> str:
    """The store key of a file: `<area uuid>/<name>` (the area's prefix is its uuid)."""
    return f"{area_uuid}/{name}"


def split_object_key(key: str) -> tuple[str, str]:
    """`(area uuid, name)` of a file's store key."""
    area_uuid, _, name = key.partition("/")
    return area_uuid, name
