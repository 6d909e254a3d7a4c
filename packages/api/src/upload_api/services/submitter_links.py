"""Submitter links: issue one for an area (rules: `domain.submitter_links`)."""

from __future__ import annotations

from upload_api.context import ApiContext
from upload_common.domain import areas
from upload_common.domain.submitter_links import SubmitterLink, issue_link, link_refusal, link_ttl
from upload_common.errors import ConflictError
from upload_common.statuses import AreaStatus


def create_link(context: ApiContext, area_uuid: str, ttl_seconds: int | None) -> SubmitterLink:
    """A link to the area for `ttl_seconds` (default: the setting). Refused (409) when the area will
    never take uploads again (sealed, being deleted, expired); a locked area gets one, which works
    once the area is unlocked."""
    ttl = link_ttl(ttl_seconds, context.settings.submitter_link_ttl_seconds)
    with context.sessions() as session:
        area = areas.existing_area(session, area_uuid)  # 404 when unknown or deleted
        refusal = link_refusal(session, area_uuid)
        if refusal is not None and area.status is not AreaStatus.LOCKED:
            raise ConflictError(refusal)
    return issue_link(context.secret_key, area_uuid, ttl)
