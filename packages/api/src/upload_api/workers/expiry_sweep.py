"""The expiry sweep: areas are warned before they expire and deleted when they do
(`upload_common.domain.expiry`). Run by the deletion worker while its queue is idle (embedded) and by
a scheduled Lambda (`upload_api.lambda_handlers.area_expiry_handler`) on AWS.

The deletion messages are sent after the commit, as DELETE /v1/area/{uuid} sends its own
(`upload_api.services.areas.queue_deletion`): the embedded queue shares the database, and SQLite allows
one writer. A message lost between the commit and the send is sent again by a later sweep.
"""

from __future__ import annotations

import logging
from datetime import datetime

from upload_common import messages
from upload_common.domain.expiry import ExpirySweep, sweep_expiry
from upload_common.models import utcnow
from upload_common.service_context import ServiceContext

logger = logging.getLogger(__name__)


def sweep_expired_areas(context: ServiceContext, *, now: datetime | None = None) -> ExpirySweep:
    """Warn the areas that expire soon and queue the deletion of those that expired at `now`."""
    with context.sessions.begin() as session:
        result = sweep_expiry(
            session, now=now or utcnow(), warning_seconds=context.settings.area_expiry_warning_seconds
        )
    for area_uuid in result.to_delete:
        context.queue("deletion").send(messages.area_deletion(area_uuid))
    if result.warned or result.to_delete:
        logger.info(
            "expiry sweep: %d warned, %d queued for deletion", len(result.warned), len(result.to_delete)
        )
    return result
