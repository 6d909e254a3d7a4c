"""Resumable upload sessions: every rule about them, in one place.

A session is a multipart upload of the store for one file of an area, with what the client declared
(size, content type, sha256/crc32c). Rules:

- part size (`session_part_size`): the service's ETag rule (`checksums.s3_part_size`: 64 MiB up to
  625 GiB), so that on S3 the object's ETag equals the service's `s3_etag`; unless the setting
  `UPLOAD_SESSION_PART_SIZE_BYTES` asks for smaller parts (slow links, tests): then the larger of it and
  what 10,000 parts need. Part n has `part_size` bytes, the last one the rest; an empty file has one
  empty part.
- the same session (`find_same_session`): asking again for the same area, name, size and declared
  checksums while an OPEN, unexpired session exists answers that session, so a client resumes by asking
  again.
- states (`state_machines.UPLOAD_SESSION_TRANSITIONS`): OPEN → COMPLETED | ABORTED | EXPIRED, all final.
- expiry: `UPLOAD_SESSION_TTL_SECONDS` after creation; an expired OPEN session takes no part and no
  completion, and the sweep (`expired_sessions`, `expire_session`) aborts it in the store.
- completion (`record_completion`): the stored object becomes a file version like any other write
  (`versions.record_version`), its checksums queued by the caller; the session remembers the version,
  so completing twice answers the same file.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from upload_common.callback_tokens import purpose_key
from upload_common.checksums.part_size import MAX_PARTS, MIB, s3_part_size
from upload_common.domain.state_machines import transition_upload_session
from upload_common.domain.versions import record_version
from upload_common.errors import (
    ConflictError,
    InvalidInputError,
    SignatureRefusedError,
    UploadNotFoundError,
)
from upload_common.models import FileVersion, UploadArea, UploadSession, utcnow
from upload_common.statuses import FileOrigin, UploadSessionStatus
from upload_common.storage.base import ObjectInfo, PartInfo

MIN_CONFIGURED_PART_SIZE = 5 * MIB  # S3's smallest part (but the last)
PART_URL_SECONDS = 3600  # how long a part's URL works; the client asks again for a fresh one
PART_URL_PURPOSE = "upload-part"
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_CONTENT_TYPE = re.compile(r"[ -~]{1,255}")  # what an HTTP header (and S3's Content-Type) can carry
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CRC32C = re.compile(r"[0-9a-f]{8}")


@dataclass(frozen=True)
class Declared:
    """What a client declares when it opens a session."""

    name: str
    size: int
    content_type: str | None = None
    sha256: str | None = None
    crc32c: str | None = None

    def metadata(self) -> dict[str, str]:
        """The object's user metadata: the declared checksums, which the checksum worker compares."""
        return {k: v for k, v in (("sha256", self.sha256), ("crc32c", self.crc32c)) if v is not None}


def declared(
    name: str, size: int, *, content_type: str | None, sha256: str | None, crc32c: str | None
) -> Declared:
    """The declaration, normalised (lower-case hex), or `InvalidInputError` saying what is wrong."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInputError(f"size must be a non-negative integer, not {size!r}")
    sha256 = sha256.lower() if sha256 is not None else None
    crc32c = crc32c.lower() if crc32c is not None else None
    if content_type is not None and not _CONTENT_TYPE.fullmatch(content_type):
        raise InvalidInputError("content_type must be 1..255 printable ASCII characters")
    if sha256 is not None and not _SHA256.fullmatch(sha256):
        raise InvalidInputError("sha256 must be 64 hex digits")
    if crc32c is not None and not _CRC32C.fullmatch(crc32c):
        raise InvalidInputError("crc32c must be 8 hex digits")
    return Declared(name=name, size=size, content_type=content_type, sha256=sha256, crc32c=crc32c)


def session_part_size(size: int, configured: int | None) -> int:
    """The part size of a session for a file of `size` bytes (see the module's docstring)."""
    rule = s3_part_size(size)
    if configured is None or configured >= rule:
        return rule
    needed = -(-size // MAX_PARTS)
    return max(configured, needed)


def part_count(size: int, part_size: int) -> int:
    """How many parts a file of `size` bytes has (an empty file: one empty part)."""
    return max(1, -(-size // part_size))


def expected_part_size(upload: UploadSession, number: int) -> int:
    """How many bytes part `number` has (`InvalidInputError` for a number outside 1..part_count)."""
    check_part_number(upload, number)
    count = part_count(upload.size, upload.part_size)
    return upload.part_size if number < count else upload.size - (count - 1) * upload.part_size


def check_part_number(upload: UploadSession, number: int) -> None:
    count = part_count(upload.size, upload.part_size)
    if not 1 <= number <= count:
        raise InvalidInputError(f"part number must be 1..{count} for this session, not {number}")


def check_part_size(upload: UploadSession, number: int, size: int | None) -> int:
    """The size part `number` must have; `InvalidInputError` when `size` (if known) is another."""
    expected = expected_part_size(upload, number)
    if size is not None and size != expected:
        raise InvalidInputError(f"part {number} must have {expected} bytes, not {size}")
    return expected


def part_problems(upload: UploadSession, received: Sequence[PartInfo]) -> list[str]:
    """What keeps the received parts from completing the session: missing and wrongly sized parts."""
    by_number = {part.number: part for part in received}
    problems: list[str] = []
    for number in range(1, part_count(upload.size, upload.part_size) + 1):
        part = by_number.get(number)
        expected = expected_part_size(upload, number)
        if part is None:
            problems.append(f"part {number} is missing")
        elif part.size != expected:
            problems.append(f"part {number} has {part.size} bytes, not {expected}")
    extra = sorted(n for n in by_number if n > part_count(upload.size, upload.part_size))
    problems += [f"part {n} is beyond the last part" for n in extra]
    return problems


def expires_at(now: datetime, ttl_seconds: int) -> datetime:
    return now + timedelta(seconds=ttl_seconds)


def is_expired(upload: UploadSession, now: datetime | None = None) -> bool:
    return upload.expires_at <= (now or utcnow())


def find_same_session(session: Session, area: UploadArea, declaration: Declared) -> UploadSession | None:
    """The OPEN, unexpired session of the area with the same name, size and declared checksums."""
    query = (
        select(UploadSession)
        .where(
            UploadSession.area_id == area.id,
            UploadSession.status == UploadSessionStatus.OPEN,
            UploadSession.name == declaration.name,
            UploadSession.size == declaration.size,
            UploadSession.expires_at > utcnow(),
        )
        .order_by(UploadSession.created_at)
    )
    for candidate in session.scalars(query):
        if (candidate.sha256, candidate.crc32c) == (declaration.sha256, declaration.crc32c):
            return candidate
    return None


def new_session(
    session: Session,
    area: UploadArea,
    declaration: Declared,
    *,
    part_size: int,
    store_upload_id: str,
    ttl_seconds: int,
) -> UploadSession:
    now = utcnow()
    upload = UploadSession(
        area_id=area.id,
        name=declaration.name,
        size=declaration.size,
        content_type=declaration.content_type,
        sha256=declaration.sha256,
        crc32c=declaration.crc32c,
        part_size=part_size,
        store_upload_id=store_upload_id,
        status=UploadSessionStatus.OPEN,
        created_at=now,
        expires_at=expires_at(now, ttl_seconds),
    )
    session.add(upload)
    session.flush()
    return upload


def find_session(
    session: Session, area: UploadArea, session_id: str, *, for_update: bool = False
) -> UploadSession:
    """The area's session with this id, or `UploadNotFoundError`."""
    missing = UploadNotFoundError(f"no upload session {session_id} in upload area {area.uuid}")
    try:
        wanted = uuid.UUID(session_id)
    except ValueError:
        raise missing from None
    query = select(UploadSession).where(UploadSession.id == wanted, UploadSession.area_id == area.id)
    if for_update:
        query = query.with_for_update()
    upload = session.scalars(query).one_or_none()
    if upload is None:
        raise missing
    return upload


def open_sessions(session: Session, area: UploadArea) -> list[UploadSession]:
    """The area's OPEN, unexpired sessions, oldest first."""
    query = (
        select(UploadSession)
        .where(
            UploadSession.area_id == area.id,
            UploadSession.status == UploadSessionStatus.OPEN,
            UploadSession.expires_at > utcnow(),
        )
        .order_by(UploadSession.created_at, UploadSession.id)
    )
    return list(session.scalars(query))


def refuse_unless_open(upload: UploadSession) -> None:
    """`ConflictError` unless parts may still be sent to (and the session completed)."""
    if upload.status is not UploadSessionStatus.OPEN:
        raise ConflictError(f"upload session {upload.id} is {upload.status.value}")
    if is_expired(upload):
        raise ConflictError(f"upload session {upload.id} expired at {upload.expires_at.isoformat()}")


def record_completion(session: Session, upload: UploadSession, info: ObjectInfo) -> FileVersion:
    """The completed object as the file's new version (recorded like any write through the API), and
    the session COMPLETED with it."""
    version = record_version(session, upload.area_id, upload.name, info, origin=FileOrigin.API)
    transition_upload_session(upload, UploadSessionStatus.COMPLETED)
    upload.file_id = version.id
    return version


def end_session(upload: UploadSession, to: UploadSessionStatus) -> bool:
    """ABORTED or EXPIRED (the caller removes its parts from the store); False when it already was."""
    return transition_upload_session(upload, to)


def expired_sessions(session: Session, now: datetime, *, limit: int) -> list[tuple[UploadSession, str]]:
    """OPEN sessions past their expiry, with their area's uuid, locked for the sweep (others skip them)."""
    query = (
        select(UploadSession, UploadArea.uuid)
        .join(UploadArea, UploadSession.area_id == UploadArea.id)
        .where(UploadSession.status == UploadSessionStatus.OPEN, UploadSession.expires_at <= now)
        .order_by(UploadSession.expires_at)
        .limit(limit)
        .with_for_update(of=UploadSession, skip_locked=True)
    )
    return [(upload, area_uuid) for upload, area_uuid in session.execute(query).all()]


def part_signature(secret: str, session_id: uuid.UUID, number: int, expires: int) -> str:
    """The signature of the local store's part URL: an HMAC of (session, part, expiry) under the key for
    upload parts alone, so no other signed token of the service passes as one."""
    message = f"{session_id}:{number}:{expires}".encode()
    return hmac.new(purpose_key(secret, PART_URL_PURPOSE), message, hashlib.sha256).hexdigest()


def check_part_signature(
    secret: str, session_id: uuid.UUID, number: int, expires: int, signature: str, *, now: float | None = None
) -> None:
    """`SignatureRefusedError` unless the URL was signed by the service for this part and is unexpired
    (the HMAC first, in constant time, so a forged URL never learns about expiry)."""
    expected = part_signature(secret, session_id, number, expires)
    if not _SIGNATURE.fullmatch(signature) or not hmac.compare_digest(expected, signature):
        raise SignatureRefusedError("the part URL's signature is not valid for this part")
    if expires <= (time.time() if now is None else now):
        raise SignatureRefusedError("the part URL has expired: ask for the part's URL again")
