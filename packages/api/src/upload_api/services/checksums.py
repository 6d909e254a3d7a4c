"""Checksum status of one file and of a whole area, from the database (tags are never trusted)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from upload_api.context import ApiContext
from upload_api.names import check_filename
from upload_common.domain.areas import existing_area
from upload_common.domain.checksum_runs import is_latest_run, latest_run
from upload_common.domain.versions import current_version, current_versions
from upload_common.errors import FileNotFoundInAreaError
from upload_common.models import ChecksumRun, FileVersion
from upload_common.statuses import ChecksumStatus

UNSCHEDULED = "UNSCHEDULED"
ALWAYS_REPORTED = (ChecksumStatus.CHECKSUMMED, ChecksumStatus.CHECKSUMMING)


def file_checksum(context: ApiContext, area_uuid: str, name: str) -> dict[str, Any]:
    """`checksum_status` (of the newest run of the current version) and its checksums."""
    check_filename(name)
    with context.sessions() as session:
        area = existing_area(session, area_uuid)
        version = current_version(session, area.id, name)
        if version is None:
            raise FileNotFoundInAreaError(f"no file {name!r} in upload area {area_uuid}")
        run = latest_run(session, version.id)
        status = run.status.value if run is not None else UNSCHEDULED
        return {"checksum_status": status, "checksums": version.checksums}


def area_checksum_counts(context: ApiContext, area_uuid: str) -> dict[str, int]:
    """How many current file versions are in each checksum state; each file counts once.

    Keys as the seed's: TOTAL_NUM_FILES, CHECKSUMMED, CHECKSUMMING, CHECKSUMMING_UNSCHEDULED always;
    SCHEDULED, ABORTED and FAILED when present.
    """
    with context.sessions() as session:
        area = existing_area(session, area_uuid)
        current = current_versions(area.id).with_only_columns(FileVersion.id).subquery()
        runs = select(ChecksumRun.file_id, ChecksumRun.status).where(is_latest_run()).subquery()
        rows = session.execute(
            select(runs.c.status, func.count())
            .select_from(current.outerjoin(runs, runs.c.file_id == current.c.id))
            .group_by(runs.c.status)
        ).all()
    counts: dict[str, int] = {status.value: 0 for status in ALWAYS_REPORTED}
    counts["CHECKSUMMING_UNSCHEDULED"] = 0
    total = 0
    for status, count in rows:
        total += count
        key = "CHECKSUMMING_UNSCHEDULED" if status is None else ChecksumStatus(status).value
        counts[key] = counts.get(key, 0) + count
    counts["TOTAL_NUM_FILES"] = total
    return counts
