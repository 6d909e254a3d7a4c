"""The client's exceptions: problem+json answers as typed errors, and connection failures.

None of them ever holds the API key: the client scrubs it from any body it keeps.
"""

from __future__ import annotations

from typing import Any


class UploadClientError(Exception):
    """Base of every error the client raises."""


class ApiConnectionError(UploadClientError):
    """The API could not be reached (after the retries)."""


class ApiError(UploadClientError):
    """An error answer of the API: its problem+json fields (or the status line when it had none)."""

    def __init__(self, status: int, title: str, detail: str | None, type: str | None, body: Any) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.body = body  # the parsed problem (or the text of a body that was not JSON)
        super().__init__(f"{status} {title}" + (f": {detail}" if detail else ""))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, title={self.title!r}, detail={self.detail!r})"


class BadRequestError(ApiError):
    """400: the request is malformed (a bad name, uuid or body)."""


class UnauthorizedError(ApiError):
    """401: a missing or wrong API key."""


class ForbiddenError(ApiError):
    """403: not allowed (e.g. credentials the deployment does not offer)."""


class NotFoundError(ApiError):
    """404: no such area or file."""


class ConflictError(ApiError):
    """409: the area's state refuses the request (locked, being deleted, deleted)."""


class PayloadTooLargeError(ApiError):
    """413: the request body is larger than the API accepts."""


class TooManyRequestsError(ApiError):
    """429: rate limited (still so after the retries)."""


class ServerError(ApiError):
    """5xx: the service failed (still so after the retries)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: TooManyRequestsError,
}


def error_class(status: int) -> type[ApiError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)
