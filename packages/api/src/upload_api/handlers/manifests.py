"""`/v2/areas/{uuid}/manifest` and `/v2/areas/{uuid}/seal`."""

from __future__ import annotations

from typing import IO, cast

from flask import Response, request

from upload_api.handlers import _request as req
from upload_api.services import manifests


def put(upload_area_uuid: str) -> Response:
    # No `body` parameter: connexion leaves the body unread; it is parsed incrementally (streamed).
    body = cast(IO[bytes], request.environ["wsgi.input"])
    return req.json_response(manifests.put_manifest(req.context(), req.area(upload_area_uuid), body))


def get(upload_area_uuid: str) -> Response:
    pieces = manifests.manifest_document(req.context(), req.area(upload_area_uuid))
    return Response(pieces, status=200, mimetype="application/json")


def seal(upload_area_uuid: str) -> Response:
    return req.json_response(manifests.seal_area(req.context(), req.area(upload_area_uuid)))
