"""The validation sweep: no validation stays SCHEDULING_QUEUED, SCHEDULED or VALIDATING forever.

- SCHEDULING_QUEUED for a while: its message was lost (or dead-lettered); it is queued again
  (scheduling is idempotent). Each re-queue counts as a scheduling attempt: once
  `validation_scheduling_max_attempts` are used up it is FAILED instead, and ingest is told.
- SCHEDULED or VALIDATING with a job that ended FAILED (killed, out of memory, timed out), or ended
  without its harness reporting a result: FAILED with the job's reason, and ingest is told
  (`file_validated`).
- SCHEDULED or VALIDATING with a job lost with its host after Batch's own retries (a Spot
  interruption, a terminated instance, a dead local supervisor) or that the runner no longer knows:
  queued again for a new job, each one a scheduling attempt; out of attempts it is FAILED as above.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from upload_api.context import ApiContext
from upload_common import messages
from upload_common.domain.validations import UNFINISHED, fail_validation, requeue_or_fail, resubmit_or_fail
from upload_common.errors import JobNotFoundError, UploadError
from upload_common.jobs import JobState
from upload_common.models import UploadArea, Validation, utcnow
from upload_common.statuses import ValidationStatus

logger = logging.getLogger(__name__)

REQUEUE_AFTER = timedelta(minutes=5)
REPORT_GRACE = timedelta(minutes=2)  # a harness that just ended may still be delivering its report


@dataclass
class SweepReport:
    requeued: int = 0
    failed: int = 0


def sweep(context: ApiContext, *, now: datetime | None = None) -> SweepReport:
    now = now or utcnow()
    report = SweepReport()
    requeue: list[str] = []
    max_attempts = context.settings.validation_scheduling_max_attempts
    with context.sessions.begin() as session:
        rows = session.execute(
            select(Validation, UploadArea.uuid)
            .join(UploadArea, Validation.area_id == UploadArea.id)
            .where(Validation.status.in_(UNFINISHED))
            .where(Validation.updated_at < now - REPORT_GRACE)
            .with_for_update(of=Validation, skip_locked=True)
        ).all()
        for validation, area_uuid in rows:
            if validation.status is ValidationStatus.SCHEDULING_QUEUED:
                if validation.updated_at >= now - REQUEUE_AFTER:
                    continue
                if requeue_or_fail(session, validation, area_uuid, max_attempts=max_attempts):
                    validation.updated_at = now
                    requeue.append(str(validation.id))
                else:
                    report.failed += 1
                continue
            ended = _job_ended(context, validation)
            if ended is None:
                continue
            if not ended.resubmit:
                fail_validation(session, validation, area_uuid, ended.reason)
                report.failed += 1
            elif resubmit_or_fail(session, validation, area_uuid, ended.reason, max_attempts=max_attempts):
                validation.updated_at = now
                requeue.append(str(validation.id))
            else:
                report.failed += 1
    for validation_id in requeue:
        context.queue("validation").send(messages.validation_scheduling(validation_id))
        report.requeued += 1
    if report.requeued or report.failed:
        logger.info("validation sweep: %d re-queued, %d failed", report.requeued, report.failed)
    return report


@dataclass(frozen=True)
class JobEnded:
    """A validation's job ended without a result: why, and whether a new job may succeed."""

    reason: str
    resubmit: bool


def _job_ended(context: ApiContext, validation: Validation) -> JobEnded | None:
    """How the validation's job ended; None while it may still report (or cannot be asked now)."""
    if context.job_runner is None or validation.job_id is None:
        return None
    try:
        status = context.job_runner.describe(validation.job_id)
    except JobNotFoundError as exc:  # Batch forgets jobs after a while; a local job dir was removed
        return JobEnded(f"job {validation.job_id} cannot be found: {exc}", resubmit=True)
    except UploadError as exc:  # the runner is unreachable now: look again at the next sweep
        logger.warning("validation %s: cannot describe job %s: %s", validation.id, validation.job_id, exc)
        return None
    if status.state is JobState.FAILED:  # lost with its host is not the validator's fault: run it again
        how = "was interrupted" if status.interrupted else "failed"
        return JobEnded(f"job {validation.job_id} {how}: {status.reason}", resubmit=status.interrupted)
    if status.state is JobState.SUCCEEDED:
        return JobEnded(f"job {validation.job_id} ended without reporting a result", resubmit=False)
    return None
