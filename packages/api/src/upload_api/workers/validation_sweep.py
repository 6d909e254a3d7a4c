"""The validation sweep: no validation stays SCHEDULING_QUEUED, SCHEDULED or VALIDATING forever.

- SCHEDULING_QUEUED for a while: its message was lost (or dead-lettered); it is queued again
  (scheduling is idempotent). Each re-queue counts as a scheduling attempt: once
  `validation_scheduling_max_attempts` are used up it is FAILED instead, and ingest is told.
- SCHEDULED or VALIDATING with a job that ended FAILED (killed, out of memory, timed out, lost with
  its instance), or ended without its harness reporting a result: FAILED with the job's reason, and
  ingest is told (`file_validated`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from upload_api.context import ApiContext
from upload_common import messages
from upload_common.domain.validations import UNFINISHED, fail_validation, requeue_or_fail
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
            reason = _job_failure(context, validation)
            if reason is not None:
                fail_validation(session, validation, area_uuid, reason)
                report.failed += 1
    for validation_id in requeue:
        context.queue("validation").send(messages.validation_scheduling(validation_id))
        report.requeued += 1
    if report.requeued or report.failed:
        logger.info("validation sweep: %d re-queued, %d failed", report.requeued, report.failed)
    return report


def _job_failure(context: ApiContext, validation: Validation) -> str | None:
    if context.job_runner is None or validation.job_id is None:
        return None
    try:
        status = context.job_runner.describe(validation.job_id)
    except JobNotFoundError as exc:
        return f"job {validation.job_id} cannot be found: {exc}"
    except UploadError as exc:  # the runner is unreachable now: look again at the next sweep
        logger.warning("validation %s: cannot describe job %s: %s", validation.id, validation.job_id, exc)
        return None
    if status.state is JobState.FAILED:
        return f"job {validation.job_id} failed: {status.reason}"
    if status.state is JobState.SUCCEEDED:
        return f"job {validation.job_id} ended without reporting a result"
    return None
