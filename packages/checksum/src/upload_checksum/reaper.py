"""The checksum reaper: no run stays SCHEDULED or CHECKSUMMING forever.

- An inline run whose heartbeat stopped (its worker died) goes back to SCHEDULED and its version is
  queued again; after `GIVE_UP_AFTER` it is FAILED instead.
- A run held by a job follows the job: a FAILED job fails the run with the job's reason, and a job that
  ended without reporting fails it too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from upload_common import messages
from upload_common.domain.checksum_runs import stale_period
from upload_common.domain.state_machines import transition_checksum
from upload_common.errors import UploadError
from upload_common.jobs import JobState
from upload_common.models import ChecksumRun, FileVersion, UploadArea, utcnow
from upload_common.service_context import ServiceContext
from upload_common.statuses import ChecksumStatus, FileStatus

logger = logging.getLogger(__name__)

GIVE_UP_AFTER = timedelta(hours=6)
REPORT_GRACE = timedelta(minutes=5)  # a job that succeeded may still be delivering its last report


@dataclass
class ReapReport:
    requeued: int = 0
    failed: int = 0


def reap(context: ServiceContext, *, now: datetime | None = None) -> ReapReport:
    now = now or utcnow()
    report = ReapReport()
    requeue: list[tuple[str, str]] = []
    with context.sessions.begin() as session:
        rows = session.execute(
            select(ChecksumRun, FileVersion, UploadArea)
            .join(FileVersion, ChecksumRun.file_id == FileVersion.id)
            .join(UploadArea, FileVersion.area_id == UploadArea.id)
            .where(ChecksumRun.status.in_([ChecksumStatus.SCHEDULED, ChecksumStatus.CHECKSUMMING]))
            .where(ChecksumRun.updated_at < now - stale_period(context.settings))
            .with_for_update(of=ChecksumRun, skip_locked=True)
        ).all()
        for run, version, area in rows:
            if run.job_id:
                report.failed += _follow_job(context, run, now)
            elif version.status is not FileStatus.UPLOADED or run.created_at < now - GIVE_UP_AFTER:
                transition_checksum(
                    run, ChecksumStatus.FAILED, reason="checksumming stalled repeatedly; gave up"
                )
                report.failed += 1
            elif run.status is ChecksumStatus.CHECKSUMMING:
                transition_checksum(
                    run, ChecksumStatus.SCHEDULED, reason="worker stopped mid-checksum; re-queued"
                )
                requeue.append((area.uuid, version.name))
            else:  # SCHEDULED without a job: its message was lost
                run.updated_at = now
                requeue.append((area.uuid, version.name))
    for area_uuid, name in requeue:
        context.queue("checksum").send(messages.file_uploaded(area_uuid, name))
        report.requeued += 1
    if report.requeued or report.failed:
        logger.info("checksum reaper: %d re-queued, %d failed", report.requeued, report.failed)
    return report


def _follow_job(context: ServiceContext, run: ChecksumRun, now: datetime) -> int:
    if context.job_runner is None or run.job_id is None:
        return 0
    try:
        status = context.job_runner.describe(run.job_id)
    except UploadError as exc:
        logger.warning("checksum run %s: cannot describe job %s: %s", run.id, run.job_id, exc)
        return 0
    if status.state is JobState.FAILED:
        transition_checksum(run, ChecksumStatus.FAILED, reason=f"job {run.job_id} failed: {status.reason}")
        return 1
    if status.state is JobState.SUCCEEDED and run.updated_at < now - REPORT_GRACE:
        transition_checksum(
            run, ChecksumStatus.FAILED, reason=f"job {run.job_id} ended without reporting a result"
        )
        return 1
    return 0
