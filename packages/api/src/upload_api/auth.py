"""Authentication at the API edge: `Api-Key` for ingest, per-job bearer tokens for job callbacks,
`Submitter-Link` tokens for submitters (one area's uploads and status).

connexion calls these from its security middleware (named in the spec by `x-apikeyInfoFunc` and
`x-bearerInfoFunc`); they find the app's `ApiContext` in the request scope, put there by
`ContextMiddleware`. Returning None (or raising `OAuthProblem`) makes connexion answer 401 with a
problem+json body.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

import anyio.to_thread
from connexion.exceptions import Forbidden, OAuthProblem
from starlette.types import ASGIApp, Receive, Scope, Send

from upload_api.context import ApiContext
from upload_common.callback_tokens import CallbackKind, TokenCheck, check_job_token
from upload_common.domain.submitter_links import LinkCheck, check_link, link_refusal

SCOPE_KEY = "upload_context"


class ContextMiddleware:
    """Puts the app's `ApiContext` into every request's ASGI scope."""

    def __init__(self, app: ASGIApp, context: ApiContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[SCOPE_KEY] = self.context
        await self.app(scope, receive, send)


def api_key_matches(presented: str, accepted: tuple[bytes, ...]) -> bool:
    """Constant-time comparison against every accepted key (several during a rotation)."""
    candidate = presented.encode("utf-8", errors="surrogateescape")
    matched = False
    for key in accepted:
        # Compare with all of them, so the time taken does not tell which key (if any) matched.
        matched |= hmac.compare_digest(candidate, key)
    return matched


def api_key_info(api_key: str, request: Any, required_scopes: Any = None) -> dict[str, str] | None:
    context: ApiContext = request.scope[SCOPE_KEY]
    return {"sub": "ingest"} if api_key_matches(api_key, context.api_keys) else None


def job_token_info(token: str, request: Any, required_scopes: Any = None) -> dict[str, str] | None:
    context: ApiContext = request.scope[SCOPE_KEY]
    kind, record_id = _token_record(request.scope.get("path", ""))
    check = check_job_token(context.secret_key, kind, record_id, token)
    if check is TokenCheck.EXPIRED:
        # Said only of a token we issued for this record: the job outlived its timeout and margin.
        raise OAuthProblem(detail="the callback token has expired")
    return {"sub": f"{kind}:{record_id}"} if check is TokenCheck.VALID else None


# The area of a request under /v2/areas/{uuid}/… (raw path: see upload_api.app.RawPathMiddleware).
_V2_AREA = re.compile(r"^/v2/areas/(?P<area>[^/]+)(?:/|$)")


async def submitter_link_info(token: str, request: Any, required_scopes: Any = None) -> dict[str, str]:
    """A `Submitter-Link` token for the path's area: tampered or expired → 401; another area's, or an
    area that no longer takes uploads (locked, sealed, being deleted, deleted, expired) → 403 saying
    why. The area's state is read at every request, so a lock stops its links at once."""
    context: ApiContext = request.scope[SCOPE_KEY]
    match = _V2_AREA.match(request.scope.get("path", ""))
    area_uuid = match["area"] if match else ""
    check = check_link(context.secret_key, area_uuid, token)
    if check is LinkCheck.INVALID:
        raise OAuthProblem(detail="the submitter link is not valid (altered or malformed)")
    if check is LinkCheck.EXPIRED:
        raise OAuthProblem(detail="the submitter link has expired: ask for a new one")
    if check is LinkCheck.OTHER_AREA:
        raise Forbidden(detail=f"the submitter link is for another upload area, not {area_uuid}")
    refusal = await anyio.to_thread.run_sync(_link_refusal, context, area_uuid)  # the database blocks
    if refusal is not None:
        raise Forbidden(detail=refusal)
    return {"sub": f"submitter-link:{area_uuid}"}


def _link_refusal(context: ApiContext, area_uuid: str) -> str | None:
    with context.sessions() as session:
        return link_refusal(session, area_uuid)


# A validation job asks for its staging credentials with the token of its validation.
_STAGING_CREDENTIALS = re.compile(r"/v2/areas/[^/]+/validations/(?P<record>[^/]+)/staging-credentials/?$")


def _token_record(path: str) -> tuple[CallbackKind, str]:
    """The record a job-token request is about: the kind of job and the record's id, from its path."""
    staging = _STAGING_CREDENTIALS.search(path)
    if staging is not None:
        return "validation", staging["record"]
    kind: CallbackKind = "validation" if "/update_validation/" in path else "checksum"
    return kind, path.rstrip("/").rsplit("/", 1)[-1]
