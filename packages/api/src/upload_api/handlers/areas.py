"""`/v1/area/{uuid}`, its lock and its credentials."""

from __future__ import annotations

from flask import Response

from upload_api.handlers._request import area, context, empty, json_response
from upload_api.services import areas


def exists(upload_area_uuid: str) -> Response:
    found = areas.area_exists(context(), area(upload_area_uuid))
    return empty(200 if found else 404)


def create(upload_area_uuid: str) -> Response:
    return json_response({"uri": areas.create_area(context(), area(upload_area_uuid))}, 201)


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
