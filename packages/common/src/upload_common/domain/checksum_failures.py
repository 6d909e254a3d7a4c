"""Checksum runs that end FAILED: whether the version gets another run, and telling ingest when it
gives up.

A version gives up when a run fails for a reason another run would meet again (its job failed or
ended without reporting, checksumming stalled for hours), or when its runs keep vanishing. Ingest then
hears `file_uploaded` with status FAILED and the reason, once per version: a run that is retried is
not notified, and a version checksummed after all (by a later run) is notified CHECKSUMMED then.
"""

from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from upload_common.domain.outbox import notify_file_uploaded
from upload_common.domain.state_machines import transition_checksum
from upload_common.fileinfo import file_info_of_version
from upload_common.models import ChecksumRun, FileVersion, Notification
from upload_common.statuses import ChecksumStatus, FileStatus, NotificationType


def fail_checksum_run(
    session: Session, run: ChecksumRun, version: FileVersion, reason: str, url: str
) -> bool:
    """End `run` FAILED with `reason`: its version gives up. Ingest is told (`file_uploaded`, status
    FAILED, the reason) unless the version was checksummed after all or was told before. `url` is the
    object's URL as clients see it. True when a notification was written."""
    transition_checksum(run, ChecksumStatus.FAILED, reason=reason)
    if version.status is not FileStatus.UPLOADED or _file_uploaded_written(session, version.id):
        return False
    info = file_info_of_version(version, area_uuid=version.area.uuid, url=url)
    notify_file_uploaded(session, version, info, reason=reason)
    return True


def retry_or_fail_run(
    session: Session, run: ChecksumRun, version: FileVersion, reason: str, *, url: str, max_runs: int
) -> bool:
    """End `run` FAILED for a fault another run may not meet (its job vanished). True when the version
    gets another run (the caller queues it); False once it has had `max_runs`: it gives up
    (`fail_checksum_run`)."""
    failed_before = session.scalar(
        select(func.count())
        .select_from(ChecksumRun)
        .where(ChecksumRun.file_id == version.id, ChecksumRun.status == ChecksumStatus.FAILED)
    )
    if version.status is FileStatus.UPLOADED and (failed_before or 0) + 1 < max_runs:
        transition_checksum(run, ChecksumStatus.FAILED, reason=f"{reason}; the version gets another run")
        return True
    fail_checksum_run(session, run, version, reason, url)
    return False


def _file_uploaded_written(session: Session, version_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    Notification.file_id == version_id,
                    Notification.event_type == NotificationType.FILE_UPLOADED,
                )
            )
        )
    )
