"""Files of an area: store (streamed, checksummed in the same pass), describe, list, queue checksumming."""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from sqlalchemy.orm import Session

from upload_api.context import ApiContext
from upload_api.names import body_name_candidates, check_filename
from upload_common import messages
from upload_common.checksum_tags import write_checksum_tags
from upload_common.checksums import ChecksumHasher, Checksums
from upload_common.domain.areas import area_for_finished_upload, existing_area, writable_area
from upload_common.domain.checksum_results import record_checksummed_upload
from upload_common.domain.file_states import file_state_column, state_of_version
from upload_common.domain.versions import current_version, current_versions, object_key, version_with_etag
from upload_common.errors import (
    AreaNotFoundError,
    ChecksumError,
    ConflictError,
    FileNotFoundInAreaError,
    InvalidInputError,
    ObjectNotFoundError,
    ObjectReplacedError,
)
from upload_common.fileinfo import file_info_of_object, file_info_of_version
from upload_common.models import FileVersion, UploadArea
from upload_common.statuses import FileState
from upload_common.storage import ObjectInfo

logger = logging.getLogger(__name__)

# Bodies up to this size are read before anything is written, so identical content is not rewritten.
SMALL_BODY_BYTES = 8 * 1024 * 1024
_DCP_TYPE = re.compile(r";\s*dcp-type\s*=\s*(\"[^\"]+\"|[^;\s]+)", re.IGNORECASE)


def check_content_type(content_type: str | None) -> str:
    """The Content-Type, which must carry a `dcp-type` parameter (quoted or not), as the seed required."""
    if not content_type or not _DCP_TYPE.search(content_type):
        raise InvalidInputError(
            "Content-Type must carry a dcp-type parameter, "
            "e.g. 'application/json; dcp-type=\"metadata/sample\"'"
        )
    return content_type


def store_file(
    context: ApiContext,
    area_uuid: str,
    name: str,
    body: BinaryIO,
    *,
    content_type: str | None,
    size: int | None,
) -> dict[str, Any]:
    """Store `body` as the file, computing its checksums while it streams; return its FileInfo.

    A body that breaks off (`upload_api.body_framing`) raises out of `body.read` before anything is
    recorded, and the store keeps the previous version. When another write replaces the object before
    it is tagged: `ObjectReplacedError` (409, retry); that write's version is checksummed by its own event.
    """
    content_type = check_content_type(content_type)
    check_filename(name)
    key = object_key(area_uuid, name)
    with context.sessions() as session:
        writable_area(session, area_uuid)

    hasher = ChecksumHasher(size=size)  # with the size, parts follow the rule above 10,000 parts too
    head = body.read(SMALL_BODY_BYTES + 1)
    if len(head) <= SMALL_BODY_BYTES:
        if size is not None and len(head) != size:
            raise _length_mismatch(len(head), size)
        hasher.update(head)
        checksums = hasher.finish()
        unchanged = _unchanged_version(context, area_uuid, name, checksums, len(head), content_type)
        if unchanged is not None:
            return unchanged
        info = context.store.put(key, io.BytesIO(head), size=len(head), content_type=content_type)
    else:
        stream = cast(BinaryIO, _HashingReader(_prepend(head, body), hasher, size))
        info = context.store.put(key, stream, size=size, content_type=content_type)
        checksums = hasher.finish()
    if checksums.s3_etag != info.etag or hasher.bytes_seen != info.size:
        # The store holds other bytes than those hashed (its part rule differs): the worker checksums them.
        context.queue("checksum").send(messages.file_uploaded(area_uuid, name))
        return file_info_of_object(
            info, area_uuid=area_uuid, name=name, url=context.store.object_url(key), checksums=None
        ) | {"state": FileState.UPLOADED.value}
    retag = _tag(context, area_uuid, name, info, checksums)
    url = context.store.object_url(key)
    with context.sessions.begin() as session:
        try:
            area = area_for_finished_upload(session, area_uuid)
        except (AreaNotFoundError, ConflictError):
            context.store.delete_many([key])  # deletion wins over an upload that streamed meanwhile
            logger.warning("%s: its upload area is being deleted or was deleted; the object was deleted", key)
            raise
        version = record_checksummed_upload(session, area, name, info, checksums.as_dict(), url=url)
        stored = file_info_of_version(version, area_uuid=area_uuid, url=url)
        stored["state"] = state_of_version(session, version).value
    if retag:  # after the record: the worker then finds the version's checksums and only re-tags
        context.queue("checksum").send(messages.file_uploaded(area_uuid, name))
    return stored


def _tag(context: ApiContext, area_uuid: str, name: str, info: ObjectInfo, checksums: Checksums) -> bool:
    """Tag the version just stored with its checksums; True when the tags did not stick and the
    worker should re-tag it. Another write's replacing the object is the caller's 409 (retry)."""
    key = object_key(area_uuid, name)
    try:
        write_checksum_tags(
            context.store, key, checksums, context.settings.checksum_tag_prefix, etag=info.etag
        )
    except ObjectReplacedError:
        # Our tags may sit on the newer version; its own event (re-)tags it, and this one makes sure.
        context.queue("checksum").send(messages.file_uploaded(area_uuid, name))
        raise ObjectReplacedError(
            f"{name!r} was replaced by another upload while this one was stored: the file now holds the "
            "other upload's bytes. Retry to store these."
        ) from None
    except ChecksumError as error:
        # Other writers' tags kept landing on ours. The checksums (from the bytes) are recorded all the
        # same; the tags are a copy for readers of the store.
        logger.warning("%s: %s; the checksum worker re-tags it", key, error)
        return True
    return False


def file_info_current(context: ApiContext, area_uuid: str, name: str) -> dict[str, Any]:
    """FileInfo of the object now stored under the name, with checksums when that version has them."""
    check_filename(name)
    with context.sessions() as session:
        area = existing_area(session, area_uuid)
        return _described(context, session, area, name, head_file(context, area_uuid, name))


def files_info(context: ApiContext, area_uuid: str, names: list[str]) -> list[dict[str, Any]]:
    """FileInfo of each file named in a JSON body (`resolve_body_names`), in the order asked."""
    with context.sessions() as session:
        area = existing_area(session, area_uuid)
        return [_described(context, session, area, *_stored_body_name(context, area_uuid, n)) for n in names]


def resolve_body_names(context: ApiContext, area_uuid: str, names: list[str]) -> list[str]:
    """The stored file each name from a JSON body means (`upload_api.names.body_name_candidates`: the
    exact name first, then its percent-decoded form); `FileNotFoundInAreaError` naming the first missing."""
    with context.sessions() as session:
        existing_area(session, area_uuid)
    return [_stored_body_name(context, area_uuid, name)[0] for name in names]


def _stored_body_name(context: ApiContext, area_uuid: str, name: str) -> tuple[str, ObjectInfo]:
    for candidate in body_name_candidates(name):
        try:
            return candidate, context.store.head(object_key(area_uuid, candidate))
        except ObjectNotFoundError:
            continue
    raise FileNotFoundInAreaError(f"no file {name!r} in upload area {area_uuid}")


def _described(
    context: ApiContext, session: Session, area: UploadArea, name: str, info: ObjectInfo
) -> dict[str, Any]:
    """FileInfo of the stored object `info`, with checksums when that version has them, and its
    `state` (UPLOADED while the service has not recorded the version yet)."""
    version = version_with_etag(session, area.id, name, info.etag)
    checksums = version.checksums if version is not None else None
    url = context.store.object_url(object_key(area.uuid, name))
    described = file_info_of_object(info, area_uuid=area.uuid, name=name, url=url, checksums=checksums)
    described["state"] = (
        state_of_version(session, version) if version is not None else FileState.UPLOADED
    ).value
    return described


def notify_uploaded(context: ApiContext, area_uuid: str, name: str) -> None:
    """Queue the checksumming of the file's current version (for uploads that bypassed the API)."""
    check_filename(name)
    with context.sessions() as session:
        existing_area(session, area_uuid)
    head_file(context, area_uuid, name)
    context.queue("checksum").send(messages.file_uploaded(area_uuid, name))


@dataclass(frozen=True)
class FilePage:
    files: list[dict[str, Any]]
    next_cursor: str | None


def list_files(context: ApiContext, area_uuid: str, *, limit: int, cursor: str | None) -> FilePage:
    """One page of the area's current file versions in name order; one query per page."""
    after = decode_cursor(cursor) if cursor else None
    with context.sessions() as session:
        area = existing_area(session, area_uuid)
        query = (
            current_versions(area.id)
            .add_columns(file_state_column())
            .order_by(FileVersion.name)
            .limit(limit + 1)
        )
        if after is not None:
            query = query.where(FileVersion.name > after)
        rows = list(session.execute(query).all())
    page = rows[:limit]
    files = [
        file_info_of_version(
            row, area_uuid=area_uuid, url=context.store.object_url(object_key(area_uuid, row.name))
        )
        | {"state": state}
        for row, state in page
    ]
    return FilePage(files=files, next_cursor=encode_cursor(page[-1][0].name) if len(rows) > limit else None)


def encode_cursor(last_name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_name}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = data["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidInputError("cursor is not one this service returned") from None
    if not isinstance(after, str):
        raise InvalidInputError("cursor is not one this service returned")
    return after


def head_file(context: ApiContext, area_uuid: str, name: str) -> ObjectInfo:
    """What the store holds under the name now, or `FileNotFoundInAreaError`."""
    try:
        return context.store.head(object_key(area_uuid, name))
    except ObjectNotFoundError:
        raise FileNotFoundInAreaError(f"no file {name!r} in upload area {area_uuid}") from None


def _unchanged_version(  # noqa: PLR0917 - private helper with one caller
    context: ApiContext, area_uuid: str, name: str, checksums: Checksums, size: int, content_type: str
) -> dict[str, Any] | None:
    """FileInfo of the stored version when it already holds exactly these bytes and content type."""
    key = object_key(area_uuid, name)
    with context.sessions() as session:
        area = existing_area(session, area_uuid)
        version = current_version(session, area.id, name)
        if version is None or version.checksums != checksums.as_dict() or version.size != size:
            return None
        try:
            info = context.store.head(key)
        except ObjectNotFoundError:
            return None
        if info.etag != version.etag or info.content_type != content_type:
            return None
        unchanged = file_info_of_version(version, area_uuid=area_uuid, url=context.store.object_url(key))
        return unchanged | {"state": state_of_version(session, version).value}


class _HashingReader(io.RawIOBase):
    """Feeds every byte the store reads through the hasher: one pass computes all four checksums."""

    def __init__(self, source: BinaryIO, hasher: ChecksumHasher, declared: int | None) -> None:
        self._source = source
        self._hasher = hasher
        self._declared = declared

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        if data:
            try:
                self._hasher.update(data)
            except ChecksumError:  # more bytes than the Content-Length: the caller's mistake
                raise _length_mismatch(self._hasher.bytes_seen + len(data), self._declared) from None
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _length_mismatch(received: int, declared: int | None) -> InvalidInputError:
    return InvalidInputError(f"the body has {received} bytes, its Content-Length says {declared}")


def _prepend(head: bytes, rest: BinaryIO) -> BinaryIO:
    return cast(BinaryIO, _Chain(iter([io.BytesIO(head), rest])))


class _Chain(io.RawIOBase):
    """Reads from several streams one after the other."""

    def __init__(self, streams: Iterator[BinaryIO]) -> None:
        self._streams = streams
        self._current: BinaryIO | None = next(streams, None)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while self._current is not None:
            data = self._current.read(size) if size != -1 else self._current.read()
            if data:
                return data
            self._current = next(self._streams, None)
        return b""

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
