"""`/v2/areas/{uuid}/uploads…`: resumable upload sessions (Api-Key or submitter link; the part route is
authorised by its own signed URL)."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from flask import Response, request

from upload_api.handlers import _request as req
from upload_api.services import uploads


def create(upload_area_uuid: str, body: dict[str, Any]) -> Response:
    session, created = uploads.create_upload(
        req.context(),
        req.area(upload_area_uuid),
        name=body["name"],
        size=body["size"],
        content_type=body.get("content_type"),
        sha256=body.get("sha256"),
        crc32c=body.get("crc32c"),
    )
    return req.json_response(session, 201 if created else 200)


def list_open(upload_area_uuid: str) -> Response:
    return req.json_response({"uploads": uploads.list_uploads(req.context(), req.area(upload_area_uuid))})


def get(upload_area_uuid: str, upload_id: str) -> Response:
    return req.json_response(uploads.get_upload(req.context(), req.area(upload_area_uuid), upload_id))


def part_url(upload_area_uuid: str, upload_id: str, part_number: int) -> Response:
    ctx = req.context()
    base = (ctx.settings.public_url or request.host_url).rstrip("/")

    def local_route(area_uuid: str, session_id: str, number: int, expires: int, signature: str) -> str:
        query = urlencode({"expires": expires, "signature": signature})
        return f"{base}/v2/areas/{area_uuid}/uploads/{session_id}/parts/{number}?{query}"

    target = uploads.part_target(
        ctx, req.area(upload_area_uuid), upload_id, part_number, local_route=local_route
    )
    return req.json_response(target)


def put_part(
    upload_area_uuid: str, upload_id: str, part_number: int, expires: int, signature: str
) -> Response:
    # No `body` parameter: connexion leaves the body unread and it streams to the store (as the file PUT).
    part = uploads.receive_part(
        req.context(),
        req.area(upload_area_uuid),
        upload_id,
        part_number,
        cast(Any, request.environ["wsgi.input"]),
        size=request.content_length,
        expires=expires,
        signature=signature,
    )
    response = req.json_response({"number": part.number, "size": part.size, "etag": part.etag})
    response.headers["ETag"] = f'"{part.etag}"'
    return response


def complete(upload_area_uuid: str, upload_id: str) -> Response:
    return req.json_response(uploads.complete_upload(req.context(), req.area(upload_area_uuid), upload_id))


def abort(upload_area_uuid: str, upload_id: str) -> Response:
    uploads.abort_upload(req.context(), req.area(upload_area_uuid), upload_id)
    return req.empty(204)
