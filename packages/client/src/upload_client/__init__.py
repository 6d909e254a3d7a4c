"""Typed Python client of the dcp-upload API (`Client`) and local checksums by the service's engine."""

from upload_client.client import Client
from upload_client.errors import (
    ApiConnectionError,
    ApiError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    ServerError,
    TooManyRequestsError,
    UnauthorizedError,
    UploadClientError,
)
from upload_client.retry import Retry

__version__ = "0.1.0"

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "ForbiddenError",
    "NotFoundError",
    "PayloadTooLargeError",
    "Retry",
    "ServerError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "UploadClientError",
]
