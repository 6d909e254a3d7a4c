"""Recording a version's checksums: one function for every path that computes them.

The API's streamed PUT, the checksum worker and the checksum job's report all end in
`record_checksum_result`: the checksums are stored, compared with the ones the client declared (a
mismatch marks the version CORRUPT), the run is CHECKSUMMED, and `file_uploaded` is written to the
outbox, in the caller's transaction. Recording a version twice changes nothing the second time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from upload_common.declared_checksums import mismatches
from upload_common.domain.checksum_failures import fail_checksum_run
from upload_common.domain.jobs import JobReport, parse_record_id, reported_status
from upload_common.domain.manifests import settle_completeness
from upload_common.domain.outbox import notify_file_uploaded
from upload_common.domain.state_machines import transition_checksum, transition_file
from upload_common.domain.versions import record_version
from upload_common.errors import InvalidInputError, NotFoundError
from upload_common.fileinfo import file_info_of_version
from upload_common.models import ChecksumRun, FileVersion, UploadArea
from upload_common.statuses import ChecksumStatus, FileOrigin, FileStatus
from upload_common.storage.base import ObjectInfo

REPORTABLE = (
    ChecksumStatus.CHECKSUMMING,
    ChecksumStatus.CHECKSUMMED,
    ChecksumStatus.ABORTED,
    ChecksumStatus.FAILED,
)
_HEX_LENGTHS = {"sha1": 40, "sha256": 64, "crc32c": 8}
_ETAG = re.compile(r"^[0-9a-f]{32}(-[1-9][0-9]*)?$")


@dataclass(frozen=True)
class ChecksumVerdict:
    """What recording found: `recorded` is False when the version had been recorded before."""

    recorded: bool
    mismatches: dict[str, str] = field(default_factory=dict)

    @property
    def corrupt(self) -> bool:
        return bool(self.mismatches)


def record_checksum_result(
    session: Session, version: FileVersion, run: ChecksumRun, checksums: Mapping[str, str], *, url: str
) -> ChecksumVerdict:
    """Finish `run` with `checksums` for `version` and, the first time, record and notify them.

    `url` is the object's URL as clients see it (it goes into the notification).
    """
    transition_checksum(run, ChecksumStatus.CHECKSUMMED)
    if version.status is not FileStatus.UPLOADED:
        return ChecksumVerdict(recorded=False)
    computed = dict(checksums)
    version.checksums = computed
    disagree = mismatches(version.client_checksums, computed)
    transition_file(version, FileStatus.CORRUPT if disagree else FileStatus.CHECKSUMMED)
    session.flush()
    info = file_info_of_version(version, area_uuid=version.area.uuid, url=url)
    notify_file_uploaded(session, version, info)
    settle_completeness(session, version.area_id, version.name)
    return ChecksumVerdict(recorded=True, mismatches=disagree)


def record_checksummed_upload(
    session: Session,
    area: UploadArea,
    name: str,
    stored: ObjectInfo,
    checksums: Mapping[str, str],
    *,
    url: str,
) -> FileVersion:
    """Record a version the API stored and checksummed while it streamed (a run that ran inline). It is
    the current version unless one the store wrote later already is (`versions.record_version`); the
    caller has checked the area with `areas.area_for_finished_upload` (deletion wins)."""
    version = record_version(session, area.id, name, stored, origin=FileOrigin.API, for_update=True)
    if version.status is FileStatus.UPLOADED:
        run = ChecksumRun(id=uuid.uuid4(), file_id=version.id, status=ChecksumStatus.SCHEDULED)
        session.add(run)
        transition_checksum(run, ChecksumStatus.CHECKSUMMING)
        record_checksum_result(session, version, run, checksums, url=url)
    return version


def apply_checksum_report(
    session: Session, area_uuid: str, run_id: str, report: JobReport, *, url_of: Callable[[FileVersion], str]
) -> None:
    """Apply one report of a checksum job about its run. A repeated report changes nothing; an
    out-of-order one raises `IllegalTransitionError`, a malformed one `InvalidInputError`, one about a
    run of another area `NotFoundError`. `url_of` gives a version's URL for the notification."""
    new_status = reported_status(report.status, ChecksumStatus, REPORTABLE)
    checksums = (
        parse_reported_checksums(report.payload.get("checksums"))
        if new_status is ChecksumStatus.CHECKSUMMED
        else None
    )
    run, version = _find_run(session, area_uuid, run_id)
    if report.job_id:
        run.job_id = report.job_id
    if checksums is not None:
        record_checksum_result(session, version, run, checksums, url=url_of(version))
        return
    reported_reason = report.payload.get("reason")
    reason = reported_reason if isinstance(reported_reason, str) else None
    if new_status is ChecksumStatus.FAILED:
        # The job gave up: the version does too, and ingest hears of it.
        fail_checksum_run(
            session, run, version, reason or f"checksum job {run.job_id} failed", url_of(version)
        )
        return
    transition_checksum(run, new_status, reason=reason)


def _find_run(session: Session, area_uuid: str, run_id: str) -> tuple[ChecksumRun, FileVersion]:
    """The run (locked) and its version, if the run belongs to the area; else `NotFoundError`."""
    key = parse_record_id(run_id, what="checksum run", area_uuid=area_uuid)
    row = session.execute(
        select(ChecksumRun, FileVersion)
        .join(FileVersion, ChecksumRun.file_id == FileVersion.id)
        .join(UploadArea, FileVersion.area_id == UploadArea.id)
        .where(ChecksumRun.id == key, UploadArea.uuid == area_uuid)
        .with_for_update(of=ChecksumRun)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no checksum run {run_id} in upload area {area_uuid}")
    return row[0], row[1]


def parse_reported_checksums(value: Any) -> dict[str, str]:
    """The four checksums a job reported, lower-case, or `InvalidInputError` naming what is wrong."""
    if not isinstance(value, dict):
        raise InvalidInputError("payload.checksums must be an object with sha1, sha256, crc32c and s3_etag")
    result: dict[str, str] = {}
    for name, length in _HEX_LENGTHS.items():
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
