"""Reports from checksum jobs (`update_checksum`): the job's progress moves its checksum run."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select

from upload_api.context import ApiContext
from upload_api.names import object_key
from upload_api.services.reported_status import reported_status
from upload_common.declared_checksums import mismatches
from upload_common.domain.outbox import notify_file_uploaded
from upload_common.domain.state_machines import transition_checksum, transition_file
from upload_common.errors import InvalidInputError, NotFoundError
from upload_common.fileinfo import file_info_of_version
from upload_common.models import ChecksumRun, FileVersion, UploadArea
from upload_common.statuses import ChecksumStatus, FileStatus

_HEX = {"sha1": 40, "sha256": 64, "crc32c": 8}
_ETAG = re.compile(r"^[0-9a-f]{32}(-[1-9][0-9]*)?$")
REPORTABLE = (
    ChecksumStatus.CHECKSUMMING,
    ChecksumStatus.CHECKSUMMED,
    ChecksumStatus.ABORTED,
    ChecksumStatus.FAILED,
)


def record_checksum_report(
    context: ApiContext,
    area_uuid: str,
    record_id: str,
    *,
    status: str,
    job_id: str | None,
    payload: dict[str, Any],
) -> None:
    """Apply one report; a repeated report changes nothing, an out-of-order one is refused (409)."""
    new_status = reported_status(status, ChecksumStatus, REPORTABLE)
    checksums = (
        validate_checksums(payload.get("checksums")) if new_status is ChecksumStatus.CHECKSUMMED else None
    )
    with context.sessions.begin() as session:
        row = session.execute(
            select(ChecksumRun, FileVersion, UploadArea)
            .join(FileVersion, ChecksumRun.file_id == FileVersion.id)
            .join(UploadArea, FileVersion.area_id == UploadArea.id)
            .where(ChecksumRun.id == uuid.UUID(record_id), UploadArea.uuid == area_uuid)
            .with_for_update(of=ChecksumRun)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no checksum run {record_id} in upload area {area_uuid}")
        run, version, _ = row
        if job_id:
            run.job_id = job_id
        reason = payload.get("reason") if isinstance(payload.get("reason"), str) else None
        if not transition_checksum(run, new_status, reason=reason) or checksums is None:
            return
        version.checksums = checksums
        corrupt = bool(mismatches(version.client_checksums, checksums))
        if version.status is FileStatus.UPLOADED:
            transition_file(version, FileStatus.CORRUPT if corrupt else FileStatus.CHECKSUMMED)
            session.flush()
            url = context.store.object_url(object_key(area_uuid, version.name))
            notify_file_uploaded(
                session, version, file_info_of_version(version, area_uuid=area_uuid, url=url)
            )


def validate_checksums(value: Any) -> dict[str, str]:
    """The four checksums, lower-case, or `InvalidInputError` naming what is wrong."""
    if not isinstance(value, dict):
        raise InvalidInputError("payload.checksums must be an object with sha1, sha256, crc32c and s3_etag")
    result: dict[str, str] = {}
    for name, length in _HEX.items():
        digest = value.get(name)
        if not isinstance(digest, str) or not re.fullmatch(f"[0-9a-fA-F]{{{length}}}", digest):
            raise InvalidInputError(f"payload.checksums.{name} must be {length} hex digits")
        result[name] = digest.lower()
    etag = value.get("s3_etag")
    if not isinstance(etag, str) or not _ETAG.fullmatch(etag.lower()):
        raise InvalidInputError(
            "payload.checksums.s3_etag must be an MD5 hex digest, optionally with -<parts>"
        )
    result["s3_etag"] = etag.lower()
    return result
