"""What the daily health report counts from the database: work that is stuck, notifications that ran
out of attempts, and areas kept past their expiry. Each count uses the rule that decides it elsewhere:

- a checksum run is stuck when its heartbeat is stale (`checksum_runs.is_stale`, the reaper's rule);
- a validation is stuck when it is unfinished and unchanged for longer than its job's callback token
  lives (the validator's timeout plus the token margin): its job can no longer report;
- a notification counts once FAILED (the dispatcher gave up; `upload-api redeliver-notifications`);
- an area is overdue when its `expires_at` has passed and it is not DELETED.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from upload_common.domain.checksum_runs import UNFINISHED_RUNS, stale_period
from upload_common.domain.validations import UNFINISHED
from upload_common.models import ChecksumRun, Notification, UploadArea, Validation
from upload_common.settings import Settings
from upload_common.statuses import AreaStatus, NotificationStatus


@dataclass(frozen=True)
class DatabaseHealth:
    stuck_checksum_runs: int
    stuck_validations: int
    failed_notifications: int
    overdue_areas: int


def validation_stuck_after(settings: Settings) -> timedelta:
    """How long an unfinished validation may go unchanged: after this its job cannot report any more."""
    return timedelta(seconds=settings.validator_timeout_seconds + settings.callback_token_margin_seconds)


def database_health(session: Session, settings: Settings, now: datetime) -> DatabaseHealth:
    def count(query: Select[int]) -> int:
        return int(session.execute(query).scalar_one())

    # SQL form of `is_stale(run.updated_at, stale_period(settings), now=now)`.
    stale_before = now - stale_period(settings)
    return DatabaseHealth(
        stuck_checksum_runs=count(
            select(func.count())
            .select_from(ChecksumRun)
            .where(ChecksumRun.status.in_(UNFINISHED_RUNS), ChecksumRun.updated_at <= stale_before)
        ),
        stuck_validations=count(
            select(func.count())
            .select_from(Validation)
            .where(
                Validation.status.in_(UNFINISHED),
                Validation.updated_at <= now - validation_stuck_after(settings),
            )
        ),
        failed_notifications=count(
            select(func.count())
            .select_from(Notification)
            .where(Notification.status == NotificationStatus.FAILED)
        ),
        overdue_areas=count(
            select(func.count())
            .select_from(UploadArea)
            .where(UploadArea.expires_at < now, UploadArea.status != AreaStatus.DELETED)
        ),
    )
