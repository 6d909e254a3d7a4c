"""Domain errors become `application/problem+json` responses here, and only here.

4xx for anything the caller can fix; a race on the server's side is a retryable 409 or 503 with
`Retry-After`, never a 4xx that blames the caller; a 500 carries only an error id, logged with the
traceback. Errors raised inside Flask handlers and those raised in the ASGI layers before them (e.g. a
request body cut off while connexion reads it) get the same answer.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from connexion.lifecycle import ConnexionResponse
from flask import Flask, Response

from upload_common.errors import (
    ChecksumError,
    ConfigurationError,
    ConflictError,
    ContentChangedError,
    CredentialsDurationError,
    CredentialsNotOfferedError,
    InvalidInputError,
    NotFoundError,
    SignatureRefusedError,
    UploadError,
)

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 1  # races clear at once; a retry a second later finds the settled state

# First match wins: subclasses before their bases. The last field: the caller may retry (Retry-After).
_STATUS: list[tuple[type[UploadError], int, str, bool]] = [
    # The service's own misconfiguration: the detail says what to configure (logged once by the issuer).
    (CredentialsDurationError, 500, "Internal Server Error", False),
    (CredentialsNotOfferedError, 403, "Credentials not offered", False),
    (NotFoundError, 404, "Not Found", False),
    (SignatureRefusedError, 403, "Forbidden", False),  # an upload part's signed URL: ask for a new one
    (ConflictError, 409, "Conflict", False),
    (InvalidInputError, 400, "Bad Request", False),  # a body cut off or longer than its Content-Length too
    (ContentChangedError, 409, "Conflict", True),  # another write replaced the object meanwhile
    (ChecksumError, 503, "Service Unavailable", True),  # e.g. checksum tags that did not stick
]


def problem(
    status: int, title: str, detail: str | None = None, *, retry_after: int | None = None
) -> Response:
    body: dict[str, object] = {"status": status, "title": title, "type": "about:blank"}
    if detail:
        body["detail"] = detail
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON, headers=headers)


def register(app: Flask) -> None:
    app.register_error_handler(UploadError, _domain_error)
    app.register_error_handler(Exception, _unexpected)


def asgi_domain_error(_request: Any, error: Exception) -> ConnexionResponse:
    """The same answer for a domain error raised in the ASGI layers (connexion's error handler)."""
    response = _domain_error(error) if isinstance(error, UploadError) else _unexpected(error)
    return ConnexionResponse(
        status_code=response.status_code,
        mimetype=PROBLEM_JSON,
        body=response.get_data(),
        headers={name: value for name, value in response.headers.items() if name != "Content-Type"},
    )


def _domain_error(error: UploadError) -> Response:
    for cls, status, title, retryable in _STATUS:
        if isinstance(error, cls):
            return problem(status, title, str(error), retry_after=RETRY_AFTER_SECONDS if retryable else None)
    if isinstance(error, ConfigurationError):
        return _unexpected(error)
    # Storage, queue, job runner and similar failures of our dependencies: the caller may retry.
    error_id = _log(error)
    return problem(
        503,
        "Service Unavailable",
        f"a dependency of the service failed; error id {error_id}",
        retry_after=RETRY_AFTER_SECONDS,
    )


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
