"""Checksum status of one file and of a whole area, from the database (tags are never trusted)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from upload_api.context import ApiContext
from upload_api.names import check_filename
from upload_api.services.areas import live_area
from upload_api.services.files import current_version
from upload_common.errors import FileNotFoundInAreaError
from upload_common.models import ChecksumRun, FileVersion
from upload_common.statuses import ChecksumStatus

UNSCHEDULED = "UNSCHEDULED"
ALWAYS_REPORTED = (ChecksumStatus.CHECKSUMMED, ChecksumStatus.CHECKSUMMING)


def file_checksum(context: ApiContext, area_uuid: str, name: str) -> dict[str, Any]:
    """`checksum_status` (of the newest run of the current version) and its checksums."""
    check_filename(name)
    with context.sessions() as session:
        area = live_area(session, area_uuid)
        version = current_version(session, area, name)
        if version is None:
            raise FileNotFoundInAreaError(f"no file {name!r} in upload area {area_uuid}")
        status = session.scalars(
            select(ChecksumRun.status)
            .where(ChecksumRun.file_id == version.id)
            .order_by(ChecksumRun.created_at.desc(), ChecksumRun.id.desc())
            .limit(1)
        ).first()
        return {"checksum_status": status.value if status else UNSCHEDULED, "checksums": version.checksums}


def area_checksum_counts(context: ApiContext, area_uuid: str) -> dict[str, int]:
    """How many current file versions are in each checksum state; each file counts once.

    Keys as the seed's: TOTAL_NUM_FILES, CHECKSUMMED, CHECKSUMMING, CHECKSUMMING_UNSCHEDULED always;
    SCHEDULED, ABORTED and FAILED when present.
    """
    with context.sessions() as session:
        area = live_area(session, area_uuid)
        newer_file = aliased(FileVersion)
        newer_run = aliased(ChecksumRun)
        current = (
            select(FileVersion.id)
            .where(FileVersion.area_id == area.id)
            .where(
                ~exists().where(
                    and_(
                        newer_file.area_id == FileVersion.area_id,
                        newer_file.name == FileVersion.name,
                        newer_file.id > FileVersion.id,
                    )
                )
            )
            .subquery()
        )
        latest_run = (
            select(ChecksumRun.file_id, ChecksumRun.status)
            .where(
                ~exists().where(
                    and_(
                        newer_run.file_id == ChecksumRun.file_id,
                        (newer_run.created_at > ChecksumRun.created_at)
                        | and_(newer_run.created_at == ChecksumRun.created_at, newer_run.id > ChecksumRun.id),
                    )
                )
            )
            .subquery()
        )
        rows = session.execute(
            select(latest_run.c.status, func.count())
            .select_from(current.outerjoin(latest_run, latest_run.c.file_id == current.c.id))
            .group_by(latest_run.c.status)
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
