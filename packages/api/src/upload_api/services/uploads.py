"""Resumable upload sessions (`/v2/areas/{uuid}/uploads`): the API's side of the store's multipart
uploads. Rules live in `upload_common.domain.upload_sessions`; this module moves bytes and rows.

Completion records the new version as any write through the API does (`versions.record_version`) and
queues its checksumming (`messages.file_uploaded`), so the checksum worker computes it from the stored
bytes and compares the declared checksums (kept as the object's user metadata).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from upload_api.context import ApiContext
from upload_api.names import check_filename
from upload_common import messages
from upload_common.domain import upload_sessions as rules
from upload_common.domain.areas import area_for_finished_upload, existing_area, writable_area
from upload_common.domain.versions import object_key
from upload_common.errors import (
    AreaNotFoundError,
    ConflictError,
    ObjectNotFoundError,
    UploadNotFoundError,
)
from upload_common.fileinfo import file_info_of_version
from upload_common.models import FileVersion, UploadArea, UploadSession, utcnow
from upload_common.statuses import UploadSessionStatus
from upload_common.storage import ObjectInfo, PartInfo

logger = logging.getLogger(__name__)

# (area uuid, session id, part number, expires, signature) -> the local part route's absolute URL
PartRoute = Callable[[str, str, int, int, str], str]


def create_upload(
    context: ApiContext,
    area_uuid: str,
    *,
    name: str,
    size: int,
    content_type: str | None,
    sha256: str | None,
    crc32c: str | None,
) -> tuple[dict[str, Any], bool]:
    """A new session (True), or the OPEN one with the same declaration (False): how a client resumes."""
    check_filename(name)
    declaration = rules.declared(name, size, content_type=content_type, sha256=sha256, crc32c=crc32c)
    with context.sessions() as session:
        area = writable_area(session, area_uuid)
        same = rules.find_same_session(session, area, declaration)
        if same is not None:
            return _session_json(context, session, area, same), False
    part_size = rules.session_part_size(size, context.settings.session_part_size_bytes)
    key = object_key(area_uuid, name)
    upload_id = context.store.create_multipart_upload(
        key, content_type=content_type, metadata=declaration.metadata()
    )
    with context.sessions.begin() as session:
        area = writable_area(session, area_uuid, for_update=True)  # one creator at a time per area
        same = rules.find_same_session(session, area, declaration)
        if same is None:
            upload = rules.new_session(
                session,
                area,
                declaration,
                part_size=part_size,
                store_upload_id=upload_id,
                ttl_seconds=context.settings.session_ttl_seconds,
            )
            return _session_json(context, session, area, upload), True
        answer = _session_json(context, session, area, same)
    context.store.abort_multipart_upload(key, upload_id)  # a concurrent request opened it first
    return answer, False


def list_uploads(context: ApiContext, area_uuid: str) -> list[dict[str, Any]]:
    with context.sessions() as session:
        area = existing_area(session, area_uuid)
        return [_session_json(context, session, area, u) for u in rules.open_sessions(session, area)]


def get_upload(context: ApiContext, area_uuid: str, session_id: str) -> dict[str, Any]:
    with context.sessions() as session:
        area = existing_area(session, area_uuid)
        return _session_json(context, session, area, rules.find_session(session, area, session_id))


def part_target(
    context: ApiContext, area_uuid: str, session_id: str, number: int, *, local_route: PartRoute
) -> dict[str, Any]:
    """Where to PUT part `number`: a presigned URL of the store, else the API's signed part route."""
    with context.sessions() as session:
        area = writable_area(session, area_uuid)
        upload = rules.find_session(session, area, session_id)
        rules.refuse_unless_open(upload)
        rules.check_part_number(upload, number)
        key, store_upload_id, upload_id = (
            object_key(area_uuid, upload.name),
            upload.store_upload_id,
            upload.id,
        )
        seconds = max(1, min(rules.PART_URL_SECONDS, int((upload.expires_at - utcnow()).total_seconds())))
    expires = int(time.time()) + seconds
    url = context.store.presign_upload_part(key, store_upload_id, number, expires_in=seconds)
    if url is None:
        signature = rules.part_signature(context.secret_key, upload_id, number, expires)
        url = local_route(area_uuid, str(upload_id), number, expires, signature)
    return {
        "number": number,
        "url": url,
        "method": "PUT",
        "headers": {},
        "expires_at": _iso(datetime.fromtimestamp(expires, tz=UTC)),
    }


def receive_part(
    context: ApiContext,
    area_uuid: str,
    session_id: str,
    number: int,
    body: BinaryIO,
    *,
    size: int | None,
    expires: int,
    signature: str,
) -> PartInfo:
    """Store part `number` from the signed part route, streamed; its size must be the part's."""
    with context.sessions() as session:
        area = writable_area(session, area_uuid)
        upload = rules.find_session(session, area, session_id)
        rules.check_part_signature(context.secret_key, upload.id, number, expires, signature)
        rules.refuse_unless_open(upload)
        expected = rules.check_part_size(upload, number, size)
        key, store_upload_id = object_key(area_uuid, upload.name), upload.store_upload_id
    return context.store.upload_part(key, store_upload_id, number, body, size=expected)


def complete_upload(context: ApiContext, area_uuid: str, session_id: str) -> dict[str, Any]:
    """Assemble the parts into the file's new version, record it and queue its checksumming. Completing
    a COMPLETED session answers it again."""
    with context.sessions() as session:
        area = writable_area(session, area_uuid)
        upload = rules.find_session(session, area, session_id)
        if upload.status is UploadSessionStatus.COMPLETED:
            return _session_json(context, session, area, upload)
        rules.refuse_unless_open(upload)
        key, store_upload_id, name = object_key(area_uuid, upload.name), upload.store_upload_id, upload.name
        try:
            parts = list(context.store.list_parts(key, store_upload_id))
            info: ObjectInfo | None = None
        except UploadNotFoundError:
            parts, info = [], _completed_before(context, upload, key)
        if info is None:
            problems = rules.part_problems(upload, parts)
            if problems:
                raise ConflictError("the session cannot be completed: " + "; ".join(problems))
    if info is None:
        try:
            info = context.store.complete_multipart_upload(key, store_upload_id, parts)
        except UploadNotFoundError:  # a concurrent completion won: it records the version
            info = _completed_before(context, upload, key)
            if info is None:
                raise ConflictError("the session is being completed by another request: retry") from None
    with context.sessions.begin() as session:
        try:
            area = area_for_finished_upload(session, area_uuid)
        except (AreaNotFoundError, ConflictError):
            context.store.delete_many([key])  # deletion wins over an upload completed meanwhile
            raise
        upload = rules.find_session(session, area, session_id, for_update=True)
        if upload.status is not UploadSessionStatus.COMPLETED:
            rules.record_completion(session, upload, info)
        answer = _session_json(context, session, area, upload)
    context.queue("checksum").send(messages.file_uploaded(area_uuid, name))
    return answer


def abort_upload(context: ApiContext, area_uuid: str, session_id: str) -> None:
    """ABORTED, its parts removed; a session already ended stays as it is."""
    with context.sessions.begin() as session:
        area = existing_area(session, area_uuid)
        upload = rules.find_session(session, area, session_id, for_update=True)
        if upload.status is not UploadSessionStatus.OPEN:
            return
        rules.end_session(upload, UploadSessionStatus.ABORTED)
        key, store_upload_id = object_key(area_uuid, upload.name), upload.store_upload_id
    context.store.abort_multipart_upload(key, store_upload_id)


def _completed_before(context: ApiContext, upload: UploadSession, key: str) -> ObjectInfo | None:
    """The object an earlier completion of this session stored (the store's upload is over, and the
    object is of its size and declaration), or None: the completion of a request that died before it
    recorded the version is then recorded on retry."""
    try:
        info = context.store.head(key)
    except ObjectNotFoundError:
        return None
    declared = rules.Declared(upload.name, upload.size, upload.content_type, upload.sha256, upload.crc32c)
    if info.size != upload.size or any(info.metadata.get(k) != v for k, v in declared.metadata().items()):
        return None
    return info


def _session_json(
    context: ApiContext, session: Session, area: UploadArea, upload: UploadSession
) -> dict[str, Any]:
    key = object_key(area.uuid, upload.name)
    parts: list[PartInfo] = []
    if upload.status is UploadSessionStatus.OPEN:
        try:
            parts = list(context.store.list_parts(key, upload.store_upload_id))
        except UploadNotFoundError:  # a lifecycle rule (or a completion under way) ended it in the store
            parts = []
    body: dict[str, Any] = {
        "id": str(upload.id),
        "area_uuid": area.uuid,
        "name": upload.name,
        "size": upload.size,
        "content_type": upload.content_type,
        "sha256": upload.sha256,
        "crc32c": upload.crc32c,
        "part_size": upload.part_size,
        "part_count": rules.part_count(upload.size, upload.part_size),
        "status": upload.status.value,
        "created_at": _iso(upload.created_at),
        "expires_at": _iso(upload.expires_at),
        "parts": [{"number": p.number, "size": p.size, "etag": p.etag} for p in parts],
    }
    if upload.status is UploadSessionStatus.COMPLETED and upload.file_id is not None:
        version = session.get(FileVersion, upload.file_id)
        if version is not None:
            body["file"] = file_info_of_version(
                version, area_uuid=area.uuid, url=context.store.object_url(key)
            )
    return body


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
