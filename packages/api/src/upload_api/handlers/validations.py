"""`/v1/area/{uuid}/{filename}/validate`, `/v1/area/{uuid}/validate`, `/v1/area/{uuid}/validations`."""

from __future__ import annotations

from typing import Any

from flask import Response

from upload_api.handlers import _request as req
from upload_api.services import files, validations


def validate_file(upload_area_uuid: str, filename: str, body: dict[str, Any]) -> Response:
    return _schedule(upload_area_uuid, [req.filename(filename)], body)


def validate_files(upload_area_uuid: str, body: dict[str, Any]) -> Response:
    # Names in a JSON body: as they are, or else percent-decoded (`upload_api.names.body_name_candidates`).
    names = files.resolve_body_names(req.context(), req.area(upload_area_uuid), list(body["files"]))
    return _schedule(upload_area_uuid, names, body)


def file_validation(upload_area_uuid: str, filename: str) -> Response:
    info = validations.latest_validation(req.context(), req.area(upload_area_uuid), req.filename(filename))
    return req.json_response(info)


def area_counts(upload_area_uuid: str) -> Response:
    return req.json_response(validations.area_validation_counts(req.context(), req.area(upload_area_uuid)))


def _schedule(upload_area_uuid: str, names: list[str], body: dict[str, Any]) -> Response:
    validation_id = validations.schedule_validation(
        req.context(),
        req.area(upload_area_uuid),
        names,
        image=body["validator_image"],
        environment=body.get("environment"),
        original_validation_id=body.get("original_validation_id"),
    )
    return req.json_response({"validation_id": validation_id})
