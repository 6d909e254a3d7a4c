"""Domain errors become `application/problem+json` responses here, and only here.

4xx for anything the caller can fix; a 500 carries only an error id, logged with the traceback.
"""

from __future__ import annotations

import json
import logging
import uuid

from flask import Flask, Response

from upload_common.errors import (
    ChecksumError,
    ConfigurationError,
    ConflictError,
    ContentChangedError,
    CredentialsNotOfferedError,
    InvalidInputError,
    NotFoundError,
    UploadError,
)

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# First match wins: subclasses before their bases.
_STATUS: list[tuple[type[UploadError], int, str]] = [
    (CredentialsNotOfferedError, 403, "Credentials not offered"),
    (NotFoundError, 404, "Not Found"),
    (ConflictError, 409, "Conflict"),
    (InvalidInputError, 400, "Bad Request"),
    (ContentChangedError, 409, "Conflict"),
    (ChecksumError, 400, "Bad Request"),  # e.g. a body shorter or longer than its Content-Length
]


def problem(status: int, title: str, detail: str | None = None) -> Response:
    body: dict[str, object] = {"status": status, "title": title, "type": "about:blank"}
    if detail:
        body["detail"] = detail
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)


def register(app: Flask) -> None:
    app.register_error_handler(UploadError, _domain_error)
    app.register_error_handler(Exception, _unexpected)


def _domain_error(error: UploadError) -> Response:
    for cls, status, title in _STATUS:
        if isinstance(error, cls):
            return problem(status, title, str(error))
    if isinstance(error, ConfigurationError):
        return _unexpected(error)
    # Storage, queue, job runner and similar failures of our dependencies: the caller may retry.
    error_id = _log(error)
    return problem(503, "Service Unavailable", f"a dependency of the service failed; error id {error_id}")


def _unexpected(error: Exception) -> Response:
    from werkzeug.exceptions import HTTPException  # noqa: PLC0415 - only for the rare re-raise

    if isinstance(error, HTTPException):
        return problem(error.code or 500, error.name, error.description)
    error_id = _log(error)
    return problem(500, "Internal Server Error", f"error id {error_id}")


def _log(error: Exception) -> str:
    error_id = uuid.uuid4().hex
    logger.error("error id %s: %s", error_id, type(error).__name__, exc_info=error)
    return error_id
