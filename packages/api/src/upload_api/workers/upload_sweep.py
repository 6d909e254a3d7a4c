"""The upload-session sweep: an OPEN session past its expiry is aborted in the store (its parts
deleted) and marked EXPIRED. Runs with the validation sweep: in the validation scheduler's idle loop
(embedded default) and in the scheduled `validation_sweep` function (AWS), where a bucket lifecycle
rule also aborts incomplete multipart uploads a day after the longest session could live.
"""

from __future__ import annotations

import logging
from datetime import datetime

from upload_common.domain import upload_sessions as rules
from upload_common.domain.versions import object_key
from upload_common.models import utcnow
from upload_common.service_context import ServiceContext
from upload_common.statuses import UploadSessionStatus

logger = logging.getLogger(__name__)

BATCH = 100  # sessions per transaction; the next sweep takes the rest


def sweep_upload_sessions(context: ServiceContext, *, now: datetime | None = None) -> int:
    """Expire the OPEN sessions past their expiry (one batch); return how many."""
    now = now or utcnow()
    with context.sessions.begin() as session:
        expired = rules.expired_sessions(session, now, limit=BATCH)
        for upload, area_uuid in expired:
            # The store first: if the commit then fails, the next sweep aborts again (a no-op) and retries.
            context.store.abort_multipart_upload(object_key(area_uuid, upload.name), upload.store_upload_id)
            rules.end_session(upload, UploadSessionStatus.EXPIRED)
    if expired:
        logger.info("upload sessions: %d expired, their parts deleted", len(expired))
    return len(expired)
