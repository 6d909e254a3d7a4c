"""`/v1/area/{uuid}/{filename}`, `/files`, `/files_info`."""

from __future__ import annotations

from typing import Any, cast

from flask import Response, request

from upload_api.handlers import _request as req
from upload_api.services import files


def store(upload_area_uuid: str, filename: str) -> Response:
    # No `body` parameter: connexion then leaves the body unread and it streams to the store. The raw
    # WSGI input ends where the ASGI body ends, with or without a Content-Length (werkzeug's
    # `request.stream` would read a chunked body as empty).
    info = files.store_file(
        req.context(),
        req.area(upload_area_uuid),
        req.filename(filename),
        cast(Any, request.environ["wsgi.input"]),
        content_type=request.headers.get(req.ORIGINAL_CONTENT_TYPE.decode())
        or request.headers.get("Content-Type"),
        size=request.content_length,
    )
    return req.json_response(info, 201)


def file_info(upload_area_uuid: str, filename: str) -> Response:
    info = files.file_info_current(req.context(), req.area(upload_area_uuid), req.filename(filename))
    return req.json_response(info)


def notify_uploaded(upload_area_uuid: str, filename: str) -> Response:
    files.notify_uploaded(req.context(), req.area(upload_area_uuid), req.filename(filename))
    return req.empty(202)


def files_info(upload_area_uuid: str, body: list[str]) -> Response:
    # Names in a JSON body: as they are, or else percent-decoded (`upload_api.names.body_name_candidates`).
    return req.json_response(files.files_info(req.context(), req.area(upload_area_uuid), list(body)))


def list_files(upload_area_uuid: str, limit: int = 100, cursor: str | None = None) -> Response:
    page = files.list_files(req.context(), req.area(upload_area_uuid), limit=limit, cursor=cursor)
    return req.json_response({"files": page.files, "next_cursor": page.next_cursor})
