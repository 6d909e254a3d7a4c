"""Helpers shared by the handlers: the app's context and the request's decoded names."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app

from upload_api.context import ApiContext
from upload_api.names import decode_filename
from upload_common.area_ids import check_area_id

CONTEXT_KEY = "UPLOAD_CONTEXT"
# The file PUT's own Content-Type, moved here by `upload_api.app.OpaqueFileBodyMiddleware`.
ORIGINAL_CONTENT_TYPE = b"x-upload-original-content-type"


def context() -> ApiContext:
    ctx: ApiContext = current_app.config[CONTEXT_KEY]
    return ctx


def area(upload_area_uuid: str) -> str:
    return check_area_id(upload_area_uuid)


def filename(raw: str) -> str:
    """The file name from its path segment, percent-decoded exactly once (see RawPathMiddleware)."""
    return decode_filename(raw)


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response that names its media type (the spec also declares problem+json responses)."""
    return Response(json.dumps(body), status=status, mimetype="application/json")


def empty(status: int) -> Response:
    return Response(b"", status=status)
