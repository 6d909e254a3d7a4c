"""`/v1/area/{uuid}/{filename}/checksum` and `/v1/area/{uuid}/checksums`."""

from __future__ import annotations

from flask import Response

from upload_api.handlers import _request as req
from upload_api.services import checksums


def file_checksum(upload_area_uuid: str, filename: str) -> Response:
    info = checksums.file_checksum(req.context(), req.area(upload_area_uuid), req.filename(filename))
    return req.json_response(info)


def area_counts(upload_area_uuid: str) -> Response:
    return req.json_response(checksums.area_checksum_counts(req.context(), req.area(upload_area_uuid)))
