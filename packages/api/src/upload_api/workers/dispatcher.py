"""The outbox dispatcher: delivers due PENDING notifications to the ingestion service (DESIGN §7).

Each round claims a few due rows in a short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on
SQLite writes are serialised) and pushes their next attempt time forward by a lease, so that no other
dispatcher sends them meanwhile; it then sends outside any transaction and records each outcome. A
dispatcher that dies between sending and recording leaves the row PENDING and due when the lease ends,
so the notification is sent again (at least once; receivers drop duplicates by id), never lost.

A failed attempt is retried after an exponential, jittered delay (`upload_api.notify.backoff`); after
`UPLOAD_NOTIFICATION_MAX_ATTEMPTS` the row is FAILED until an operator redelivers it, and the metric
`dcp-upload/NotificationsFailed` (an EMF line on Lambda, `upload_common.metrics`) counts it. Without
`UPLOAD_INGEST_URL` nothing is claimed or sent: notifications are kept, PENDING.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from upload_api.context import ApiContext
from upload_api.notify.backoff import retry_delay
from upload_api.notify.sender import DeliveryOutcome, IngestSender
from upload_common.domain.state_machines import transition_notification
from upload_common.metrics import NOTIFICATIONS_FAILED, put_metric
from upload_common.models import Notification, utcnow
from upload_common.statuses import NotificationStatus

logger = logging.getLogger(__name__)

LEASE_SECONDS = 60.0  # how long a claimed row is hidden from other dispatchers
IDLE_SECONDS = 1.0  # how long the local loop sleeps when nothing was due


@dataclass(frozen=True)
class DispatchReport:
    """What one dispatch did; `idle` when `UPLOAD_INGEST_URL` is unset and nothing could be sent."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0  # sent, but another dispatcher or an operator changed the row meanwhile
    idle: bool = False

    @property
    def processed(self) -> int:
        return self.delivered + self.retried + self.failed + self.skipped

    def __add__(self, other: DispatchReport) -> DispatchReport:
        return DispatchReport(
            self.delivered + other.delivered,
            self.retried + other.retried,
            self.failed + other.failed,
            self.skipped + other.skipped,
            self.idle or other.idle,
        )

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "delivered": self.delivered,
            "retried": self.retried,
            "failed": self.failed,
            "skipped": self.skipped,
            "idle": self.idle,
        }


@dataclass(frozen=True)
class Claim:
    """A row claimed for one attempt; `lease_until` is the next attempt time the claim wrote."""

    id: uuid.UUID
    event_type: str
    target: str
    payload: dict[str, Any]
    lease_until: datetime


def dispatch_due(
    context: ApiContext,
    *,
    limit: int = 100,
    now: datetime | None = None,
    sender: IngestSender | None = None,
    time_left: Callable[[], float] | None = None,
) -> DispatchReport:
    """Attempt up to `limit` notifications due at `now` (default: the clock), oldest due first.

    `sender` is reused when given (the local loop and the Lambda keep one); `time_left()` (seconds)
    stops claiming when less than a lease remains, so a claimed row is always attempted.
    """
    settings = context.settings
    if not settings.ingest_url:
        return DispatchReport(idle=True)
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    # Claim only as many rows as can be sent (at worst, each at its timeout) before the lease ends.
    lease = max(LEASE_SECONDS, 2 * settings.notification_timeout_seconds)
    batch = max(1, int(lease // (2 * settings.notification_timeout_seconds)))
    own_sender = sender is None
    active = sender if sender is not None else IngestSender.from_settings(settings)
    report = DispatchReport()
    try:
        while report.processed < limit and (time_left is None or time_left() > lease):
            claims = claim_due(context, now=clock(), limit=min(batch, limit - report.processed), lease=lease)
            if not claims:
                break
            for claim in claims:
                outcome = active.send(claim.id, claim.event_type, claim.target, claim.payload)
                recorded = _record(context, claim, outcome, clock())
                if recorded.failed:  # committed: the FAILED-notifications alarm watches this metric
                    put_metric(NOTIFICATIONS_FAILED, recorded.failed, {"Stage": settings.batch_name_prefix})
                report += recorded
    finally:
        if own_sender:
            active.close()
    return report


def claim_due(context: ApiContext, *, now: datetime, limit: int, lease: float = LEASE_SECONDS) -> list[Claim]:
    """Claim up to `limit` PENDING rows due at `now`: their next attempt moves to `now + lease`."""
    lease_until = now + timedelta(seconds=lease)
    with context.sessions.begin() as session:
        rows = session.scalars(
            select(Notification)
            .where(Notification.status == NotificationStatus.PENDING, Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.next_attempt_at = lease_until
        return [Claim(row.id, row.event_type.value, row.target, row.payload, lease_until) for row in rows]


def redeliver_failed(context: ApiContext, *, ids: Collection[uuid.UUID] | None = None) -> int:
    """Make FAILED notifications (all, or those of `ids`) PENDING again with a fresh budget; how many."""
    query = select(Notification).where(Notification.status == NotificationStatus.FAILED)
    if ids is not None:
        query = query.where(Notification.id.in_(list(ids)))
    with context.sessions.begin() as session:
        rows = session.scalars(query.with_for_update()).all()
        return sum(transition_notification(row, NotificationStatus.PENDING) for row in rows)


def run_dispatcher(
    context: ApiContext, stop: threading.Event, *, idle_seconds: float = IDLE_SECONDS
) -> DispatchReport:
    """The local loop: dispatch until `stop` is set, sleeping `idle_seconds` when nothing was due."""
    total = DispatchReport()
    if not context.settings.ingest_url:
        logger.warning("UPLOAD_INGEST_URL is not set: notifications are kept PENDING, not sent")
        stop.wait()
        return DispatchReport(idle=True)
    with IngestSender.from_settings(context.settings) as sender:
        while not stop.is_set():
            try:
                report = dispatch_due(context, sender=sender)
            except Exception:
                logger.exception("dispatching notifications failed; retrying")
                stop.wait(idle_seconds)
                continue
            total += report
            if report.processed == 0:
                stop.wait(idle_seconds)
    return total


def dispatch_until_empty(
    context: ApiContext, *, sender: IngestSender, time_left: Callable[[], float]
) -> DispatchReport:
    """The scheduled Lambda's run: dispatch until nothing is due or time runs short."""
    total = DispatchReport()
    while time_left() > 0:
        report = dispatch_due(context, sender=sender, time_left=time_left)
        total += report
        if report.processed == 0:
            break
    return total


def _record(context: ApiContext, claim: Claim, outcome: DeliveryOutcome, now: datetime) -> DispatchReport:
    settings = context.settings
    with context.sessions.begin() as session:
        row = session.get(Notification, claim.id, with_for_update=True)
        if row is None or row.status is not NotificationStatus.PENDING:
            # Delivered by another dispatcher after our lease ran out, or deleted with its file.
            return DispatchReport(skipped=1)
        if outcome.delivered:
            transition_notification(row, NotificationStatus.DELIVERED)
            logger.info("notification %s (%s) delivered", row.id, row.event_type.value)
            return DispatchReport(delivered=1)
        if row.next_attempt_at != claim.lease_until:
            # The lease ran out and another dispatcher holds the row now: its outcome counts, not ours.
            return DispatchReport(skipped=1)
        row.attempts += 1
        row.last_error = outcome.error
        if row.attempts >= settings.notification_max_attempts:
            transition_notification(row, NotificationStatus.FAILED)
            logger.error("notification %s FAILED after %d attempts: %s", row.id, row.attempts, outcome.error)
            return DispatchReport(failed=1)
        delay = retry_delay(
            row.attempts,
            initial=settings.notification_backoff_seconds,
            maximum=settings.notification_backoff_max_seconds,
        )
        row.next_attempt_at = now + delay
        logger.warning(
            "notification %s attempt %d failed (%s); next in %.1f s",
            row.id,
            row.attempts,
            outcome.error,
            delay.total_seconds(),
        )
        return DispatchReport(retried=1)
