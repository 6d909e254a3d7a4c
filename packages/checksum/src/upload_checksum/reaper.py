"""The checksum reaper: no run stays SCHEDULED or CHECKSUMMING forever, and ingest hears of every
version that gives up.

- An inline run whose heartbeat stopped (its worker died) goes back to SCHEDULED and its version is
  queued again; after `GIVE_UP_AFTER` it is FAILED instead.
- A run held by a job follows the job: a FAILED job fails the run with the job's reason, and a job that
  ended without reporting fails it too. A job the runner no longer knows (vanished), or one lost with
  its host after Batch's own retries (`JobStatus.interrupted`: a Spot interruption, a terminated
  instance, a dead local supervisor), fails the run and the version is queued for a new run (a new
  job), up to `MAX_RUNS` runs counted in the database; an application failure is never run again.
- A run that ends FAILED without another run to follow ends with `file_uploaded` (status FAILED and
  the reason), once per version (`upload_common.domain.checksum_failures`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from upload_common import messages
from upload_common.domain.checksum_failures import fail_checksum_run, retry_or_fail_run
from upload_common.domain.checksum_runs import UNFINISHED_RUNS, stale_period
from upload_common.domain.state_machines import transition_checksum
from upload_common.domain.versions import object_key
from upload_common.errors import JobNotFoundError, UploadError
from upload_common.jobs import JobState
from upload_common.models import ChecksumRun, FileVersion, UploadArea, utcnow
from upload_common.service_context import ServiceContext
from upload_common.statuses import ChecksumStatus, FileStatus

logger = logging.getLogger(__name__)

GIVE_UP_AFTER = timedelta(hours=6)
REPORT_GRACE = timedelta(minutes=5)  # a job that succeeded may still be delivering its last report
MAX_RUNS = 3  # runs a version gets when its jobs vanish or are interrupted, the first included


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
            .where(ChecksumRun.status.in_(UNFINISHED_RUNS))
            .where(ChecksumRun.updated_at < now - stale_period(context.settings))
            .with_for_update(of=ChecksumRun, skip_locked=True)
        ).all()
        for run, version, area in rows:
            url = context.store.object_url(object_key(area.uuid, version.name))
            if run.job_id:
                ended = _job_ended(context, run, now)
                if ended is None:
                    continue
                report.failed += 1
                if ended.retry:
                    if retry_or_fail_run(session, run, version, ended.reason, url=url, max_runs=MAX_RUNS):
                        requeue.append((area.uuid, version.name))
                else:
                    fail_checksum_run(session, run, version, ended.reason, url)
            elif version.status is not FileStatus.UPLOADED or run.created_at < now - GIVE_UP_AFTER:
                fail_checksum_run(session, run, version, "checksumming stalled repeatedly; gave up", url)
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


@dataclass(frozen=True)
class JobEnded:
    """A run's job ended without a result: why, and whether another run may succeed."""

    reason: str
    retry: bool


def _job_ended(context: ServiceContext, run: ChecksumRun, now: datetime) -> JobEnded | None:
    """How the run's job ended; None while it may still report (or cannot be asked now)."""
    if context.job_runner is None or run.job_id is None:
        return None
    try:
        status = context.job_runner.describe(run.job_id)
    except JobNotFoundError as exc:  # Batch forgets jobs after a while; a local job dir was removed
        return JobEnded(f"job {run.job_id} vanished: {exc}", retry=True)
    except UploadError as exc:  # the runner is unreachable now: look again next time
        logger.warning("checksum run %s: cannot describe job %s: %s", run.id, run.job_id, exc)
        return None
    if status.state is JobState.FAILED:  # lost with its host is not the job's own fault: run it again
        how = "was interrupted" if status.interrupted else "failed"
        return JobEnded(f"job {run.job_id} {how}: {status.reason}", retry=status.interrupted)
    if status.state is JobState.SUCCEEDED and run.updated_at < now - REPORT_GRACE:
        return JobEnded(f"job {run.job_id} ended without reporting a result", retry=False)
    return None
