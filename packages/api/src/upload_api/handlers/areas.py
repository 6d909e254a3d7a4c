"""`/v1/area/{uuid}`, its lock and its credentials; `/v2/areas/{uuid}` (summary, expiry) and its report."""

from __future__ import annotations

from typing import Any

from flask import Response

from upload_api.handlers._request import area, context, empty, json_response
from upload_api.services import areas, reports
from upload_common.domain.expiry import expiry_choice
from upload_common.errors import InvalidInputError


def exists(upload_area_uuid: str) -> Response:
    found = areas.area_exists(context(), area(upload_area_uuid))
    return empty(200 if found else 404)


def create(upload_area_uuid: str, body: Any = None) -> Response:
    # The body is optional (the seed's clients send none, whatever their Content-Type says): a JSON
    # `{"expires_at"}` or `{"ttl_seconds"}`.
    if body and not isinstance(body, dict):
        raise InvalidInputError(
            'the body, when there is one, is JSON: {"expires_at": ...} or {"ttl_seconds": ...}'
        )
    expiry = expiry_choice(body) if body else None
    return json_response({"uri": areas.create_area(context(), area(upload_area_uuid), expiry)}, 201)


def summary(upload_area_uuid: str) -> Response:
    return json_response(areas.area_summary(context(), area(upload_area_uuid)))


def update(upload_area_uuid: str, body: dict[str, Any]) -> Response:
    expiry = expiry_choice(body)
    if expiry is None:
        raise InvalidInputError("nothing to change: give expires_at or ttl_seconds")
    return json_response(areas.set_area_expiry(context(), area(upload_area_uuid), expiry))


def report(upload_area_uuid: str, format: str = "csv") -> Response:
    found = reports.area_report(context(), area(upload_area_uuid), report_format=format)
    # A generator body: the WSGI server sends each page as it is read (bounded memory).
    return Response(found.chunks, status=200, content_type=found.media_type)


def delete(upload_area_uuid: str) -> Response:
    area_uuid = area(upload_area_uuid)
    status = areas.queue_deletion(context(), area_uuid)
    return json_response({"area_uuid": area_uuid, "status": status.value}, 202)


def lock(upload_area_uuid: str) -> Response:
    areas.lock_area(context(), area(upload_area_uuid))
    return empty(204)


def unlock(upload_area_uuid: str) -> Response:
    areas.unlock_area(context(), area(upload_area_uuid))
    return empty(204)


def credentials(upload_area_uuid: str) -> Response:
    issued = areas.issue_credentials(context(), area(upload_area_uuid))
    return json_response(issued.to_json(), 201)
