"""The daily health report: what is stuck or lost, counted from the database
(`upload_common.domain.health`) and from the queues' dead letters, as a Slack-compatible message.

`upload-api health-report` prints it and posts it to `UPLOAD_HEALTH_WEBHOOK_URL`; on AWS a scheduled
function does the same (`upload_api.lambda_handlers.health_report_handler`). Both only call
`compute_health_report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from upload_common.domain.health import DatabaseHealth, database_health
from upload_common.errors import QueueError
from upload_common.models import utcnow
from upload_common.queues.factory import QUEUE_NAMES
from upload_common.service_context import ServiceContext


@dataclass(frozen=True)
class HealthReport:
    stage: str
    generated_at: datetime
    database: DatabaseHealth
    dead_letters: dict[str, int]  # messages in each queue's dead-letter queue, by queue name
    unreadable: dict[str, str] = field(default_factory=dict)  # queue name -> why its depth is unknown

    @property
    def healthy(self) -> bool:
        counts = (
            self.database.stuck_checksum_runs,
            self.database.stuck_validations,
            self.database.failed_notifications,
            self.database.overdue_areas,
            *self.dead_letters.values(),
        )
        return not self.unreadable and not any(counts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "generated_at": self.generated_at.isoformat(),
            "healthy": self.healthy,
            "stuck_checksum_runs": self.database.stuck_checksum_runs,
            "stuck_validations": self.database.stuck_validations,
            "failed_notifications": self.database.failed_notifications,
            "overdue_areas": self.database.overdue_areas,
            "dead_letters": dict(self.dead_letters),
            "unreadable_queues": dict(self.unreadable),
        }

    def lines(self) -> list[str]:
        """One line per count, with what to do about a non-zero one (docs/operations.md)."""
        db = self.database
        lines = [
            f"stuck checksum runs: {db.stuck_checksum_runs}",
            f"stuck validations: {db.stuck_validations}",
            f"FAILED notifications: {db.failed_notifications}"
            + (" (upload-api redeliver-notifications)" if db.failed_notifications else ""),
            f"areas past expiry, not deleted: {db.overdue_areas}",
        ]
        for name in QUEUE_NAMES:
            if name in self.unreadable:
                lines.append(f"dead letters in {name}: unknown ({self.unreadable[name]})")
            elif name in self.dead_letters:
                lines.append(f"dead letters in {name}: {self.dead_letters[name]}")
        return lines

    def slack_message(self) -> dict[str, Any]:
        """A Slack incoming-webhook body: `text` for notifications and other receivers, `blocks` for Slack."""
        verdict = "healthy" if self.healthy else "needs attention"
        title = f"dcp-upload {self.stage}: {verdict} ({self.generated_at:%Y-%m-%d %H:%M} UTC)"
        body = "\n".join(f"• {line}" for line in self.lines())
        return {
            "text": f"{title}\n{body}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": body}},
            ],
        }


def compute_health_report(context: ServiceContext, *, now: datetime | None = None) -> HealthReport:
    """Count from the database and from each queue's dead letters; a queue that cannot be read is
    reported as such (the report still goes out: it is how an operator hears of it)."""
    now = now or utcnow()
    with context.sessions() as session:
        database = database_health(session, context.settings, now)
    dead_letters: dict[str, int] = {}
    unreadable: dict[str, str] = {}
    for name in QUEUE_NAMES:
        try:
            dead_letters[name] = context.queue(name).dead_letter_count()
        except QueueError as exc:
            unreadable[name] = str(exc)
    return HealthReport(context.settings.batch_name_prefix, now, database, dead_letters, unreadable)
