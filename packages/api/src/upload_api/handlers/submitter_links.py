"""`POST /v2/areas/{uuid}/submitter-links` (Api-Key): a link that lets a submitter upload to one area."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from upload_api.handlers._request import area, context, json_response
from upload_api.services.submitter_links import create_link


def create(upload_area_uuid: str, body: Any = None) -> Response:
    ctx = context()
    # No body (connexion then hands over its schema's default, unparsed): the default lifetime.
    ttl = body.get("ttl_seconds") if isinstance(body, dict) else None
    link = create_link(ctx, area(upload_area_uuid), ttl)
    # The token travels in the fragment, which browsers never send: it stays out of every server log.
    base = (ctx.settings.public_url or request.host_url).rstrip("/")
    return json_response(
        {
            "url": f"{base}/v2/areas/{link.area_uuid}/page#link={link.token}",
            "token": link.token,
            "expires_at": link.expires_at.isoformat().replace("+00:00", "Z"),
        },
        201,
    )
